"""The whole document as an OpenRaster (.ora) project that Krita and GIMP can open.

An .ora is a zip: an uncompressed "mimetype" entry first, stack.xml (layers top-first), data/*.png,
Thumbnails/thumbnail.png and mergedimage.png. What only we need (settings, each layer's kind) goes in
i2i-studio/document.json, which other programs ignore. Label layers are indexed PNGs coloured with the
palette, so other programs show colours while we read the ids back exactly.

Layers from other programs (RGBA, offsets, groups) come in as non-editable "rgb" layers. The document
has no alpha or offsets, so their original PNG and attributes are kept beside it and written back
unchanged as long as the layer still shows the pixels they were loaded into.

Tools with state beyond layers and settings (the Swap & Edit page: embeddings, edit layers) attach it as
extra members under i2i-studio/ with `set_extras`; they are written with the document and read back
(`extras`), and kept through a save by a tool that does not know them.

Opening is bounded whatever the file says; the reading, its limits and its Budget are in ora_reader.py. This
module holds writing (`save_ora`), the registries of the foreign layers and extra members each document
carries, and `load_ora`, which registers what the reader returns and words every failure as one FileError
line naming the file.
"""

from __future__ import annotations

import json
import struct
import xml.etree.ElementTree as ET
import zipfile
import zlib
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from PIL import Image

from app.document import Document, Layer
from app.fileio.labels import FileError, encode_label_png
from app.fileio.ora_reader import (
    FORMAT_VERSION,
    MAX_DECODED_PIXELS,
    META,
    MIMETYPE,
    OWN_FOLDER,
    Budget,
    Foreign,
    composite,
    decode_png,
    read_ora,
)
from engine import palettes
from engine.errors import error_message
from engine.imageio import ImageFileError, check_readable, to_uint8
from engine.palettes import Palette
from engine.storage import atomic_write_bytes

THUMBNAIL_SIDE = 256


@dataclass
class OraLoad:
    document: Document
    notes: list[str] = field(default_factory=list)  # one-line messages for the user
    budget: Budget | None = None  # what is left of the budget for the page's own members


_FOREIGN: WeakKeyDictionary[Document, dict[str, Foreign]] = WeakKeyDictionary()
_EXTRAS: WeakKeyDictionary[Document, dict[str, bytes]] = WeakKeyDictionary()


def set_extras(doc: Document, members: dict[str, bytes]) -> None:
    """Members (names under i2i-studio/, not document.json) to write with `doc`, replacing earlier ones."""
    for name in members:
        if not name.startswith(OWN_FOLDER) or name == META or name.endswith("/"):
            raise ValueError(f"an extra member must be a file under {OWN_FOLDER} other than {META}, not {name!r}")
    _EXTRAS[doc] = dict(members)


def extras(doc: Document) -> dict[str, bytes]:
    """The extra members `doc` was loaded with or given by `set_extras` (empty when none)."""
    return dict(_EXTRAS.get(doc, {}))


