"""The editable document: named layers, settings, and an undo history that stores only what changed.

Plain Python + numpy (no Qt, no torch) on the observable + history kernel (app/history.py), so widgets, file
formats and the engine bridge all work on one model. Pages add their own layers (masks, brush layers) here.

Undo works on 64x64 tiles: the first time an edit touches a tile, the tile's previous pixels are kept;
committing the edit keeps the new pixels of those tiles too. A brush stroke therefore costs memory in
proportion to the area it touched, never a copy of the whole image.

Derived layers (the rendered photo, a composite, an overlay) are computed from the others: writing them is no
user edit, so they never mark the document modified.

A snapshot (for a save on another thread) shares the layers' arrays instead of copying them; pixels written in
place afterwards go to a copy first (`writable`), so the snapshot stays as it was taken while the user paints on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.history import Undoable, UndoHistory

TILE = 64
HISTORY_BYTES = 512 * 1024 * 1024  # the oldest steps are dropped beyond this

Rect = tuple[int, int, int, int]  # x, y, width, height in document pixels


@dataclass
class Layer:
    name: str
    kind: str  # "labels" (HxW integer ids), "rgb" (HxWx3 float32 in [0, 1]) or "mask" (HxW float32 in [0, 1])
    data: np.ndarray
    visible: bool = True
    opacity: float = 1.0
    editable: bool = True  # rendered layers (the photo) are replaced by the engine, not painted
    derived: bool = False  # computed from the others: writing it never marks the document modified


@dataclass(frozen=True)
class Change:
    """What observers are told: a layer's pixels in `rect` (None: all of it), its properties,
    the layer list, a setting, or the history."""

    what: str  # "pixels" | "layer" | "layers" | "setting" | "history"
    name: str = ""  # layer or setting name
    rect: Rect | None = None


@dataclass
class _Step:
    description: str
    layer: str
    before: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    after: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.before.values()) + sum(a.nbytes for a in self.after.values())


class Edit:
    """One undoable change to one layer. Call `region(rect)` for a writable view before writing to
    it; the document saves the tiles it covers on first touch. Obtained from Document.edit()."""

    def __init__(self, document: Document, layer: str, description: str) -> None:
        self._doc = document
        self._layer = document.layer(layer)
        self._step = _Step(description, layer)
        self._dirty: Rect | None = None

    @property
    def data(self) -> np.ndarray:
        """The whole layer, read-only: write through region()."""
        view = self._layer.data.view()
        view.flags.writeable = False
        return view

    def region(self, rect: Rect) -> np.ndarray:
        """A writable view of `rect` (clipped to the layer); its tiles are saved for undo first."""
        self._doc.writable(self._layer.name)
        x, y, w, h = _clip(rect, self._layer.data.shape)
        for key in _tiles((x, y, w, h)):
            if key not in self._step.before:
                self._step.before[key] = self._layer.data[_tile_slice(key, self._layer.data.shape)].copy()
        self._dirty = _union(self._dirty, (x, y, w, h)) if w and h else self._dirty
        return self._layer.data[y:y + h, x:x + w]

    def changed(self, rect: Rect) -> None:
        """Tell observers that pixels in `rect` changed (call after writing, e.g. per brush dab)."""
        self._doc._notify(Change("pixels", self._layer.name, _clip(rect, self._layer.data.shape)))

    def commit(self) -> None:
        data = self._layer.data
        for key, before in list(self._step.before.items()):
            after = data[_tile_slice(key, data.shape)]
            if np.array_equal(before, after):  # touched but unchanged: nothing to undo here
                del self._step.before[key]
            else:
                self._step.after[key] = after.copy()
        if self._step.before:
            self._doc._record(self._step)


class Document(Undoable[Change, _Step]):
    def __init__(self, height: int, width: int, *, settings: dict[str, Any] | None = None,
                 layers: Iterable[Layer] = ()) -> None:
        """`layers`, bottom to top: what the document is made with (no edit, hence not modified)."""
        if height < 1 or width < 1:
            raise ValueError(f"a document needs a size of at least 1x1, not {height}x{width}")
        super().__init__(Change("history"), UndoHistory(max_bytes=HISTORY_BYTES, nbytes=lambda step: step.nbytes))
        self.height, self.width = height, width
        self._layers: dict[str, Layer] = {}
        self._shared: set[str] = set()  # layers whose arrays a snapshot holds: copied before a write in place
        self.settings: dict[str, Any] = dict(settings or {})
        for layer in layers:
            self._check_new(layer)
            self._layers[layer.name] = layer

    def _notify(self, change: Change) -> None:
        if change.what in ("pixels", "layer", "layers") and not self._derived(change.name):
            self.modified = True
        super()._notify(change)

    def _derived(self, name: str) -> bool:
        return name in self._layers and self._layers[name].derived

    # --- layers ----------------------------------------------------------------------------------------

    @property
    def layers(self) -> tuple[Layer, ...]:
        """Bottom to top."""
        return tuple(self._layers.values())

    def layer(self, name: str) -> Layer:
        try:
            return self._layers[name]
        except KeyError:
            raise KeyError(f"the document has no layer '{name}'") from None

    def has_layer(self, name: str) -> bool:
        return name in self._layers

    def add_layer(self, layer: Layer) -> Layer:
        self._check_new(layer)
        self._layers[layer.name] = layer
        self._notify(Change("layers", layer.name))
        return layer

    def _check_new(self, layer: Layer) -> None:
        if layer.name in self._layers:
            raise ValueError(f"the document already has a layer '{layer.name}'")
        if layer.data.shape[:2] != (self.height, self.width):
            raise ValueError(f"layer '{layer.name}' is {layer.data.shape[1]}x{layer.data.shape[0]}, "
                             f"the document {self.width}x{self.height}")

    def remove_layer(self, name: str) -> None:
        self.layer(name)
        del self._layers[name]
        self.history.discard(lambda step: step.layer == name)
        self._notify(Change("layers", name))
        self._notify(Change("history"))

    def set_layer_property(self, name: str, **values: Any) -> None:
        """visible / opacity / editable / derived: not part of the pixel history."""
        layer = self.layer(name)
        for key, value in values.items():
            if key not in ("visible", "opacity", "editable", "derived"):
                raise AttributeError(f"'{key}' is not a layer property")
            setattr(layer, key, value)
        self._notify(Change("layer", name))

    def replace_pixels(self, name: str, data: np.ndarray, rect: Rect | None = None) -> None:
        """Replace a rendered layer's content (e.g. the engine's photo); not undoable by design,
        since it is derived from the other layers. `rect`: the only area that differs from before, so
        observers update just that (None: all of it)."""
        layer = self.layer(name)
        if data.shape[:2] != (self.height, self.width):
            raise ValueError(f"{name}: got {data.shape[1]}x{data.shape[0]}, need {self.width}x{self.height}")
        if data is not layer.data:
            self._shared.discard(name)
        layer.data = data
        self._notify(Change("pixels", name, None if rect is None else _clip(rect, data.shape)))

    def writable(self, name: str) -> np.ndarray:
        """The layer's array to write pixels into in place: copied first while a snapshot shares it."""
        layer = self.layer(name)
        if name in self._shared:
            self._shared.discard(name)
            layer.data = layer.data.copy()
        return layer.data

    def shared(self, name: str) -> np.ndarray:
        """The layer's array as it is now, for a reader on another thread: it is never written in place again."""
        self._shared.add(name)
        return self.layer(name).data

    def snapshot(self) -> Document:
        """The document as it is now (layers, their properties and settings), for a save on another thread; no
        pixels are copied (see `shared`). Not modified, with no history."""
        layers = [dataclasses.replace(layer, data=self.shared(layer.name)) for layer in self.layers]
        return Document(self.height, self.width, settings=dict(self.settings), layers=layers)

    # --- settings ----------------------------------------------------------------------------------------

    def set_setting(self, key: str, value: Any, *, edit: bool = True) -> None:
        """edit False: the program follows something else (a model picked for a document that names none or a
        missing one), which is no unsaved work of the user's."""
        if self.settings.get(key) != value:
            self.settings[key] = value
            if edit:
                self.modified = True
            self._notify(Change("setting", key))

    # --- editing and history -------------------------------------------------------------------------

    def edit(self, layer: str, description: str) -> Edit:
        if not self.layer(layer).editable:
            raise ValueError(f"layer '{layer}' is not editable")
        return Edit(self, layer, description)

    def history_bytes(self) -> int:
        return self.history.nbytes()

    def _restore(self, step: _Step, undo: bool) -> _Step:
        data = self.writable(step.layer)
        dirty: Rect | None = None
        for key, pixels in (step.before if undo else step.after).items():
            data[_tile_slice(key, data.shape)] = pixels
            dirty = _union(dirty, _tile_rect(key, data.shape))
        self._notify(Change("pixels", step.layer, dirty))
        return step


def _clip(rect: Rect, shape: tuple[int, ...]) -> Rect:
    x, y, w, h = rect
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(shape[1], x + w), min(shape[0], y + h)
    return x0, y0, max(0, x1 - x0), max(0, y1 - y0)


def _tiles(rect: Rect) -> Iterator[tuple[int, int]]:
    x, y, w, h = rect
    if w <= 0 or h <= 0:
        return
    for ty in range(y // TILE, (y + h - 1) // TILE + 1):
        for tx in range(x // TILE, (x + w - 1) // TILE + 1):
            yield ty, tx


def _tile_rect(key: tuple[int, int], shape: tuple[int, ...]) -> Rect:
    return _clip((key[1] * TILE, key[0] * TILE, TILE, TILE), shape)


def _tile_slice(key: tuple[int, int], shape: tuple[int, ...]) -> tuple[slice, slice]:
    x, y, w, h = _tile_rect(key, shape)
    return slice(y, y + h), slice(x, x + w)


def _union(a: Rect | None, b: Rect) -> Rect:
    if a is None:
        return b
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    return x0, y0, x1 - x0, y1 - y0
