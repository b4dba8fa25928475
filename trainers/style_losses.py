"""Style-transfer losses over a frozen VGG-19 (AdaIN, Huang & Belongie 2017; HierarchyFlow's aligned-style loss).

Two encoders give [relu1_1, relu2_1, relu3_1, relu4_1] of an RGB image in [0, 1]:

- `VggNormalised`: the AdaIN paper's `vgg_normalised.pth`, the file the official HierarchyFlow trainer uses.
  An nn.Sequential, so its keys are "<index>.weight" / "<index>.bias": a 1x1 conv (index 0, 3 -> 3) that turns
  RGB in [0, 1] into mean-subtracted Caffe BGR, then reflection-padded 3x3 convs with ReLUs and max-pools
  (ceil mode). The slices [:4], [4:11], [11:18], [18:31] end at relu1_1 .. relu4_1; the file holds the rest of
  the network (to relu5_4, index 52), which these losses never run.
- `TorchvisionVgg`: torchvision's ImageNet VGG-19 (zero-padded convs), fed ImageNet mean/std-normalised RGB.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trainers.losses import VGG19Features, load_vgg19

LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
STAT_EPS = 1e-5  # added to the (unbiased) variance, as AdaIN's calc_mean_std
_ADAIN_CFG: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512)
_ADAIN_SLICES = ((0, 4), (4, 11), (11, 18), (18, 31))
_TORCHVISION_SLICES = ((0, 2), (2, 7), (7, 12), (12, 21))  # VGG19Features.features up to relu4_1
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class VggNormalised(nn.Sequential):
    """The first 31 layers of vgg_normalised (to relu4_1), frozen; forward(RGB in [0, 1]) -> 4 feature maps."""

    def __init__(self) -> None:
        layers: list[nn.Module] = [nn.Conv2d(3, 3, 1)]
        cin = 3
        for item in _ADAIN_CFG:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
            else:
                layers += [nn.ReflectionPad2d(1), nn.Conv2d(cin, int(item), 3), nn.ReLU()]
                cin = int(item)
        super().__init__(*layers)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VggNormalised:
        """Always in eval mode, even when a parent module is put in training mode."""
        return super().train(False)

    def forward(self, x: Tensor) -> list[Tensor]:
        out = []
        for start, end in _ADAIN_SLICES:
            for i in range(start, end):
                x = self[i](x)
            out.append(x)
        return out


class TorchvisionVgg(nn.Module):
    """torchvision's VGG-19 to relu4_1, frozen; forward(RGB in [0, 1]) -> 4 feature maps."""

    def __init__(self, vgg: VGG19Features) -> None:
        super().__init__()
        self.vgg = vgg
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> TorchvisionVgg:
        return super().train(False)

    def forward(self, x: Tensor) -> list[Tensor]:
        x = (x - self.mean) / self.std
        out = []
        for start, end in _TORCHVISION_SLICES:
            for i in range(start, end):
                x = self.vgg.features[i](x)
            out.append(x)
        return out


def random_vgg_normalised(seed: int = 0) -> VggNormalised:
    """vgg_normalised's layout with random weights (He-normal, so features keep their scale through the layers),
    drawn from a private generator: tests only, the losses mean little."""
    net = VggNormalised()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.Conv2d):
                fan_in = module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen) * (2 / fan_in) ** 0.5)
                module.bias.zero_()
    return net


def load_style_encoder(path: Path) -> tuple[nn.Module, str]:
    """(frozen encoder, which file kind) from vgg_normalised.pth or torchvision's vgg19 file; ValueError (one
    line) for anything else."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except Exception as exc:  # torch.load reports a non-torch file as KeyError, EOFError, UnpicklingError...
        raise ValueError(f"{path} is not a torch weights file (torch.load: {type(exc).__name__})") from exc
    keys = state.keys() if isinstance(state, dict) else ()
    if any(isinstance(k, str) and k.startswith("features.") for k in keys):
        del state
        return TorchvisionVgg(load_vgg19(path)), "torchvision VGG-19"
    net = VggNormalised()
    expected = net.state_dict()
    wanted = {k: v for k, v in state.items() if k in expected} if isinstance(state, dict) else {}
    wrong = sorted(k for k in expected if k not in wanted or not isinstance(wanted[k], Tensor)
                   or wanted[k].shape != expected[k].shape)
    if wrong:
        raise ValueError(f"{path} is neither the AdaIN vgg_normalised.pth nor torchvision's VGG-19 file "
                         f"({len(wrong)} of {len(expected)} weights missing or misshapen, e.g. {wrong[0]})")
    net.load_state_dict(wanted, strict=True)
    return net, "vgg_normalised (AdaIN)"


# --- the losses ------------------------------------------------------------------------------------------


def mean_std(feat: Tensor) -> tuple[Tensor, Tensor]:
    """Per sample and channel (B, C): the mean and sqrt(unbiased variance + 1e-5) over H x W."""
    var, mean = torch.var_mean(feat.flatten(2), dim=2, correction=1)
    return mean, (var + STAT_EPS).sqrt()


def content_loss(output: Tensor, content: Tensor) -> Tensor:
    """MSE between the channel-normalised feature maps (AdaIN's content term over relu4_1)."""
    def norm(f: Tensor) -> Tensor:
        mean, std = mean_std(f)
        return (f - mean[..., None, None]) / std[..., None, None]

    return F.mse_loss(norm(output), norm(content))


def keep_smallest(values: Tensor, k: float) -> Tensor:
    """(B, C) mask of 1s at the floor(k C) smallest values of each row, 0 elsewhere (per sample)."""
    keep = int(k * values.shape[1])
    order = values.detach().argsort(dim=1)[:, :keep]
    return torch.zeros_like(values).scatter_(1, order, 1.0)


def aligned_style_loss(outputs: list[Tensor], styles: list[Tensor], k: float) -> Tensor:
    """HierarchyFlow's aligned-style loss (as the released code computes it), summed over the given layers.

    Per layer and sample: the squared differences of the channel means (output vs style), only the floor(k C)
    smallest kept; the squared differences of the channel stds at the same channels; each averaged over all
    B x C entries (the dropped ones count as zeros); the layer's loss is the sum of both. k = 1 keeps every
    channel (the plain style loss); k < 0 is the plain MSE style loss too.
    The released code builds the std mask from the index tensor of the whole batch, so with batch > 1 a
    channel dropped for any sample is dropped for all (it trains at batch 1 per GPU); here each sample has
    its own mask, as the loss is defined.
    """
    total = outputs[0].new_zeros((), dtype=torch.float32)
    for out, style in zip(outputs, styles, strict=True):
        mean_o, std_o = mean_std(out.float())
        mean_s, std_s = mean_std(style.float())
        d_mean, d_std = (mean_o - mean_s).pow(2), (std_o - std_s).pow(2)
        if k >= 0:
            mask = keep_smallest(d_mean, k)
            d_mean, d_std = d_mean * mask, d_std * mask
        total = total + d_mean.mean() + d_std.mean()
    return total
