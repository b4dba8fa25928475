"""The Swap & Edit project: a photo's embedding plus a stack of non-destructive edit layers, with undo.

Plain Python + numpy (no Qt, no torch), a LayerStack of the history kernel (app/history.py). Layers and
references are frozen values whose arrays are read-only, so an undo step is just the previous (layers,
references) pair: a snapshot costs no copies.

The final codes are a pure function of the embedding and the visible layers:
- structure: clone and region layers applied bottom to top;
- texture: the swap layers' blends bottom to top, then the shifts of the texture-edit layers.
Region and texture-edit layers store the displacement their sliders made (computed with the model's
editing statistics at the time), so a saved project gives the same codes without those statistics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from app.history import LayerStack
from engine import codes
from engine.api import CodeStats, Embedding

SWAP, TEXTURE, CLONE, REGION = "swap", "texture", "clone", "region"
KIND_TITLES = {SWAP: "Texture swap", TEXTURE: "Global edits", CLONE: "Clone", REGION: "Region"}


def frozen(array: np.ndarray, dtype: type) -> np.ndarray:
    """A read-only contiguous copy: layers share arrays across undo snapshots, nobody may write them."""
    out = np.array(array, dtype=dtype, copy=True, order="C")
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class Reference:
    """A reference photo as the project keeps it: its texture code and a thumbnail (hxwx3 uint8)."""

    id: str
    name: str
    texture: np.ndarray
    thumbnail: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "texture", frozen(self.texture, np.float32))
        object.__setattr__(self, "thumbnail", frozen(self.thumbnail, np.uint8))


@dataclass(frozen=True, eq=False)
class SwapLayer:
    """Blend the texture code towards a reference's: alpha 0 keeps the photo's, 1 is a full swap."""

    id: str
    name: str
    reference: str  # Reference.id
    alpha: float = 1.0
    visible: bool = True
    kind: ClassVar[str] = SWAP


@dataclass(frozen=True, eq=False)
class TextureLayer:
    """Global edits: gains along the texture principal directions and named attribute amounts.
    `offset` (D,) is what they add to the texture code."""

    id: str
    name: str
    offset: np.ndarray
    gains: tuple[float, ...] = ()
    attributes: tuple[tuple[str, float], ...] = ()
    visible: bool = True
    kind: ClassVar[str] = TEXTURE

    def __post_init__(self) -> None:
        object.__setattr__(self, "offset", frozen(self.offset, np.float32))


@dataclass(frozen=True, eq=False)
class CloneLayer:
    """Cells (h, w bool) that take the structure codes in `codes` (C, h, w; only cells marked count)."""

    id: str
    name: str
    cells: np.ndarray
    codes: np.ndarray
    visible: bool = True
    kind: ClassVar[str] = CLONE

    def __post_init__(self) -> None:
        object.__setattr__(self, "cells", frozen(self.cells, bool))
        object.__setattr__(self, "codes", frozen(self.codes, np.float32))


@dataclass(frozen=True, eq=False)
class RegionLayer:
    """A mask grown from `seed` (a cell) at `threshold`, plus brushed-in `added` and brushed-out `removed`
    cells; `weights` (h, w) is the result. Its structure codes move by `step` (C,) per unit of weight."""

    id: str
    name: str
    seed: tuple[int, int]
    threshold: float
    added: np.ndarray
    removed: np.ndarray
    weights: np.ndarray
    step: np.ndarray
    gains: tuple[float, ...] = ()
    visible: bool = True
    kind: ClassVar[str] = REGION

    def __post_init__(self) -> None:
        for name in ("added", "removed"):
            object.__setattr__(self, name, frozen(getattr(self, name), bool))
        object.__setattr__(self, "weights", frozen(self.weights, np.float32))
        object.__setattr__(self, "step", frozen(self.step, np.float32))


EditLayer = SwapLayer | TextureLayer | CloneLayer | RegionLayer


def region_weights(structure: np.ndarray, seed: tuple[int, int], threshold: float, added: np.ndarray,
                   removed: np.ndarray) -> np.ndarray:
    """The cells similar to the seed's code (grown through similar neighbours), plus added, minus removed."""
    grown = codes.similarity_mask(structure, seed, threshold)
    return ((grown | added) & ~removed).astype(np.float32)


