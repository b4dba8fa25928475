"""Between the edit controls and the current project, both ways: the blend, threshold, region and texture
sliders become project edits (app/sae/edits.py), and the controls and the mask overlay show the values
of the layers they edit (after an undo, a selection, another project)."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from PySide6.QtCore import QObject

from app.history import ProjectChange
from app.sae import edits
from app.sae.looks import (
    Direction,
    LookPreviews,
    Target,
    attribute_directions,
    component_directions,
    region_directions,
)
from app.sae.photos import resize
from app.sae.region_panel import STRUCTURE_LIMIT, RegionPanel
from app.sae.session import MASK, PHOTO, SwapSession
from app.sae.stack import SWAP, TEXTURE, RegionLayer, SwapLayer, SwapProject, TextureLayer, structure_step
from app.sae.swap_panel import BlendControl
from app.sae.texture_panel import (
    ATTRIBUTE_LIMIT,
    MAX_GLOBAL,
    PC_LIMIT,
    TextureEdits,
    TextureEditsPanel,
    canonical,
)
from engine import codes
from engine.api import CodeStats


def soft_overlay(project: SwapProject, weights: np.ndarray, photo: np.ndarray, guide: np.ndarray) -> np.ndarray:
    """A region's cell weights as the decode blends them in (engine.codes.soft_mask at the codes' working size,
    `guide` the photo at that size), at the size of `photo`."""
    mask = codes.soft_mask(weights, guide, project.embedding.cell)
    if mask.shape != photo.shape[:2]:
        mask = cv2.resize(mask, (photo.shape[1], photo.shape[0]), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(mask, np.float32)


class EditBinding(QObject):
    def __init__(self, session: SwapSession, blend: BlendControl, region: RegionPanel, texture: TextureEditsPanel,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.blend, self.region, self.texture = session, blend, region, texture
        self.stats: CodeStats | None = None  # the model's editing directions, as the texture panel read them
        self._unsubscribe: Callable[[], None] | None = None
        self._guide_of: tuple[np.ndarray, tuple, np.ndarray] | None = None  # photo, working size, the photo at it
        self.looks = LookPreviews(session.bridge, self)  # the texture sliders' end pictures and names
        self.looks.changed.connect(self._show_looks)
        self.looks.failed.connect(lambda message: session.status.emit(message, True))
        self._directions: tuple[list[Direction], ...] = ([], [], [])  # global, attributes, the region's
        blend.blend_changed.connect(self._blend)
        region.threshold_changed.connect(self._threshold)
        region.gains_changed.connect(self._region_gains)
        texture.edits_changed.connect(self._texture_edits)
        texture.stats_changed.connect(self._stats_changed)

    @property
    def project(self) -> SwapProject | None:
        return self.session.project

    def project_changed(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
        self._unsubscribe = self.project.subscribe(self._on_project) if self.project else None
        self.sync_controls()
        self.sync_mask()
        self._ask_looks()

    def _on_project(self, change: ProjectChange) -> None:
        if change.what in ("layers", "selection"):
            self.sync_mask()  # follows drags too: the mask grows as the threshold slider moves
            if change.final:
                self.sync_controls()
                self._ask_looks()  # the selected region's pictures (made once per region shape)

    # --- project -> controls ---------------------------------------------------------------------------

    def sync_controls(self) -> None:
        project = self.project
        swap = edits.current(project, SWAP) if project else None
        if isinstance(swap, SwapLayer):
            ref = project.references.get(swap.reference)
            self.blend.show_layer(swap.alpha, ref.thumbnail if ref else None)
        else:
            self.blend.show_layer(None, None)
        layer = edits.current(project, TEXTURE) if project else None
        self.texture.set_edits(canonical(layer.gains, layer.attributes) if isinstance(layer, TextureLayer)
                               else TextureEdits())
        selected = project.selected if project else None
        if isinstance(selected, RegionLayer):
            self.region.show_region(selected.threshold, selected.gains, selected.name)
        else:
            self.region.show_region(None, ())
        if project is None:
            self.region.set_feather(None)
        else:
            emb = project.embedding
            self.region.set_feather(codes.feather_width(emb.cell) * project.photo_size[1] / emb.size[1])

    def sync_mask(self) -> None:
        """The selected region as a translucent overlay, feathered as its edit blends in; hidden when no region is
        selected."""
        doc, project = self.session.document, self.project
        if doc is None or not doc.has_layer(MASK):
            return
        selected = project.selected if project else None
        if isinstance(selected, RegionLayer):
            photo = doc.layer(PHOTO).data
            doc.replace_pixels(MASK, soft_overlay(project, selected.weights, photo, self._guide(photo, project)))
        if doc.layer(MASK).visible != isinstance(selected, RegionLayer):
            doc.set_layer_property(MASK, visible=isinstance(selected, RegionLayer))

    def _guide(self, photo: np.ndarray, project: SwapProject) -> np.ndarray:
        """The photo at the codes' working size (kept while the photo is the same)."""
        size = tuple(project.embedding.size)
        if self._guide_of is None or self._guide_of[0] is not photo or self._guide_of[1] != size:
            self._guide_of = (photo, size, resize(photo, size))
        return self._guide_of[2]

    # --- controls -> project ---------------------------------------------------------------------------

    def _blend(self, alpha: float, final: bool) -> None:
        if self.project is not None:
            edits.set_blend(self.project, alpha, final=final)

    def _threshold(self, threshold: float, final: bool) -> None:
        project = self.project
        if project is not None and isinstance(project.selected, RegionLayer):
            edits.set_threshold(project, project.selected, threshold, final=final)

    def _region_gains(self, gains: tuple, final: bool) -> None:
        project = self.project
        if project is not None and self.stats is not None and isinstance(project.selected, RegionLayer):
            edits.set_region_gains(project, project.selected, self.stats, gains, final=final)

    def _texture_edits(self, values: TextureEdits, final: bool) -> None:
        if self.project is not None and self.stats is not None:
            edits.set_texture_edits(self.project, self.stats, values.gains, values.attribute_amounts(), final=final)

    def _stats_changed(self, stats: CodeStats | None) -> None:
        self.stats = stats
        self.region.set_stats(stats)
        self.sync_controls()
        self._ask_looks()

    # --- the texture sliders' pictures ------------------------------------------------------------------

    def _ask_looks(self) -> None:
        """Pictures of every slider's ends on the current photo, made with the model that made its codes: the
        selected region's Reshape sliders first (on the photo as embedded, within the region), then the texture
        sliders."""
        project, doc, entry, stats = self.project, self.session.document, self.session.entry, self.stats
        if project is None or doc is None or stats is None or entry is None or entry.id != project.model_id:
            self._directions = ([], [], [])
            self.looks.set_target(None, [])
            return
        emb = project.embedding
        selected = project.selected
        region: list[Direction] = []
        if isinstance(selected, RegionLayer) and selected.weights.any():
            count = self.region.sliders.count()
            region = region_directions([structure_step(stats, [0.0] * i + [STRUCTURE_LIMIT]) for i in range(count)],
                                       selected.weights)
        self._directions = (component_directions(stats, MAX_GLOBAL, PC_LIMIT),
                            attribute_directions(stats, ATTRIBUTE_LIMIT), region)
        target = Target(project.model_id, doc.shared(PHOTO), emb.structure, emb.texture, tuple(emb.size),
                        project.noise_seed)
        self.looks.set_target(target, region + self._directions[0] + self._directions[1])

    def _show_looks(self) -> None:
        components, attributes, region = ([self.looks.look(d.key) for d in part] for part in self._directions)
        self.texture.show_looks(components, attributes)
        self.region.show_looks(region)
