"""Swap & Edit as a user drives it, with a tiny random Swapping Autoencoder running in the real engine:
open a photo, swap textures, clone, pick and move regions, global sliders, layers. The project model and its file
format are tested without Qt first; projects, exports, bad photos, recovery and model switches are in
test_swap_projects.py."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPointF, QSettings, Qt

from app.document import Document, Layer
from app.fileio.ora import extras, load_ora, save_ora, set_extras
from app.sae import edits
from app.sae.decoder import RESULT, reach_cells
from app.sae.session import MASK, PHOTO
from app.sae.stack import CloneLayer, Reference, RegionLayer, SwapLayer, SwapProject, TextureLayer
from app.sae.state_io import ProjectFormatError, project_from_members, project_members
from app.sae.swap_panel import SHELF_KEY
from engine import codes
from engine.api import CodeStats, DecodeCodes, Embedding, EncodeImage
from engine.catalog import Catalog
from engine.handlers import Engine
from tests.app.swap_page_fixtures import (  # noqa: F401 (fixtures are found by name)
    CELL,
    WAIT,
    cell_pos,
    choose_file,
    dialogs,
    drop,
    menu,
    open_photo,
    page,
    stroke,
    tiny,
    wait_decoded,
    wait_idle,
    write_photo,
)

WALLPAPER = Path("/usr/share/wallpapers/Autumn/contents/images/640x480.jpg")
WALLPAPER_REFERENCE = Path("/usr/share/wallpapers/BytheWater/contents/images/640x480.jpg")


class _Ctx:
    """The job context the engine's handlers take, for direct (GUI-free) decodes in the checks."""

    def check(self) -> None:
        pass

    def progress(self, *args) -> None:
        pass


# --- the project model, without Qt ---------------------------------------------------------------------


def _embedding(seed: int = 0, shape: tuple[int, int, int] = (4, 6, 8), dim: int = 5) -> Embedding:
    rng = np.random.default_rng(seed)
    structure = codes.normalize(rng.normal(size=shape).astype(np.float32))
    texture = codes.normalize(rng.normal(size=dim).astype(np.float32))
    return Embedding(structure, texture, (shape[1] * 8 - 3, shape[2] * 8), 8)


def _stats(channels: int = 4, dim: int = 5) -> CodeStats:
    eye_t, eye_s = np.eye(dim, dtype=np.float32), np.eye(channels, dtype=np.float32)
    return CodeStats(np.zeros(dim, np.float32), eye_t[:3], np.array([0.5, 0.3, 0.1], np.float32),
                     np.zeros(channels, np.float32), eye_s[:2], np.array([0.4, 0.2], np.float32),
                     attributes=(("snow", np.full(dim, 0.1, np.float32)),))


def _reference(project: SwapProject, seed: int = 1) -> Reference:
    texture = codes.normalize(np.random.default_rng(seed).normal(size=project.embedding.texture.shape).astype(np.float32))
    return Reference("r", f"ref{seed}.png", texture, np.zeros((4, 6, 3), np.uint8))


def test_final_codes_follow_the_visible_layers_in_order_and_every_change_is_undoable() -> None:
    project = SwapProject("m", _embedding())
    emb, stats = project.embedding, _stats()
    changes = []
    project.subscribe(changes.append)
    ref = _reference(project)
    edits.apply_reference(project, ref)
    edits.set_blend(project, 0.25, final=False)
    edits.set_blend(project, 0.5, final=False)
    edits.set_blend(project, 0.5)  # a drag: one undo step for all three
    edits.set_texture_edits(project, stats, (1.0, -2.0), {"snow": 0.5})
    structure, texture = project.final_codes()
    expected = codes.shift_texture(codes.blend_texture(emb.texture, project.references["ref1"].texture, 0.5), stats,
                                   (1.0, -2.0), {"snow": 0.5})
    assert np.allclose(texture, expected, atol=1e-6) and np.array_equal(structure, emb.structure)
    assert [c.final for c in changes if c.what == "layers"] == [True, False, False, True, True]

    cells = np.zeros((6, 8), bool)
    cells[1:3, 2:4] = True
    clone = edits.clone_cells(project, None, emb.structure, cells, (2, 3))
    project.settle("Clone")
    region = edits.start_region(project, (5, 0), 0.9)
    region = edits.set_region_gains(project, region, stats, (1.5,))
    structure, _ = project.final_codes()
    cloned = codes.clone_structure(emb.structure, emb.structure, cells, (2, 3))
    moved = codes.move_structure(cloned, region.weights, stats, (1.5,))
    assert np.allclose(structure, moved, atol=1e-6)
    assert [la.kind for la in project.layers] == ["swap", "texture", "clone", "region"]

    project.move_layer(region.id, -1)  # the region now moves the codes before the clone overwrites cells
    structure, _ = project.final_codes()
    assert np.allclose(structure, np.where(clone.cells[None], clone.codes,
                                           codes.move_structure(emb.structure, region.weights, stats, (1.5,))),
                       atol=1e-6)
    project.set_visible(clone.id, False)
    project.set_visible(project.layers[0].id, False)
    structure, texture = project.final_codes()
    assert np.allclose(structure, codes.move_structure(emb.structure, region.weights, stats, (1.5,)), atol=1e-6)
    assert np.allclose(texture, codes.shift_texture(emb.texture, stats, (1.0, -2.0), {"snow": 0.5}), atol=1e-6)

    steps = 0
    while project.can_undo:
        project.undo()
        steps += 1
    assert steps == 9 and project.layers == () and np.array_equal(project.final_codes()[1], emb.texture)
    while project.can_redo:
        project.redo()
    assert np.allclose(project.final_codes()[0], structure) and np.allclose(project.final_codes()[1], texture)
    project.remove_layer(project.layers[0].id)  # the swap layer goes, and its reference with it
    assert not project.references and project.undo_text == "Delete Texture swap 1"
    project.undo()
    assert "ref1" in project.references


