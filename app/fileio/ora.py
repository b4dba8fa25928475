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
"""

from __future__ import annotations

import json
import math
import warnings
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import numpy as np
from PIL import Image

from app.document import Document, Layer
from app.fileio.labels import FileError, check_side, encode_label_png
from engine import palettes
from engine.imageio import MAX_PIXELS, to_uint8
from engine.palettes import Palette
from engine.storage import atomic_write_bytes

MIMETYPE = "image/openraster"
OWN_FOLDER = "i2i-studio/"
META = OWN_FOLDER + "document.json"
FORMAT_VERSION = 1
THUMBNAIL_SIDE = 256
_MAX_TEXT = 16 * 1024 * 1024  # stack.xml and our json: refuse a zip bomb before inflating it
_MAX_EXTRAS = 1024 * 1024 * 1024  # all extra members together, likewise
_OWN_ATTRS = ("name", "src", "x", "y", "opacity", "visibility")
_MODES = {"labels": ("P", "L"), "rgb": ("RGB",), "mask": ("L",)}  # how we write each layer kind


@dataclass
class OraLoad:
    document: Document
    notes: list[str] = field(default_factory=list)  # one-line messages for the user


@dataclass
class _Foreign:
    png: bytes
    x: int
    y: int
    attrs: dict[str, str]  # stack.xml attributes we do not manage (composite-op, ...)
    shown: np.ndarray  # the layer data made from it: once replaced, the layer is saved from the document


_FOREIGN: WeakKeyDictionary[Document, dict[str, _Foreign]] = WeakKeyDictionary()
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
            image = _decode(kept.png, src)
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
            _composite(merged, image.convert("RGBA"), x, y, layer.opacity)
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


def load_ora(path: str | Path, *, max_pixels: int | None = None) -> OraLoad:
    """max_pixels: the caller's own size limit (pixels in all) instead of the painter's limit per side."""
    path = Path(path)
    if not path.is_file():
        raise FileError(f"{path}: no such file")
    try:
        with zipfile.ZipFile(path) as zf:
            return _Reader(zf, path.name, max_pixels).load()
    except (zipfile.BadZipFile, zlib.error, EOFError):
        raise FileError(f"{path.name}: not an OpenRaster file, or the file is damaged") from None
    except OSError as exc:
        raise FileError(f"{path.name}: cannot read ({exc.strerror or exc})") from None


@dataclass
class _Entry:
    name: str
    src: str
    x: int
    y: int
    opacity: float
    visible: bool
    attrs: dict[str, str]
    grouped: bool


class _Reader:
    def __init__(self, zf: zipfile.ZipFile, name: str, max_pixels: int | None = None) -> None:
        self.zf, self.name, self.max_pixels = zf, name, max_pixels
        self.notes: list[str] = []

    def fail(self, message: str) -> FileError:
        return FileError(f"{self.name}: {message}")

    def member(self, name: str) -> bytes:
        try:
            info = self.zf.getinfo(name)
        except KeyError:
            raise self.fail(f"{name} is missing from the file") from None
        if name.endswith((".xml", ".json")) and info.file_size > _MAX_TEXT:
            raise self.fail(f"{name} is implausibly large")
        return self.zf.read(info)

    def load(self) -> OraLoad:
        if "mimetype" in self.zf.namelist() and self.member("mimetype").strip() != MIMETYPE.encode():
            raise self.fail("not an OpenRaster file (wrong mimetype)")
        try:
            root = ET.fromstring(self.member("stack.xml"))
        except ET.ParseError as exc:
            raise self.fail(f"stack.xml is not valid XML ({exc})") from None
        stack = root.find("stack")
        if root.tag != "image" or stack is None:
            raise self.fail("stack.xml has no <image><stack>")
        width, height = _int(root, "w", 0), _int(root, "h", 0)
        if width < 1 or height < 1:
            raise self.fail("stack.xml gives no image size")
        if self.max_pixels is None:
            check_side(self.name, width, height)
        elif width * height > self.max_pixels:
            raise self.fail(f"the image is {width}x{height}, over {self.max_pixels / 1e6:.0f} megapixels")
        entries = list(self._walk(stack, 0, 0, 1.0, True, False))[::-1]  # bottom to top
        meta = self._meta()
        listed = meta.get("layers")
        ours = {m["src"]: m for m in listed if isinstance(m, dict) and isinstance(m.get("src"), str)
                } if isinstance(listed, list) else {}
        settings = meta.get("settings")
        doc = Document(height, width, settings=settings if isinstance(settings, dict) else {})

        layers: list[Layer | _Entry] = [self._ours(e, ours.get(e.src), width, height) or e for e in entries]
        taken = {la.name for la in layers if isinstance(la, Layer)}
        foreign: dict[str, _Foreign] = {}
        renamed = 0
        for item in layers:
            if isinstance(item, _Entry):
                name = _unique(item.name or "Layer", taken)
                renamed += name != (item.name or "Layer")
                taken.add(name)
                kept, data = self._foreign(item, width, height)
                foreign[name] = kept
                item = Layer(name, "rgb", data, item.visible, item.opacity, editable=False)
            doc.add_layer(item)
        if foreign:
            _FOREIGN[doc] = foreign
            self.notes.append(f"{_count(len(foreign), 'layer')} from another program kept as image layers "
                              "(not editable here; saved back unchanged)")
        if members := self._extras():
            _EXTRAS[doc] = members
        if any(e.grouped for e in entries):
            self.notes.append("layer groups were flattened into single layers")
        if renamed:
            self.notes.append(f"{_count(renamed, 'layer')} renamed to keep layer names unique")
        doc.modified = False
        return OraLoad(doc, self.notes)

    def _walk(self, stack: ET.Element, x: int, y: int, opacity: float, visible: bool,
              grouped: bool) -> Iterator[_Entry]:
        """Layers top-first, nested stacks flattened: offsets add up, opacities multiply."""
        for child in stack:
            cx, cy = x + _int(child, "x", 0), y + _int(child, "y", 0)
            op = opacity * min(max(_float(child, "opacity", 1.0), 0.0), 1.0)
            vis = visible and child.get("visibility", "visible") != "hidden"
            if child.tag == "stack":
                yield from self._walk(child, cx, cy, op, vis, True)
            elif child.tag == "layer" and child.get("src"):
                attrs = {k: v for k, v in child.attrib.items() if k not in _OWN_ATTRS}
                yield _Entry(child.get("name", ""), child.get("src", ""), cx, cy, op, vis, attrs, grouped)
            else:
                self.notes.append(f"a <{child.tag}> element without image data was skipped")

    def _meta(self) -> dict[str, Any]:
        if META not in self.zf.namelist():
            return {}
        try:
            meta = json.loads(self.member(META))
        except (json.JSONDecodeError, UnicodeDecodeError):
            meta = None
        if not isinstance(meta, dict) or meta.get("format") != "i2i-studio":
            self.notes.append("the I2I Studio data in the file is unreadable; layers were loaded as images")
            return {}
        if not isinstance(meta.get("version"), int) or meta["version"] > FORMAT_VERSION:
            self.notes.append("the file was saved by a newer I2I Studio; some settings may be ignored")
        return meta

    def _extras(self) -> dict[str, bytes]:
        infos = [i for i in self.zf.infolist() if i.filename.startswith(OWN_FOLDER) and i.filename != META
                 and not i.is_dir()]
        if sum(i.file_size for i in infos) > _MAX_EXTRAS:
            raise self.fail("the I2I Studio data in the file is implausibly large")
        return {i.filename: self.zf.read(i) for i in infos}

    def _ours(self, e: _Entry, meta: dict[str, Any] | None, width: int, height: int) -> Layer | None:
        """Our own layer, when the metadata and the pixels agree; a layer named like ours but without
        our metadata is not guessed at."""
        if meta is None or meta.get("foreign") or meta.get("name") != e.name or e.grouped or e.x or e.y:
            return None
        kind = meta.get("kind")
        image = _decode(self.member(e.src), f"{self.name}: {e.src}")
        if not isinstance(kind, str) or image.mode not in _MODES.get(kind, ()) or image.size != (width, height):
            return None
        data = np.array(image, dtype=np.uint8)  # an indexed PNG gives its indices
        if kind != "labels":
            data = data.astype(np.float32) / 255.0
        return Layer(e.name, kind, data, e.visible, e.opacity, editable=bool(meta.get("editable", True)))

    def _foreign(self, e: _Entry, width: int, height: int) -> tuple[_Foreign, np.ndarray]:
        png = self.member(e.src)
        canvas = Image.new("RGBA", (width, height), (255, 255, 255, 255))  # no alpha in the model
        _composite(canvas, _decode(png, f"{self.name}: {e.src}").convert("RGBA"), e.x, e.y, 1.0)
        data = np.asarray(canvas.convert("RGB"), dtype=np.float32) / 255.0
        return _Foreign(png, e.x, e.y, e.attrs, data), data


def _decode(png: bytes, where: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked below
            image = Image.open(BytesIO(png))
    except Image.DecompressionBombError:
        raise FileError(f"{where} is too large") from None
    except (OSError, SyntaxError, ValueError):
        raise FileError(f"{where} is not a readable image") from None
    if image.width * image.height > MAX_PIXELS:
        raise FileError(f"{where} is too large ({image.width}x{image.height})")
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise FileError(f"{where} is damaged ({exc})") from None
    return image


def _encode(layer: Layer, palette: Palette | None) -> tuple[bytes, Image.Image]:
    if layer.kind == "labels":
        png = encode_label_png(layer.data, palette)
        return png, Image.open(BytesIO(png))
    if layer.kind in ("rgb", "mask"):
        image = Image.fromarray(to_uint8(layer.data))  # RGB or greyscale (L)
        return _png(image), image
    raise ValueError(f"layer '{layer.name}' has an unknown kind '{layer.kind}'")


def _composite(canvas: Image.Image, image: Image.Image, x: int, y: int, opacity: float) -> None:
    if opacity < 1.0:
        image.putalpha(image.getchannel("A").point(lambda a: round(a * opacity)))
    left, top = max(0, -x), max(0, -y)  # alpha_composite refuses negative offsets: crop instead
    if left >= image.width or top >= image.height or x + left >= canvas.width or y + top >= canvas.height:
        return
    canvas.alpha_composite(image.crop((left, top, image.width, image.height)), (x + left, y + top))


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


def _int(element: ET.Element, key: str, default: int) -> int:
    try:
        return int(float(element.get(key, default)))
    except ValueError:
        return default


def _float(element: ET.Element, key: str, default: float) -> float:
    try:
        value = float(element.get(key, default))
    except ValueError:
        return default
    return value if math.isfinite(value) else default


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name} ({n})"
    return candidate


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"
