"""The 70x70 PatchGAN discriminator of CycleGAN and CUT (pix2pix's "basic" D, thesis ch. 3.2.4), and the
official initialisations of the translation trainers.

`PatchDiscriminator(n_layers=3)`: a 4x4 conv (stride 2) + leaky ReLU 0.2, then n_layers - 1 stride-2 4x4
convs with InstanceNorm (no affine) doubling the width up to 8 x ndf, one stride-1 4x4 conv with InstanceNorm,
and a stride-1 4x4 conv to one logit per patch; every conv has a bias and padding 1. Each logit sees 70x70
pixels. CUT's variant (`antialias`, its default) makes every strided conv stride 1 followed by a fixed
[1, 2, 1] blur that subsamples by 2 (reflect padding), as its generator does. The layers sit in one
`nn.Sequential` named `model`, as the official `NLayerDiscriminator`; only the trainers use it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

KW = 4  # kernel size
PADW = 1
MAX_MULT = 8  # widths stop growing at 8 x ndf
BLUR_TAPS = (1.0, 2.0, 1.0)


class BlurDownsample(nn.Module):
    """Anti-aliased subsampling by 2: reflect-pad 1, a depthwise [1, 2, 1] x [1, 2, 1] / 16 filter, stride 2."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        taps = torch.tensor(BLUR_TAPS)
        kernel = taps[:, None] * taps[None, :]
        self.register_buffer("filt", (kernel / kernel.sum()).expand(channels, 1, 3, 3).clone())
        self.channels = channels

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), self.filt, stride=2, groups=self.channels)


class PatchDiscriminator(nn.Module):
    """D(x) -> (B, 1, h, w) LSGAN / logistic logits, one per overlapping 70x70 patch of x in [-1, 1]."""

    def __init__(self, *, input_nc: int = 3, ndf: int = 64, n_layers: int = 3, antialias: bool = False) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"the PatchGAN needs at least one layer, got n_layers {n_layers}")

        def down(in_ch: int, out_ch: int, norm: bool) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, KW, stride=1 if antialias else 2, padding=PADW)]
            layers += [nn.InstanceNorm2d(out_ch)] if norm else []
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            return layers + ([BlurDownsample(out_ch)] if antialias else [])

        layers = down(input_nc, ndf, norm=False)
        width = ndf
        for n in range(1, n_layers):
            previous, width = width, ndf * min(2**n, MAX_MULT)
            layers += down(previous, width, norm=True)
        previous, width = width, ndf * min(2**n_layers, MAX_MULT)
        layers += [nn.Conv2d(previous, width, KW, stride=1, padding=PADW), nn.InstanceNorm2d(width),
                   nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(width, 1, KW, stride=1, padding=PADW)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


def init_weights(net: nn.Module, kind: str, gain: float = 0.02) -> nn.Module:
    """The official initialisations: "normal" (CycleGAN: N(0, gain)) or "xavier" (CUT: Glorot normal with
    this gain) on conv and linear weights, biases 0; affine norm weights N(1, gain). Returns `net`."""
    for module in net.modules():
        weight = getattr(module, "weight", None)
        if not isinstance(weight, nn.Parameter):
            continue
        if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            if kind == "normal":
                nn.init.normal_(weight, 0.0, gain)
            elif kind == "xavier":
                nn.init.xavier_normal_(weight, gain=gain)
            else:
                raise ValueError(f"unknown initialisation '{kind}' (normal or xavier)")
        elif isinstance(module, nn.BatchNorm2d | nn.InstanceNorm2d):
            nn.init.normal_(weight, 1.0, gain)
        if isinstance(getattr(module, "bias", None), nn.Parameter):
            nn.init.zeros_(module.bias)
    return net
