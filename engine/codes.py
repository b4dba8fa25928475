"""Edits on Swapping Autoencoder codes, in plain numpy (torch-free: the GUI calls these directly).

The structure code is (C, h, w), one code per cell; the texture code is (D,). The generator
L2-normalises both again, so edits move directions, and a zero vector is never produced here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from engine.api import CodeStats

MIN_STATS_PHOTOS = 8  # fewer photos than this give principal directions that are mostly noise
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})  # photos in a folder
ATTRIBUTE_NAME_LIMIT = 40  # characters: an attribute's name is a slider label
EPS = 1e-8
FEATHER_PER_CELL = 0.25  # a region's edge blends over about half a cell (this much of a cell each side)
GUIDE_EPS = 1e-3  # the guided filter's regulariser: smaller follows weaker edges of the photo
MASK_CLEAN = 1e-3  # mask values this close to 0 or 1 are made exact (outside a region is the photo, bit for bit)


def normalize(v: np.ndarray, axis: int = 0) -> np.ndarray:
    """v / |v| along `axis`, as the model does (v * rsqrt(sum v^2 + 1e-8))."""
    return (v / np.sqrt(np.sum(v * v, axis=axis, keepdims=True) + EPS)).astype(np.float32)


def blend_texture(own: np.ndarray, reference: np.ndarray, alpha: float) -> np.ndarray:
    """The paper's swap: lerp(own, reference, alpha); 0 keeps the photo's texture, 1 is a full swap."""
    return ((1.0 - alpha) * own + alpha * reference).astype(np.float32)


def shift_texture(texture: np.ndarray, stats: CodeStats, gains: Sequence[float] = (),
                  attributes: Mapping[str, float] | None = None) -> np.ndarray:
    """texture + sum_i gains[i] * std_i * component_i + sum_a amount_a * attribute_a (GANSpace-style).

    A gain of 1 moves the code by one standard deviation of the photos the directions came from;
    an attribute amount of 1 adds the whole mean difference between its two groups.
    """
    out = texture.astype(np.float32).copy()
    for i, gain in enumerate(gains):
        if gain:
            out += float(gain) * stats.texture_std[i] * stats.texture_components[i]
    named = dict(stats.attributes)
    for name, amount in (attributes or {}).items():
        if amount:
            if name not in named:
                raise KeyError(f"this model has no attribute '{name}'")
            out += float(amount) * named[name]
    return out


def similarity(structure: np.ndarray, cell: tuple[int, int]) -> np.ndarray:
    """Cosine similarity (h, w) in [-1, 1] of every cell's structure code to the code at `cell` (y, x)."""
    unit = normalize(structure, axis=0)
    return np.einsum("chw,c->hw", unit, unit[:, cell[0], cell[1]])


def similarity_mask(structure: np.ndarray, cell: tuple[int, int], threshold: float, *,
                    connected: bool = True) -> np.ndarray:
    """Cells (h, w bool) whose code is at least `threshold` similar to the code at `cell`.

    connected: keep only the region that grows from `cell` through 4-connected similar cells.
    Lowering the threshold only ever adds cells.
    """
    mask = similarity(structure, cell) >= threshold
    mask[cell] = True
    return _grow(mask, cell) if connected else mask


def _grow(mask: np.ndarray, seed: tuple[int, int]) -> np.ndarray:
    grown = np.zeros_like(mask)
    grown[seed] = True
    while True:
        nxt = grown.copy()
        nxt[1:] |= grown[:-1]
        nxt[:-1] |= grown[1:]
        nxt[:, 1:] |= grown[:, :-1]
        nxt[:, :-1] |= grown[:, 1:]
        nxt &= mask
        if np.array_equal(nxt, grown):
            return grown
        grown = nxt


def move_structure(structure: np.ndarray, weights: np.ndarray, stats: CodeStats,
                   gains: Sequence[float]) -> np.ndarray:
    """Move the codes of the weighted cells (weights (h, w) in [0, 1]) along the structure directions:
    code + weight * sum_i gains[i] * std_i * component_i. Cells of weight 0 are left bit-exact."""
    step = np.zeros(structure.shape[0], np.float32)
    for i, gain in enumerate(gains):
        if gain:
            step += float(gain) * stats.structure_std[i] * stats.structure_components[i]
    return (structure + step[:, None, None] * weights[None].astype(np.float32)).astype(np.float32)