def structure_step(stats: CodeStats, gains: Sequence[float]) -> np.ndarray:
    """What the region sliders add per unit of weight: engine.codes.move_structure on a single cell."""
    channels = stats.structure_components.shape[1]
    return codes.move_structure(np.zeros((channels, 1, 1), np.float32), np.ones((1, 1), np.float32), stats,
                                gains)[:, 0, 0]


def texture_offset(stats: CodeStats, gains: Sequence[float], attributes: Mapping[str, float]) -> np.ndarray:
    """What the global sliders add to the texture code: engine.codes.shift_texture of a zero code."""
    return codes.shift_texture(np.zeros(stats.texture_components.shape[1], np.float32), stats, gains, attributes)


def compose_structure(base: np.ndarray, layers: Sequence[EditLayer]) -> np.ndarray:
    structure = base
    for layer in layers:
        if not layer.visible:
            continue
        if isinstance(layer, CloneLayer):
            structure = np.where(layer.cells[None], layer.codes, structure)
        elif isinstance(layer, RegionLayer) and layer.gains and any(layer.gains):
            structure = structure + layer.step[:, None, None] * layer.weights[None]
    return np.asarray(structure, np.float32)


def compose_texture(own: np.ndarray, layers: Sequence[EditLayer], references: Mapping[str, Reference]) -> np.ndarray:
    texture = own
    for layer in layers:
        if layer.visible and isinstance(layer, SwapLayer) and layer.reference in references:
            texture = codes.blend_texture(texture, references[layer.reference].texture, layer.alpha)
    for layer in layers:
        if layer.visible and isinstance(layer, TextureLayer):
            texture = texture + layer.offset
    return np.asarray(texture, np.float32)


@dataclass(frozen=True)
class State:
    layers: tuple[EditLayer, ...] = ()
    references: Mapping[str, Reference] = field(default_factory=dict)


