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
LUMA = (0.299, 0.587, 0.114)  # RGB -> grey for 1-channel models, as PIL's "L" conversion (the official loader)


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
    giving images in [-1, 1] of 1 (grey) or 3 channels. It is an engine.tiling.Translator: `translate`,
    `shared_statistics` and `activation_floats` take RGB in [0, 1], as the image-to-image task passes it."""

    model: nn.Sequential

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)

    @property
    def input_nc(self) -> int:
        return next(m for m in self.model if isinstance(m, nn.Conv2d)).in_channels

    def to_input(self, image: Tensor) -> Tensor:
        """RGB in [0, 1] -> the generator's input in [-1, 1] (grey for a 1-channel model)."""
        if self.input_nc == 1:
            image = (image * torch.tensor(LUMA, device=image.device)[None, :, None, None]).sum(dim=1, keepdim=True)
        return image * 2 - 1

    def translate(self, image: Tensor) -> Tensor:
        """RGB (B, 3, H, W) in [0, 1] -> RGB in [0, 1] (a 1-channel output as grey)."""
        return ((self(self.to_input(image)) + 1) / 2).clamp(0, 1).expand(-1, 3, -1, -1)

    def shared_statistics(self, sample: Tensor) -> contextlib.AbstractContextManager[None]:
        """`shared_statistics` of this generator, measured on the RGB [0, 1] `sample`."""
        return shared_statistics(self, self.to_input(sample))

    def activation_floats(self, device: torch.device) -> float:
        """Peak floats per input pixel of one pass: the largest input + output of any layer of `model`, measured
        on a 32x32 input."""
        side = 32
        peak = 0

        def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            nonlocal peak
            peak = max(peak, inputs[0].numel() + output.numel())

        handles = [layer.register_forward_hook(hook) for layer in self.model]
        try:
            with torch.inference_mode():
                self(torch.zeros(1, self.input_nc, side, side, device=device))
        finally:
            for handle in handles:
                handle.remove()
        return peak / side**2

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
