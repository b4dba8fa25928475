"""Reading an OpenRaster project (ora.py describes the format and writes it). This module holds the format's
member names, the limits and the Budget of decoded pixels, the bounded reader of the zip's members, stack.xml,
document.json and the layer images, the parsing of stack.xml's numbers, and the two image helpers saving
shares (decoding a layer's PNG, compositing it onto a canvas). `read_ora` returns what `ora.load_ora`
registers (the layers from other programs, the extra members) and registers nothing itself.

Opening is bounded whatever the file says (a file is hostile until read): at most MAX_LAYERS layers and
MAX_DEPTH nested groups; one Budget of decoded pixels covers every layer image (its size read from its
header, before anything is decoded) and every document-size array made from it, and the page's own members
(brush masks, translations) spend what is left; zip members are read through a bounded reader that refuses
a member inflating past its share (the sizes in a zip's headers can lie); numbers in stack.xml that are not
finite or absurdly large are defaults or clamped. Every refusal is a FileError naming the file.
"""

from __future__ import annotations

import json
import math
import struct
import warnings
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from typing import Any, BinaryIO

import numpy as np
from PIL import Image

from app.document import Document, Layer
from app.fileio.labels import FileError, check_side
from engine.imageio import MAX_PIXELS

MIMETYPE = "image/openraster"
OWN_FOLDER = "i2i-studio/"
META = OWN_FOLDER + "document.json"
FORMAT_VERSION = 1
# What opening one project may cost (see the module's docstring). Our own projects hold 2 to 4 layers; a
# painting from Krita or GIMP rarely more than a few dozen. Each layer becomes an array of the document's
# size (float RGB for images from other programs: 12 bytes a pixel), so the pixel budget is what bounds
# memory: 320 megapixels is a 4096x4096 painting of 9 layers, or a 64-megapixel Style Brushes photo with
# its composite (pages with larger documents pass a larger budget); at most about 2 GB of arrays.
MAX_LAYERS = 64
MAX_DEPTH = 32  # layer groups inside groups
MAX_DECODED_PIXELS = 320_000_000
MAX_MEMBERS = 10_000  # entries in the zip, checked before its directory is read in
_MAX_XML = 1024 * 1024  # stack.xml: a 64-layer stack is a few kilobytes
_MAX_JSON = 4 * 1024 * 1024  # document.json
_MAX_LAYER_BYTES = 1024 * 1024 * 1024  # all layer images together, as stored
_MAX_EXTRAS = 1024 * 1024 * 1024  # all extra members together
_PROBE_BYTES = 4 * 1024 * 1024  # the most of a layer image read to learn its size (header, profile, text)
_COORD = 1 << 30  # offsets beyond this are off any canvas
_OWN_ATTRS = ("name", "src", "x", "y", "opacity", "visibility")
_MODES = {"labels": ("P", "L"), "rgb": ("RGB",), "mask": ("L",)}  # how we write each layer kind


class Budget:
    """The decoded pixels opening one project may cost: the .ora's layers spend first (checked from the
    images' headers before any is decoded), then the page's own members (brush masks, translations)."""

    def __init__(self, where: str, pixels: int = MAX_DECODED_PIXELS) -> None:
        self.where, self.total, self.left = where, pixels, pixels

    def spend(self, pixels: int, what: str) -> None:
        """Take `pixels` for `what` ("20 layers on a 4096x4096 canvas"), or raise a FileError naming it."""
        if pixels > self.left:
            room = (f"the {_mp(self.total)} megapixels a project may use" if self.left == self.total else
                    f"the {_mp(self.left)} megapixels left of the {_mp(self.total)} a project may use")
            raise FileError(f"{self.where}: opening it takes {_mp(pixels)} megapixels decoded ({what}), over {room}")
        self.left -= pixels


@dataclass
class Foreign:
    """A layer from another program as it was in the file, written back unchanged while the layer shows it."""

    png: bytes
    x: int
    y: int
    attrs: dict[str, str]  # stack.xml attributes we do not manage (composite-op, ...)
    shown: np.ndarray  # the layer data made from it: once replaced, the layer is saved from the document


@dataclass
class OraContents:
    """What reading a project gives: its document, notes for the user, and what ora.load_ora registers."""

    document: Document
    notes: list[str]
    foreign: dict[str, Foreign]  # by layer name
    extras: dict[str, bytes]  # members under i2i-studio/ other than document.json


