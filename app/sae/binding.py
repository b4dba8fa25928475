"""Between the edit controls and the current project, both ways: the blend, threshold, region and texture
sliders become project edits (app/sae/edits.py), and the controls and the mask overlay show the values
of the layers they edit (after an undo, a selection, another project)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject

from app.history import ProjectChange
from app.sae import edits
from app.sae.region_panel import RegionPanel
from app.sae.session import MASK, SwapSession
from app.sae.stack import SWAP, TEXTURE, RegionLayer, SwapLayer, SwapProject, TextureLayer
from app.sae.swap_panel import BlendControl
from app.sae.texture_panel import TextureEdits, TextureEditsPanel, canonical
from engine.api import CodeStats


def cells_to_pixels(cells: np.ndarray, cell_size: tuple[float, float], size: tuple[int, int]) -> np.ndarray:
    """Per-cell values (h, w) spread over the pixels of a photo of `size` whose cells are cell_size (height,
    width) px."""
    rows = np.minimum((np.arange(size[0]) // cell_size[0]).astype(np.intp), cells.shape[0] - 1)
    cols = np.minimum((np.arange(size[1]) // cell_size[1]).astype(np.intp), cells.shape[1] - 1)
    return np.ascontiguousarray(cells[np.ix_(rows, cols)], np.float32)


class EditBinding(QObject):
    def __init__(self, session: SwapSession, blend: BlendControl, region: RegionPanel, texture: TextureEditsPanel,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.blend, self.region, self.texture = session, blend, region, texture
        self.stats: CodeStats | None = None  # the model's editing directions, as the texture panel read them
        self._unsubscribe: Callable[[], None] | None = None
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

    def _on_project(self, change: ProjectChange) -> None:
        if change.what in ("layers", "selection"):
            self.sync_mask()  # follows drags too: the mask grows as the threshold slider moves
            if change.final:
                self.sync_controls()

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
            self.region.show_region(selected.threshold, selected.gains)
        else:
            self.region.show_region(None, ())

    def sync_mask(self) -> None:
        """The selected region as a translucent overlay, cell by cell; hidden when no region is selected."""
        doc, project = self.session.document, self.project
        if doc is None or not doc.has_layer(MASK):
            return
        selected = project.selected if project else None
        if isinstance(selected, RegionLayer):
            doc.replace_pixels(MASK, cells_to_pixels(selected.weights, project.cell_size, (doc.height, doc.width)))
        if doc.layer(MASK).visible != isinstance(selected, RegionLayer):
            doc.set_layer_property(MASK, visible=isinstance(selected, RegionLayer))

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