def test_a_region_grows_as_the_threshold_falls_and_keeps_brushed_cells() -> None:
    project = SwapProject("m", _embedding(3, (4, 10, 12)))
    region = edits.start_region(project, (5, 6), 0.95)
    sizes = []
    for threshold in (0.95, 0.6, 0.2, -1.0):
        region = edits.set_threshold(project, region, threshold)
        sizes.append(int(region.weights.sum()))
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1] == 120
    region = edits.set_threshold(project, region, 0.95)
    far = np.zeros((10, 12), bool)
    far[0, 0] = True
    region = edits.brush_region(project, region, far, add=True)
    assert region.weights[0, 0] == 1
    region = edits.brush_region(project, region, far, add=False)
    assert region.weights[0, 0] == 0 and edits.set_threshold(project, region, -1.0).weights[0, 0] == 0


def test_project_members_round_trip_and_refuse_damage() -> None:
    project = SwapProject("m", _embedding(), noise_seed=7)
    stats = _stats()
    edits.apply_reference(project, _reference(project))
    edits.set_texture_edits(project, stats, (0.5,), {"snow": 1.0})
    edits.clone_cells(project, None, project.embedding.structure, np.eye(6, 8, dtype=bool), (0, 1))
    project.settle("Clone")
    region = edits.start_region(project, (2, 2), 0.5)
    edits.set_region_gains(project, region, stats, (0.0, 2.0))
    members = project_members(project)
    again = project_from_members(members, "p.ora")
    assert again.model_id == "m" and again.noise_seed == 7
    assert [(a.kind, a.name, a.visible) for a in again.layers] == [(b.kind, b.name, b.visible) for b in project.layers]
    for a, b in zip(again.final_codes(), project.final_codes()):
        assert np.array_equal(a, b)
    assert np.array_equal(again.references["ref1"].thumbnail, project.references["ref1"].thumbnail)

    broken = dict(members)
    broken["i2i-studio/sae/clone1_cells.npy"] = b"not an array"
    with pytest.raises(ProjectFormatError, match="clone1_cells.npy is damaged"):
        project_from_members(broken, "p.ora")
    broken = dict(members)
    del broken["i2i-studio/sae/embedding_structure.npy"]
    with pytest.raises(ProjectFormatError, match="missing"):
        project_from_members(broken, "p.ora")
    with pytest.raises(ProjectFormatError, match="no Swap & Edit state"):
        project_from_members({}, "p.ora")


def test_ora_keeps_extra_members_through_a_save_by_a_tool_that_does_not_know_them(tmp_path: Path) -> None:
    doc = Document(20, 30)
    doc.add_layer(Layer("photo", "rgb", np.random.default_rng(0).random((20, 30, 3), np.float32)))
    set_extras(doc, {"i2i-studio/sae/state.json": b"{}", "i2i-studio/sae/a.npy": b"\x00" * 10})
    save_ora(tmp_path / "a.ora", doc)
    loaded = load_ora(tmp_path / "a.ora").document
    assert extras(loaded) == {"i2i-studio/sae/state.json": b"{}", "i2i-studio/sae/a.npy": b"\x00" * 10}
    save_ora(tmp_path / "b.ora", loaded)  # e.g. the painter saving it again
    with zipfile.ZipFile(tmp_path / "b.ora") as zf:
        assert zf.read("i2i-studio/sae/a.npy") == b"\x00" * 10
    with pytest.raises(ValueError, match="under i2i-studio/"):
        set_extras(doc, {"data/x.png": b""})


