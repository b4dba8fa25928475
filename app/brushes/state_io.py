"""A Style Brushes project as extra members of an OpenRaster file: i2i-studio/brushes/state.json, each mask
as zlib-compressed little-endian float32 pixels (exact; mostly zeros, so small even for huge photos), each
style image the layers name and each translation in use as a PNG. The photo and the composite travel as
ordinary .ora layers; with the translations stored too, a reopened project shows the same composite at once,
even where its model is not in the Library.

Masks are inflated to at most the photo's size and images checked against it from their headers; the
layers, styles and translations are counted and their pixels spent from the project's Budget (what opening
the .ora left of it) before any is decoded, so a damaged or hostile file gives one readable message, never
a crash, a memory blow-up or code execution.
"""

from __future__ import annotations

import json
import math
import warnings
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

import numpy as np
from PIL import Image

from app.brushes.project import MAX_STYLE_SIDE, BrushLayer, BrushProject, StyleImage, make_style
from app.brushes.translations import Key
from app.fileio.labels import FileError
from app.fileio.ora_reader import MAX_LAYERS, Budget
from engine.api import FullRes
from engine.errors import error_message

PREFIX = "i2i-studio/brushes/"
STATE = PREFIX + "state.json"
FORMAT = "i2i-studio-brushes"
FORMAT_VERSION = 2  # 2: style transfer layers (style, strength) and style images
_MAX_MEMBER_BYTES = 1024 * 1024 * 1024
_MAX_STATE_BYTES = 4 * 1024 * 1024  # state.json: a few kilobytes for a project of many layers
MASK_DTYPE = np.dtype("<f4")
MASK_COMPRESSION = 1  # fast: masks are mostly zeros or ones, which compress well at any level


class ProjectFormatError(ValueError):
    pass


@dataclass(frozen=True, eq=False)
class ProjectState:
    """What the members hold: the layers with their masks, and the stored translations."""

    photo_key: str
    layers: tuple[BrushLayer, ...]
    masks: dict[str, np.ndarray]  # by layer id
    translations: dict[Key, np.ndarray]  # HxWx3 uint8
    styles: tuple[StyleImage, ...] = ()
    notes: list[str] = field(default_factory=list)  # one-line messages for the user (what was left out)


def is_brush_project(members: Mapping[str, bytes]) -> bool:
    return STATE in members


# --- writing ------------------------------------------------------------------------------------------------


def project_members(project: BrushProject, translations: Mapping[Key, np.ndarray]) -> dict[str, bytes]:
    """Every member to add to the .ora; `translations`: those of the project's layers that are ready."""
    members: dict[str, bytes] = {}
    layers = []
    for layer in project.layers:
        pixels = np.ascontiguousarray(project.mask(layer.id), MASK_DTYPE)
        members[PREFIX + f"{layer.id}_mask.f32z"] = zlib.compress(pixels.data, MASK_COMPRESSION)
        layers.append({"id": layer.id, "name": layer.name, "model_id": layer.model_id, "direction": layer.direction,
                       "opacity": layer.opacity, "visible": layer.visible, "mask": f"{layer.id}_mask.f32z",
                       "style": layer.style, "strength": layer.strength})
    styles = []
    used = {layer.style for layer in project.layers}  # those only undo could bring back are left out
    for i, style in enumerate((st for key, st in project.styles.items() if key in used), 1):
        members[PREFIX + f"style{i}.png"] = _png(style.pixels)
        styles.append({"key": style.key, "name": style.name, "image": f"style{i}.png"})
    stored = []
    for i, (key, image) in enumerate(translations.items(), 1):
        members[PREFIX + f"translation{i}.png"] = _png(image)
        stored.append({"model_id": key.model_id, "direction": key.direction, "style": key.style,
                       "strength": key.strength, "full_res": key.full_res, "image": f"translation{i}.png"})
    state = {"format": FORMAT, "version": FORMAT_VERSION, "photo": project.photo_key, "size": list(project.size),
             "layers": layers, "styles": styles, "translations": stored}
    members[STATE] = json.dumps(state, indent=1, ensure_ascii=False).encode("utf-8")
    return members


def _png(image: np.ndarray) -> bytes:
    buffer = BytesIO()  # fast PNG settings: autosave writes these too, on the GUI thread
    Image.fromarray(np.ascontiguousarray(image, np.uint8)).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


# --- reading ------------------------------------------------------------------------------------------------


def state_from_members(members: Mapping[str, bytes], size: tuple[int, int], photo_key: str,
                       where: str, budget: Budget | None = None) -> ProjectState:
    """The layers, masks and translations for a photo of `size` whose content key is `photo_key`;
    ProjectFormatError (or the budget's FileError) names what is wrong (`where`: the file, for the message).
    budget: what opening the .ora left (a fresh one when None)."""
    return _Reader(members, size, where, budget or Budget(where)).read(photo_key)