def clone_structure(target: np.ndarray, source: np.ndarray, cells: np.ndarray,
                    offset: tuple[int, int]) -> np.ndarray:
    """Clone stamp on the structure code: each cell (y, x) in `cells` (h, w bool) takes source[:, y+dy, x+dx].

    `source` is the code as it was when the stroke began (so a stroke never clones its own output);
    cells whose source falls outside the code are left alone.
    """
    out = target.copy()
    ys, xs = np.nonzero(cells)
    sy, sx = ys + offset[0], xs + offset[1]
    inside = (sy >= 0) & (sy < source.shape[1]) & (sx >= 0) & (sx < source.shape[2])
    out[:, ys[inside], xs[inside]] = source[:, sy[inside], sx[inside]]
    return out


def changed_cells(before: np.ndarray, after: np.ndarray) -> tuple[int, int, int, int] | None:
    """Bounding box (top, left, bottom, right; end exclusive) of the cells whose code differs, or None."""
    diff = np.any(before != after, axis=0)
    if not diff.any():
        return None
    ys, xs = np.nonzero(diff)
    return int(ys.min()), int(xs.min()), int(ys.max()) + 1, int(xs.max()) + 1


def feather_radius(cell: int) -> int:
    """The feathering radius, in pixels of the working size, of a region mask on cells of `cell` px."""
    return max(1, round(cell * FEATHER_PER_CELL))


def feather_width(cell: int) -> int:
    """About how wide, in pixels of the working size, the band is over which a region's edge blends."""
    return cell + 2 * feather_radius(cell)


def soft_mask(weights: np.ndarray, guide: np.ndarray, cell: int) -> np.ndarray:
    """Cell weights (h, w) in [0, 1] as a pixel mask of the guide's size (the photo at its working size, HxWx3 or
    HxW in [0, 1], `cell` px a cell) whose edges blend instead of stepping from cell to cell: the weights spread
    bilinearly from the cells' centres, blurred by feather_radius, then a guided filter (He et al.) with the photo as
    the guide, so the blend hugs the photo's own edges where it has them. Exactly 0 beyond half a cell and three
    radii of the cells (within the generator's reach), exactly 1 as deep inside. float32 (H, W)."""
    h, w = guide.shape[:2]
    r = feather_radius(cell)
    weights = np.ascontiguousarray(weights, np.float32)
    if not weights.any():
        return np.zeros((h, w), np.float32)
    # bilinear between cell centres: a staircase of cells becomes a slope, then the blur rounds what is left
    spread = cv2.resize(weights, (weights.shape[1] * cell, weights.shape[0] * cell), interpolation=cv2.INTER_LINEAR)
    smooth = cv2.blur(np.ascontiguousarray(spread[:h, :w]), (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REPLICATE)
    gray = np.asarray(guide, np.float32)
    gray = np.ascontiguousarray(gray @ np.float32([0.299, 0.587, 0.114]) if gray.ndim == 3 else gray)
    mask = _guided(gray, smooth, r, GUIDE_EPS)
    mask[mask < MASK_CLEAN] = 0.0
    mask[mask > 1 - MASK_CLEAN] = 1.0
    return np.clip(mask, 0.0, 1.0, out=mask)


def _guided(guide: np.ndarray, src: np.ndarray, r: int, eps: float) -> np.ndarray:
    """The guided filter of `src` by a one-channel `guide` over (2r+1)^2 windows: locally src ~ a guide + b."""
    def mean(x: np.ndarray) -> np.ndarray:
        return cv2.blur(x, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REPLICATE)
    mean_i, mean_p = mean(guide), mean(src)
    a = (mean(guide * src) - mean_i * mean_p) / (mean(guide * guide) - mean_i * mean_i + eps)
    b = mean_p - a * mean_i
    return (mean(a) * guide + mean(b)).astype(np.float32)
