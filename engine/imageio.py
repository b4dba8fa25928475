"""Reading and writing images and label maps (torch-free), with one-line errors for bad files."""

from __future__ import annotations

import stat
import struct
import warnings
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from engine.errors import error_message
from engine.storage import atomic_write_bytes

# The most pixels any image is decoded to; callers pass a lower budget of their own (checked from the header).
MAX_PIXELS = 100_000_000
WRITE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP"}
_ORIENTATION = 0x0112  # EXIF tag; values 5-8 turn the picture by a quarter


class ImageFileError(ValueError):
    pass


def check_readable(path: Path) -> None:
    """A regular file we may open: folders, FIFOs and devices are named as such (opening a FIFO would block)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ImageFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise ImageFileError(error_message(exc)) from None
    if stat.S_ISDIR(mode):
        raise ImageFileError(f"{path}: is a folder, not a file")
    if not stat.S_ISREG(mode):
        raise ImageFileError(f"{path}: not a regular file (a pipe or a device)")


def _header(path: Path) -> Image.Image:
    """The file opened lazily: format, mode and size known, nothing decoded."""
    check_readable(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own budgets are checked instead
            return Image.open(path)
    except Image.DecompressionBombError:
        raise ImageFileError(f"{path.name}: the image is too large (over {MAX_PIXELS // 1_000_000} megapixels)") from None
    except UnidentifiedImageError:
        raise ImageFileError(f"{path.name}: not an image file, or a format that cannot be read") from None
    except OSError as exc:
        if exc.errno is not None:  # the disk or the permissions, not the content
            raise ImageFileError(f"{path.name}: cannot read ({error_message(exc)})") from None
        raise ImageFileError(f"{path.name}: the image is truncated or corrupt ({exc})") from None
    except (SyntaxError, ValueError) as exc:
        raise ImageFileError(f"{path.name}: the image is truncated or corrupt ({exc})") from None


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation a phone camera records (1: as stored; 5-8 turn by a quarter)."""
    try:
        value = image.getexif().get(_ORIENTATION, 1)
    except (OSError, SyntaxError, ValueError, struct.error):  # damaged EXIF: shown as stored
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _upright_size(image: Image.Image) -> tuple[int, int]:
    """(width, height) as shown, after the EXIF orientation."""
    return (image.height, image.width) if _orientation(image) >= 5 else (image.width, image.height)


def image_info(path: str | Path) -> tuple[str, int, int]:
    """(mode, width, height) from the header alone, the size upright (EXIF orientation applied)."""
    path = Path(path)
    with _header(path) as image:
        return (image.mode, *_upright_size(image))


def _open(path: Path, max_pixels: int, *, upright: bool = True) -> Image.Image:
    """Decoded, after checking the header's size against `max_pixels`; turned upright by its EXIF orientation."""
    image = _header(path)
    width, height = _upright_size(image)
    if width * height > min(max_pixels, MAX_PIXELS):
        image.close()
        raise ImageFileError(f"{path.name} is {width}x{height} ({width * height / 1e6:.0f} megapixels): over the "
                             f"{min(max_pixels, MAX_PIXELS) / 1e6:.0f} megapixels this takes; scale it down first")
    try:
        image.load()
        return ImageOps.exif_transpose(image) if upright and _orientation(image) != 1 else image
    except OSError as exc:
        raise ImageFileError(f"{path.name}: the image is truncated or corrupt ({error_message(exc)})") from None
    except (SyntaxError, ValueError, struct.error, EOFError) as exc:
        raise ImageFileError(f"{path.name}: the image is truncated or corrupt ({exc})") from None


