"""Region edits blend into the photo with feathered edges: the cell mask is feathered at pixel resolution along the
photo's edges (engine.codes.soft_mask), the decode blends the region's result in by it, and outside the feathered
band the result is the photo itself."""

from __future__ import annotations

import numpy as np
import torch
from PySide6.QtCore import Qt

from app.sae.decoder import RESULT
from app.sae.session import MASK, PHOTO
from app.sae.stack import RegionLayer
from engine import codes
from engine.api import DecodeCodes
from engine.catalog import Catalog
from engine.handlers import Engine
from tests.app.swap_page_fixtures import (  # noqa: F401 (fixtures are found by name)
    CELL,
    WAIT,
    cell_pos,
    dialogs,
    open_photo,
    page,
    tiny,
    wait_idle,
    write_photo,
)


class _Ctx:
    def check(self) -> None:
        pass

    def progress(self, *_args) -> None:
        pass


def _decode(entry, structure, texture, size) -> np.ndarray:
    return Engine(Catalog(), torch.device("cpu"))(DecodeCodes(entry.id, structure, texture, size), _Ctx()).image


def test_a_cell_mask_is_feathered_at_pixel_resolution_along_the_photos_edges():
    weights = np.zeros((8, 8), np.float32)
    weights[2:6, 2:5] = 1
    flat = np.full((128, 128, 3), 0.5, np.float32)
    mask = codes.soft_mask(weights, flat, 16)
    row = mask[64]  # the cells span x 32..80
    assert row[:12].max() == 0 and row[50:62].min() == 1 and row[100:].max() == 0  # exact 0 and 1 off the edges
    ramp = row[16:48]
    assert np.all(np.diff(ramp) >= -1e-6) and len(np.unique(ramp[(ramp > 0) & (ramp < 1)])) >= 16  # a smooth ramp
    assert np.abs(np.diff(mask, axis=1)).max() < 0.1 and np.abs(np.diff(mask, axis=0)).max() < 0.1  # no steps

    edged = flat.copy()
    edged[:, 36:] = 0.9  # the photo has an edge 4 px inside the cells' edge (x = 32): the blend leans onto it
    guided = codes.soft_mask(weights, edged, 16)[64]
    assert guided[36] - guided[35] > 0.2 and row[36] - row[35] < 0.1
    assert guided[:12].max() == 0 and guided[50:62].min() == 1

def test_a_region_edit_blends_in_softly_and_leaves_the_photo_outside(page, tiny, qtbot, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(8):
        write_photo(folder / f"p{i}.png", (64, 72), seed=20 + i)
    with qtbot.waitSignal(page.texture_panel.stats_changed, timeout=WAIT, check_params_cb=lambda s: s is not None):
        page.texture_panel.compute_from([str(folder)])
    project = open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (128, 160), seed=5))
    photo = page.document.layer(PHOTO).data.copy()
    emb = project.embedding

    qtbot.keyClick(page.canvas, Qt.Key.Key_M)
    page.region_panel.threshold.setValue(70)
    qtbot.mouseClick(page.canvas, Qt.MouseButton.LeftButton, pos=cell_pos(page.canvas, 8, 10))
    region = project.selected
    assert isinstance(region, RegionLayer) and 0 < region.weights.sum() < region.weights.size
    assert "px" in page.region_panel.edges.text() and page.region_panel.edges.isVisible()
    page.region_panel.sliders.slider(0).setValue(250)
    wait_idle(qtbot, page)
    qtbot.waitUntil(lambda: not page.scheduler.busy, timeout=WAIT)

    result = page.document.layer(RESULT).data
    mask = page.document.layer(MASK).data  # the overlay: the very mask the decode blends with
    assert np.array_equal(result[mask == 0], photo[mask == 0])  # outside the region: the photo, bit for bit
    hard = np.clip(photo + _decode(tiny, *project.final_codes(), emb.size)
                   - _decode(tiny, emb.structure, emb.texture, emb.size), 0, 1)  # the region edit with hard edges
    blended = photo + mask[..., None] * (hard - photo)
    assert np.abs(result - blended).max() < 1e-4
    inside = np.kron(region.weights, np.ones((CELL, CELL), np.float32)) > 0
    assert np.abs(result[inside & (mask == 1)] - photo[inside & (mask == 1)]).max() > 1e-3  # the edit is there
    soft = (mask > 0) & (mask < 1)
    assert soft.sum() > 0.5 * (np.abs(np.diff(inside.astype(np.int8), axis=1)) > 0).sum()  # a band along the edge
    assert np.abs(np.diff(mask, axis=1)).max() < 0.5 and np.abs(np.diff(mask, axis=0)).max() < 0.5  # no cell steps
    # the edge band reaches out of the cells, so cell edges are not where the result steps
    assert (soft & ~inside).any() and (soft & inside).any()
