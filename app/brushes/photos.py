"""Photos as Style Brushes works on them: checked from the header before decoding, read in any mode, kept
in 8 bits (so a saved project gives back the very same pixels), and named by their content.
Plain numpy + Pillow; every refusal is a one-line ImageFileError the page shows as it is."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from engine.api import MAX_TRANSLATE_PIXELS
from engine.imageio import ImageFileError, image_info, read_rgb8, to_uint8

MIN_SIDE = 16  # a narrower photo has nothing to paint on
_GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")
_SIXTEEN_BIT = ("I", "I;16", "I;16B", "I;16L", "F")
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")


@dataclass(frozen=True, eq=False)
class Photo:
    image: np.ndarray  # HxWx3 float32 in [0, 1], on the 8-bit grid
    name: str
    note: str = ""  # what was converted, for the user ("greyscale", "16-bit, edited in 8 bits", ...)
    key: str = ""  # photo_key(image), when the reader has it already


def check_size(name: str, width: int, height: int) -> None:
    if width * height > MAX_TRANSLATE_PIXELS:
        raise ImageFileError(f"{name} is {width}x{height} ({width * height / 1e6:.0f} megapixels): style brushes "
                             f"take photos up to {MAX_TRANSLATE_PIXELS // 1_000_000} megapixels; scale it down first")
    if min(width, height) < MIN_SIDE:
        raise ImageFileError(f"{name} is {width}x{height}: style brushes need at least {MIN_SIDE} px a side")


def read_photo(path: str | Path) -> Photo:
    """The photo to paint on; ImageFileError (one line) when it cannot be used."""
    path = Path(path)
    mode, width, height = image_info(path)
    check_size(path.name, width, height)
    pixels = read_rgb8(path, max_pixels=MAX_TRANSLATE_PIXELS)  # alpha over white, greyscale expanded, 16-bit scaled
    image = pixels.astype(np.float32)
    image /= 255.0  # as read_rgb and load_ora compute it, so a saved photo reads back bit for bit
    return Photo(image, path.name, _note(mode), _digest(pixels))


def shrink(photo: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The photo at (H, W), for a quick preview: every k-th pixel, then area averaging (a fraction of the cost of
    averaging all of a large photo's pixels; the small aliasing does not show at preview sizes)."""
    h, w = photo.shape[:2]
    step = max(1, min(h // (2 * size[0]), w // (2 * size[1])))
    return cv2.resize(np.ascontiguousarray(photo[::step, ::step]), (size[1], size[0]), interpolation=cv2.INTER_AREA)


def photo_key(image: np.ndarray) -> str:
    """A content key: the same pixels (a reopened project, the same file) give the same key."""
    return _digest(to_uint8(image))


def _digest(pixels: np.ndarray) -> str:
    digest = hashlib.blake2b(str(pixels.shape).encode(), digest_size=16)
    digest.update(np.ascontiguousarray(pixels).data)
    return digest.hexdigest()


def _note(mode: str) -> str:
    notes = []
    if mode in _GREY_MODES:
        notes.append("greyscale")
    if mode in _SIXTEEN_BIT:
        notes.append("16-bit, edited in 8 bits")
    if mode in _ALPHA_MODES:
        notes.append("transparent areas on white")
    return ", ".join(notes)
