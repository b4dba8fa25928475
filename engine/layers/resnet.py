"""Blocks shared by the ResNet translation generators (CycleGAN, CUT): residual blocks with reflection
padding and an InstanceNorm whose statistics can be shared between images, for seamless tiles; their ONNX graph
and Fast mode's translator, which runs it in ONNX Runtime.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.inference import GraphSession, OnnxGraph, onnx_fits

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
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), InstanceNorm(dim), nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), InstanceNorm(dim),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv_block(x)


class SequentialGenerator(nn.Module):
    """A generator that is one nn.Sequential called `model` (the official key prefix `model.N`), taking and
    giving images in [-1, 1] of 1 (grey) or 3 channels. It is an engine.tiling.Translator (and Staged): `translate`,
    `stages` and `activation_floats` take RGB in [0, 1], as the image-to-image task passes it."""

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
        return self.to_rgb(self(self.to_input(image)))

    @staticmethod
    def to_rgb(output: Tensor) -> Tensor:
        """The generator's output in [-1, 1] -> RGB in [0, 1] (a 1-channel output as grey)."""
        return ((output + 1) / 2).clamp(0, 1).expand(-1, 3, -1, -1)

    def stages(self) -> list[Callable[[Tensor], Tensor]]:
        """`translate` as steps, each taking the previous one's output (engine.tiling.Staged): tiles resume
        between them while the photo's statistics are measured."""
        return [self.to_input, *self.model, self.to_rgb]

    def activation_floats(self, device: torch.device) -> float:
        """Peak floats per input pixel of one pass: the largest input + output of any layer of `model`, measured
        once per device type on a 32x32 input (the layers fix it, not the weights)."""
        measured: dict[str, float] = self.__dict__.setdefault("_activation_floats", {})
        if device.type not in measured:
            measured[device.type] = self._measure_activation_floats(device)
        return measured[device.type]

    def _measure_activation_floats(self, device: torch.device) -> float:
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

    def onnx_graph(self) -> OnnxGraph:
        """The generator as one ONNX graph of any height and width (multiples of 4), per-image normalisation."""
        device = next(self.parameters()).device
        nc = self.input_nc
        return OnnxGraph(self, (torch.zeros(1, nc, 64, 64, device=device),), ("image",), ("output",),
                         summary=f"image: (1, {nc}, H, W) float32 in [-1, 1], H and W multiples of 4 -> output: "
                                 f"the same shape, in [-1, 1] (the official generator's forward)",
                         dynamic_axes={"image": {2: "height", 3: "width"}, "output": {2: "height", 3: "width"}})

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


class OnnxTranslator:
    """Fast mode's translator: a SequentialGenerator whose whole-photo passes run in ONNX Runtime (2.1x PyTorch at
    512 px on the CPUs measured, 4e-6 apart). Until its session is ready (engine.inference.GraphSession), and
    while its InstanceNorms hold shared statistics (tiles), passes run the PyTorch generator, which holds them, as
    does a whole photo whose pass in ONNX Runtime would not fit the memory budget (engine.inference.onnx_fits);
    everything else (statistics, stages, memory estimates) is the PyTorch generator's."""

    def __init__(self, generator: SequentialGenerator, device: torch.device) -> None:
        self.generator, self.device = generator, device
        self._norms = [m for m in generator.modules() if isinstance(m, InstanceNorm)]
        self.session = GraphSession(generator.onnx_graph, device)

    def graph_sessions(self) -> dict[str, GraphSession]:
        return {"": self.session}

    def translate(self, image: Tensor) -> Tensor:
        if (any(norm.mode != "image" for norm in self._norms) or (session := self.session.ready()) is None
                or not onnx_fits(image.shape[-2] * image.shape[-1], 4 * self.activation_floats(self.device),
                                 self.device)):
            return self.generator.translate(image)
        (output,) = session(self.generator.to_input(image))
        return self.generator.to_rgb(output)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.generator, name)


def first_generator_graph(nets: dict[str, nn.Module], hparams: Any) -> OnnxGraph:
    """A translation model's ONNX graph: the generator of its first direction."""
    generator = nets[hparams["directions"][0]]
    assert isinstance(generator, SequentialGenerator)
    return generator.onnx_graph()


def onnx_translators(nets: dict[str, nn.Module], hparams: Any, device: torch.device) -> dict[str, Any]:
    """Fast mode: each direction's generator as an OnnxTranslator."""
    return {direction: OnnxTranslator(generator, device) for direction, generator in nets.items()
            if isinstance(generator, SequentialGenerator)}
