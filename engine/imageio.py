"""Reading and writing images and label maps (torch-free), with one-line errors for bad files."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

# Refuse files whose pixel count would exhaust memory before decoding them (Pillow checks the header).
MAX_PIXELS = 100_000_000
WRITE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP"}


class ImageFileError(ValueError):
    pass


def _open(path: Path) -> Image.Image:
    if not path.is_file():
        raise ImageFileError(f"{path}: no such file")
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            image.load()
        return image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageFileError(f"{path.name}: the image is too large (over {MAX_PIXELS // 1_000_000} megapixels)") from None
    except UnidentifiedImageError:
        raise ImageFileError(f"{path.name}: not an image file, or a format that cannot be read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageFileError(f"{path.name}: the image is truncated or corrupt ({exc})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def read_label_map(path: str | Path) -> np.ndarray:
    """An HxW int32 array of class ids from an indexed (P) or grayscale (L, I;16, I) image.

    Indexed PNGs give their palette indices, never their colours. A colour image is refused unless
    it is grey (R = G = B), since its colours are not ids.
    """
    path = Path(path)
    image = _open(path)
    if image.mode in ("P", "L", "I", "I;16", "I;16B", "I;16L"):
        return np.asarray(image, dtype=np.int64).astype(np.int32)
    if image.mode in ("RGB", "RGBA"):
        rgb = np.asarray(image.convert("RGB"))
        if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
            return rgb[..., 0].astype(np.int32)
        raise ImageFileError(
            f"{path.name}: the label map is a colour ({image.mode}) image; label maps must hold class ids "
            "(an indexed or greyscale PNG)")
    raise ImageFileError(f"{path.name}: unsupported label map mode {image.mode}; use an indexed or greyscale PNG")


def read_rgb(path: str | Path) -> np.ndarray:
    """HxWx3 float32 in [0, 1]; alpha is composited over white, greyscale expanded, 16-bit scaled."""
    path = Path(path)
    image = _open(path)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        grey = np.asarray(image, dtype=np.float32) / (65535.0 if image.mode != "I" else float(max(np.max(image), 1)))
        return np.repeat(np.clip(grey, 0, 1)[..., None], 3, axis=2)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


def to_rgb_float(image: np.ndarray) -> np.ndarray:
    """Any photo array -> HxWx3 float32 in [0, 1], as read_rgb treats files: grey (HxW, HxWx1) expanded, grey +
    alpha or RGBA composited over white; uint8 and uint16 scaled, floats clipped. No copy when it already fits."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4) or 0 in image.shape:
        raise ImageFileError(f"a photo must be an HxW, HxWx3 or HxWx4 array, got shape {image.shape}")
    if image.dtype == np.uint8 or image.dtype == np.uint16:
        scaled = image.astype(np.float32) / float(np.iinfo(image.dtype).max)
    elif np.issubdtype(image.dtype, np.floating):
        scaled = image.astype(np.float32, copy=False)
        if not np.isfinite(scaled).all():
            raise ImageFileError("the photo contains NaN or infinite values")
        if scaled.min() < 0 or scaled.max() > 1:
            scaled = np.clip(scaled, 0, 1)
    else:
        raise ImageFileError(f"unsupported photo data type {image.dtype}; use uint8, uint16 or floats in [0, 1]")
    if scaled.shape[2] in (2, 4):  # alpha over white
        alpha = scaled[..., -1:]
        scaled = scaled[..., :-1] * alpha + (1 - alpha)
    return np.repeat(scaled, 3, axis=2) if scaled.shape[2] == 1 else scaled


def to_uint8(image: np.ndarray) -> np.ndarray:
    """[0, 1] floats to 8-bit, truncating like the official repos' tensor2im."""
    return np.clip(image * 255.0, 0, 255).astype(np.uint8)


def write_rgb(path: str | Path, image: np.ndarray) -> None:
    path = Path(path)
    fmt = WRITE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ImageFileError(f"{path.name}: unknown image type; use one of {', '.join(sorted(WRITE_FORMATS))}")
    if not path.parent.is_dir():
        raise ImageFileError(f"{path.parent}: no such folder")
    options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    Image.fromarray(to_uint8(image)).save(path, fmt, **options)
