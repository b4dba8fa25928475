"""Photos as the Swap & Edit page works on them: read at their own resolution (what the result and the export
keep), a working copy the model embeds, thumbnails. Plain numpy (no Qt, no torch); every refusal is a one-line
ValueError the page shows as it is."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from engine.api import WORKING_SIDE
from engine.imageio import MAX_PIXELS, ImageFileError, read_rgb, to_uint8

MAX_REFERENCE_SIDE = 1024  # a reference only gives its texture code: a smaller copy gives nearly the same
THUMB_SIDE = 96


@dataclass(frozen=True, eq=False)
class Photo:
    image: np.ndarray  # HxWx3 float32 in [0, 1], the file's pixels: the result is this plus the edits' change
    name: str

    @cached_property
    def working(self) -> np.ndarray:
        """What the model embeds: the photo with its long side at most WORKING_SIDE, so opening a large photo and
        generating an edit take what a WORKING_SIDE photo does; the edits' change is carried back to full size."""
        return resize(self.image, working_size(self.image.shape[:2]))

    @property
    def note(self) -> str:
        """What the user must know about the size we work at ("" when it is the file's)."""
        h, w = self.image.shape[:2]
        wh, ww = working_size((h, w))
        return "" if (wh, ww) == (h, w) else f"{w}x{h}, edited at {ww}x{wh}, exported at {w}x{h}"


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an HxWx3 float image to (H, W): area averaging when shrinking, bicubic when enlarging."""
    if image.shape[:2] == tuple(size):
        return image
    shrink = size[0] * size[1] < image.shape[0] * image.shape[1]
    out = cv2.resize(np.ascontiguousarray(image, dtype=np.float32), (size[1], size[0]),
                     interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
    return np.clip(out, 0.0, 1.0)


def fit_long_side(size: tuple[int, int], limit: int) -> tuple[int, int]:
    h, w = size
    if max(h, w) <= limit:
        return h, w
    scale = limit / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def working_size(size: tuple[int, int]) -> tuple[int, int]:
    """The (H, W) a photo of `size` is embedded at."""
    return fit_long_side(size, WORKING_SIDE)


def embedded_at(photo_size: tuple[int, int], code_size: tuple[int, int]) -> bool:
    """Can codes made at `code_size` stand for a photo of `photo_size`: its working size, or (older projects) its
    own size."""
    return tuple(code_size) in (tuple(photo_size), working_size(photo_size))


def open_photo(path: str | Path, min_size: int) -> Photo:
    """The photo to edit: read (any mode; alpha over white), refused when a side of it or of its working copy is
    below the model's minimum."""
    path = Path(path)
    image = read_rgb(path)
    h, w = image.shape[:2]
    wh, ww = working_size((h, w))
    if min(wh, ww) < min_size:
        scaled = "" if (wh, ww) == (h, w) else f", and it is edited at {ww}x{wh}"
        raise ValueError(f"{path.name} is {w}x{h}: this model needs photos of at least {min_size} px a side{scaled}")
    return Photo(image, path.name)


def reference_image(path: str | Path, min_size: int) -> np.ndarray:
    """A reference photo, sized for its texture code: at most MAX_REFERENCE_SIDE long, enlarged to the
    model's minimum where it is smaller (only its look is used, so that is harmless)."""
    path = Path(path)
    image = read_rgb(path)
    h, w = fit_long_side(image.shape[:2], MAX_REFERENCE_SIDE)
    if min(h, w) < min_size:
        scale = min_size / min(h, w)
        h, w = max(min_size, round(h * scale)), max(min_size, round(w * scale))
        if max(h, w) > 4 * MAX_REFERENCE_SIDE:
            raise ValueError(f"{path.name} is too narrow to serve as a reference (sides {image.shape[1]}x"
                             f"{image.shape[0]})")
    return resize(image, (h, w))


def thumbnail(image: np.ndarray, side: int = THUMB_SIDE) -> np.ndarray:
    """hxwx3 uint8 fitting a side x side square."""
    h, w = fit_long_side(image.shape[:2], side)
    return to_uint8(resize(image, (h, w)))


def file_thumbnail(path: str | Path, side: int = THUMB_SIDE) -> np.ndarray:
    """A thumbnail straight from a file; JPEGs decode at a reduced scale, so a shelf of big photos loads fast."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise ImageFileError(f"{path.name}: the image is too large")
                if image.mode in ("RGB", "L", "P", "RGBA", "LA", "CMYK", "YCbCr"):
                    image.draft("RGB", (side * 2, side * 2))
                    image.thumbnail((side * 2, side * 2))
                    if image.mode not in ("RGBA", "LA", "P"):
                        upright = ImageOps.exif_transpose(image.convert("RGB"))  # as read_rgb turns phone photos
                        return thumbnail(np.asarray(upright, np.float32) / 255.0, side)
    except (OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, ImageFileError):
            raise
        raise ImageFileError(f"{path.name}: not an image file, or a damaged one") from None
    return thumbnail(read_rgb(path), side)  # transparency and 16-bit: the full reader knows them
