"""Label maps and exported photos on disk (plain Python + numpy + Pillow: no Qt, no torch).

Label maps are stored as indexed PNGs: the pixel values are the class ids and the PNG palette holds
the class colours, so other programs show the colours while we read the ids back exactly. Nothing is
ever resampled, anti-aliased or colour-managed. Decoding and its guards live in engine.imageio.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image

from engine.imageio import ImageFileError, read_label_map, read_rgb, write_rgb
from engine.palettes import Palette
from engine.storage import atomic_write_bytes

MAX_SIDE = 4096  # the painter's largest label map side (8000x8000 would need GBs in the model)
_ID_MODES = ("P", "L", "I", "I;16", "I;16B", "I;16L")  # pixel values are ids, not colours
_GREY = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)  # colours when there is no palette


class FileError(ImageFileError):
    """A one-line, user-facing message about a file that cannot be read or written."""


@dataclass
class LabelImport:
    labels: np.ndarray  # HxW uint8 ids, all in the palette (or its dontcare)
    unknown_colours: list[tuple[tuple[int, int, int], int]]  # (colour, pixel count), most frequent first
    ids_outside_palette: list[int]
    message: str | None  # one line on what was replaced; None when the file was clean


def check_side(name: str, width: int, height: int) -> None:
    if width > MAX_SIDE or height > MAX_SIDE:
        raise FileError(f"{name} is {width}x{height} pixels; the painter handles at most {MAX_SIDE} pixels "
                        "per side (scale it down first)")


def read_label_image(path: str | Path, palette: Palette) -> LabelImport:
    """Indexed PNG -> its indices (never its colours); greyscale -> its values; colour -> exact palette
    colours. Anything else is reported and set to dontcare (or the palette's first id)."""
    path = Path(path)
    mode = _probe(path)
    try:
        if mode in _ID_MODES:
            return _from_ids(read_label_map(path), palette)
        # read_rgb gives v/255 in float32; rounding recovers the 8-bit colours exactly
        return _from_colours(np.rint(read_rgb(path) * 255).astype(np.uint8), palette)
    except ImageFileError as exc:
        raise FileError(str(exc)) from None


def encode_label_png(labels: np.ndarray, palette: Palette | None) -> bytes:
    """An indexed PNG of `labels` whose palette holds the class colours (grey levels without a palette)."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"a label map is HxW, got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 255):
        raise ValueError("label values must lie in 0..255")
    pixels = np.ascontiguousarray(labels, dtype=np.uint8)
    image = Image.frombytes("P", (pixels.shape[1], pixels.shape[0]), pixels.tobytes())
    image.putpalette((palette.lut() if palette is not None else _GREY).tobytes())
    buffer = BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def write_label_png(path: str | Path, labels: np.ndarray, palette: Palette) -> None:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise FileError(f"{path.name}: label maps are saved as .png (indexed colour keeps the ids exact)")
    data = encode_label_png(labels, palette)
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise FileError(f"{path.name}: cannot save ({exc.strerror or exc})") from None


def export_image(path: str | Path, rgb: np.ndarray) -> None:
    """HxWx3 floats in [0, 1] -> PNG/JPEG/TIFF (by extension) at full resolution; a failed export never
    leaves half a file behind nor touches the file it would have replaced."""
    try:
        write_rgb(path, rgb)
    except ImageFileError as exc:
        raise FileError(str(exc)) from None


def _probe(path: Path) -> str | None:
    """The mode, read from the header alone so an oversized map is refused before it is decoded;
    None when the header is unreadable (the reader then says why in its own words)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                mode, (width, height) = image.mode, image.size
    except Image.DecompressionBombError:
        raise FileError(f"{path.name}: the image is far too large for a label map "
                        f"(at most {MAX_SIDE}x{MAX_SIDE})") from None
    except (OSError, ValueError, SyntaxError):
        return None
    check_side(path.name, width, height)
    return mode


def _fill(palette: Palette) -> tuple[int, str]:
    if palette.dontcare is not None:
        return palette.dontcare, f"dontcare ({palette.dontcare})"
    first = palette.classes[0]
    return first.id, f"'{first.name}' ({first.id})"


def _from_ids(ids: np.ndarray, palette: Palette) -> LabelImport:
    known = np.zeros(256, dtype=bool)
    known[list(palette.ids())] = True
    if palette.dontcare is not None:
        known[palette.dontcare] = True
    in_range = (ids >= 0) & (ids <= 255)
    small = np.where(in_range, ids, 0).astype(np.uint8)
    good = in_range & known[small]
    if good.all():
        return LabelImport(small, [], [], None)
    fill, fill_text = _fill(palette)
    bad, counts = np.unique(ids[~good], return_counts=True)
    shown = ", ".join(str(v) for v in bad[:5].tolist()) + (", ..." if len(bad) > 5 else "")
    message = (f"{len(bad)} label id{'s' if len(bad) > 1 else ''} not in the {palette.title} palette "
               f"({int(counts.sum()):,} pixels) were set to {fill_text}: {shown}")
    return LabelImport(np.where(good, small, np.uint8(fill)), [], bad.tolist(), message)


def _from_colours(rgb: np.ndarray, palette: Palette) -> LabelImport:
    labels, unknown = palette.rgb_to_labels(rgb)
    if not unknown:
        return LabelImport(labels, [], [], None)
    packed = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2]
    keys = np.array([(r << 16) | (g << 8) | b for r, g, b in unknown], dtype=np.int32)
    stray = np.isin(packed, keys)
    fill, fill_text = _fill(palette)
    labels[stray] = fill  # rgb_to_labels fills with 0 when there is no dontcare; the first id may differ
    values, counts = np.unique(packed[stray], return_counts=True)
    order = np.argsort(-counts, kind="stable")
    found = [(((v >> 16) & 255, (v >> 8) & 255, v & 255), int(c))
             for v, c in zip(values[order].tolist(), counts[order].tolist(), strict=True)]
    listed = ", ".join(f"#{r:02x}{g:02x}{b:02x} {c:,} px" for (r, g, b), c in found[:3])
    more = f" and {len(found) - 3} more" if len(found) > 3 else ""
    message = (f"{len(found)} colour{'s' if len(found) > 1 else ''} not in the {palette.title} palette "
               f"were set to {fill_text}: {listed}{more}")
    return LabelImport(labels, found, [], message)
