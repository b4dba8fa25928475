"""The Swapping Autoencoder's discriminators, StyleGAN2-style (Karras et al. 2020; Park et al. thesis ch. 4.4.7).

`ImageDiscriminator`: StyleGAN2's residual discriminator without minibatch discrimination (the paper drops
it): 1x1 from-RGB, residual blocks that halve the resolution down to 4x4 (blurred, anti-aliased
downsampling), a 3x3 conv, two dense layers. `CooccurrenceDiscriminator` (D_patch): each patch goes
through from-RGB, downsampling residual blocks down to 4x4, one resolution-preserving residual block and
a 3x3 conv with valid padding; the reference patches' features are averaged, concatenated with the
query's, and three dense layers say whether the query comes from the same image.

Every layer has an equalized learning rate (weights stored N(0, 1) and scaled by 1/sqrt(fan_in) at run
time), leaky ReLU 0.2 scaled by sqrt(2), residual sums divided by sqrt(2). Widths follow StyleGAN2's
(512 channels up to 64 px, then halving with each doubling of the resolution) times `capacity`, so
tiny runs get tiny discriminators. Only the trainer uses these: checkpoints ship without them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.layers.stylegan2 import Blur, EqualConv2d, EqualLinear, FusedLeakyReLU

MAX_CHANNELS = 512
PATCH_MAX_CHANNELS = 384  # narrower patch encoder: about the official D_patch's 24.5 M parameters at 128 px
BLUR = (1, 3, 3, 1)  # StyleGAN2's binomial filter before every downsampling


def channels(resolution: int, capacity: float, max_channels: int = MAX_CHANNELS) -> int:
    """StyleGAN2's width at a resolution (channel multiplier 2): 512 up to 64 px, then 32768 / resolution."""
    return max(1, round(min(max_channels, 32768 // resolution) * capacity))


def downsampled_sizes(size: int) -> list[int]:
    """Resolutions of the downsampling blocks: halve while the map is even and larger than 4."""
    sizes = []
    while size > 4 and size % 2 == 0:
        sizes.append(size)
        size //= 2
    return sizes


class DenseLayer(nn.Sequential):
    """Equalized linear layer [+ leaky ReLU 0.2 x sqrt(2)]."""

    def __init__(self, in_features: int, out_features: int, *, activate: bool) -> None:
        super().__init__(EqualLinear(in_features, out_features), *([ScaledLeakyReLU()] if activate else []))


class ScaledLeakyReLU(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, 0.2) * math.sqrt(2)


class ConvLayer(nn.Sequential):
    """[blur +] equalized conv [+ bias + leaky ReLU]: StyleGAN2's ConvLayer (the skip paths have neither).
    `valid`: no padding."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, *, downsample: bool = False, activate: bool = True,
                 valid: bool = False) -> None:
        layers: list[nn.Module] = []
        if downsample:  # blur, then a stride-2 conv without padding: exactly half an even size
            p = len(BLUR) - 2 + kernel - 1
            layers.append(Blur(BLUR, pad=((p + 1) // 2, p // 2)))
            layers.append(EqualConv2d(in_ch, out_ch, kernel, stride=2))
        else:
            layers.append(EqualConv2d(in_ch, out_ch, kernel, padding=0 if valid else kernel // 2))
        if activate:
            layers.append(FusedLeakyReLU(out_ch))
        super().__init__(*layers)


class ResBlock(nn.Module):
    """(conv2(conv1(x)) + skip(x)) / sqrt(2); downsampling halves the size (blurred), skip is a 1x1 conv."""

    def __init__(self, in_ch: int, out_ch: int, *, downsample: bool = True) -> None:
        super().__init__()
        self.conv1 = ConvLayer(in_ch, in_ch, 3)
        self.conv2 = ConvLayer(in_ch, out_ch, 3, downsample=downsample)
        needs_skip = downsample or in_ch != out_ch
        self.skip = ConvLayer(in_ch, out_ch, 1, downsample=downsample, activate=False) if needs_skip else None

    def forward(self, x: Tensor) -> Tensor:
        skip = x if self.skip is None else self.skip(x)
        return (self.conv2(self.conv1(x)) + skip) / math.sqrt(2)


def patch_feature_size(patch_size: int) -> int:
    """Side of D_patch's feature map after its valid 3x3 conv; ValueError for a patch size it cannot take."""
    sizes = downsampled_sizes(patch_size)
    final = (sizes[-1] // 2 if sizes else patch_size) - 2
    if not sizes or final < 1:
        raise ValueError(f"the patch discriminator needs an even patch size above 4 px, got {patch_size}")
    return final


class ImageDiscriminator(nn.Module):
    """D(x): one logit per image, for square `size` x `size` inputs in [-1, 1]."""

    def __init__(self, *, size: int, capacity: float = 1.0) -> None:
        super().__init__()
        sizes = downsampled_sizes(size)
        if not sizes:
            raise ValueError(f"the image discriminator needs images of at least 8 px, got {size}")
        self.size = size
        self.from_rgb = ConvLayer(3, channels(size, capacity), 1)
        self.blocks = nn.Sequential(*[ResBlock(channels(s, capacity), channels(s // 2, capacity)) for s in sizes])
        final = sizes[-1] // 2
        ch = channels(final, capacity)
        self.final_conv = ConvLayer(ch, ch, 3)
        self.final_linear = nn.Sequential(DenseLayer(ch * final * final, ch, activate=True),
                                          DenseLayer(ch, 1, activate=False))

    def forward(self, x: Tensor) -> Tensor:
        x = self.final_conv(self.blocks(self.from_rgb(x)))
        return self.final_linear(x.flatten(1)).squeeze(1)


class CooccurrenceDiscriminator(nn.Module):
    """D_patch(query, reference): does each query patch come from the image the reference patches show?

    query (B, n, 3, p, p) and reference (B, m, 3, p, p), p = `patch_size`; returns (B, n) logits. The m
    reference features of an image are averaged (the aggregated texture), then paired with each query.
    """

    def __init__(self, *, patch_size: int, capacity: float = 1.0) -> None:
        super().__init__()
        final = patch_feature_size(patch_size)
        sizes = downsampled_sizes(patch_size)

        def width(resolution: int) -> int:
            return channels(resolution, capacity, PATCH_MAX_CHANNELS)

        ch = width(sizes[-1] // 2)
        self.from_rgb = ConvLayer(3, width(patch_size), 1)
        self.blocks = nn.Sequential(*[ResBlock(width(s), width(s // 2)) for s in sizes],
                                    ResBlock(ch, ch, downsample=False))
        self.final_conv = ConvLayer(ch, ch, 3, valid=True)
        features = ch * final * final
        self.classifier = nn.Sequential(DenseLayer(2 * features, features, activate=True),
                                        DenseLayer(features, features, activate=True),
                                        DenseLayer(features, 1, activate=False))

    def features(self, patches: Tensor) -> Tensor:
        """(P, 3, p, p) -> (P, F)."""
        return self.final_conv(self.blocks(self.from_rgb(patches))).flatten(1)

    def forward(self, query: Tensor, reference: Tensor) -> Tensor:
        b, n = query.shape[:2]
        q = self.features(query.flatten(0, 1))
        ref = self.features(reference.flatten(0, 1)).view(b, reference.shape[1], -1).mean(1)
        pairs = torch.cat([q, ref.repeat_interleave(n, 0)], 1)
        return self.classifier(pairs).view(b, n)
