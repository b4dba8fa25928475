"""What each control of the Swap & Edit page does to a SwapProject (plain numpy, no Qt).

Each function picks the layer an edit belongs to (the selected one of the right kind, else the topmost,
else a new one) and replaces it, so the page's widgets only translate their signals into these calls.
`final` False marks a drag in progress: the project records one undo step when it settles.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from app.sae.stack import (
    CLONE,
    REGION,
    SWAP,
    TEXTURE,
    CloneLayer,
    EditLayer,
    Reference,
    RegionLayer,
    SwapLayer,
    SwapProject,
    TextureLayer,
    region_weights,
    structure_step,
    texture_offset,
)
from engine import codes
from engine.api import CodeStats

DEFAULT_THRESHOLD = 0.8


def current(project: SwapProject, kind: str) -> EditLayer | None:
    """The layer an edit of `kind` goes to: the selected one if it is of that kind, else the topmost."""
    selected = project.selected
    return selected if selected is not None and selected.kind == kind else project.top(kind)


# --- texture --------------------------------------------------------------------------------------------


def apply_reference(project: SwapProject, reference: Reference) -> SwapLayer:
    """Swap to `reference`'s texture: the current swap layer takes it, or a new one at full strength."""
    known = next((r for r in project.references.values() if np.array_equal(r.texture, reference.texture)), None)
    if known is None:
        reference = dataclasses.replace(reference, id=project.new_id("ref"))
    else:
        reference = known
    layer = current(project, SWAP)
    if isinstance(layer, SwapLayer):
        layer = dataclasses.replace(layer, reference=reference.id)
        project.update_layer(layer, f"Swap texture to {reference.name}", reference=reference)
    else:
        layer = SwapLayer(project.new_id(SWAP), project.new_name(SWAP), reference.id)
        project.add_layer(layer, f"Swap texture to {reference.name}", reference=reference)
    return layer


def set_blend(project: SwapProject, alpha: float, *, final: bool = True) -> SwapLayer | None:
    layer = current(project, SWAP)
    if not isinstance(layer, SwapLayer):
        return None
    layer = dataclasses.replace(layer, alpha=float(alpha))
    project.update_layer(layer, "Blend texture", final=final)
    return layer


def set_texture_edits(project: SwapProject, stats: CodeStats, gains: Sequence[float],
                      attributes: Mapping[str, float], *, final: bool = True) -> TextureLayer:
    """The global sliders: their shift (engine.codes.shift_texture) goes to the current texture-edit layer."""
    offset = texture_offset(stats, gains, attributes)
    values = {"offset": offset, "gains": tuple(float(g) for g in gains),
              "attributes": tuple((str(n), float(a)) for n, a in attributes.items())}
    layer = current(project, TEXTURE)
    if isinstance(layer, TextureLayer):
        layer = dataclasses.replace(layer, **values)
        project.update_layer(layer, "Global edit", final=final)
    else:
        layer = TextureLayer(project.new_id(TEXTURE), project.new_name(TEXTURE), **values)
        project.add_layer(layer, "Global edit", final=final)
    return layer


# --- structure: regions -----------------------------------------------------------------------------------


def start_region(project: SwapProject, seed: tuple[int, int], threshold: float = DEFAULT_THRESHOLD) -> RegionLayer:
    """A click: a new region layer on top, grown from `seed` (a selected region is never replaced: a click
    that meant to add to it must not throw its cells away)."""
    structure, _ = project.final_codes()
    empty = np.zeros(project.code_shape, bool)
    layer = RegionLayer(project.new_id(REGION), project.new_name(REGION), seed, threshold, empty, empty,
                        region_weights(structure, seed, threshold, empty, empty),
                        np.zeros(structure.shape[0], np.float32))
    project.add_layer(layer, "Pick region")
    return layer


def set_threshold(project: SwapProject, layer: RegionLayer, threshold: float, *, final: bool = True) -> RegionLayer:
    """Re-grow the region at `threshold` (keeping what the brush added and removed)."""
    weights = region_weights(project.structure_below(layer.id), layer.seed, threshold, layer.added, layer.removed)
    layer = dataclasses.replace(layer, threshold=float(threshold), weights=weights)
    project.update_layer(layer, "Region threshold", final=final)
    return layer


def brush_region(project: SwapProject, layer: RegionLayer, cells: np.ndarray, *, add: bool,
                 structure: np.ndarray | None = None) -> RegionLayer:
    """Add `cells` to the region (add) or take them out; part of a stroke (final False).
    `structure`: the code the region grows on, when the caller already has it."""
    if add:
        added, removed = layer.added | cells, layer.removed & ~cells
    else:
        added, removed = layer.added & ~cells, layer.removed | cells
    if np.array_equal(added, layer.added) and np.array_equal(removed, layer.removed):
        return layer  # nothing new under the brush
    if structure is None:
        structure = project.structure_below(layer.id)
    weights = region_weights(structure, layer.seed, layer.threshold, added, removed)
    layer = dataclasses.replace(layer, added=added, removed=removed, weights=weights)
    project.update_layer(layer, "Add to region" if add else "Remove from region", final=False)
    return layer


def set_region_gains(project: SwapProject, layer: RegionLayer, stats: CodeStats, gains: Sequence[float], *,
                     final: bool = True) -> RegionLayer:
    """Move the region's structure codes along the structure directions (engine.codes.move_structure)."""
    layer = dataclasses.replace(layer, gains=tuple(float(g) for g in gains), step=structure_step(stats, gains))
    project.update_layer(layer, "Move region", final=final)
    return layer


# --- structure: clone stamp -------------------------------------------------------------------------------


def clone_target(project: SwapProject) -> CloneLayer | None:
    """The clone layer a stroke paints into: the selected one, else None (the stroke starts a new one)."""
    selected = project.selected
    return selected if isinstance(selected, CloneLayer) else None


def clone_cells(project: SwapProject, layer: CloneLayer | None, source: np.ndarray, cells: np.ndarray,
                offset: tuple[int, int]) -> CloneLayer | None:
    """Part of a clone stroke: `cells` take the codes of `source` (the structure as the stroke began) at
    `offset` (engine.codes.clone_structure). Returns the layer (a new one on the first cells), or `layer`
    unchanged when the stroke changes nothing (no source inside the photo, cells already cloned)."""
    inside = cells & _source_inside(cells.shape, offset)
    if not inside.any():
        return layer
    if layer is None:
        structure, _ = project.final_codes()
        layer = CloneLayer(project.new_id(CLONE), project.new_name(CLONE), np.zeros(cells.shape, bool), structure)
        layer = dataclasses.replace(layer, cells=inside, codes=codes.clone_structure(layer.codes, source, inside, offset))
        project.add_layer(layer, "Clone", final=False)
        return layer
    cloned = codes.clone_structure(layer.codes, source, inside, offset)
    if not (inside & ~layer.cells).any() and np.array_equal(cloned, layer.codes):
        return layer
    layer = dataclasses.replace(layer, cells=layer.cells | inside, codes=cloned)
    project.update_layer(layer, "Clone", final=False)
    return layer


def _source_inside(shape: tuple[int, int], offset: tuple[int, int]) -> np.ndarray:
    """Cells whose source cell (y + dy, x + dx) lies inside a code of `shape`."""
    ys = np.arange(shape[0])[:, None] + offset[0]
    xs = np.arange(shape[1])[None, :] + offset[1]
    return (ys >= 0) & (ys < shape[0]) & (xs >= 0) & (xs < shape[1])
