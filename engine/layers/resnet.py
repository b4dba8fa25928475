"""Blocks shared by the ResNet translation generators (CycleGAN, CUT): residual blocks with reflection
padding and an InstanceNorm whose statistics can be shared between images, for seamless tiles.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

NORM_MODES = ("image", "record", "fixed")


class InstanceNorm(nn.Module):
    """InstanceNorm2d(affine=False, track_running_stats=False), the official generators' norm: no weights, no
    buffers, so it adds no state-dict keys.

    mode "image" normalises each image by its own per-channel mean and (biased) variance, as the official
    code does; "record" does the same and keeps them in `stats`; "fixed" normalises by `stats` instead of
    the input's own, so the tiles of a large photo are normalised alike (see `shared_statistics`).
    """

    def __init__(self, num_features: int, *, eps: float = 1e-5) -> None:
        super().__init__()
        self.num_features, self.eps = num_features, eps
        self.mode = "image"
        self.stats: tuple[Tensor, Tensor] | None = None  # per-channel (mean, var), (1, C, 1, 1) each

    def forward(self, x: Tensor) -> Tensor:
        if self.mode == "image":
            return F.instance_norm(x, eps=self.eps)
        if self.mode == "record":
            var, mean = torch.var_mean(x, dim=(2, 3), keepdim=True, correction=0)
            self.stats = (mean, var)
        elif self.stats is None:
            raise RuntimeError("an InstanceNorm in fixed mode has no recorded statistics")
        mean, var = self.stats
        return (x - mean) * torch.rsqrt(var + self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, mode={self.mode}"


@contextlib.contextmanager
def shared_statistics(net: nn.Module, sample: Tensor) -> Iterator[None]:
    """Inside the block, every InstanceNorm of `net` normalises with the statistics it measured on `sample`
    (one forward pass, batch 1) instead of each input's own. Afterwards the norms are per-image again."""
    norms = [m for m in net.modules() if isinstance(m, InstanceNorm)]
    try:
        for norm in norms:
            norm.mode = "record"
        net(sample)
        for norm in norms:
            norm.mode = "fixed"
        yield
    finally:
        for norm in norms:
            norm.mode, norm.stats = "image", None


class ResnetBlock(nn.Module):
    """out = x + conv_block(x); conv_block = [ReflectionPad(1), Conv 3x3, IN, ReLU, ReflectionPad(1), Conv 3x3, IN]
    (keys conv_block.1.* and conv_block.5.*; the official blocks without dropout)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), InstanceNorm(dim), nn.ReLU(),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), InstanceNorm(dim),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv_block(x)


class SequentialGenerator(nn.Module):
    """A generator that is one nn.Sequential called `model` (the official key prefix `model.N`), taking and
    giving images in [-1, 1]."""

    model: nn.Sequential

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)

    def features(self, x: Tensor, layers: Sequence[int]) -> list[Tensor]:
        """The outputs of model[i] for each i in `layers` (in the order given), from one pass that stops after
        the deepest requested layer."""
        wanted = [int(i) for i in layers]
        if not wanted:
            return []
        if min(wanted) < 0 or max(wanted) >= len(self.model):
            raise ValueError(f"layer indices must be in 0..{len(self.model) - 1}, got {list(layers)}")
        found: dict[int, Tensor] = {}
        for index, layer in enumerate(self.model[:max(wanted) + 1]):
            x = layer(x)
            if index in wanted:
                found[index] = x
        return [found[i] for i in wanted]
