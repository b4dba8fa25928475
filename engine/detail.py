"""Full resolution from a network run at a working resolution, the photo's own detail carried to full size.

A two-level Laplacian split: the result is the photo's high-frequency band (the photo minus its working-size copy
brought back up) plus the network's low-frequency band (its working-size output brought up), which is the photo plus
the change the network made, upsampled:

    out = photo + up(net(down(photo)) - down(photo))

Where the network changed nothing the result is the photo, bit for bit; what it changed keeps the detail the working
size resolves, and finer detail is the photo's. down: area averaging; up: bilinear with pixel centres aligned (as
cv2 and PyTorch's align_corners=False do), written out for windows too, so that a window of the full-size result
(a Swap & Edit region) equals the same pixels of the whole.
"""

from __future__ import annotations

import cv2
import numpy as np

from engine.api import FullRes


def working_size(size: tuple[int, int], side: int) -> tuple[int, int]:
    """(H, W) scaled so the long side is at most `side` (the size itself when it is)."""
    h, w = size
    if max(h, w) <= side:
        return h, w
    scale = side / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def downscale(photo: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """HxWxC float32 in [0, 1] area-averaged to `size` (H, W), still in [0, 1] (averages round a hair past 1)."""
    if photo.shape[:2] == tuple(size):
        return photo
    small = cv2.resize(np.ascontiguousarray(photo, np.float32), (size[1], size[0]), interpolation=cv2.INTER_AREA)
    return np.clip(small, 0.0, 1.0, out=small)


def _taps(n_out: int, n_in: int, start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For output pixels [start, stop) of an axis resized from n_in to n_out px: the two input pixels each one
    reads and the weight of the second (edges clamped)."""
    u = np.clip((np.arange(start, stop, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
    lo = np.floor(u).astype(np.intp)
    return lo, np.minimum(lo + 1, n_in - 1), (u - lo).astype(np.float32)


def upsample(image: np.ndarray, size: tuple[int, int], *, whole: tuple[int, int] | None = None,
             origin: tuple[int, int] = (0, 0), window: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """HxWxC float32 resized (bilinear) to `size` (H, W). For a window: `image` holds the rows and columns of a
    `whole`-sized (h, w) image from `origin` on, at least those the window reads, and `window` (top, left, bottom,
    right) picks the output pixels computed."""
    if window is None and whole is None:
        return cv2.resize(np.ascontiguousarray(image, np.float32), (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    whole = whole or image.shape[:2]
    top, left, bottom, right = window or (0, 0, *size)
    lo, hi, wy = _taps(size[0], whole[0], top, bottom)
    rows = image[lo - origin[0]] * (1 - wy)[:, None, None] + image[hi - origin[0]] * wy[:, None, None]
    lo, hi, wx = _taps(size[1], whole[1], left, right)
    return rows[:, lo - origin[1]] * (1 - wx)[None, :, None] + rows[:, hi - origin[1]] * wx[None, :, None]


def reading(window: tuple[int, int, int, int], small: tuple[int, int], size: tuple[int, int], *,
            only: bool) -> tuple[int, int, int, int]:
    """The output pixels (top, left, bottom, right) of a resize from `small` to `size` that read any pixel of
    `window` (in `small`'s pixels), or (only) no pixel outside it."""
    (r0, r1), (c0, c1) = (_reading(size[a], small[a], window[a], window[a + 2], only) for a in (0, 1))
    return r0, c0, r1, c1


def _reading(n_out: int, n_in: int, start: int, stop: int, only: bool) -> tuple[int, int]:
    lo, hi, weight = _taps(n_out, n_in, 0, n_out)
    hi = np.where(weight > 0, hi, lo)  # a tap of weight 0 reads nothing (every pixel at scale 1)
    hit = (lo >= start) & (hi < stop) if only else (hi >= start) & (lo < stop)
    found = np.flatnonzero(hit)  # contiguous: the taps only move forward
    return (int(found[0]), int(found[-1]) + 1) if found.size else (0, 0)


def carry_detail(photo: np.ndarray, small: np.ndarray, changed: np.ndarray) -> np.ndarray:
    """The photo plus the network's change of its working-size copy `small` into `changed`, upsampled to the
    photo's size; float32 in [0, 1]."""
    out = photo + upsample(changed - small, photo.shape[:2])
    return np.clip(out, 0.0, 1.0, out=out)


def carry_patch(photo: np.ndarray, small: np.ndarray, patch: np.ndarray, at: tuple[int, int],
                changed: tuple[int, int, int, int]) -> tuple[np.ndarray, int, int]:
    """carry_detail where the network's output differs from `small` only within `changed` (top, left, bottom,
    right), given as `patch`, its part from `at` (top, left) on, which covers `changed` and a pixel around it:
    (the photo's pixels that read `changed`, their top, their left), equal to the same pixels of the whole."""
    top, left = at
    h, w = patch.shape[:2]
    y0, x0, y1, x1 = window = reading(changed, small.shape[:2], photo.shape[:2], only=False)
    py0, px0, py1, px1 = reading((top, left, top + h, left + w), small.shape[:2], photo.shape[:2], only=True)
    if not (py0 <= y0 and px0 <= x0 and y1 <= py1 and x1 <= px1):
        raise ValueError("the patch must cover the changed part and a pixel around it")
    change = patch - small[top:top + h, left:left + w]
    out = photo[y0:y1, x0:x1] + upsample(change, photo.shape[:2], whole=small.shape[:2], origin=at, window=window)
    return np.clip(out, 0.0, 1.0, out=out), y0, x0


def check_method(value: str) -> FullRes:
    """The request's full_res as a FullRes; a ValueError naming the methods for anything else."""
    try:
        return FullRes(value)
    except ValueError:
        raise ValueError(f"full_res must be one of {', '.join(FullRes)}, got {value!r}") from None
