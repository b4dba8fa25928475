"""The Style Brushes project: a photo, a stack of brush layers (each a translation model, or a style transfer
model with its style image and strength, seen through a painted mask) and one undo history for both.

Plain Python + numpy (no Qt, no torch), a LayerStack of the history kernel (app/history.py). The masks are
"mask" layers of the project's Document, so a stroke is the Document's tile-based undo step and costs the area
it touched; the layer list is a tuple of frozen values, so a layer change is a snapshot of that tuple. The
project keeps the two in one history: a Stroke step in it stands for the Document's own step, undone through
it. A deleted layer's mask stays in the Document, so undoing the deletion brings the mask back as it was.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from PIL import Image

from app.document import Change, Document, Layer
from app.history import LayerStack, ProjectChange, Snapshot

PHOTO, RESULT = "photo", "result"
MASK_PREFIX = "mask:"
TOOL_SETTING = "style-brushes"  # the document setting "tool" of our projects
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
class Stroke:
    """A history step that stands for the Document's own (tile-based) step of a mask stroke."""

    description: str


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
    return Document(h, w, settings={"tool": TOOL_SETTING}, layers=[
        Layer(PHOTO, "rgb", np.ascontiguousarray(photo, np.float32), editable=False),
        Layer(RESULT, "rgb", np.array(photo, np.float32), editable=False, derived=True)])


class BrushProject(LayerStack[tuple[BrushLayer, ...]]):
    def __init__(self, document: Document, photo_key: str, layers: Sequence[BrushLayer] = (),
                 masks: dict[str, np.ndarray] | None = None, styles: Sequence[StyleImage] = ()) -> None:
        """`photo_key` names the photo's pixels (translations are cached under it); `masks` by layer id
        (missing ones start empty); `styles`: the style images the layers name."""
        super().__init__(tuple(layers))
        self.document = document
        self.photo_key = photo_key
        # style images only ever join (a layer's undo may name any of them again); saved with the project
        self.styles: dict[str, StyleImage] = {style.key: style for style in styles}
        for layer in self.layers:
            self._add_mask(layer, (masks or {}).get(layer.id))
        self._selected = self.layers[-1].id if self.layers else None
        self._travelling = False  # our own undo/redo of a stroke is under way
        self._painting = False  # a mask stroke is open: undo waits for its commit
        self._stroke: list[str] | None = None  # set while a stroke commits: the step it pushed, if any
        document.subscribe(self._document_changed)

    # --- reading -------------------------------------------------------------------------------------

    @property
    def layers(self) -> tuple[BrushLayer, ...]:
        """Bottom to top."""
        return self._value

    def _with_layers(self, layers: tuple[BrushLayer, ...]) -> tuple[BrushLayer, ...]:
        return layers

    @property
    def size(self) -> tuple[int, int]:
        return self.document.height, self.document.width

    def mask(self, layer_id: str) -> np.ndarray:
        """HxW float32 in [0, 1]: how much of the layer's translation shows, before its opacity."""
        return self.document.layer(MASK_PREFIX + layer_id).data

    def new_id(self) -> str:
        masks = {la.name.removeprefix(MASK_PREFIX) for la in self.document.layers if la.name.startswith(MASK_PREFIX)}
        taken = {la.id for la in self.layers} | masks  # a deleted layer's mask still waits for its undo
        n = 1
        while f"b{n}" in taken:
            n += 1
        return f"b{n}"

    def new_name(self) -> str:
        return self.free_name("Brush")

    def _reselect(self) -> None:
        """After undo or redo: with its selected layer gone, the top layer is selected."""
        if self.selected is None and self.layers:
            self.select(self.layers[-1].id)

    # --- layer edits -------------------------------------------------------------------------------------

    def add_layer(self, model_id: str = "", direction: str = "", *, name: str = "", style: str = "",
                  strength: float = 1.0, filled: bool = False) -> BrushLayer:
        """A new layer on top, selected, its mask empty (or, `filled`, showing the layer everywhere)."""
        layer = BrushLayer(self.new_id(), name or self.new_name(), model_id, direction, style=style,
                           strength=strength)
        self._add_mask(layer, np.ones(self.size, np.float32) if filled else None)
        self._apply(self.layers + (layer,), f"Add {layer.name}")
        self.select(layer.id)
        return layer

    def remove_layer(self, layer_id: str) -> None:
        layer = self.layer(layer_id)
        index = self.index(layer_id)
        self._apply(tuple(la for la in self.layers if la.id != layer_id), f"Delete {layer.name}")
        if self._selected == layer_id:
            below = self.layers[max(0, index - 1)].id if self.layers else None
            self.select(below)

    def rename(self, layer_id: str, name: str) -> None:
        layer, name = self.layer(layer_id), " ".join(name.split())
        if name and name != layer.name:
            self._replace(dataclasses.replace(layer, name=name), f"Rename {layer.name} to {name}")

    def set_opacity(self, layer_id: str, opacity: float, *, final: bool = True) -> None:
        """final False: a slider drag in progress; one undo step when a final value (or `settle`) ends it."""
        layer = self.layer(layer_id)
        opacity = min(max(float(opacity), 0.0), 1.0)
        if opacity != layer.opacity or (final and self.dragging):
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
        if strength != layer.strength or (final and self.dragging):
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
        self.history.clear()
        self.document.modified = False
        self.modified = False
        self._notify(ProjectChange("history"))

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
                self._record(Stroke(pushed[0]))

    def _document_changed(self, change: Change) -> None:
        if change.what == "history" and self._stroke is not None and not self._travelling:
            self._stroke.append(self.document.undo_text)

    # --- history -------------------------------------------------------------------------------------

    def _may_travel(self) -> bool:
        return super()._may_travel() and not self._painting and self._stroke is None

    def _restore(self, step: Stroke | Snapshot, undo: bool) -> Stroke | Snapshot | None:
        if not isinstance(step, Stroke):
            return super()._restore(step, undo)
        if not self.document.history.can(undo=undo):  # the Document dropped its oldest steps to bound memory
            return None
        self._travelling = True
        try:
            self.document.undo() if undo else self.document.redo()
        finally:
            self._travelling = False
        return step

    # --- helpers -------------------------------------------------------------------------------------

    def _add_mask(self, layer: BrushLayer, data: np.ndarray | None) -> None:
        h, w = self.size
        mask = np.zeros((h, w), np.float32) if data is None else np.array(data, np.float32)
        if mask.shape != (h, w):
            raise ValueError(f"the mask of '{layer.name}' is {mask.shape[1]}x{mask.shape[0]}, the photo {w}x{h}")
        self.document.add_layer(Layer(layer.mask, "mask", mask))  # shown only where a view lists it
