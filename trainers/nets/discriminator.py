"""SPADE's discriminator: pix2pixHD's multi-scale PatchGAN with spectral norm and InstanceNorm.

Input: concat(one-hot segmap, image in [-1, 1]), so input_nc = semantic_nc + 3. Every stage's output
is returned because the generator's feature-matching loss compares the intermediate features.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

from engine.layers.spectral import SpectralNormConv2d

KW = 4
PADW = math.ceil((KW - 1) / 2)  # 2, as pix2pixHD: each stride-1 conv grows the map by one pixel
MAX_NF = 512


class NLayerDiscriminator(nn.Module):
    """PatchGAN with stages model0 ... model{n_layers}; the last stage gives the (B, 1, h, w) patch logits.

    The first conv (no norm) and the final logits conv are plain biased convs, as in pix2pixHD/SPADE;
    the n_layers-1 middle convs are spectral-normed (power iteration in train mode, buffers updated under
    no_grad, so DDP's autograd never sees a parameter modified in place) and followed by InstanceNorm.
    """

    def __init__(self, *, input_nc: int, ndf: int = 64, n_layers: int = 4) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        stages: list[nn.Sequential] = [
            nn.Sequential(nn.Conv2d(input_nc, ndf, KW, stride=2, padding=PADW), nn.LeakyReLU(0.2))
        ]
        nf = ndf
        for n in range(1, n_layers):
            nf_prev, nf = nf, min(nf * 2, MAX_NF)
            stride = 1 if n == n_layers - 1 else 2
            stages.append(nn.Sequential(
                # no bias: InstanceNorm removes the per-channel mean anyway
                SpectralNormConv2d(nf_prev, nf, KW, stride=stride, padding=PADW, bias=False),
                nn.InstanceNorm2d(nf, affine=False),
                nn.LeakyReLU(0.2),
            ))
        stages.append(nn.Sequential(nn.Conv2d(nf, 1, KW, stride=1, padding=PADW)))
        for i, stage in enumerate(stages):
            self.add_module(f"model{i}", stage)
        self.num_stages = len(stages)

    def forward(self, x: Tensor) -> list[Tensor]:
        features = []
        for i in range(self.num_stages):
            x = getattr(self, f"model{i}")(x)
            features.append(x)
        return features


class MultiscaleDiscriminator(nn.Module):
    """num_D independent PatchGANs; discriminator_k sees the input downsampled k times by 2."""

    def __init__(self, *, input_nc: int, ndf: int = 64, n_layers: int = 4, num_D: int = 2) -> None:
        super().__init__()
        if num_D < 1:
            raise ValueError(f"num_D must be >= 1, got {num_D}")
        for k in range(num_D):
            self.add_module(f"discriminator_{k}",
                            NLayerDiscriminator(input_nc=input_nc, ndf=ndf, n_layers=n_layers))
        self.num_D = num_D

    def forward(self, x: Tensor) -> list[list[Tensor]]:
        results = []
        for k in range(self.num_D):
            if k > 0:
                # count_include_pad=False so the zero padding does not darken the border pixels
                x = F.avg_pool2d(x, kernel_size=3, stride=2, padding=1, count_include_pad=False)
            results.append(getattr(self, f"discriminator_{k}")(x))
        return results
