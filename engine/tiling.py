"""Full-resolution translation of a photo of any size with a ResNet generator (CycleGAN, CUT), tiled when large.

Size: the photo is extended at the bottom and right by reflection to a multiple of the model's size_multiple
(at least min_size a side, so a 1-pixel-wide photo works) and the result is cropped back.

Tiles: the generators' InstanceNorms normalise by per-image statistics, so translating tiles independently
would normalise each tile differently and leave seams. A statistics pass therefore runs the whole photo,
downscaled to at most `stats_side` px on its long side (the photo itself when it fits), and records every
InstanceNorm's per-channel mean and variance; the full-resolution tiles are then normalised with those fixed
statistics (engine.layers.resnet.shared_statistics). Every output pixel then depends only on input pixels
within the generator's receptive radius (hparams["receptive_radius"]: 84 px for CycleGAN, 93 px for CUT with 9
blocks), so each tile reads a margin of at least that radius around the part it keeps, and adjacent tiles
agree; they are still blended over a FEATHER-px ramp. With the statistics pass at full resolution, tiled and
untiled outputs are equal to float precision. Memory: one tile's activations plus the float32 output (the
engine runs the statistics pass at most at the tile's size).
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import nn

from engine.api import MAX_TRANSLATE_PIXELS
from engine.imageio import to_rgb_float
from engine.layers.resnet import shared_statistics
from engine.worker import JobContext

STATS_SIDE = 1024  # long side of the statistics pass, in px
FEATHER = 16  # px on each side of a tile border over which neighbouring tiles are cross-faded
MIN_CORE = 4 * FEATHER + 8  # tiles keep at least 2 * FEATHER px of their own, so only neighbours' ramps overlap
# Tile memory: the estimated live activations times this, which covers the CPU convolutions' buffers and the
# allocator (measured peak / estimate at ngf 64: 1.9 for CycleGAN, 2.4 for CUT).
MEMORY_OVERHEAD = 2.5
CPU_BUDGET = 4 << 30  # bytes for one tile on the CPU, at most a quarter of the free memory
LUMA = (0.299, 0.587, 0.114)  # RGB -> grey for 1-channel models, as PIL's "L" conversion (the official loader)


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


def padded_size(hparams: dict, height: int, width: int) -> tuple[int, int]:
    m, least = int(hparams["size_multiple"]), int(hparams["min_size"])
    return max(least, -(-height // m) * m), max(least, -(-width // m) * m)


def margin(hparams: dict) -> int:
    """Context read around each tile's kept part: the receptive radius rounded up to the size multiple (tiles
    must start on the downsampling grid)."""
    m = int(hparams["size_multiple"])
    return -(-int(hparams["receptive_radius"]) // m) * m


def min_tile(hparams: dict) -> int:
    return MIN_CORE + 2 * (margin(hparams) + FEATHER)


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


def plan(hparams: dict, size: tuple[int, int], tile: int) -> list[tuple[Span, Span]]:
    """(row span, column span) of every tile of a photo of `size` (H, W), row by row."""
    ph, pw = padded_size(hparams, *size)
    m = int(hparams["size_multiple"])
    given, tile = int(tile), int(tile) // m * m
    if max(ph, pw) > tile and tile < min_tile(hparams):
        raise ValueError(f"tile {given} px is too small for this model: at least {min_tile(hparams)} px (each tile "
                         f"reads {margin(hparams) + FEATHER} px around what it keeps)")
    context = margin(hparams)
    return [(r, c) for r in spans(ph, tile, context, m) for c in spans(pw, tile, context, m)]


def _reflect(index: np.ndarray, n: int) -> np.ndarray:
    """Indices past the end of an axis of n px mirrored back (edge pixel not repeated; a 1-px axis repeats)."""
    if n == 1:
        return np.zeros_like(index)
    period = 2 * (n - 1)
    folded = np.mod(index, period)
    return np.where(folded < n, folded, period - folded)


def _to_input(patch: np.ndarray, input_nc: int, device: torch.device) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(patch)).to(device).permute(2, 0, 1)[None]
    if input_nc == 1:
        x = (x * torch.tensor(LUMA, device=device)[None, :, None, None]).sum(dim=1, keepdim=True)
    return x * 2 - 1


def _run(generator: nn.Module, x: torch.Tensor) -> np.ndarray:
    y = ((generator(x) + 1) / 2).clamp(0, 1)
    return y.expand(-1, 3, -1, -1)[0].permute(1, 2, 0).float().cpu().numpy()  # 1-channel output as grey RGB


def stats_sample(image: np.ndarray, hparams: dict, stats_side: int, device: torch.device) -> torch.Tensor:
    """The whole photo, shrunk (antialiased) so its long side is at most stats_side, padded like a tile."""
    h, w = image.shape[:2]
    scale = min(1.0, stats_side / max(h, w))
    small = image
    if scale < 1:  # area averaging: no aliasing, and no full-size copy of the photo
        small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    ph, pw = padded_size(hparams, sh, sw)
    patch = small[np.ix_(_reflect(np.arange(ph), sh), _reflect(np.arange(pw), sw))]
    return _to_input(patch, int(hparams["input_nc"]), device)


def translate(generator: nn.Module, hparams: dict, image: np.ndarray, *, tile: int, device: torch.device,
              stats_side: int = STATS_SIDE, ctx: JobContext | None = None) -> np.ndarray:
    """The translated photo, HxWx3 float32 in [0, 1], the input's size. `tile`: side of the largest window one
    pass reads (see `plan`); a photo that fits is translated in one pass, exactly as the official test does
    (apart from the reflection padding). Progress per tile and cancel between tiles through `ctx`."""
    image = check_photo(image)
    h, w = image.shape[:2]
    tiles = plan(hparams, (h, w), tile)
    input_nc = int(hparams["input_nc"])
    out = np.zeros((h, w, 3), np.float32)
    with torch.inference_mode():
        if len(tiles) == 1:
            rows, cols = tiles[0]
            patch = image[np.ix_(_reflect(np.arange(rows.stop), h), _reflect(np.arange(cols.stop), w))]
            out[:] = _run(generator, _to_input(patch, input_nc, device))[:h, :w]
            if ctx:
                ctx.progress(1.0, "translated")
            return out
        if ctx:
            ctx.check()
            ctx.progress(0.0, "measuring the photo's statistics")
        with shared_statistics(generator, stats_sample(image, hparams, stats_side, device)):
            for i, (rows, cols) in enumerate(tiles):
                if ctx:
                    ctx.check()
                patch = image[np.ix_(_reflect(np.arange(rows.start, rows.stop), h),
                                     _reflect(np.arange(cols.start, cols.stop), w))]
                y = _run(generator, _to_input(patch, input_nc, device))
                _accumulate(out, y, rows, cols)
                if ctx:
                    ctx.progress((i + 1) / len(tiles), f"tile {i + 1} of {len(tiles)}")
    return out


def _accumulate(out: np.ndarray, y: np.ndarray, rows: Span, cols: Span) -> None:
    """Add the kept part of a tile's output, weighted; the weights of overlapping tiles sum to 1."""
    h, w = out.shape[:2]
    r1, c1 = min(rows.keep_stop, h), min(cols.keep_stop, w)  # the reflection padding is not kept
    weight = np.outer(rows.weights[:r1 - rows.keep_start], cols.weights[:c1 - cols.keep_start])[..., None]
    kept = y[rows.keep_start - rows.start:r1 - rows.start, cols.keep_start - cols.start:c1 - cols.start]
    out[rows.keep_start:r1, cols.keep_start:c1] += weight * kept