def read_ora(fp: BinaryIO, name: str, max_pixels: int | None, budget: Budget) -> OraContents:
    """The project in the open file `fp` (`name` in messages). Raises FileError for what it refuses, and
    zipfile's, zlib's, PIL's and the OS's own errors for what it cannot read (load_ora words those)."""
    count = _member_count(fp)
    if count is not None and count > MAX_MEMBERS:
        raise FileError(f"{name}: {count} entries in the file, over the {MAX_MEMBERS} a project may have")
    with zipfile.ZipFile(fp) as zf:
        return _Reader(zf, name, max_pixels, budget).load()


def _member_count(fp: Any) -> int | None:
    """The zip's entry count from its end record, read before zipfile builds its directory (None: unknown;
    zipfile then reports the damage)."""
    end_record = getattr(zipfile, "_EndRecData", None)
    try:
        end = end_record(fp) if end_record else None
        fp.seek(0)
    except (OSError, ValueError, struct.error):
        return None
    return end[zipfile._ECD_ENTRIES_TOTAL] if end else None


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


@dataclass(frozen=True)
class _Head:
    """A layer image's header: what decoding it would give, known before decoding."""

    mode: str
    width: int
    height: int


@dataclass
class _Pending:
    """A layer from another program, its image read, to be made once our own layers have taken their names."""

    entry: _Entry
    png: bytes


class _TooLong(Exception):
    pass


class _Capped:
    """A member's stream that refuses to be read past `limit` bytes (PIL reads headers from it)."""

    def __init__(self, raw: Any, limit: int) -> None:
        self.raw, self.limit = raw, limit

    def read(self, n: int | None = -1) -> bytes:
        room = self.limit - self.raw.tell()
        data = self.raw.read(room + 1 if n is None or n < 0 else min(n, room + 1))
        if self.raw.tell() > self.limit:
            raise _TooLong
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()


