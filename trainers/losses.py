"""SPADE's training objective (pix2pixHD's, with the LSGAN term replaced by the hinge loss).

Discriminator outputs are MultiscaleDiscriminator's: per scale, the list of stage features, the last
being the patch logits. Weights (lambda_feat 10, lambda_vgg 10, lambda_kld 0.05) are the trainer's.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Preds = list[list[Tensor]]


def hinge_d_loss(real_preds: Preds, fake_preds: Preds) -> Tensor:
    """Mean over scales of relu(1 - D(real)).mean() + relu(1 + D(fake)).mean()."""
    losses = [F.relu(1 - real[-1]).mean() + F.relu(1 + fake[-1]).mean()
              for real, fake in zip(real_preds, fake_preds, strict=True)]
    return torch.stack(losses).mean()


def hinge_g_loss(fake_preds: Preds) -> Tensor:
    """Mean over scales of -D(fake).mean()."""
    return torch.stack([-fake[-1].mean() for fake in fake_preds]).mean()


def feature_matching_loss(real_preds: Preds, fake_preds: Preds) -> Tensor:
    """pix2pixHD's GAN feature loss: L1 between fake and (detached) real intermediate D features.

    Summed over scales and over every stage but the logits, divided by the number of scales.
    """
    losses = [F.l1_loss(fake_feat, real_feat.detach())
              for real, fake in zip(real_preds, fake_preds, strict=True)
              for real_feat, fake_feat in zip(real[:-1], fake[:-1], strict=True)]
    return torch.stack(losses).sum() / len(fake_preds)


def kld_loss(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)), summed over batch and latent dims as SPADE does."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


# --- VGG19 perceptual loss ----------------------------------------------------------------------------

# torchvision's vgg19 `features` (config "E"): channel counts, "M" = MaxPool2d(2, 2)
_VGG19_CFG: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
                                     512, 512, 512, 512, "M", 512, 512, 512, 512)
# relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 are the outputs of features[1, 6, 11, 20, 29]
_SLICE_ENDS = (2, 7, 12, 21, 30)
VGG_WEIGHTS = (1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0)


class VGG19Features(nn.Module):
    """Frozen VGG19 trunk returning [relu1_1, relu2_1, relu3_1, relu4_1, relu5_1].

    `features` has torchvision's indices, so its state dict keys are features.{0,2,...,34}.{weight,bias}.
    Layers 30-35 (conv5_2 ... relu5_4) are never run; they exist only so torchvision's file loads
    strictly. The trailing MaxPool (index 36) has no parameters and is left out.
    """

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = 3
        for item in _VGG19_CFG:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                # in-place ReLU is safe: no conv output is returned or needed by conv's backward
                layers += [nn.Conv2d(in_ch, item, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                in_ch = item
        self.features = nn.Sequential(*layers)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGG19Features:
        """Always stays in eval mode, even when a parent module is put in training mode."""
        return super().train(False)

    def forward(self, x: Tensor) -> list[Tensor]:
        outputs = []
        start = 0
        for end in _SLICE_ENDS:
            for i in range(start, end):
                x = self.features[i](x)
            outputs.append(x)
            start = end
        return outputs




def load_vgg19(path: Path) -> VGG19Features:
    """A frozen VGG19Features from a torchvision vgg19 state dict file (classifier.* keys are dropped)."""
    try:
        state_dict = torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except Exception as exc:  # torch.load reports a non-torch file as KeyError, EOFError, UnpicklingError...
        # torch's own message runs to many lines (and suggests weights_only=False): keep it in the chain only
        raise ValueError(f"{path} is not a torch weights file (torch.load: {type(exc).__name__})") from exc
    model = VGG19Features()
    expected = model.state_dict()
    items = state_dict.items() if isinstance(state_dict, dict) else ()  # e.g. a whole pickled tensor
    features = {k: v for k, v in items if isinstance(k, str) and k.startswith("features.")}
    if features.keys() != expected.keys():
        missing = sorted(expected.keys() - features.keys())
        extra = sorted(features.keys() - expected.keys())
        found = f"missing {len(missing)} of its 32 features.* keys (e.g. {missing[0]})" if missing else ""
        found += ("; " if missing and extra else "") + (f"unexpected {extra[0]}" if extra else "")
        raise ValueError(f"{path} is not a torchvision VGG19 file: {found}")
    wrong = [k for k, v in features.items() if not isinstance(v, Tensor) or v.shape != expected[k].shape]
    if wrong:
        raise ValueError(f"{path} is not a torchvision VGG19 file: wrong shape for {wrong[:4]}")
    model.load_state_dict(features, strict=True)
    return model


class VGGLoss(nn.Module):
    """SPADE's perceptual loss: sum_i w_i * L1(vgg(x)_i, vgg(y)_i), w = 1/32, 1/16, 1/8, 1/4, 1.

    Images go to VGG as they are, in [-1, 1], without ImageNet mean/std normalisation: SPADE does so and
    its lambda_vgg = 10 was tuned for those feature magnitudes.
    """

    def __init__(self, features: VGG19Features) -> None:
        super().__init__()
        self.vgg = features

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        with torch.no_grad():  # y is the target: same as detaching its features, without keeping a graph
            y_feats = self.vgg(y)
        x_feats = self.vgg(x)
        return sum(w * F.l1_loss(xf, yf) for w, xf, yf in zip(VGG_WEIGHTS, x_feats, y_feats, strict=True))


# --- the Swapping Autoencoder's (StyleGAN2's) objective ------------------------------------------------


def logistic_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Non-saturating logistic loss of a discriminator: -log D(real) - log(1 - D(fake)), as softplus."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def logistic_g_loss(fake_logits: Tensor) -> Tensor:
    """Non-saturating generator loss: -log D(fake)."""
    return F.softplus(-fake_logits).mean()


def r1_penalty(real_logits: Tensor, real_inputs: Tensor) -> Tensor:
    """R1 (Mescheder et al. 2018): the squared gradient norm of D at real data, averaged over the batch.

    `real_inputs` must require grad and `real_logits` come from them; the graph is kept so the penalty
    trains D (the caller multiplies by gamma / 2 and, when lazy, by the interval).
    """
    (grad,) = torch.autograd.grad(real_logits.sum(), real_inputs, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


# --- CycleGAN's and CUT's objectives -------------------------------------------------------------------


def lsgan_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Least-squares GAN (Mao et al.; thesis ch. 3.2.4) for D: 0.5 * (mean (D(y) - 1)^2 + mean D(G(x))^2).
    The half is the official one (D learns at half G's rate)."""
    return 0.5 * ((real_logits - 1).pow(2).mean() + fake_logits.pow(2).mean())


