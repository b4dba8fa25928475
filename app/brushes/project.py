"""The Style Brushes project: a photo, a stack of brush layers (each a translation model, or a style transfer
model with its style image and strength, seen through a painted mask) and one undo history for both.

Plain Python + numpy (no Qt, no torch), observed through callbacks. The masks are "mask" layers of the
project's Document, so a stroke is the Document's tile-based undo step and costs the area it touched; the
layer list is a tuple of frozen values, so a layer change is a snapshot of that tuple. The project keeps
the two in one history: a pixel step in its list stands for the Document's own step, undone through it.
A deleted layer's mask stays in the Document, so undoing the deletion brings the mask back as it was.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from PIL import Image

from app.document import Change, Document, Layer

PHOTO, RESULT = "photo", "result"
MASK_PREFIX = "mask:"
TOOL_SETTING = "style-brushes"  # the document setting "tool" of our projects
HISTORY_STEPS = 200
MAX_STYLE_SIDE = 1024  # a style image's size hardly matters to the models (they pool it): kept this small


@dataclass(frozen=True)
class BrushLayer:
    """A translation seen through a mask: `model_id` ("" until one is chosen) in `direction`; for a style
    transfer model (HierarchyFlow), `style` names one of the project's style images and `strength` says how far
    the photo moves towards it (0 = unchanged, 1 = the model's full output)."""

    id: str
    name: str
    model_id: str = ""
    direction: str = ""
    opacity: float = 1.0
    visible: bool = True
    style: str = ""
    strength: float = 1.0

    @property
    def mask(self) -> str:
        """The name of its mask layer in the document."""
        return MASK_PREFIX + self.id


@dataclass(frozen=True, eq=False)
class StyleImage:
    """A style image the project keeps (its layers name it by `key`, a digest of the pixels)."""

    key: str
    name: str
    pixels: np.ndarray  # HxWx3 uint8, at most MAX_STYLE_SIDE on its long side


@dataclass(frozen=True)
class ProjectChange:
    """What observers are told: "layers" (the list; `final` False while a slider is dragged),
    "selection", or "history" (undo availability, after every final change and every stroke)."""

    what: str
    final: bool = True


@dataclass(frozen=True)
class _Step:
    description: str
    layers: tuple[BrushLayer, ...] | None  # the layer list on the other side of the step; None: a stroke


def make_style(name: str, pixels: np.ndarray) -> StyleImage:
    """A style image, scaled down to MAX_STYLE_SIDE, keyed by a digest of what is kept."""
    pixels = np.ascontiguousarray(pixels, np.uint8)
    h, w = pixels.shape[:2]
    if max(h, w) > MAX_STYLE_SIDE:
        scale = MAX_STYLE_SIDE / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        pixels = np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS))
    digest = hashlib.blake2b(str(pixels.shape).encode(), digest_size=12)
    digest.update(pixels.data)
    pixels.flags.writeable = False
    return StyleImage(digest.hexdigest(), name, pixels)


def brush_document(photo: np.ndarray) -> Document:
    """The document of a project: the photo and, on top, the composite (the photo until layers show)."""
    h, w = photo.shape[:2]
    doc = Document(h, w, settings={"tool": TOOL_SETTING})
    doc.add_layer(Layer(PHOTO, "rgb", np.ascontiguousarray(photo, np.float32), editable=False))
    doc.add_layer(Layer(RESULT, "rgb", np.array(photo, np.float32), editable=False))
    doc.modified = False
    return doc


