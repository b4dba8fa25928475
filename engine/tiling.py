"""Full-resolution translation of a photo of any size with an image-to-image generator, tiled when large.

Works on any generator that is a `Translator`, with the sizes its Capabilities state.

Size: the photo is extended at the bottom and right by reflection to a multiple of the model's size_multiple
(at least min_size a side, so a 1-pixel-wide photo works) and the result is cropped back.

When to tile: only when one pass over the whole photo does not fit the memory budget, three quarters of the power of
two at or below what the machine can give now (available memory, page cache included; a GPU's free memory). The
power-of-two tier keeps the plan the same run after run while the available memory moves within a factor of two.

Tiles, faithfully: the generators normalise by per-image statistics (the InstanceNorms of CycleGAN and CUT), so
tiles must share the whole photo's statistics at full resolution. They are measured in a streaming pass, one
InstanceNorm after another (each one's input depends on the statistics of those before it): every round runs the
tiles until the first InstanceNorm whose statistics are still unknown, adds up its input over each tile's own
share (`Moments`), and fixes it for the next rounds; the round that meets no unknown one gives the output. A tile
resumes each round from its checkpoint, the input of the generator stage that held the last measured norm (stages:
`Staged`), kept while the checkpoints fit a byte budget, so a round recomputes at most one stage per tile. Every
output pixel depends only on input pixels within the receptive margin (84 px for CycleGAN, 93 px for CUT with 9
blocks), so each tile reads at least that margin around the part it keeps; adjacent tiles are blended over a
FEATHER-px ramp. Tiled output equals one pass within float precision (tests/engine/test_tiling.py).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from engine.api import MAX_TRANSLATE_PIXELS, Capabilities
from engine.imageio import to_rgb_float
from engine.layers.resnet import InstanceNorm
from engine.tasks import Job

FEATHER = 16  # px on each side of a tile border over which neighbouring tiles are cross-faded
MIN_CORE = 4 * FEATHER + 8  # tiles keep at least 2 * FEATHER px of their own, so only neighbours' ramps overlap
# Tile memory: the estimated live activations times this, which covers the CPU convolutions' buffers and the
# allocator (measured peak / estimate at ngf 64: 1.9 for CycleGAN, 2.4 for CUT).
MEMORY_OVERHEAD = 2.5
BUDGET_SHARE = 0.75  # of the memory tier, for one pass (or a tile and the checkpoints); the rest for the system
UNKNOWN_MEMORY = 4 << 30  # assumed available where the system does not say
MEMINFO = Path("/proc/meminfo")


class Translator(Protocol):
    """One direction of a loaded image-to-image model, as tiles drive it (engine.layers.resnet.SequentialGenerator
    is one). Images are (1, 3, H, W) RGB tensors in [0, 1] on the engine's device. Its per-image normalisations
    are engine.layers.resnet.InstanceNorm modules, which tiles set to the photo's statistics."""

    def translate(self, image: torch.Tensor) -> torch.Tensor:
        """The translated image, the same shape; H and W are multiples of the model's size_multiple."""

    def activation_floats(self, device: torch.device) -> float:
        """Estimated peak floats held per input pixel during one translation."""

    def modules(self) -> Iterator[nn.Module]:
        """Its modules (an nn.Module's): tiles set the InstanceNorms among them to the whole photo's statistics."""


@runtime_checkable
class Staged(Protocol):
    """A translator that can be run in steps, so tiles resume from checkpoints while statistics are measured."""

    def stages(self) -> Sequence[Callable[[torch.Tensor], torch.Tensor]]:
        """`translate` as steps, each taking the previous one's output (the first the RGB input)."""


@dataclass(frozen=True)
class Span:
    """One tile along one axis: it reads [start, stop) of the padded photo, owns [core_start, core_stop) (the
    tiles' cores partition the axis) and keeps [keep_start, keep_stop), weighted by `weights` (1 inside, ramps
    across borders shared with a neighbour)."""

    start: int
    stop: int
    keep_start: int
    keep_stop: int
    weights: np.ndarray
    core_start: int
    core_stop: int


def check_photo(image: np.ndarray) -> np.ndarray:
    """The photo as HxWx3 float32 in [0, 1] (grey, RGBA and 16-bit converted); refused over MAX_TRANSLATE_PIXELS."""
    shape = np.shape(image)
    if len(shape) >= 2 and shape[0] * shape[1] > MAX_TRANSLATE_PIXELS:
        h, w = shape[:2]
        raise ValueError(f"the photo is {w}x{h} px ({h * w / 1e6:.0f} megapixels); translation takes at most "
                         f"{MAX_TRANSLATE_PIXELS // 1_000_000} megapixels: scale it down first")
    return to_rgb_float(image)


