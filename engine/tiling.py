"""Full-resolution translation of a photo of any size with an image-to-image generator, tiled when large.

Works on any generator that is a `Translator`, with the sizes its Capabilities state.

Size: the photo is extended at the bottom and right by reflection to a multiple of the model's size_multiple
(at least min_size a side, so a 1-pixel-wide photo works) and the result is cropped back.

Tiles: generators that normalise by per-image statistics (the InstanceNorms of CycleGAN and CUT) would normalise
independent tiles differently and leave seams. A statistics pass therefore runs the whole photo, downscaled to at
most `stats_side` px on its long side (the photo itself when it fits), inside the translator's
`shared_statistics`, and the full-resolution tiles are normalised with those fixed statistics. Every output pixel
then depends only on input pixels within the receptive margin (84 px for CycleGAN, 93 px for CUT with 9 blocks),
so each tile reads at least that margin around the part it keeps, and adjacent tiles agree; they are still
blended over a FEATHER-px ramp. With the statistics pass at full resolution, tiled and untiled outputs are equal
to float precision. Memory: one tile's activations plus the float32 output (the engine runs the statistics pass
at most at the tile's size).
"""

from __future__ import annotations

import itertools
import math
import os
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
import torch

from engine.api import MAX_TRANSLATE_PIXELS, Capabilities
from engine.imageio import to_rgb_float
from engine.tasks import Job

STATS_SIDE = 1024  # long side of the statistics pass, in px
FEATHER = 16  # px on each side of a tile border over which neighbouring tiles are cross-faded
MIN_CORE = 4 * FEATHER + 8  # tiles keep at least 2 * FEATHER px of their own, so only neighbours' ramps overlap
# Tile memory: the estimated live activations times this, which covers the CPU convolutions' buffers and the
# allocator (measured peak / estimate at ngf 64: 1.9 for CycleGAN, 2.4 for CUT).
MEMORY_OVERHEAD = 2.5
CPU_BUDGET = 4 << 30  # bytes for one tile on the CPU, at most a quarter of the free memory


class Translator(Protocol):
    """One direction of a loaded image-to-image model, as tiles drive it (engine.layers.resnet.SequentialGenerator
    is one). Images are (1, 3, H, W) RGB tensors in [0, 1] on the engine's device."""

    def translate(self, image: torch.Tensor) -> torch.Tensor:
        """The translated image, the same shape; H and W are multiples of the model's size_multiple."""

    def shared_statistics(self, sample: torch.Tensor) -> AbstractContextManager[None]:
        """Inside, every translation normalises with the statistics measured on `sample` (a whole photo)."""

    def activation_floats(self, device: torch.device) -> float:
        """Estimated peak floats held per input pixel during one translation."""


@dataclass(frozen=True)
class Span:
    """One tile along one axis: it reads [start, stop) of the padded photo and keeps [keep_start, keep_stop),
    weighted by `weights` (1 inside, ramps across borders shared with a neighbour)."""

    start: int
    stop: int
    keep_start: int
    keep_stop: int
    weights: np.ndarray


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
        return [Span(0, length, 0, length, np.ones(length, np.float32))]
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
        out.append(Span(max(0, k0 - context), min(length, k1 + context), k0, k1, rise * fall))
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


def _run(translator: Translator, patch: np.ndarray, device: torch.device) -> np.ndarray:
    return to_image(translator.translate(to_tensor(patch, device)))


def stats_sample(image: np.ndarray, caps: Capabilities, stats_side: int, device: torch.device) -> torch.Tensor:
    """The whole photo, shrunk (antialiased) so its long side is at most stats_side, padded like a tile."""
    h, w = image.shape[:2]
    scale = min(1.0, stats_side / max(h, w))
    small = image
    if scale < 1:  # area averaging: no aliasing, and no full-size copy of the photo
        small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    ph, pw = padded_size(caps, sh, sw)
    patch = small[np.ix_(reflect(np.arange(ph), sh), reflect(np.arange(pw), sw))]
    return to_tensor(patch, device)


def translate(translator: Translator, caps: Capabilities, image: np.ndarray, *, tile: int, device: torch.device,
              stats_side: int = STATS_SIDE, job: Job | None = None) -> np.ndarray:
    """The translated photo, HxWx3 float32 in [0, 1], the input's size. `tile`: side of the largest window one
    pass reads (see `plan`); a photo that fits is translated in one pass, exactly as the official test does
    (apart from the reflection padding). Progress per tile and cancel between tiles through `job`."""
    image = check_photo(image)
    h, w = image.shape[:2]
    tiles = plan(caps, (h, w), tile)
    out = np.zeros((h, w, 3), np.float32)
    with torch.inference_mode():
        if len(tiles) == 1:
            rows, cols = tiles[0]
            patch = image[np.ix_(reflect(np.arange(rows.stop), h), reflect(np.arange(cols.stop), w))]
            out[:] = _run(translator, patch, device)[:h, :w]
            if job:
                job.progress(1.0, "translated")
            return out
        if job:
            job.check()
            job.progress(0.0, "measuring the photo's statistics")
        with translator.shared_statistics(stats_sample(image, caps, stats_side, device)):
            for i, (rows, cols) in enumerate(tiles):
                if job:
                    job.check()
                patch = image[np.ix_(reflect(np.arange(rows.start, rows.stop), h),
                                     reflect(np.arange(cols.start, cols.stop), w))]
                _accumulate(out, _run(translator, patch, device), rows, cols)
                if job:
                    job.progress((i + 1) / len(tiles), f"tile {i + 1} of {len(tiles)}")
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


def memory_budget(device: torch.device) -> int:
    """Bytes one tile may take: half the free memory of a GPU; on the CPU a quarter of the free RAM, at most
    CPU_BUDGET."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free // 2
    if device.type == "mps":
        return max(0, torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory()) // 2
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows): assume 4 GB free
        free = 4 << 30
    return min(CPU_BUDGET, free // 4)


def default_tile(translator: Translator, caps: Capabilities, size: tuple[int, int], device: torch.device) -> int:
    """The whole padded photo when one pass fits the memory budget, else the largest square tile that does
    (never below min_tile)."""
    return fitting_tile(caps, padded_size(caps, *size), memory_budget(device) / activation_bytes_per_pixel(
        translator, device), caps.size_multiple)


def fitting_tile(caps: Capabilities, padded: tuple[int, int], pixels: float, multiple: int) -> int:
    """The whole padded photo when its pixels fit, else the largest square tile of `pixels` on the multiple
    (never below min_tile)."""
    if padded[0] * padded[1] <= pixels:
        return max(padded)
    return max(min_tile(caps), int(math.sqrt(pixels)) // multiple * multiple)