class _Reader:
    def __init__(self, members: Mapping[str, bytes], size: tuple[int, int], where: str, budget: Budget) -> None:
        self.members, self.size, self.where, self.budget = members, size, where, budget

    def fail(self, text: str) -> ProjectFormatError:
        return ProjectFormatError(f"{self.where}: {text}")

    def read(self, photo_key: str) -> ProjectState:
        try:
            data = self.members[STATE]
            if len(data) > _MAX_STATE_BYTES:
                raise self.fail("the Style Brushes state is implausibly large")
            state = json.loads(data)
        except KeyError:
            raise self.fail("no Style Brushes state in the file") from None
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise self.fail("the Style Brushes state is unreadable") from None
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise self.fail("the Style Brushes state is unreadable")
        if not isinstance(state.get("version"), int) or state["version"] > FORMAT_VERSION:
            raise self.fail("the project was saved by a newer I2I Studio")
        try:
            return self._build(state, photo_key)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError, RecursionError) as exc:
            if isinstance(exc, ProjectFormatError | FileError):  # ours, or the budget's
                raise
            raise self.fail(f"the Style Brushes state is damaged ({error_message(exc)})") from None

    def _build(self, state: dict[str, Any], photo_key: str) -> ProjectState:
        if tuple(int(v) for v in state["size"]) != self.size:
            raise self.fail("the brush layers do not fit the photo's size")
        specs = {what: list(state.get(what, [])) for what in ("styles", "layers", "translations")}
        for what, listed in specs.items():
            if len(listed) > MAX_LAYERS:
                noun = {"layers": "brush layers", "styles": "style images"}.get(what, what)
                raise self.fail(f"{len(listed)} {noun}, over the {MAX_LAYERS} a project may have")
        if state.get("photo") != photo_key:
            specs["translations"] = []  # made for another photo: not decoded at all
        photo = self.size[0] * self.size[1]  # each mask and translation: an array of the photo's size
        self.budget.spend(len(specs["layers"]) * photo + len(specs["styles"]) * MAX_STYLE_SIDE ** 2,
                          f"{_count(len(specs['layers']), 'brush layer')}, each {self.size[1]}x{self.size[0]}")
        notes = []
        if len(specs["translations"]) * photo > self.budget.left:  # a cache: made again when needed
            notes.append(f"{_count(len(specs['translations']), 'stored translation')} left out to stay within "
                         "memory; they are made again when needed")
            specs["translations"] = []
        self.budget.spend(len(specs["translations"]) * photo, "stored translations")
        styles = {}
        for spec in specs["styles"]:
            style = make_style(str(spec["name"]), self.image(str(spec["image"]), fit=False))
            styles[str(spec["key"])] = StyleImage(str(spec["key"]), style.name, style.pixels)
        layers, masks = [], {}
        for spec in specs["layers"]:
            layer = BrushLayer(str(spec["id"]), str(spec["name"]), str(spec.get("model_id", "")),
                               str(spec.get("direction", "")), _unit(spec.get("opacity", 1.0)),
                               bool(spec.get("visible", True)), str(spec.get("style", "")),
                               _unit(spec.get("strength", 1.0)))
            if layer.style and layer.style not in styles:
                raise self.fail(f"the style image of {layer.name} is missing")
            masks[layer.id] = self.mask(str(spec["mask"]))
            layers.append(layer)
        if len({la.id for la in layers}) != len(layers):
            raise self.fail("two brush layers share an id")
        translations = {}
        if state.get("photo") == photo_key:  # stored for this very photo: reuse them
            for spec in specs["translations"]:
                key = Key(str(spec["model_id"]), str(spec["direction"]), photo_key, str(spec.get("style", "")),
                          _unit(spec.get("strength", 1.0)), FullRes(spec.get("full_res", FullRes.TILED)))  # older: tiled
                translations[key] = self.image(str(spec["image"]))
        return ProjectState(photo_key, tuple(layers), masks, translations, tuple(styles.values()), notes)

    def member(self, name: str) -> bytes:
        data = self.members.get(PREFIX + name)
        if data is None:
            raise self.fail(f"{name} is missing from the file")
        if len(data) > _MAX_MEMBER_BYTES:
            raise self.fail(f"{name} is implausibly large")
        return data

    def mask(self, name: str) -> np.ndarray:
        expected = self.size[0] * self.size[1] * MASK_DTYPE.itemsize
        inflate = zlib.decompressobj()
        try:
            raw = inflate.decompress(self.member(name), expected)  # never more than a mask of this photo
        except zlib.error:
            raise self.fail(f"{name} is damaged") from None
        if len(raw) != expected or not inflate.eof or inflate.unconsumed_tail:
            raise self.fail(f"{name} does not fit the photo's size")
        mask = np.frombuffer(raw, MASK_DTYPE).reshape(self.size).astype(np.float32)
        if not np.isfinite(mask).all():
            raise self.fail(f"{name} holds values that are not finite")
        return np.clip(mask, 0.0, 1.0)

    def image(self, name: str, *, fit: bool = True) -> np.ndarray:
        """A stored PNG: the photo's size (`fit`), or a style image (at most MAX_STYLE_SIDE a side)."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked below
                with Image.open(BytesIO(self.member(name))) as image:
                    if fit and (image.height, image.width) != self.size:
                        raise self.fail(f"{name} is not the size of the photo")
                    if not fit and not 0 < max(image.size) <= MAX_STYLE_SIDE:
                        raise self.fail(f"{name} is not a style image I2I Studio wrote")
                    return np.asarray(image.convert("RGB"), np.uint8)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            if isinstance(exc, ProjectFormatError):
                raise
            raise self.fail(f"{name} is damaged") from None


def _unit(value: Any) -> float:
    """A stored 0..1 number, clamped; ValueError (a damaged state) when it is not a finite number."""
    number = float(value)
    if math.isnan(number):
        raise ValueError("a number is not finite")
    return min(max(number, 0.0), 1.0)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"