# --- the page, as a user drives it ---------------------------------------------------------------------


def full_decode(entry, structure: np.ndarray, texture: np.ndarray, size, noise_seed: int = 0) -> np.ndarray:
    request = DecodeCodes(entry.id, structure.copy(), texture.copy(), size, noise_seed=noise_seed)
    return Engine(Catalog(), torch.device("cpu"))(request, _Ctx()).image


def edited_photo(entry, project: SwapProject, photo: np.ndarray) -> np.ndarray:
    """What the result should be: the photo plus the change the final codes make to the embedded ones (a photo
    within the working size: no resampling)."""
    emb = project.embedding
    change = full_decode(entry, *project.final_codes(), emb.size) - full_decode(entry, emb.structure, emb.texture,
                                                                                  emb.size)
    return np.clip(photo + change, 0, 1)


def test_open_photo_embeds_it_once_and_the_toggle_shows_the_original(main_window, page, tiny, qtbot, monkeypatch,
                                                                    tmp_path):
    assert not page.views.currentWidget() is page.canvas  # the empty state says what to do
    requests: list = []
    real = main_window.bridge.submit
    monkeypatch.setattr(main_window.bridge, "submit", lambda r, **k: requests.append(r) or real(r, **k))
    choose_file(monkeypatch, write_photo(tmp_path / "photo.png", (192, 256)))
    with qtbot.waitSignal(page.scheduler.decoded, timeout=WAIT, check_params_cb=lambda k: k == "full"):
        menu(main_window, "File", "Open Photo").trigger()
    project, doc = page.project, page.document
    assert project.embedding.structure.shape == (8, 24, 32) and project.embedding.size == (192, 256)
    assert sum(isinstance(r, EncodeImage) for r in requests) == 1
    assert np.array_equal(doc.layer(RESULT).data, doc.layer(PHOTO).data)  # no edit yet: the photo, bit for bit
    assert page.views.currentWidget() is page.canvas and "full resolution" in page.status_label.text()

    qtbot.keyClick(page.canvas, Qt.Key.Key_Backslash)
    assert page.before_after.isChecked() and not doc.layer(RESULT).visible and doc.layer(PHOTO).visible
    qtbot.keyClick(page.canvas, Qt.Key.Key_Backslash)
    assert doc.layer(RESULT).visible and not project.modified  # looking is no edit


def test_a_dropped_reference_swaps_the_texture_and_blend_zero_gives_the_photo_back(page, tiny, qtbot, tmp_path):
    project = open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (128, 128)))
    photo = page.document.layer(PHOTO).data
    assert np.array_equal(page.document.layer(RESULT).data, photo)
    with qtbot.waitSignal(page.scheduler.decoded, timeout=WAIT, check_params_cb=lambda k: k == "full"):
        drop(page.canvas, [write_photo(tmp_path / "forest.png", (100, 140), seed=9)])
    swap = project.layers[-1]
    assert isinstance(swap, SwapLayer) and swap.alpha == 1.0 and project.references[swap.reference].name == "forest.png"
    structure, texture = project.final_codes()
    assert np.array_equal(structure, project.embedding.structure)
    assert np.abs(texture - project.embedding.texture).max() > 0.05
    assert np.abs(page.document.layer(RESULT).data - photo).max() > 0.02
    assert np.abs(page.document.layer(RESULT).data - edited_photo(tiny, project, photo)).max() < 1e-5
    shelf = page.swap_panel.shelf
    assert shelf.paths()[0].endswith("forest.png")  # and remembered on the shelf, across sessions
    assert QSettings().value(SHELF_KEY, [], list) == shelf.paths()
    shelf.list.setCurrentRow(0)
    qtbot.mouseClick(shelf.remove, Qt.MouseButton.LeftButton)
    assert not shelf.paths() and QSettings().value(SHELF_KEY, [], list) == []
    assert page.swap_panel.blend.slider.isEnabled()

    page.swap_panel.blend.slider.setValue(0)
    wait_decoded(qtbot, page)
    assert np.array_equal(project.final_codes()[1], project.embedding.texture)
    assert np.array_equal(page.document.layer(RESULT).data, photo)

    page.swap_panel.blend.slider.setSliderDown(True)  # a drag: reduced-resolution previews, then one full decode
    page.swap_panel.blend.slider.setValue(60)
    wait_decoded(qtbot, page, "preview")
    assert page.scheduler.requests[-1].scale == 0.5
    page.swap_panel.blend.slider.setSliderDown(False)
    wait_decoded(qtbot, page)
    assert page.scheduler.requests[-1].scale == 1.0 and project.layers[-1].alpha == 0.6
    assert project.undo_text == "Blend texture"