class BrushProject:
    def __init__(self, document: Document, photo_key: str, layers: Sequence[BrushLayer] = (),
                 masks: dict[str, np.ndarray] | None = None, styles: Sequence[StyleImage] = ()) -> None:
        """`photo_key` names the photo's pixels (translations are cached under it); `masks` by layer id
        (missing ones start empty); `styles`: the style images the layers name."""
        self.document = document
        self.photo_key = photo_key
        # style images only ever join (a layer's undo may name any of them again); saved with the project
        self.styles: dict[str, StyleImage] = {style.key: style for style in styles}
        self._layers = tuple(layers)
        for layer in self._layers:
            self._add_mask(layer, (masks or {}).get(layer.id))
        self._undo: list[_Step] = []
        self._redo: list[_Step] = []
        self._drag_base: tuple[BrushLayer, ...] | None = None
        self._selected: str | None = self._layers[-1].id if self._layers else None
        self._observers: list[Callable[[ProjectChange], None]] = []
        self._travelling = False  # our own undo/redo of a stroke is under way
        self._painting = False  # a mask stroke is open: undo waits for its commit
        self._stroke: list[str] | None = None  # set while a stroke commits: the step it pushed, if any
        document.subscribe(self._document_changed)
        self.modified = False

    # --- observation ---------------------------------------------------------------------------------

    def subscribe(self, observer: Callable[[ProjectChange], None]) -> Callable[[], None]:
        self._observers.append(observer)
        return lambda: self._observers.remove(observer) if observer in self._observers else None

    def _notify(self, change: ProjectChange) -> None:
        for observer in list(self._observers):
            observer(change)

    # --- reading -------------------------------------------------------------------------------------

    @property
    def layers(self) -> tuple[BrushLayer, ...]:
        """Bottom to top."""
        return self._layers

    @property
    def size(self) -> tuple[int, int]:
        return self.document.height, self.document.width

    def layer(self, layer_id: str) -> BrushLayer:
        for layer in self._layers:
            if layer.id == layer_id:
                return layer
        raise KeyError(f"the project has no layer '{layer_id}'")

    def index(self, layer_id: str) -> int:
        return [la.id for la in self._layers].index(layer_id)

    def mask(self, layer_id: str) -> np.ndarray:
        """HxW float32 in [0, 1]: how much of the layer's translation shows, before its opacity."""
        return self.document.layer(MASK_PREFIX + layer_id).data

    def new_id(self) -> str:
        masks = {la.name.removeprefix(MASK_PREFIX) for la in self.document.layers if la.name.startswith(MASK_PREFIX)}
        taken = {la.id for la in self._layers} | masks  # a deleted layer's mask still waits for its undo
        n = 1
        while f"b{n}" in taken:
            n += 1
        return f"b{n}"

    def new_name(self) -> str:
        names = {la.name for la in self._layers}
        n = 1
        while f"Brush {n}" in names:
            n += 1
        return f"Brush {n}"

    # --- selection (not part of the history) -------------------------------------------------------------

    @property
    def selected(self) -> BrushLayer | None:
        return next((la for la in self._layers if la.id == self._selected), None)

    def select(self, layer_id: str | None) -> None:
        if layer_id != self._selected:
            self._selected = layer_id
            self._notify(ProjectChange("selection"))

    # --- layer edits -------------------------------------------------------------------------------------

    def add_layer(self, model_id: str = "", direction: str = "", *, name: str = "", style: str = "",
                  strength: float = 1.0, filled: bool = False) -> BrushLayer:
        """A new layer on top, selected, its mask empty (or, `filled`, showing the layer everywhere)."""
        layer = BrushLayer(self.new_id(), name or self.new_name(), model_id, direction, style=style,
                           strength=strength)
        self._add_mask(layer, np.ones(self.size, np.float32) if filled else None)
        self._apply(self._layers + (layer,), f"Add {layer.name}")
        self.select(layer.id)
        return layer

    def remove_layer(self, layer_id: str) -> None:
        layer = self.layer(layer_id)
        index = self.index(layer_id)
        self._apply(tuple(la for la in self._layers if la.id != layer_id), f"Delete {layer.name}")
        if self._selected == layer_id:
            below = self._layers[max(0, index - 1)].id if self._layers else None
            self.select(below)

    def move_layer(self, layer_id: str, delta: int) -> None:
        """Move up (delta > 0, towards the top) or down the stack."""
        i = self.index(layer_id)
        j = min(max(i + delta, 0), len(self._layers) - 1)
        if i == j:
            return
        layers = list(self._layers)
        layers.insert(j, layers.pop(i))
        self._apply(tuple(layers), f"Move {layers[j].name} {'up' if j > i else 'down'}")

    def rename(self, layer_id: str, name: str) -> None:
        layer, name = self.layer(layer_id), " ".join(name.split())
        if name and name != layer.name:
            self._replace(dataclasses.replace(layer, name=name), f"Rename {layer.name} to {name}")

    def set_visible(self, layer_id: str, visible: bool) -> None:
        layer = self.layer(layer_id)
        if layer.visible != visible:
            self._replace(dataclasses.replace(layer, visible=visible), f"{'Show' if visible else 'Hide'} {layer.name}")

    def set_opacity(self, layer_id: str, opacity: float, *, final: bool = True) -> None:
        """final False: a slider drag in progress; one undo step when a final value (or `settle`) ends it."""
        layer = self.layer(layer_id)
        opacity = min(max(float(opacity), 0.0), 1.0)
        if opacity != layer.opacity or (final and self._drag_base is not None):
            self._replace(dataclasses.replace(layer, opacity=opacity), f"Opacity of {layer.name}", final=final)

    def set_model(self, layer_id: str, model_id: str, direction: str) -> None:
        layer = self.layer(layer_id)
        if (model_id, direction) != (layer.model_id, layer.direction):
            self._replace(dataclasses.replace(layer, model_id=model_id, direction=direction),
                          f"Model of {layer.name}")

    def add_style(self, name: str, pixels: np.ndarray) -> StyleImage:
        """Keep a style image (HxWx3 uint8; larger ones are scaled down); the same pixels give the same key."""
        style = make_style(name, pixels)
        return self.styles.setdefault(style.key, style)

    def set_style(self, layer_id: str, style: str) -> None:
        layer = self.layer(layer_id)
        if style not in self.styles:
            raise KeyError(f"the project has no style image '{style}'")
        if style != layer.style:
            self._replace(dataclasses.replace(layer, style=style),
                          f"Style of {layer.name}: {self.styles[style].name}")

    def set_strength(self, layer_id: str, strength: float, *, final: bool = True) -> None:
        """final False: a slider drag in progress; one undo step when a final value (or `settle`) ends it."""
        layer = self.layer(layer_id)
        strength = round(min(max(float(strength), 0.0), 1.0), 3)
        if strength != layer.strength or (final and self._drag_base is not None):
            self._replace(dataclasses.replace(layer, strength=strength), f"Strength of {layer.name}", final=final)

    def fill_mask(self, layer_id: str, value: float) -> None:
        """Show the layer everywhere (1) or nowhere (0): one undoable step, like a stroke."""
        layer = self.layer(layer_id)
        self.begin_stroke()
        with self.stroke():
            edit = self.document.edit(layer.mask, f"{'Fill' if value else 'Clear'} the mask of {layer.name}")
            h, w = self.size
            edit.region((0, 0, w, h))[...] = value
            edit.changed((0, 0, w, h))
            edit.commit()

    def mark_opened(self) -> None:
        """What was set up so far is the project as opened: nothing to undo, nothing unsaved."""
        self._undo.clear()
        self._redo.clear()
        self.document.modified = False
        self.modified = False
        self._notify(ProjectChange("history"))

    def settle(self, description: str) -> None:
        """End a drag with the layers as they are."""
        if self._drag_base is not None:
            self._apply(self._layers, description)

    # --- strokes -----------------------------------------------------------------------------------------

    def begin_stroke(self) -> None:
        """A mask stroke began: undo and redo wait until it is committed (see `stroke`)."""
        self._painting = True

    @contextmanager
    def stroke(self) -> Iterator[None]:
        """Around the commit of a mask stroke (Edit.commit): the step it pushes joins the history."""
        self._stroke = []
        try:
            yield
        finally:
            self._painting = False
            pushed, self._stroke = self._stroke, None
            if pushed:
                self._record(_Step(pushed[0], None))

    def _document_changed(self, change: Change) -> None:
        if change.what == "history" and self._stroke is not None and not self._travelling:
            self._stroke.append(self.document.undo_text)

    # --- history -------------------------------------------------------------------------------------

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_text(self) -> str:
        return self._undo[-1].description if self._undo else ""

    @property
    def redo_text(self) -> str:
        return self._redo[-1].description if self._redo else ""

    def undo(self) -> None:
        self._travel(self._undo, self._redo, self.document.undo, self.document.can_undo)

    def redo(self) -> None:
        self._travel(self._redo, self._undo, self.document.redo, self.document.can_redo)

    def _travel(self, source: list[_Step], target: list[_Step], pixels: Callable[[], None],
                document_has_pixels: bool) -> None:
        if not source or self._drag_base is not None or self._painting or self._stroke is not None:
            return
        step = source.pop()
        if step.layers is None:
            if not document_has_pixels:  # the Document dropped its oldest steps to bound memory
                self._notify(ProjectChange("history"))
                return
            self._travelling = True
            try:
                pixels()
            finally:
                self._travelling = False
            target.append(step)
        else:
            target.append(_Step(step.description, self._layers))
            self._layers = step.layers
            self._notify(ProjectChange("layers"))
            if self.selected is None and self._layers:
                self.select(self._layers[-1].id)
        self.modified = True
        self._notify(ProjectChange("history"))

    # --- helpers -------------------------------------------------------------------------------------

    def _add_mask(self, layer: BrushLayer, data: np.ndarray | None) -> None:
        h, w = self.size
        mask = np.zeros((h, w), np.float32) if data is None else np.array(data, np.float32)
        if mask.shape != (h, w):
            raise ValueError(f"the mask of '{layer.name}' is {mask.shape[1]}x{mask.shape[0]}, the photo {w}x{h}")
        modified = self.document.modified
        self.document.add_layer(Layer(layer.mask, "mask", mask))  # shown only where a view lists it
        self.document.modified = modified

    def _replace(self, layer: BrushLayer, description: str, *, final: bool = True) -> None:
        i = self.index(layer.id)
        self._apply(self._layers[:i] + (layer,) + self._layers[i + 1:], description, final=final)

    def _apply(self, layers: tuple[BrushLayer, ...], description: str, *, final: bool = True) -> None:
        if not final:
            if self._drag_base is None:
                self._drag_base = self._layers
        else:
            before = self._drag_base if self._drag_base is not None else self._layers
            self._drag_base = None
            self._undo.append(_Step(description, before))
            del self._undo[:-HISTORY_STEPS]
            self._redo.clear()
        self._layers = layers
        self.modified = True
        self._notify(ProjectChange("layers", final))
        if final:
            self._notify(ProjectChange("history"))

    def _record(self, step: _Step) -> None:
        self._undo.append(step)
        del self._undo[:-HISTORY_STEPS]
        self._redo.clear()
        self.modified = True
        self._notify(ProjectChange("history"))