# --- choosing the tile size -------------------------------------------------------------------------------


def activation_bytes_per_pixel(generator: nn.Module, input_nc: int, device: torch.device) -> float:
    """Estimated peak bytes per input pixel of one pass: the largest input + output of any layer of the
    generator's top-level sequence, measured on a 32x32 input, times MEMORY_OVERHEAD."""
    side = 32
    peak = 0

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal peak
        peak = max(peak, inputs[0].numel() + output.numel())

    handles = [layer.register_forward_hook(hook) for layer in generator.model]
    try:
        with torch.inference_mode():
            generator(torch.zeros(1, input_nc, side, side, device=device))
    finally:
        for handle in handles:
            handle.remove()
    return peak * 4 / side**2 * MEMORY_OVERHEAD


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


def default_tile(generator: nn.Module, hparams: dict, size: tuple[int, int], device: torch.device) -> int:
    """The whole padded photo when one pass fits the memory budget, else the largest square tile that does
    (never below min_tile)."""
    ph, pw = padded_size(hparams, *size)
    pixels = memory_budget(device) / activation_bytes_per_pixel(generator, int(hparams["input_nc"]), device)
    if ph * pw <= pixels:
        return max(ph, pw)
    m = int(hparams["size_multiple"])
    return max(min_tile(hparams), int(math.sqrt(pixels)) // m * m)