def save_ora(path: str | Path, doc: Document, *, palette: Palette | None = None) -> None:
    """Write `doc` to `path` atomically: a failure leaves the previous file as it was."""
    path = Path(path)
    palette = palette or _settings_palette(doc.settings)
    foreign = _FOREIGN.get(doc, {})
    merged = Image.new("RGBA", (doc.width, doc.height))
    files: list[tuple[str, bytes]] = []
    elements: list[dict[str, str]] = []
    meta_layers: list[dict[str, Any]] = []
    for i, layer in enumerate(doc.layers):  # bottom to top
        src = f"data/layer{i:03d}.png"
        kept = foreign.get(layer.name)
        kept = kept if kept is not None and kept.shown is layer.data else None
        if kept is not None:
            png, x, y, extra = kept.png, kept.x, kept.y, kept.attrs
            image = decode_png(kept.png, src)
        else:
            png, image = _encode(layer, palette)
            x = y = 0
            extra = {}
        files.append((src, png))
        elements.append({"name": layer.name, "src": src, "x": str(x), "y": str(y),
                         "opacity": repr(float(layer.opacity)),
                         "visibility": "visible" if layer.visible else "hidden", **extra})
        meta_layers.append({"src": src, "name": layer.name, "kind": layer.kind,
                            "editable": layer.editable, "foreign": kept is not None})
        if layer.visible:
            composite(merged, image.convert("RGBA"), x, y, layer.opacity)
    try:
        meta = json.dumps({"format": "i2i-studio", "version": FORMAT_VERSION, "settings": doc.settings,
                           "layers": meta_layers}, indent=1, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise FileError(f"{path.name}: a document setting cannot be saved ({exc})") from None

    root = ET.Element("image", {"version": "0.0.5", "w": str(doc.width), "h": str(doc.height)})
    stack = ET.SubElement(root, "stack")
    for attrs in reversed(elements):  # stack.xml lists the top layer first
        ET.SubElement(stack, "layer", attrs)
    thumbnail = merged.copy()
    thumbnail.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))

    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), MIMETYPE, compress_type=zipfile.ZIP_STORED)
        zf.writestr("stack.xml", ET.tostring(root, encoding="utf-8", xml_declaration=True),
                    compress_type=zipfile.ZIP_DEFLATED)
        for src, png in files:  # PNGs are compressed already
            zf.writestr(src, png, compress_type=zipfile.ZIP_STORED)
        zf.writestr("Thumbnails/thumbnail.png", _png(thumbnail), compress_type=zipfile.ZIP_STORED)
        zf.writestr("mergedimage.png", _png(merged), compress_type=zipfile.ZIP_STORED)
        zf.writestr(META, meta, compress_type=zipfile.ZIP_DEFLATED)
        for name, data in _EXTRAS.get(doc, {}).items():
            zf.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    try:
        atomic_write_bytes(path, buffer.getvalue())
    except OSError as exc:
        raise FileError(f"{path.name}: cannot save ({exc.strerror or exc})") from None


def load_ora(path: str | Path, *, max_pixels: int | None = None,
             max_decoded: int = MAX_DECODED_PIXELS) -> OraLoad:
    """max_pixels: the caller's own size limit (pixels in all) instead of the painter's limit per side;
    max_decoded: the Budget for the whole project (layers, then the page's members). Raises FileError only."""
    path = Path(path)
    try:
        check_readable(path)  # a folder or a FIFO is named as such (opening a FIFO would block)
    except ImageFileError as exc:
        raise FileError(str(exc)) from None
    budget = Budget(path.name, max_decoded)
    try:
        with open(path, "rb") as fp:
            contents = read_ora(fp, path.name, max_pixels, budget)
    except FileError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, struct.error, NotImplementedError):
        raise FileError(f"{path.name}: not an OpenRaster file, or the file is damaged") from None
    except OSError as exc:
        raise FileError(f"{path.name}: cannot read ({error_message(exc)})") from None
    except (ValueError, RuntimeError, OverflowError, MemoryError) as exc:  # RecursionError is a RuntimeError
        raise FileError(f"{path.name}: cannot be read ({error_message(exc)})") from None
    if contents.foreign:
        _FOREIGN[contents.document] = contents.foreign
    if contents.extras:
        _EXTRAS[contents.document] = contents.extras
    return OraLoad(contents.document, contents.notes, budget)


def _encode(layer: Layer, palette: Palette | None) -> tuple[bytes, Image.Image]:
    if layer.kind == "labels":
        png = encode_label_png(layer.data, palette)
        return png, Image.open(BytesIO(png))
    if layer.kind in ("rgb", "mask"):
        image = Image.fromarray(to_uint8(layer.data))  # RGB or greyscale (L)
        return _png(image), image
    raise ValueError(f"layer '{layer.name}' has an unknown kind '{layer.kind}'")


def _png(image: Image.Image) -> bytes:
    buffer = BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _settings_palette(settings: dict[str, Any]) -> Palette | None:
    """The document's palette by name, so label layers are coloured even when the caller passes none."""
    name = settings.get("palette")
    if not isinstance(name, str):
        return None
    try:
        return palettes.load(name)
    except ValueError:
        return None