def test_clone_stroke_changes_only_the_target_cells_and_undo_restores(main_window, page, tiny, qtbot, tmp_path):
    project = open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (256, 256), seed=2))
    emb = project.embedding
    before = page.document.layer(RESULT).data.copy()
    qtbot.keyClick(page.canvas, Qt.Key.Key_C)
    assert page.canvas.tool is page.tools["C"]
    page.brush_size.setValue(2)
    stroke(qtbot, page.canvas, [(20, 20)])  # no source yet: nothing happens, the status says what to do
    assert not project.layers and "Ctrl-click" in page.status_label.text()
    qtbot.mouseClick(page.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, cell_pos(page.canvas, 4, 6))
    with qtbot.waitSignal(page.scheduler.decoded, timeout=WAIT, check_params_cb=lambda k: k == "region"):
        stroke(qtbot, page.canvas, [(20, 20), (20, 22), (20, 24)])
    wait_idle(qtbot, page)
    layer = project.layers[-1]
    assert isinstance(layer, CloneLayer) and project.undo_text == "Clone" and project.selected is layer
    structure, texture = project.final_codes()
    changed = np.any(structure != emb.structure, axis=0)
    assert changed.any() and not (changed & ~layer.cells).any()  # nothing outside the stroke
    ys, xs = np.nonzero(layer.cells)
    assert ys.min() >= 19 and ys.max() <= 21 and xs.min() >= 19 and xs.max() <= 25
    assert np.array_equal(structure[:, ys, xs], emb.structure[:, ys - 16, xs - 14])  # from the source offset
    assert np.array_equal(texture, emb.texture)

    regions = [r.region for r in page.scheduler.requests if r.structure.shape == structure.shape][1:]
    assert regions and all(r is not None and r != (0, 0, 32, 32) for r in regions)  # only the stroke's cells
    result = page.document.layer(RESULT).data
    top, left, bottom, right = codes.changed_cells(emb.structure, structure)
    reach = reach_cells(tiny)
    outside = np.ones((256, 256), bool)
    outside[(top - reach) * CELL:(bottom + reach) * CELL, (left - reach) * CELL:(right + reach) * CELL] = False
    assert np.array_equal(result[outside], before[outside])  # pixels beyond the generator's reach are untouched
    assert np.array_equal(before, page.document.layer(PHOTO).data)
    assert np.abs(result - edited_photo(tiny, project, before)).max() < 1e-4  # = the photo + a full decode's change

    with qtbot.waitSignal(page.scheduler.decoded, timeout=WAIT):
        menu(main_window, "Edit", "Undo Clone").trigger()
    assert not project.layers and np.array_equal(project.final_codes()[0], emb.structure)
    assert np.array_equal(page.document.layer(RESULT).data, before)
    qtbot.keyClick(page.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert isinstance(project.layers[-1], CloneLayer)

    page.brush_size.setValue(3)
    box = page.tools["M"].outline(QPointF(100, 100)).boundingRect()  # the brush outline is drawn in whole cells
    assert (box.left(), box.top(), box.width(), box.height()) == (88, 88, 3 * CELL, 3 * CELL)
    clone = page.tools["C"].outline(QPointF(100, 100)).boundingRect()  # plus a cross where it copies from
    assert clone.left() < 100 - 14 * CELL and clone.top() < 100 - 16 * CELL


def test_region_mask_grows_as_the_threshold_lowers_and_follows_the_brush(page, tiny, qtbot, tmp_path):
    project = open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (128, 192), seed=3))
    qtbot.keyClick(page.canvas, Qt.Key.Key_M)
    page.region_panel.threshold.setValue(95)
    qtbot.mouseClick(page.canvas, Qt.MouseButton.LeftButton, pos=cell_pos(page.canvas, 8, 12))
    region = project.selected
    assert isinstance(region, RegionLayer) and region.seed == (8, 12) and region.weights[8, 12] == 1
    mask = page.document.layer(MASK)
    assert mask.visible and mask.data[8 * CELL + CELL // 2, 12 * CELL + CELL // 2] > 0.5  # feathered, not a block
    sizes = []
    for value in (95, 70, 40, 0):
        page.region_panel.threshold.setValue(value)
        sizes.append(int(project.selected.weights.sum()))
    assert sizes == sorted(sizes) and sizes[-1] > sizes[0]
    assert abs(mask.data.sum() - sizes[-1] * CELL * CELL) < 0.15 * sizes[-1] * CELL * CELL  # about the cells' area
    page.region_panel.threshold.setValue(95)

    weights = project.selected.weights
    y, x = next((y, x) for y, x in np.argwhere(weights == 0) if x + 3 < weights.shape[1] and not weights[y, x:x + 4].any())
    page.brush_size.setValue(1)
    stroke(qtbot, page.canvas, [(y, x), (y, x + 3)], Qt.KeyboardModifier.ShiftModifier)
    assert project.selected.weights[y, x:x + 4].all() and project.selected.weights.sum() == weights.sum() + 4
    assert project.undo_text == "Add to region"
    stroke(qtbot, page.canvas, [(y, x), (y, x + 1)], Qt.KeyboardModifier.AltModifier)
    assert not project.selected.weights[y, x:x + 2].any() and project.selected.weights[y, x + 2:x + 4].all()
    stroke(qtbot, page.canvas, [(8, 12)], Qt.KeyboardModifier.AltModifier)  # even the seed can go
    assert project.selected.weights[8, 12] == 0 and mask.data[8 * CELL + CELL // 2, 12 * CELL + CELL // 2] < 0.5
    page.layers_panel.list.setCurrentRow(-1)
    project.select(None)
    assert not mask.visible


def test_sliders_change_only_the_codes_they_should(page, tiny, qtbot, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(8):
        write_photo(folder / f"p{i}.png", (64, 72), seed=10 + i)
    with qtbot.waitSignal(page.texture_panel.stats_changed, timeout=WAIT, check_params_cb=lambda s: s is not None):
        page.texture_panel.compute_from([str(folder)])
    assert page.binding.stats is not None and page.region_panel.sliders.count() > 0
    project = open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (128, 128), seed=4))
    emb = project.embedding
    before = page.document.layer(RESULT).data.copy()

    page.texture_panel.global_sliders.slider(0).setValue(150)  # +1.5 sigma along the first texture direction
    wait_decoded(qtbot, page)
    structure, texture = project.final_codes()
    assert isinstance(project.layers[-1], TextureLayer) and project.layers[-1].gains[0] == 1.5
    assert np.array_equal(structure, emb.structure) and np.abs(texture - emb.texture).max() > 1e-3
    assert np.allclose(texture, codes.shift_texture(emb.texture, page.binding.stats, (1.5,)), atol=1e-6)
    assert np.abs(page.document.layer(RESULT).data - before).max() > 1e-3

    qtbot.keyClick(page.canvas, Qt.Key.Key_M)
    page.region_panel.threshold.setValue(60)
    qtbot.mouseClick(page.canvas, Qt.MouseButton.LeftButton, pos=cell_pos(page.canvas, 6, 6))
    region = project.selected
    assert page.region_panel.sliders.isEnabled()
    page.region_panel.sliders.slider(0).setValue(200)
    wait_decoded(qtbot, page, "region" if region.weights.mean() < 0.2 else "full")
    moved, texture_now = project.final_codes()
    inside = project.selected.weights > 0
    assert np.array_equal(moved[:, ~inside], emb.structure[:, ~inside]) and (moved[:, inside] != emb.structure[:, inside]).all()
    assert np.array_equal(texture_now, texture)
    assert page.texture_panel.edits().gains[0] == 1.5  # the global sliders still show their layer


def test_screenshot_of_the_page_with_a_real_photo(main_window, page, tiny, qtbot, tmp_path):
    if not WALLPAPER.is_file() or not WALLPAPER_REFERENCE.is_file():
        pytest.skip("no wallpapers installed")
    folder = Path(os.environ.get("I2I_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    main_window.resize(1400, 860)
    page.swap_panel.shelf.add_paths([str(WALLPAPER_REFERENCE), str(WALLPAPER)])
    qtbot.wait(50)
    main_window.grab().save(str(folder / "swap_page_empty.png"))
    open_photo(qtbot, page, WALLPAPER)
    with qtbot.waitSignal(page.scheduler.decoded, timeout=WAIT, check_params_cb=lambda k: k == "full"):
        page.use_reference(str(WALLPAPER_REFERENCE))
    qtbot.keyClick(page.canvas, Qt.Key.Key_M)
    qtbot.mouseClick(page.canvas, Qt.MouseButton.LeftButton, pos=cell_pos(page.canvas, 10, 40))
    qtbot.wait(50)
    main_window.grab().save(str(folder / "swap_page.png"))
    assert (folder / "swap_page.png").stat().st_size > 10_000