def padded_size(caps: Capabilities, height: int, width: int) -> tuple[int, int]:
    m, least = caps.size_multiple, caps.min_size
    return max(least, -(-height // m) * m), max(least, -(-width // m) * m)


def margin(caps: Capabilities) -> int:
    """Context read around each tile's kept part: the receptive margin rounded up to the size multiple (tiles
    must start on the downsampling grid)."""
    return caps.margin_cells * caps.size_multiple


def min_tile(caps: Capabilities) -> int:
    return MIN_CORE + 2 * (margin(caps) + FEATHER)


def spans(length: int, tile: int, context: int, multiple: int) -> list[Span]:
    """Split a padded axis of `length` px into tiles of at most `tile` px, each keeping an even share of it."""
    if length <= tile:
        return [Span(0, length, 0, length, np.ones(length, np.float32), 0, length)]
    core = (tile - 2 * (context + FEATHER)) // multiple  # in units of `multiple`
    units = length // multiple
    n = -(-units // core)
    edges = [i * units // n * multiple for i in range(n + 1)]
    out = []
    for c0, c1 in itertools.pairwise(edges):
        k0, k1 = max(0, c0 - FEATHER), min(length, c1 + FEATHER)
        x = np.arange(k0, k1, dtype=np.float32) + 0.5
        rise = np.ones_like(x) if c0 == 0 else np.clip((x - (c0 - FEATHER)) / (2 * FEATHER), 0, 1)
        fall = np.ones_like(x) if c1 == length else np.clip(((c1 + FEATHER) - x) / (2 * FEATHER), 0, 1)
        out.append(Span(max(0, k0 - context), min(length, k1 + context), k0, k1, rise * fall, c0, c1))
    return out


def plan(caps: Capabilities, size: tuple[int, int], tile: int) -> list[tuple[Span, Span]]:
    """(row span, column span) of every tile of a photo of `size` (H, W), row by row."""
    ph, pw = padded_size(caps, *size)
    m = caps.size_multiple
    given, tile = int(tile), int(tile) // m * m
    check_tile(caps, given, (ph, pw), tile)
    context = margin(caps)
    return [(r, c) for r in spans(ph, tile, context, m) for c in spans(pw, tile, context, m)]


def check_tile(caps: Capabilities, given: int, padded: tuple[int, int], tile: int) -> None:
    """Refuse a tile too small for the margin it must read, when the padded photo needs more than one."""
    if max(padded) > tile and tile < min_tile(caps):
        raise ValueError(f"tile {given} px is too small for this model: at least {min_tile(caps)} px (each tile "
                         f"reads {margin(caps) + FEATHER} px around what it keeps)")


def reflect(index: np.ndarray, n: int) -> np.ndarray:
    """Indices past the end of an axis of n px mirrored back (edge pixel not repeated; a 1-px axis repeats)."""
    if n == 1:
        return np.zeros_like(index)
    period = 2 * (n - 1)
    folded = np.mod(index, period)
    return np.where(folded < n, folded, period - folded)


def to_tensor(image: np.ndarray, device: torch.device) -> torch.Tensor:
    """HxWx3 float32 -> (1, 3, H, W) on the device."""
    return torch.from_numpy(np.ascontiguousarray(image)).to(device).permute(2, 0, 1)[None]


def to_image(x: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) -> HxWx3 float32 on the CPU."""
    return x[0].permute(1, 2, 0).float().cpu().numpy()


# --- full-resolution statistics, measured tile by tile -------------------------------------------------------


class Measured(Exception):
    """Stops a tile's pass once the normalisation being measured has seen its input."""


@dataclass
class Moments:
    """Per-channel count, mean and sum of squared deviations of everything added, merged tile by tile in float64
    (Chan et al.'s pairwise update), so millions of pixels lose no precision."""

    count: int = 0
    mean: torch.Tensor | None = None
    m2: torch.Tensor | None = None

    def add(self, x: torch.Tensor) -> None:
        """Add (1, C, h, w)."""
        n = x.shape[2] * x.shape[3]
        var, mean = torch.var_mean(x.float(), dim=(0, 2, 3), correction=0)
        mean, m2 = mean.double(), var.double() * n
        if self.mean is None or self.m2 is None:
            self.count, self.mean, self.m2 = n, mean, m2
            return
        total = self.count + n
        delta = mean - self.mean
        self.m2 = self.m2 + m2 + delta * delta * (self.count * n / total)
        self.mean = self.mean + delta * (n / total)
        self.count = total

    def mean_var(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, biased variance), float32, (1, C, 1, 1) each: what InstanceNorm's fixed mode takes."""
        assert self.mean is not None and self.m2 is not None
        shape = (1, -1, 1, 1)
        return self.mean.float().view(shape), (self.m2 / self.count).float().view(shape)


@dataclass
class StatisticsRounds:
    """What the rounds of a streaming pass share: the statistics measured this round, keyed by what they belong to,
    and the core of the tile being run (its own share, in its input's pixels)."""

    measured: dict[Hashable, Moments] = field(default_factory=dict)
    core: tuple[int, int, int, int, int, int] = (0, 0, 0, 0, 1, 1)  # rows, columns, the tile's height and width

    def at(self, rows: Span, cols: Span) -> None:
        self.core = (rows.core_start - rows.start, rows.core_stop - rows.start, cols.core_start - cols.start,
                     cols.core_stop - cols.start, rows.stop - rows.start, cols.stop - cols.start)

    def observe(self, key: Hashable, x: torch.Tensor) -> None:
        """Add the tile's core of `x` (any whole fraction of the tile's size) to `key`'s moments and stop the pass."""
        r0, r1, c0, c1, th, tw = self.core
        fy, fx = th // x.shape[2], tw // x.shape[3]
        if fy * x.shape[2] != th or fx * x.shape[3] != tw or r0 % fy or r1 % fy or c0 % fx or c1 % fx:
            raise RuntimeError(f"a {x.shape[2]}x{x.shape[3]} layer does not divide the {th}x{tw} tile evenly")
        self.measured.setdefault(key, Moments()).add(x[:, :, r0 // fy:r1 // fy, c0 // fx:c1 // fx])
        raise Measured


class HasModules(Protocol):
    """A network whose modules hold engine.layers.resnet.InstanceNorms (a Translator, a Stylist)."""

    def modules(self) -> Iterator[nn.Module]: ...


@contextmanager
def streamed_norms(net: HasModules, rounds: StatisticsRounds) -> Iterator[list[InstanceNorm]]:
    """Inside, every InstanceNorm of `net` that is not yet fixed is measured by `rounds` when a pass reaches it;
    `fix_norms` fixes those measured. Afterwards the norms normalise each image by its own statistics again."""
    norms = [m for m in net.modules() if isinstance(m, InstanceNorm)]

    def hook(norm: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        if norm.mode != "fixed":
            rounds.observe(norm, inputs[0])

    handles = [norm.register_forward_pre_hook(hook) for norm in norms]
    try:
        yield norms
    finally:
        for handle in handles:
            handle.remove()
        for norm in norms:
            norm.mode, norm.stats = "image", None


def fix_norms(norms: Sequence[InstanceNorm], measured: dict[Hashable, Moments]) -> None:
    for norm in norms:
        if norm in measured:
            norm.stats, norm.mode = measured[norm].mean_var(), "fixed"


def run_rounds(tiles: list[tuple[Span, Span]], run_tile: Callable[[int], np.ndarray], out: np.ndarray,
               rounds: StatisticsRounds, fix: Callable[[dict[Hashable, Moments]], None], levels: int,
               job: Job | None, accumulate: Callable[[np.ndarray, np.ndarray, Span, Span], None]) -> None:
    """Run every tile until each round measures nothing more; the last round's tiles are accumulated into `out`.
    levels: how many measuring rounds to expect (for progress only)."""
    for level in itertools.count():
        rounds.measured = {}
        finished = 0
        for i, (rows, cols) in enumerate(tiles):
            if job:
                job.check()
            rounds.at(rows, cols)
            try:
                y = run_tile(i)
            except Measured:
                if job:
                    job.progress(min(level + (i + 1) / len(tiles), levels) / (levels + 1),
                                 f"statistics {level + 1} of {levels}")
                continue
            finished += 1
            accumulate(out, y, rows, cols)
            if job:
                job.progress((levels + (i + 1) / len(tiles)) / (levels + 1), f"tile {i + 1} of {len(tiles)}")
        if finished not in (0, len(tiles)):
            raise RuntimeError("the tiles of one photo stopped at different normalisations")
        if finished:
            return
        fix(rounds.measured)


class Checkpoints:
    """Where each tile's pass resumes: the input of the stage that held the last normalisation it measured, kept
    while all tiles' checkpoints together fit `budget` bytes (else the tile resumes from an earlier one)."""

    def __init__(self, stages: Sequence[Callable[[torch.Tensor], torch.Tensor]], read: Callable[[int], torch.Tensor],
                 count: int, budget: int) -> None:
        self.stages, self.read, self.budget = list(stages), read, budget
        self.points: list[tuple[int, torch.Tensor | None]] = [(0, None)] * count
        self.held = 0

    def run(self, tile: int) -> torch.Tensor:
        start, x = self.points[tile]
        if x is None:
            x = self.read(tile)
        for i in range(start, len(self.stages)):
            try:
                y = self.stages[i](x)
            except Measured:
                self._keep(tile, i, x)
                raise
            x = y
        return x

    def _keep(self, tile: int, stage: int, x: torch.Tensor) -> None:
        old = self.points[tile][1]
        freed = old.numel() * old.element_size() if old is not None else 0
        size = x.numel() * x.element_size()
        if stage > 0 and self.held - freed + size <= self.budget:
            self.points[tile] = (stage, x)
            self.held += size - freed


def stages_of(translator: Translator) -> Sequence[Callable[[torch.Tensor], torch.Tensor]]:
    return translator.stages() if isinstance(translator, Staged) else [translator.translate]


# --- translating -------------------------------------------------------------------------------------------


def translate(translator: Translator, caps: Capabilities, image: np.ndarray, *, tile: int, device: torch.device,
              checkpoint_bytes: int = 0, job: Job | None = None) -> np.ndarray:
    """The translated photo, HxWx3 float32 in [0, 1], the input's size. `tile`: side of the largest window one
    pass reads (see `plan`); a photo that fits is translated in one pass, exactly as the official test does
    (apart from the reflection padding); a larger one in tiles with the whole photo's statistics, resuming from
    checkpoints of at most `checkpoint_bytes` together. Progress per round and tile, cancel between tiles."""
    image = check_photo(image)
    h, w = image.shape[:2]
    tiles = plan(caps, (h, w), tile)
    out = np.zeros((h, w, 3), np.float32)

    def read(i: int) -> torch.Tensor:
        rows, cols = tiles[i]
        return to_tensor(image[np.ix_(reflect(np.arange(rows.start, rows.stop), h),
                                      reflect(np.arange(cols.start, cols.stop), w))], device)

    with torch.inference_mode():
        if len(tiles) == 1:
            out[:] = to_image(translator.translate(read(0)))[:h, :w]
            if job:
                job.progress(1.0, "translated")
            return out
        rounds = StatisticsRounds()
        with streamed_norms(translator, rounds) as norms:
            resume = Checkpoints(stages_of(translator), read, len(tiles), checkpoint_bytes)
            run_rounds(tiles, lambda i: to_image(resume.run(i)), out, rounds,
                       lambda measured: fix_norms(norms, measured), len(norms), job, _accumulate)
    return out


def _accumulate(out: np.ndarray, y: np.ndarray, rows: Span, cols: Span) -> None:
    """Add the kept part of a tile's output, weighted; the weights of overlapping tiles sum to 1."""
    h, w = out.shape[:2]
    r1, c1 = min(rows.keep_stop, h), min(cols.keep_stop, w)  # the reflection padding is not kept
    weight = np.outer(rows.weights[:r1 - rows.keep_start], cols.weights[:c1 - cols.keep_start])[..., None]
    kept = y[rows.keep_start - rows.start:r1 - rows.start, cols.keep_start - cols.start:c1 - cols.start]
    out[rows.keep_start:r1, cols.keep_start:c1] += weight * kept


# --- choosing the tile size -------------------------------------------------------------------------------


def activation_bytes_per_pixel(translator: Translator, device: torch.device) -> float:
    """Estimated peak bytes per input pixel of one pass: the translator's float32 activations, times
    MEMORY_OVERHEAD."""
    return translator.activation_floats(device) * 4 * MEMORY_OVERHEAD


def available_memory(device: torch.device) -> int:
    """Bytes the machine can give now: a GPU's free memory; on the CPU MemAvailable (free memory plus what the
    page cache and reclaimable caches would give back), which does not jump when files are read."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type == "mps":
        return max(0, torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows)
        return UNKNOWN_MEMORY


def memory_budget(device: torch.device) -> int:
    """Bytes one job may take: BUDGET_SHARE of the available memory rounded down to a power of two (a tier: the
    same photo gets the same plan while the available memory stays within a factor of two)."""
    available = available_memory(device)
    return int((1 << (available.bit_length() - 1)) * BUDGET_SHARE) if available > 0 else 0


def default_tile(translator: Translator, caps: Capabilities, size: tuple[int, int], budget: int,
                 device: torch.device) -> int:
    """The whole padded photo when one pass fits `budget` bytes, else the largest square tile that fits half of
    it (the other half keeps the statistics pass's checkpoints; never below min_tile)."""
    padded = padded_size(caps, *size)
    per_pixel = activation_bytes_per_pixel(translator, device)
    if padded[0] * padded[1] * per_pixel <= budget:
        return max(padded)
    return fitting_tile(caps, budget / 2 / per_pixel, caps.size_multiple)


def fitting_tile(caps: Capabilities, pixels: float, multiple: int) -> int:
    """The largest square tile of at most `pixels` on the multiple (never below min_tile)."""
    return max(min_tile(caps), int(math.sqrt(pixels)) // multiple * multiple)
