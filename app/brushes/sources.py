"""What a brush layer paints, by the kind of its model: one source strategy per task.

A layer's source says what its model makes of the photo and how the page deals with it: the cache key of that
image, the engine request that makes it, how a new layer of the kind starts, what a layer needs before it can
paint, and how the user is told about it. Translation (CycleGAN, CUT, FastCUT, SinCUT: the photo in one of the
model's directions) and style transfer (HierarchyFlow: the photo after a style image, at a strength) are the
kinds today; another kind is one more Source and one more line in SOURCES.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from app.brushes.project import BrushLayer, BrushProject, StyleImage
from app.brushes.translations import Key
from engine.api import DIRECTIONS, ModelEntry, Request, StylizeImage, Task, TranslateImage

DIRECTION_TITLES = {"AtoB": "A → B", "BtoA": "B → A"}

FirstStyle = Callable[[], StyleImage | None]  # the style a layer gets when it needs one (the shelf's first)


def directions(entry: ModelEntry) -> tuple[str, ...]:
    """The directions a translation model holds (its first is what "" means)."""
    held = tuple(d for d in entry.capabilities.directions if d in DIRECTIONS)
    return held or DIRECTIONS[:1]


def model_name(layer: BrushLayer, entry: ModelEntry | None) -> str:
    return (entry.name or entry.id) if entry is not None else layer.model_id


@dataclass(frozen=True)
class Words:
    """How the page speaks of a source's work."""

    job: str  # "Translation"
    doing: str  # "Translating"
    done: str  # "Translated"


class Source:
    words: Words
    styled = False  # its layers take a style image: the Style panel shows for them
    unready = ""  # what the user must do while `key` is None

    def key(self, layer: BrushLayer, entry: ModelEntry | None, photo: str, full_res: str) -> Key | None:
        """What the layer's image is cached under (None: it cannot be made yet). `entry`: None while the layer's
        model is not in the Library; full_res: how a large photo reaches full resolution."""
        raise NotImplementedError

    def request(self, key: Key, photo: np.ndarray, styles: Mapping[str, StyleImage]) -> Request:
        """The engine request that makes `key`'s image of `photo`."""
        raise NotImplementedError

    def add_layer(self, project: BrushProject, model: ModelEntry, name: str, first_style: FirstStyle) -> BrushLayer:
        """A new layer of `model` on top, following the selected layer where it has the same model."""
        raise NotImplementedError

    def complete(self, project: BrushProject, layer_id: str, first_style: FirstStyle) -> None:
        """The layer was just switched to a model of this kind: give it what it needs to paint."""

    def describe(self, layer: BrushLayer, entry: ModelEntry | None, styles: Mapping[str, StyleImage], *,
                 titles: bool = True) -> str:
        """The model and what the layer does with it, for the layer list (titles) or the status line."""
        return model_name(layer, entry)


class Translation(Source):
    words = Words("Translation", "Translating", "Translated")

    def key(self, layer: BrushLayer, entry: ModelEntry | None, photo: str, full_res: str) -> Key | None:
        direction = layer.direction or (directions(entry)[0] if entry is not None else "")
        return Key(layer.model_id, direction, photo, full_res=full_res)

    def request(self, key: Key, photo: np.ndarray, styles: Mapping[str, StyleImage]) -> Request:
        return TranslateImage(key.model_id, photo, key.direction, full_res=key.full_res)

    def add_layer(self, project: BrushProject, model: ModelEntry, name: str, first_style: FirstStyle) -> BrushLayer:
        """Its mask starts empty, in the selected layer's direction."""
        selected = project.selected
        same = selected is not None and selected.model_id == model.id
        return project.add_layer(model.id, selected.direction if same else directions(model)[0], name=name)

    def describe(self, layer: BrushLayer, entry: ModelEntry | None, styles: Mapping[str, StyleImage], *,
                 titles: bool = True) -> str:
        text = model_name(layer, entry)
        if entry is not None and len(directions(entry)) > 1:
            direction = layer.direction or directions(entry)[0]
            text += f" ({DIRECTION_TITLES.get(direction, direction) if titles else direction})"
        return text


class StyleTransfer(Source):
    words = Words("Stylisation", "Stylising", "Stylised")
    styled = True
    unready = "choose a style"

    def key(self, layer: BrushLayer, entry: ModelEntry | None, photo: str, full_res: str) -> Key | None:
        return Key(layer.model_id, "", photo, layer.style, layer.strength, full_res) if layer.style else None

    def request(self, key: Key, photo: np.ndarray, styles: Mapping[str, StyleImage]) -> Request:
        return StylizeImage(key.model_id, photo, styles[key.style].pixels, key.strength, full_res=key.full_res)

    def add_layer(self, project: BrushProject, model: ModelEntry, name: str, first_style: FirstStyle) -> BrushLayer:
        """It shows everywhere (erase to limit it), with the selected layer's style and strength, else the first
        style."""
        selected = project.selected
        if selected is not None and selected.model_id == model.id and selected.style:
            return project.add_layer(model.id, name=name, style=selected.style, strength=selected.strength,
                                     filled=True)
        style = first_style()
        key = project.add_style(style.name, style.pixels).key if style is not None else ""
        return project.add_layer(model.id, name=name, style=key, filled=True)

    def complete(self, project: BrushProject, layer_id: str, first_style: FirstStyle) -> None:
        """The first style and, if nothing is painted yet, showing everywhere (as a new layer of it does)."""
        style = first_style()
        if style is None:
            return
        if not project.layer(layer_id).style:
            project.set_style(layer_id, project.add_style(style.name, style.pixels).key)
        if not project.mask(layer_id).any():
            project.fill_mask(layer_id, 1.0)

    def describe(self, layer: BrushLayer, entry: ModelEntry | None, styles: Mapping[str, StyleImage], *,
                 titles: bool = True) -> str:
        style = styles.get(layer.style)
        if style is None:
            return model_name(layer, entry)
        if titles:
            return f"{model_name(layer, entry)} · {style.name} {layer.strength:.0%}"
        return f"{model_name(layer, entry)} after “{style.name}” at {layer.strength:.0%}"


TRANSLATION, STYLE_TRANSFER = Translation(), StyleTransfer()
SOURCES: dict[Task, Source] = {Task.IMAGE_TO_IMAGE: TRANSLATION, Task.CONTENT_STYLE: STYLE_TRANSFER}
BRUSH_TASKS = tuple(SOURCES)


def source_of(layer: BrushLayer, entry: ModelEntry | None) -> Source:
    """The layer's source: its model's kind; while the model is not in the Library, what the layer holds says."""
    if entry is not None and entry.task in SOURCES:
        return SOURCES[entry.task]
    return STYLE_TRANSFER if layer.style else TRANSLATION
