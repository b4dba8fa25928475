"""Photos as the Swap & Edit page works on them: read, brought to a size the model takes, thumbnails.
Plain numpy (no Qt, no torch); every refusal is a one-line ValueError the page shows as it is."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from engine.imageio import MAX_PIXELS, ImageFileError, read_rgb, to_uint8

MAX_SIDE = 2048  # longer photos are worked on downscaled: embedding and decoding stay interactive
MAX_REFERENCE_SIDE = 1024  # a reference only gives its texture code: a smaller copy gives nearly the same
THUMB_SIDE = 96


@dataclass(frozen=True, eq=False)
class Photo:
    image: np.ndarray  # HxWx3 float32 in [0, 1], as it will be embedded
    name: str
    original_size: tuple[int, int]  # (H, W) of the file

    @property
    def note(self) -> str:
        """What the user must know about the size we work at ("" when it is the file's)."""
        h, w = self.image.shape[:2]
        if (h, w) == self.original_size:
            return ""
        oh, ow = self.original_size
        return f"{ow}x{oh}, worked on at {w}x{h}"


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


def open_photo(path: str | Path, min_size: int) -> Photo:
    """The photo to edit: read (any mode; alpha over white), downscaled to MAX_SIDE, refused when a side is
    below the model's minimum."""
    path = Path(path)
    image = read_rgb(path)
    h, w = image.shape[:2]
    if min(h, w) < min_size:
        raise ValueError(f"{path.name} is {w}x{h}: this model needs photos of at least {min_size} px a side")
    return Photo(resize(image, fit_long_side((h, w), MAX_SIDE)), path.name, (h, w))


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