def upright_rgb(path: str | Path, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """A photo as a Pillow RGB image, upright (EXIF orientation applied): the trainers' photo reader."""
    return _open(Path(path), max_pixels).convert("RGB")


def read_label_map(path: str | Path, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """An HxW int32 array of class ids from an indexed (P) or grayscale (L, I;16, I) image.

    Indexed PNGs give their palette indices, never their colours. A colour image is refused unless
    it is grey (R = G = B), since its colours are not ids.
    """
    path = Path(path)
    image = _open(path, max_pixels, upright=False)  # ids are never turned: label maps carry no camera
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


def read_rgb(path: str | Path, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """HxWx3 float32 in [0, 1], upright (EXIF orientation applied); alpha is composited over white, greyscale
    expanded, 16-bit scaled. Files over `max_pixels` are refused from their header, before decoding."""
    image = _open(Path(path), max_pixels)
    if image.mode in _WIDE_GREY:
        return _wide_grey(image)
    return np.asarray(_flat_rgb(image), dtype=np.float32) / 255.0


def read_rgb8(path: str | Path, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """HxWx3 uint8, exactly to_uint8(read_rgb(path)), but 8-bit files go straight to 8 bits with no float copy
    (several times faster on a large photo). The array may be read-only (Pillow's buffer): copy it to edit."""
    image = _open(Path(path), max_pixels)
    if image.mode in _WIDE_GREY:
        return to_uint8(_wide_grey(image))
    return np.asarray(_flat_rgb(image))


_WIDE_GREY = ("I;16", "I;16B", "I;16L", "I")


def _wide_grey(image: Image.Image) -> np.ndarray:
    """A 16- or 32-bit greyscale image as HxWx3 floats in [0, 1] (32-bit scaled by its own maximum)."""
    grey = np.asarray(image, dtype=np.float32) / (65535.0 if image.mode != "I" else float(max(np.max(image), 1)))
    return np.repeat(np.clip(grey, 0, 1)[..., None], 3, axis=2)


def _flat_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB, alpha composited over white."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return image if image.mode == "RGB" else image.convert("RGB")  # converting RGB would copy it for nothing


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


def to_uint8(image: np.ndarray, *, rounded: bool = False) -> np.ndarray:
    """[0, 1] floats to 8-bit, truncating like the official repos' tensor2im, or rounding like torchvision's
    save_image (HierarchyFlow's official eval)."""
    return np.clip(image * 255.0 + (0.5 if rounded else 0.0), 0, 255).astype(np.uint8)


def check_output(path: str | Path) -> Path:
    """An output path we can write an image to: a known extension and an existing folder. Checked before any
    model runs, so a typo costs nothing."""
    path = Path(path)
    if path.suffix.lower() not in WRITE_FORMATS:
        raise ImageFileError(f"{path.name}: unknown image type; use one of {', '.join(sorted(WRITE_FORMATS))}")
    if not path.parent.is_dir():
        raise ImageFileError(f"{path.parent}: no such folder")
    if path.is_dir():
        raise ImageFileError(f"{path}: is a folder; give a file name")
    return path


def encode_image(image: np.ndarray, suffix: str, *, rounded: bool = False) -> bytes:
    """[0, 1] floats encoded in memory as the format of `suffix` (so a write either completes or fails whole);
    rounded: see to_uint8."""
    fmt = WRITE_FORMATS.get(suffix.lower())
    if fmt is None:
        raise ImageFileError(f"unknown image type {suffix!r}; use one of {', '.join(sorted(WRITE_FORMATS))}")
    options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    buffer = BytesIO()
    Image.fromarray(to_uint8(image, rounded=rounded)).save(buffer, fmt, **options)
    return buffer.getvalue()


def write_rgb(path: str | Path, image: np.ndarray, *, rounded: bool = False) -> None:
    """Atomically: on any failure (a full or read-only disk) an existing file is left as it was and no partial
    file remains. Raises ImageFileError with one line. rounded: see to_uint8."""
    path = check_output(path)
    data = encode_image(image, path.suffix, rounded=rounded)
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise ImageFileError(f"{path.name}: cannot save ({error_message(exc)}); nothing was written") from None
