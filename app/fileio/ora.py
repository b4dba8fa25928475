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
(`extras`), and kept through a save by a tool that does not know them. A save off the GUI thread writes a
`snapshot` of the document, whose extra members may be a function that encodes them there.

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
from collections.abc import Callable
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


Members = dict[str, bytes]
Progress = Callable[[float, str], None]  # fraction in [0, 1], what is being done

_FOREIGN: WeakKeyDictionary[Document, dict[str, Foreign]] = WeakKeyDictionary()
_EXTRAS: WeakKeyDictionary[Document, Members | Callable[[], Members]] = WeakKeyDictionary()


def set_extras(doc: Document, members: Members | Callable[[], Members]) -> None:
    """Members (names under i2i-studio/, not document.json) to write with `doc`, replacing earlier ones; or a
    function that makes them when they are needed (a snapshot's, encoded by the save on its own thread)."""
    if not callable(members):
        _check_extras(members)
        members = dict(members)
    _EXTRAS[doc] = members


def _check_extras(members: Members) -> Members:
    for name in members:
        if not name.startswith(OWN_FOLDER) or name == META or name.endswith("/"):
            raise ValueError(f"an extra member must be a file under {OWN_FOLDER} other than {META}, not {name!r}")
    return members


def extras(doc: Document) -> Members:
    """The extra members `doc` was loaded with or given by `set_extras` (empty when none)."""
    members = _EXTRAS.get(doc, {})
    return dict(_check_extras(members()) if callable(members) else members)


def snapshot(doc: Document) -> Document:
    """`doc` as it is now, with what it carries for saving (layers from other programs, extra members), to be
    saved on another thread while `doc` goes on changing (Document.snapshot: no pixels are copied)."""
    snap = doc.snapshot()
    if doc in _FOREIGN:
        _FOREIGN[snap] = _FOREIGN[doc]
    if doc in _EXTRAS:
        _EXTRAS[snap] = _EXTRAS[doc]
    return snap


def save_ora(path: str | Path, doc: Document, *, palette: Palette | None = None,
             progress: Progress | None = None) -> None:
    """Write `doc` to `path` atomically: a failure leaves the previous file as it was. `progress` hears how far
    the encoding is (layer by layer, then the extra members and the write)."""
    path = Path(path)
    report = progress or (lambda fraction, message: None)
    palette = palette or _settings_palette(doc.settings)
    foreign = _FOREIGN.get(doc, {})
    shown: list[tuple[Image.Image, int, int, float]] = []  # the visible layers' images, bottom to top
    files: list[tuple[str, bytes]] = []
    elements: list[dict[str, str]] = []
    meta_layers: list[dict[str, Any]] = []
    steps = len(doc.layers) + 2  # the layers, the extra members, the write
    for i, layer in enumerate(doc.layers):  # bottom to top
        report(i / steps, f"{path.name}: layer {i + 1} of {len(doc.layers)}")
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
            shown.append((image, x, y, layer.opacity))
    try:
        meta = json.dumps({"format": "i2i-studio", "version": FORMAT_VERSION, "settings": doc.settings,
                           "layers": meta_layers}, indent=1, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise FileError(f"{path.name}: a document setting cannot be saved ({exc})") from None

    root = ET.Element("image", {"version": "0.0.5", "w": str(doc.width), "h": str(doc.height)})
    stack = ET.SubElement(root, "stack")
    for attrs in reversed(elements):  # stack.xml lists the top layer first
        ET.SubElement(stack, "layer", attrs)
    merged = _merge((doc.width, doc.height), shown)
    thumbnail = merged.copy()
    thumbnail.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    report(len(doc.layers) / steps, f"{path.name}: the project's state")
    members = extras(doc)

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
        for name, data in members.items():
            zf.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    report((steps - 1) / steps, f"{path.name}: writing")
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


def _merge(size: tuple[int, int], shown: list[tuple[Image.Image, int, int, float]]) -> Image.Image:
    """The visible layers composited bottom to top, from the topmost that covers the canvas opaquely (those below
    it cannot show; and compositing a large layer holds up every other thread of the process)."""
    covering = [i for i, (image, x, y, opacity) in enumerate(shown)
                if (x, y) == (0, 0) and image.size == size and opacity >= 1 and _opaque(image)]
    if covering:
        merged, above = shown[covering[-1]][0].convert("RGBA"), shown[covering[-1] + 1:]
    else:
        merged, above = Image.new("RGBA", size), shown
    for image, x, y, opacity in above:
        composite(merged, image.convert("RGBA"), x, y, opacity)
    return merged


def _opaque(image: Image.Image) -> bool:
    return image.mode in ("RGB", "L", "P") and "transparency" not in image.info


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