class _Reader:
    def __init__(self, zf: zipfile.ZipFile, name: str, max_pixels: int | None, budget: Budget) -> None:
        self.zf, self.name, self.max_pixels, self.budget = zf, name, max_pixels, budget
        self.notes: list[str] = []
        self.layer_bytes = 0  # layer images read so far, as stored

    def fail(self, message: str) -> FileError:
        return FileError(f"{self.name}: {message}")

    def info(self, name: str) -> zipfile.ZipInfo:
        try:
            info = self.zf.getinfo(name)
        except KeyError:
            raise self.fail(f"{name} is missing from the file") from None
        if info.flag_bits & 0x1:
            raise self.fail(f"{name} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise self.fail(f"{name} uses a compression OpenRaster files do not use")
        return info

    def member(self, name: str, limit: int) -> bytes:
        """The member's bytes, refused once they pass `limit`: the size in the zip's header is checked
        first, and the read itself is bounded in case the header lies."""
        info = self.info(name)
        if info.file_size > limit:
            raise self.fail(f"{name} is implausibly large ({_megabytes(info.file_size)})")
        try:
            with self.zf.open(info) as f:
                data = f.read(limit + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError):  # a CRC or a size that does not match, a bad stream
            raise self.fail(f"{name} is damaged") from None
        if len(data) > limit:
            raise self.fail(f"{name} is implausibly large (over {_megabytes(limit)})")
        return data

    def head(self, src: str) -> _Head:
        """A layer image's mode and size from its first bytes, nothing decoded or inflated beyond them."""
        where = f"{self.name}: {src}"
        with self.zf.open(self.info(src)) as raw:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our budget is checked
                    with Image.open(_Capped(raw, _PROBE_BYTES)) as image:
                        head = _Head(image.mode, image.width, image.height)
            except Image.DecompressionBombError:
                raise FileError(f"{where} is too large (over {2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6:.0f} "
                                "megapixels)") from None
            except _TooLong:
                raise FileError(f"{where} is not a readable image (its header is implausibly long)") from None
            except (OSError, SyntaxError, ValueError, struct.error):
                raise FileError(f"{where} is not a readable image") from None
        if self.max_pixels is None:
            check_side(where, head.width, head.height)  # no layer larger than the document may be
        elif head.width * head.height > self.max_pixels:
            raise FileError(f"{where} is {head.width}x{head.height}, over {self.max_pixels / 1e6:.0f} megapixels")
        return head

    def image_bytes(self, src: str, head: _Head) -> bytes:
        """A layer image as stored, at most what an image of its header's size can take."""
        limit = min(_png_limit(head), _MAX_LAYER_BYTES - self.layer_bytes)
        data = self.member(src, max(limit, 0))
        self.layer_bytes += len(data)
        return data

    def load(self) -> OraContents:
        if "mimetype" in self.zf.namelist() and self.member("mimetype", 1024).strip() != MIMETYPE.encode():
            raise self.fail("not an OpenRaster file (wrong mimetype)")
        try:
            root = ET.fromstring(self.member("stack.xml", _MAX_XML))
        except ET.ParseError as exc:
            raise self.fail(f"stack.xml is not valid XML ({exc})") from None
        stack = root.find("stack")
        if root.tag != "image" or stack is None:
            raise self.fail("stack.xml has no <image><stack>")
        width, height = _size(root, "w"), _size(root, "h")
        if width < 1 or height < 1:
            raise self.fail("stack.xml gives no image size")
        if self.max_pixels is None:
            check_side(self.name, width, height)
        elif width * height > self.max_pixels:
            raise self.fail(f"the image is {width}x{height}, over {self.max_pixels / 1e6:.0f} megapixels")
        entries = self._walk(stack)[::-1]  # bottom to top
        heads = {src: self.head(src) for src in dict.fromkeys(e.src for e in entries)}
        # every layer decodes its image and becomes an array of the document's size: all checked before
        # anything is decoded (20 layers naming one large image cost 20 times)
        cost = sum(heads[e.src].width * heads[e.src].height + width * height for e in entries)
        self.budget.spend(cost, f"{_count(len(entries), 'layer')} on a {width}x{height} canvas")
        meta = self._meta()
        listed = meta.get("layers")
        ours = {m["src"]: m for m in listed if isinstance(m, dict) and isinstance(m.get("src"), str)
                } if isinstance(listed, list) else {}
        settings = meta.get("settings")
        doc = Document(height, width, settings=settings if isinstance(settings, dict) else {})

        uses = {src: sum(e.src == src for e in entries) for src in heads}
        stored: dict[str, bytes] = {}

        def image_bytes(src: str) -> bytes:  # read once however many layers name it; dropped after its last
            data = stored.get(src) or self.image_bytes(src, heads[src])
            uses[src] -= 1
            if uses[src]:
                stored[src] = data
            else:
                stored.pop(src, None)
            return data

        layers: list[Layer | _Pending] = []
        for e in entries:
            layers.append(self._ours(e, ours.get(e.src), heads[e.src], width, height, image_bytes) or
                          _Pending(e, image_bytes(e.src)))
        taken = {la.name for la in layers if isinstance(la, Layer)}
        foreign: dict[str, Foreign] = {}
        renamed = 0
        for item in layers:
            if isinstance(item, _Pending):
                e = item.entry
                name = _unique(e.name or "Layer", taken)
                renamed += name != (e.name or "Layer")
                taken.add(name)
                kept, data = self._foreign(e, item.png, width, height)
                foreign[name] = kept
                item = Layer(name, "rgb", data, e.visible, e.opacity, editable=False)
            doc.add_layer(item)
        if foreign:
            self.notes.append(f"{_count(len(foreign), 'layer')} from another program kept as image layers "
                              "(not editable here; saved back unchanged)")
        members = self._extras()
        if any(e.grouped for e in entries):
            self.notes.append("layer groups were flattened into single layers")
        if renamed:
            self.notes.append(f"{_count(renamed, 'layer')} renamed to keep layer names unique")
        doc.modified = False
        return OraContents(doc, self.notes, foreign, members)

    def _walk(self, stack: ET.Element) -> list[_Entry]:
        """Layers top-first, nested stacks flattened: offsets add up, opacities multiply. Iterative, at
        most MAX_DEPTH groups deep and MAX_LAYERS layers."""
        entries: list[_Entry] = []
        skipped: dict[str, int] = {}
        todo: list[tuple[Iterator[ET.Element], int, int, float, bool, bool]] = [
            (iter(stack), 0, 0, 1.0, True, False)]
        while todo:
            children, x, y, opacity, visible, grouped = todo[-1]
            child = next(children, None)
            if child is None:
                todo.pop()
                continue
            cx, cy = _clamp(x + _coord(child, "x")), _clamp(y + _coord(child, "y"))
            op = opacity * min(max(_float(child, "opacity", 1.0), 0.0), 1.0)
            vis = visible and child.get("visibility", "visible") != "hidden"
            if child.tag == "stack":
                if len(todo) > MAX_DEPTH:
                    raise self.fail(f"layer groups are nested more than {MAX_DEPTH} deep")
                todo.append((iter(child), cx, cy, op, vis, True))
            elif child.tag == "layer" and child.get("src"):
                if len(entries) == MAX_LAYERS:
                    raise self.fail(f"more than {MAX_LAYERS} layers, the most a project may have")
                attrs = {k: v for k, v in child.attrib.items() if k not in _OWN_ATTRS}
                entries.append(_Entry(child.get("name", ""), child.get("src", ""), cx, cy, op, vis, attrs, grouped))
            else:
                tag = str(child.tag)[:40]
                skipped[tag] = skipped.get(tag, 0) + 1
        for tag, n in list(skipped.items())[:5]:
            self.notes.append(f"{_count(n, f'<{tag}> element')} without image data "
                              f"{'was' if n == 1 else 'were'} skipped")
        return entries

    def _meta(self) -> dict[str, Any]:
        if META not in self.zf.namelist():
            return {}
        try:
            meta = json.loads(self.member(META, _MAX_JSON))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
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
        members, left = {}, _MAX_EXTRAS
        for i in infos:  # the sizes above may lie: each read is bounded by what is left
            members[i.filename] = data = self.member(i.filename, left)
            left -= len(data)
        return members

    def _ours(self, e: _Entry, meta: dict[str, Any] | None, head: _Head, width: int, height: int,
              image_bytes: Any) -> Layer | None:
        """Our own layer, when the metadata and the image's header agree; a layer named like ours but
        without our metadata is not guessed at."""
        if meta is None or meta.get("foreign") or meta.get("name") != e.name or e.grouped or e.x or e.y:
            return None
        kind = meta.get("kind")
        if not isinstance(kind, str) or head.mode not in _MODES.get(kind, ()) or (head.width, head.height) != (
                width, height):
            return None
        image = decode_png(image_bytes(e.src), f"{self.name}: {e.src}")
        if image.mode != head.mode or image.size != (width, height):
            raise self.fail(f"{e.src} is damaged")
        data = np.array(image, dtype=np.uint8)  # an indexed PNG gives its indices
        if kind != "labels":
            data = data.astype(np.float32) / 255.0
        return Layer(e.name, kind, data, e.visible, e.opacity, editable=bool(meta.get("editable", True)))

    def _foreign(self, e: _Entry, png: bytes, width: int, height: int) -> tuple[Foreign, np.ndarray]:
        canvas = Image.new("RGBA", (width, height), (255, 255, 255, 255))  # no alpha in the model
        composite(canvas, decode_png(png, f"{self.name}: {e.src}").convert("RGBA"), e.x, e.y, 1.0)
        data = np.asarray(canvas.convert("RGB"), dtype=np.float32) / 255.0
        return Foreign(png, e.x, e.y, e.attrs, data), data


def decode_png(png: bytes, where: str) -> Image.Image:
    """A layer's PNG decoded (refused past MAX_PIXELS); `where` names it in the FileError."""
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


def composite(canvas: Image.Image, image: Image.Image, x: int, y: int, opacity: float) -> None:
    """Draw the RGBA `image` onto `canvas` at (x, y), any offset, at `opacity`."""
    if opacity < 1.0:
        image.putalpha(image.getchannel("A").point(lambda a: round(a * opacity)))
    left, top = max(0, -x), max(0, -y)  # alpha_composite refuses negative offsets: crop instead
    if left >= image.width or top >= image.height or x + left >= canvas.width or y + top >= canvas.height:
        return
    canvas.alpha_composite(image.crop((left, top, image.width, image.height)), (x + left, y + top))


def _png_limit(head: _Head) -> int:
    """The most bytes a PNG of this size takes, stored without compression at 16 bits a channel in RGBA,
    with a filter byte a row, its chunks and what precedes the image data."""
    return head.width * head.height * 8 * 101 // 100 + 16 * head.height + _PROBE_BYTES


def _number(element: ET.Element, key: str) -> float | None:
    """An attribute as a finite number; None when missing, not a number, infinite or NaN."""
    try:
        value = float(element.get(key, "nan"))
    except (ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def _size(element: ET.Element, key: str) -> int:
    """The image's width or height: 0 when it is no usable number; absurd sizes kept absurd (then refused)."""
    value = _number(element, key)
    return 0 if value is None or value < 1 else int(min(value, float(1 << 31)))


def _coord(element: ET.Element, key: str) -> int:
    """A layer's offset: 0 when it is no usable number, clamped to where it is off any canvas."""
    value = _number(element, key)
    return 0 if value is None else _clamp(int(min(max(value, -_COORD), _COORD)))


def _clamp(value: int) -> int:
    return min(max(value, -_COORD), _COORD)


def _float(element: ET.Element, key: str, default: float) -> float:
    value = _number(element, key)
    return default if value is None else value


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name} ({n})"
    return candidate


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _mp(pixels: int) -> str:
    return f"{pixels / 1e6:.0f}" if pixels >= 10_000_000 else f"{pixels / 1e6:.2g}"


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.0f} MB" if n >= 10_000_000 else f"{n / 1e6:.1f} MB"