class SwapProject(LayerStack[State]):
    """photo_size: the (H, W) of the photo the codes stand for, which may be larger than the working size they
    were made at (embedding.size): the result is the photo plus the edits' change, at the photo's size."""

    def __init__(self, model_id: str, embedding: Embedding, *, noise_seed: int = 0,
                 layers: Sequence[EditLayer] = (), references: Mapping[str, Reference] | None = None,
                 photo_size: tuple[int, int] | None = None) -> None:
        super().__init__(State(tuple(layers), dict(references or {})))
        self.model_id = model_id
        self.embedding = Embedding(frozen(embedding.structure, np.float32), frozen(embedding.texture, np.float32),
                                   tuple(embedding.size), int(embedding.cell))
        self.noise_seed = noise_seed
        self.photo_size: tuple[int, int] = tuple(photo_size or embedding.size)  # type: ignore[assignment]
        self._cache: tuple[State, np.ndarray, np.ndarray] | None = None

    # --- reading ---------------------------------------------------------------------------------------

    @property
    def layers(self) -> tuple[EditLayer, ...]:
        """Bottom to top."""
        return self._value.layers

    def _with_layers(self, layers: tuple[EditLayer, ...]) -> State:
        return State(layers, self.references)

    @property
    def references(self) -> Mapping[str, Reference]:
        return self._value.references

    @property
    def code_shape(self) -> tuple[int, int]:
        return self.embedding.structure.shape[1:]  # type: ignore[return-value]

    @property
    def cell_size(self) -> tuple[float, float]:
        """(height, width) of one code cell in the photo's pixels."""
        (h, w), (ph, pw), cell = self.embedding.size, self.photo_size, self.embedding.cell
        return cell * ph / h, cell * pw / w

    def cell_of(self, y: float, x: float) -> tuple[int, int] | None:
        """(row, column) of the cell under the photo's pixel position (y, x), or None outside the code."""
        ch, cw = self.cell_size
        row, col = int(y // ch), int(x // cw)
        h, w = self.code_shape
        return (row, col) if 0 <= row < h and 0 <= col < w and y >= 0 and x >= 0 else None

    def top(self, kind: str) -> EditLayer | None:
        """The topmost layer of `kind`, or None."""
        return next((la for la in reversed(self.layers) if la.kind == kind), None)

    def new_id(self, prefix: str) -> str:
        taken = {la.id for la in self.layers} | set(self.references)
        n = 1
        while f"{prefix}{n}" in taken:
            n += 1
        return f"{prefix}{n}"

    def new_name(self, kind: str) -> str:
        return self.free_name(KIND_TITLES[kind])

    def final_codes(self) -> tuple[np.ndarray, np.ndarray]:
        """(structure (C, h, w), texture (D,)) of the embedding with every visible layer applied."""
        state = self._value
        if self._cache is None or self._cache[0] is not state:
            structure = compose_structure(self.embedding.structure, state.layers)
            texture = compose_texture(self.embedding.texture, state.layers, state.references)
            self._cache = (state, structure, texture)
        return self._cache[1], self._cache[2]

    def region_blend(self) -> dict[str, object]:
        """How a decode blends the region edits in with feathered edges (DecodeCodes' soft_mask, unmasked_codes):
        the cells the visible, moved regions weigh (the strongest weight where they overlap) and the codes without
        their moves, which apply outside them. Empty without such regions."""
        moved = [la for la in self.layers if isinstance(la, RegionLayer) and la.visible and any(la.gains)]
        if not moved:
            return {}
        weights = np.max([la.weights for la in moved], axis=0)
        outside = [la for la in self.layers if all(la is not m for m in moved)]
        return {"soft_mask": weights, "unmasked_codes": (compose_structure(self.embedding.structure, outside),
                                                         self.final_codes()[1])}

    def structure_below(self, layer_id: str) -> np.ndarray:
        """The structure code as the layers under `layer_id` leave it (what a region layer grows on)."""
        return compose_structure(self.embedding.structure, self.layers[:self.index(layer_id)])

    # --- edits -------------------------------------------------------------------------------------------

    def add_layer(self, layer: EditLayer, description: str = "", *, reference: Reference | None = None,
                  select: bool = True, final: bool = True) -> None:
        """Put `layer` on top (and select it). final False: it begins a drag or stroke (see update_layer)."""
        if any(la.id == layer.id for la in self.layers):
            raise ValueError(f"the project already has a layer '{layer.id}'")
        references = self._with_reference(reference)
        self._apply(State(self.layers + (layer,), references), description or f"Add {layer.name}", final=final)
        if select:
            self.select(layer.id)

    def update_layer(self, layer: EditLayer, description: str, *, final: bool = True,
                     reference: Reference | None = None) -> None:
        """Replace the layer with layer.id. final False: part of a drag or stroke, one undo step when a
        final update (or `settle`) ends it."""
        i = self.index(layer.id)
        layers = self.layers[:i] + (layer,) + self.layers[i + 1:]
        self._apply(State(layers, self._with_reference(reference)), description, final=final)

    def remove_layer(self, layer_id: str) -> None:
        layer = self.layer(layer_id)
        layers = tuple(la for la in self.layers if la.id != layer_id)
        used = {la.reference for la in layers if isinstance(la, SwapLayer)}
        references = {k: v for k, v in self.references.items() if k in used}
        self._apply(State(layers, references), f"Delete {layer.name}")
        if self._selected == layer_id:
            self.select(None)

    def _with_reference(self, reference: Reference | None) -> Mapping[str, Reference]:
        if reference is None:
            return self.references
        return {**self.references, reference.id: reference}
