"""Label palettes (class ids, names, colours, groups) for painting semantic label maps.

Torch-free on purpose: the app's label painter and the engine both read these. The data lives in
``resources/palettes/<name>.json``; see that folder for the schema::

    {"name": ..., "title": ..., "source": ..., "notes": ..., "dontcare": 255 | null,
     "classes": [{"id": 0, "name": "unlabeled", "color": "#000000", "group": "void"}, ...]}

Ids are label values as stored in an 8-bit label PNG (0..255); ids, names and colours are unique
within a palette, so colour <-> id is a bijection and a painted RGB map converts back exactly.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Palette",
    "PaletteClass",
    "available",
    "for_semantic_config",
    "load",
    "palette_dir",
]

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
_BLACK = (0, 0, 0)

# SPADE semantic configs (label_nc as in the released option files) -> palette name
_BY_LABEL_NC = {150: "ade20k", 35: "cityscapes", 182: "cocostuff"}


@dataclass(frozen=True)
class PaletteClass:
    id: int
    name: str
    color: tuple[int, int, int]
    group: str

    @property
    def hex(self) -> str:
        r, g, b = self.color
        return f"#{r:02x}{g:02x}{b:02x}"


@dataclass(frozen=True)
class Palette:
    name: str
    title: str
    classes: tuple[PaletteClass, ...]
    dontcare: int | None
    notes: str
    source: str = ""

    def __len__(self) -> int:
        return len(self.classes)

    def ids(self) -> tuple[int, ...]:
        return tuple(c.id for c in self.classes)

    def by_id(self, id: int) -> PaletteClass:
        for c in self.classes:
            if c.id == id:
                return c
        raise KeyError(f"palette {self.name!r} has no class with id {id}")

    def by_name(self, name: str) -> PaletteClass:
        for c in self.classes:
            if c.name == name:
                return c
        raise KeyError(f"palette {self.name!r} has no class named {name!r}")

    def lut(self) -> np.ndarray:
        """(256, 3) uint8 colour per label value; values that are no class (dontcare included) are black."""
        table = np.zeros((256, 3), dtype=np.uint8)
        for c in self.classes:
            table[c.id] = c.color
        return table

    def colorize(self, labels: np.ndarray) -> np.ndarray:
        """HxW label map (values 0..255) -> HxWx3 uint8 RGB."""
        labels = np.asarray(labels)
        if labels.size and (labels.min() < 0 or labels.max() > 255):
            raise ValueError("label values must lie in 0..255")
        return self.lut()[labels.astype(np.intp)]

    def rgb_to_labels(self, rgb: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
        """Exact colour match of an HxWx3 (or HxWx4, alpha ignored) image to label ids.

        Returns (labels, unknown): ``labels`` is an HxW uint8 map; ``unknown`` lists, sorted, the colours that
        match no class. Their pixels get ``dontcare`` if the palette defines one, else 0; the caller reports
        them. When the palette has a dontcare value and no class uses black, black is read as dontcare (that is
        what :meth:`lut` paints for it) and is not reported.
        """
        arr = np.asarray(rgb)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4):
            raise ValueError(f"expected an HxWx3 RGB image, got shape {arr.shape}")
        arr = arr[..., :3]
        if arr.dtype != np.uint8:
            if arr.size and (arr.min() < 0 or arr.max() > 255):
                raise ValueError("colour values must lie in 0..255")
            arr = arr.astype(np.uint8)
        packed = _pack(arr)

        keys = [_pack_one(c.color) for c in self.classes]
        values = [c.id for c in self.classes]
        fill = self.dontcare if self.dontcare is not None else 0
        if self.dontcare is not None and _pack_one(_BLACK) not in keys:
            keys.append(_pack_one(_BLACK))
            values.append(self.dontcare)
        order = np.argsort(np.asarray(keys, dtype=np.int64))
        sorted_keys = np.asarray(keys, dtype=np.int64)[order]
        sorted_vals = np.asarray(values, dtype=np.uint8)[order]

        pos = np.searchsorted(sorted_keys, packed)
        pos = np.minimum(pos, len(sorted_keys) - 1)
        hit = sorted_keys[pos] == packed
        labels = np.where(hit, sorted_vals[pos], np.uint8(fill)).astype(np.uint8)

        unknown: list[tuple[int, int, int]] = []
        if not hit.all():
            for k in np.unique(packed[~hit]).tolist():
                unknown.append(((k >> 16) & 255, (k >> 8) & 255, k & 255))
        return labels, unknown


def _pack(arr: np.ndarray) -> np.ndarray:
    a = arr.astype(np.int64)
    return (a[..., 0] << 16) | (a[..., 1] << 8) | a[..., 2]


def _pack_one(color: tuple[int, int, int]) -> int:
    r, g, b = color
    return (r << 16) | (g << 8) | b


def palette_dir() -> Path:
    """<repo>/resources/palettes, resolved relative to this file."""
    return Path(__file__).resolve().parent.parent / "resources" / "palettes"


def available() -> list[str]:
    d = palette_dir()
    if not d.is_dir():
        return []
    return sorted(p.stem for p in d.glob("*.json") if p.is_file())


def load(name_or_path: str | Path) -> Palette:
    """A palette by resource name (``"ade20k"``) or from a JSON file with the same schema.

    Raises ValueError, with a one-line message, for an unknown name, an unreadable file or a malformed one.
    """
    text_arg = str(name_or_path)
    looks_like_path = (
        isinstance(name_or_path, Path)
        or text_arg.lower().endswith(".json")
        or "/" in text_arg
        or "\\" in text_arg
    )
    if looks_like_path:
        path = Path(text_arg).expanduser()
    else:
        path = palette_dir() / f"{text_arg}.json"
        if not path.is_file():
            names = ", ".join(available()) or "none"
            raise ValueError(f"unknown palette {text_arg!r} (available: {names})")
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ValueError(f"{path}: cannot read palette ({e.strerror or e})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: palette is not UTF-8 text") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    return _parse(data, str(path))


def for_semantic_config(label_nc: int) -> str | None:
    """Palette name for a SPADE semantic config: 150 -> ade20k, 35 -> cityscapes, 182 -> cocostuff."""
    return _BY_LABEL_NC.get(label_nc)


# --- validation -------------------------------------------------------------------------------------------


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _parse(data: Any, where: str) -> Palette:
    def bad(msg: str) -> ValueError:
        return ValueError(f"{where}: {msg}")

    if not isinstance(data, dict):
        raise bad("palette must be a JSON object")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise bad("'name' must be a non-empty string")
    title = data.get("title", name)
    notes = data.get("notes", "")
    source = data.get("source", "")
    for key, val in (("title", title), ("notes", notes), ("source", source)):
        if not isinstance(val, str):
            raise bad(f"'{key}' must be a string")
    dontcare = data.get("dontcare")
    if dontcare is not None and (not _is_int(dontcare) or not 0 <= dontcare <= 255):
        raise bad("'dontcare' must be null or an integer 0..255")
    entries = data.get("classes")
    if not isinstance(entries, list) or not entries:
        raise bad("'classes' must be a non-empty list")

    classes: list[PaletteClass] = []
    seen_ids: set[int] = set()
    seen_names: set[str] = set()
    seen_colors: dict[tuple[int, int, int], str] = {}
    for i, e in enumerate(entries):
        at = f"classes[{i}]"
        if not isinstance(e, dict):
            raise bad(f"{at} must be an object")
        cid = e.get("id")
        if not _is_int(cid) or not 0 <= cid <= 255:
            raise bad(f"{at}: 'id' must be an integer 0..255, got {cid!r}")
        cname = e.get("name")
        if not isinstance(cname, str) or not cname.strip():
            raise bad(f"{at}: 'name' must be a non-empty string")
        color = e.get("color")
        if not isinstance(color, str) or not _HEX.match(color):
            raise bad(f"{at}: 'color' must be '#rrggbb', got {color!r}")
        group = e.get("group", "")
        if not isinstance(group, str):
            raise bad(f"{at}: 'group' must be a string")
        rgb = (int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16))
        if cid in seen_ids:
            raise bad(f"{at}: duplicate id {cid}")
        if cname in seen_names:
            raise bad(f"{at}: duplicate name {cname!r}")
        if rgb in seen_colors:
            raise bad(f"{at}: colour {color.lower()} already used by {seen_colors[rgb]!r}")
        if dontcare is not None and cid == dontcare:
            raise bad(f"{at}: id {cid} is the dontcare value")
        seen_ids.add(cid)
        seen_names.add(cname)
        seen_colors[rgb] = cname
        classes.append(PaletteClass(id=cid, name=cname, color=rgb, group=group))

    classes.sort(key=lambda c: c.id)
    return Palette(
        name=name, title=title, classes=tuple(classes), dontcare=dontcare, notes=notes, source=source
    )