def lsgan_g_loss(fake_logits: Tensor) -> Tensor:
    """Least-squares GAN for G: mean (D(G(x)) - 1)^2."""
    return (fake_logits - 1).pow(2).mean()


def patch_nce_loss(query: Tensor, key: Tensor, *, temperature: float = 0.07, images: int = 1) -> Tensor:
    """PatchNCE (thesis eq. 3.6-3.7), per query: cross-entropy of picking its own key among the keys of the
    same group. query / key: (images * n, K) unit vectors, row i of both from the same location, image-major.

    The keys are a fixed target (detached). With `images` > 1 each image's queries see only that image's
    keys as negatives (internal negatives, CUT); with 1 every row is in one group (SinCUT: the crops of
    one photo are negatives of each other). A query's similarity to its own key among the negatives is
    replaced by -10 / temperature (effectively no term). Returns the per-query losses, (images * n,).
    """
    key = key.detach()
    positive = (query * key).sum(1, keepdim=True)
    q = query.view(images, -1, query.shape[1])
    negatives = q @ key.view(images, -1, key.shape[1]).transpose(1, 2)  # (images, n, n)
    diagonal = torch.eye(q.shape[1], device=query.device, dtype=torch.bool)[None]
    negatives = negatives.masked_fill(diagonal, -10.0).flatten(0, 1)
    logits = torch.cat([positive, negatives], 1) / temperature
    target = torch.zeros(len(logits), dtype=torch.long, device=query.device)
    return F.cross_entropy(logits, target, reduction="none")
