"""Style Brushes as a user drives it, with tiny random CycleGAN and CUT models running in the real engine:
open a photo, paint translations through soft masks, layers, undo, progress and cancel, failed translations.
The project, the mask brush, the file state and the cache are tested without a window first; projects, exports,
bad photos and recovery are in test_brush_projects.py."""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QInputDialog

from app.brushes.composite import blend
from app.brushes.page import StyleBrushPage
from app.brushes.photos import photo_key
from app.brushes.project import PHOTO, RESULT, BrushProject, brush_document
from app.brushes.state_io import ProjectFormatError, project_members, state_from_members
from app.brushes.tools import BrushSettings, MaskEraser, MaskTool
from app.brushes.translations import CANCELLED, FAILED, READY, Key, TranslationCache
from tests.app.brush_page_fixtures import (  # noqa: F401 (fixtures are found by name)
    WAIT,
    brush,
    choose_file,
    cut,
    cyclegan,
    dialogs,
    menu,
    open_photo,
    page,
    pick,
    stroke,
    wait_translated,
    write_photo,
)
from tests.app.conftest import files_done

WALLPAPER = Path("/usr/share/wallpapers/Autumn/contents/images/1280x800.jpg")


# --- the project, the brush, the file state and the cache, without a window ------------------------------------


def _project(size=(40, 60), layers: int = 1) -> BrushProject:
    photo = np.random.default_rng(0).random((*size, 3)).astype(np.float32)
    project = BrushProject(brush_document(photo), photo_key(photo))
    for _ in range(layers):
        project.add_layer("m", "AtoB")
    return project


def _paint(project: BrushProject, points: list[tuple[float, float]], settings: BrushSettings, *, erase=False) -> None:
    tool = (MaskEraser if erase else MaskTool)(lambda: project, settings, lambda text: None)
    assert tool.press(QPointF(*points[0]), Qt.KeyboardModifier.NoModifier)
    for p in points[1:]:
        tool.move(QPointF(*p), Qt.MouseButton.LeftButton)
    tool.release(QPointF(*points[-1]))


def test_strokes_and_layer_changes_share_one_history_and_a_deleted_mask_comes_back() -> None:
    project = _project()
    first = project.layers[0]
    settings = BrushSettings(brush_size=10, hardness=1.0, strength=1.0)
    _paint(project, [(10, 10), (30, 10)], settings)
    painted = project.mask(first.id).copy()
    assert painted[10, 10:31].min() == 1.0 and painted.sum() > 0 and project.undo_text == "Brush"
    project.set_opacity(first.id, 0.3, final=False)
    project.set_opacity(first.id, 0.6, final=False)
    project.set_opacity(first.id, 0.6)  # a drag: one step
    second = project.add_layer("m", "BtoA")
    _paint(project, [(40, 30)], settings)
    project.rename(second.id, "  Zebra   stripes ")
    project.move_layer(second.id, -1)
    project.set_visible(first.id, False)
    project.remove_layer(second.id)
    assert [la.id for la in project.layers] == [first.id]
    history = []
    while project.can_undo:
        history.append(project.undo_text)
        project.undo()
    assert history == ["Delete Zebra stripes", "Hide Brush 1", "Move Zebra stripes down",
                       "Rename Brush 2 to Zebra stripes", "Brush", "Add Brush 2", "Opacity of Brush 1", "Brush",
                       "Add Brush 1"]
    assert project.layers == () and not project.mask(first.id).any()
    while project.can_redo:
        project.redo()
    project.undo()  # the deletion: the layer and its painted mask are back
    layer = project.layer(second.id)
    assert layer.name == "Zebra stripes" and project.mask(second.id)[30, 40] == 1.0
    assert np.array_equal(project.mask(first.id), painted) and project.layer(first.id).opacity == 0.6


def test_soft_brush_feathers_with_hardness_and_a_stroke_lays_at_most_its_strength() -> None:
    project = _project((60, 80))
    layer = project.layers[0]
    _paint(project, [(40.0, 30.0)], BrushSettings(brush_size=20, hardness=0.0, strength=1.0))
    soft = project.mask(layer.id)[30, 40:52].copy()  # from the centre outwards
    assert soft[0] > 0.95 and soft[-1] == 0 and np.all(np.diff(soft) <= 0) and 0.2 < soft[6] < 0.8
    project.undo()
    _paint(project, [(40.0, 30.0)], BrushSettings(brush_size=20, hardness=1.0, strength=1.0))
    hard = project.mask(layer.id)[30, 40:52]
    assert (hard[:9] == 1).all() and (hard[11:] == 0).all()  # one anti-aliased pixel at the edge
    project.undo()

    half = BrushSettings(brush_size=20, hardness=1.0, strength=0.5)
    _paint(project, [(20, 30), (60, 30), (20, 30), (60, 30)], half)  # over the same spot again: no build-up
    mask = project.mask(layer.id)
    assert abs(mask[30, 40] - 0.5) < 1e-6
    _paint(project, [(40, 30)], half)  # a second stroke adds: 0.5 + 0.5 * 0.5
    assert abs(mask[30, 40] - 0.75) < 1e-6 and abs(mask[30, 25] - 0.5) < 1e-6
    _paint(project, [(40, 30)], BrushSettings(brush_size=6, hardness=1.0, strength=1.0), erase=True)
    assert mask[30, 40] == 0 and abs(mask[30, 25] - 0.5) < 1e-6
    _paint(project, [(25, 30)], BrushSettings(brush_size=4, hardness=1.0, strength=0.5), erase=True)
    assert abs(mask[30, 25] - 0.25) < 1e-6


def test_state_members_round_trip_and_refuse_damage() -> None:
    project = _project((30, 50), layers=2)
    a, b = project.layers
    project.set_opacity(a.id, 0.25)
    project.set_visible(b.id, False)
    _paint(project, [(10, 10), (40, 20)], BrushSettings(brush_size=8, hardness=0.3, strength=0.7))
    translation = np.random.default_rng(1).integers(0, 256, (30, 50, 3), dtype=np.uint8)
    key = Key("m", "BtoA", project.photo_key)
    members = project_members(project, {key: translation})
    state = state_from_members(members, (30, 50), project.photo_key, "p.ora")
    assert state.layers == project.layers
    assert np.array_equal(state.masks[b.id], project.mask(b.id)) and state.masks[b.id].any()
    assert np.array_equal(state.translations[key], translation)
    assert not state_from_members(members, (30, 50), "another photo", "p.ora").translations

    broken = dict(members)
    broken[f"i2i-studio/brushes/{b.id}_mask.f32z"] = b"not compressed"
    with pytest.raises(ProjectFormatError, match=f"{b.id}_mask.f32z is damaged"):
        state_from_members(broken, (30, 50), project.photo_key, "p.ora")
    broken[f"i2i-studio/brushes/{b.id}_mask.f32z"] = zlib.compress(bytes(4 * 10**7))  # a bomb: inflated no further
    with pytest.raises(ProjectFormatError, match="does not fit the photo's size"):
        state_from_members(broken, (30, 50), project.photo_key, "p.ora")
    with pytest.raises(ProjectFormatError, match="do not fit the photo"):
        state_from_members(members, (31, 50), project.photo_key, "p.ora")
    with pytest.raises(ProjectFormatError, match="no Style Brushes state"):
        state_from_members({}, (30, 50), project.photo_key, "p.ora")


def test_translation_cache_is_bounded_in_bytes_and_keeps_what_the_project_uses() -> None:
    image = np.zeros((10, 10, 3), np.uint8)  # 300 bytes
    cache = TranslationCache(max_bytes=1000)
    keys = [Key("m", "AtoB", str(i)) for i in range(5)]
    cache.pin([keys[0]])
    for key in keys[:4]:
        cache.put(key, image)
    assert keys[0] in cache and keys[1] not in cache and len(cache) == 3 and cache.nbytes <= 1000
    cache.get(keys[2])  # used: now the most recent
    cache.put(keys[4], image)
    assert keys[0] in cache and keys[2] in cache and keys[3] not in cache
    cache.pin(keys)  # more in use than the budget: none goes
    cache.put(Key("m", "AtoB", "x"), image)
    assert all(k in cache for k in (keys[0], keys[2], keys[4])) and cache.get(keys[0]).flags.writeable is False


# --- the page, as a user drives it ----------------------------------------------------------------------


def expected_composite(page: StyleBrushPage) -> np.ndarray:
    project = page.project
    photo = project.document.layer(PHOTO).data
    layers = [(page.translation(la), project.mask(la.id), la.opacity) for la in project.layers
              if la.visible and page.translation(la) is not None]
    return blend(photo, layers, (0, 0, project.size[1], project.size[0]))


def test_painting_shows_the_translation_only_under_the_mask(main_window, page, cyclegan, qtbot, monkeypatch,
                                                          tmp_path):
    assert page.views.currentWidget() is page.placeholder  # the empty state says what to do
    choose_file(monkeypatch, write_photo(tmp_path / "photo.png", (180, 240)))
    menu(main_window, "File", "Open Photo").trigger()
    files_done(qtbot, page)
    pick(page, cyclegan)
    wait_translated(qtbot, page)
    project = page.project
    layer = project.layers[0]
    assert (layer.model_id, layer.direction) == (cyclegan.id, "AtoB") and page.views.currentWidget() is page.canvas
    photo, result = project.document.layer(PHOTO).data, project.document.layer(RESULT).data
    translation = page.translation(layer).astype(np.float32) / 255
    assert np.array_equal(result, photo) and np.abs(translation - photo).mean() > 0.05

    qtbot.keyClick(page.canvas, Qt.Key.Key_B)
    brush(page, 24)
    converted = page.canvas.converted_pixels
    stroke(qtbot, page.canvas, [(60, 90), (120, 90), (180, 90)])
    mask = project.mask(layer.id)
    inside, outside = mask == 1, mask == 0
    assert inside[90, 60:181].all() and inside.sum() > 20 * 120 and outside[:70].all() and outside[111:].all()
    assert np.abs(result[inside] - translation[inside]).max() < 1e-6  # the translation, pixel for pixel
    assert np.array_equal(result[outside], photo[outside])  # the photo everywhere else
    assert np.abs(result - expected_composite(page)).max() < 1e-6
    assert page.canvas.converted_pixels - converted < 0.5 * 180 * 240  # only the dabs were redrawn
    assert project.undo_text == "Brush" and page.translator.submitted.count(page.key(layer)) == 1

    qtbot.keyClick(page.canvas, Qt.Key.Key_Backslash)  # before/after
    assert page.before_after.isChecked() and not project.document.layer(RESULT).visible
    qtbot.keyClick(page.canvas, Qt.Key.Key_Backslash)
    assert project.document.layer(RESULT).visible and project.undo_text == "Brush"  # looking is no edit
    assert layer.mask not in page.canvas.shown_layers
    qtbot.keyClick(page.canvas, Qt.Key.Key_M)  # the mask as a tint over the photo, and back
    assert layer.mask in page.canvas.shown_layers
    qtbot.keyClick(page.canvas, Qt.Key.Key_M)
    assert layer.mask not in page.canvas.shown_layers


def test_hardness_feathers_the_edge_and_strength_and_opacity_scale_the_blend(page, cyclegan, qtbot, tmp_path):
    project = open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (160, 200), seed=1), cyclegan)
    layer = project.layers[0]
    result, photo = project.document.layer(RESULT).data, project.document.layer(PHOTO).data
    translation = page.translation(layer).astype(np.float32) / 255
    brush(page, 40, hardness=0)
    stroke(qtbot, page.canvas, [(60, 80)])
    row = project.mask(layer.id)[80, 60:84]
    assert row[0] > 0.9 and row[-1] == 0 and np.all(np.diff(row) <= 1e-6) and ((row > 0.05) & (row < 0.95)).sum() >= 8
    weight = project.mask(layer.id)[..., None]
    assert np.abs(result - (photo + (translation - photo) * weight)).max() < 1e-5  # a soft, graded edge

    brush(page, 20, hardness=100, strength=50)
    stroke(qtbot, page.canvas, [(150, 40)])
    assert abs(project.mask(layer.id)[40, 150] - 0.5) < 1e-6
    page.layers_panel.opacity.setValue(40)  # the layer's opacity scales it again
    assert project.layer(layer.id).opacity == 0.4
    expected = photo[40, 150] + (translation[40, 150] - photo[40, 150]) * 0.5 * 0.4
    assert np.abs(result[40, 150] - expected).max() < 1e-5
    assert np.abs(result - expected_composite(page)).max() < 1e-6

    qtbot.keyClick(page.canvas, Qt.Key.Key_E)  # the eraser takes it out again
    brush(page, 30, hardness=100, strength=100)
    stroke(qtbot, page.canvas, [(150, 40)])
    assert project.mask(layer.id)[40, 150] == 0 and np.array_equal(result[40, 150], photo[40, 150])


def test_two_layers_composite_in_order_and_hide(page, cyclegan, cut, qtbot, tmp_path):
    project = open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (120, 160), seed=2), cyclegan)
    low = project.layers[0]
    brush(page, 30)
    stroke(qtbot, page.canvas, [(40, 60), (100, 60)])
    qtbot.mouseClick(page.layers_panel.add, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.layers_panel.list.count() == 2)
    high = project.selected
    assert project.layers[-1] is high and high.model_id == low.model_id
    pick(page, cut)
    wait_translated(qtbot, page)
    assert not page.layers_panel.direction_picker.isVisible()  # CUT holds one direction
    stroke(qtbot, page.canvas, [(70, 60), (130, 60)])
    result, photo = project.document.layer(RESULT).data, project.document.layer(PHOTO).data
    under_cut = page.translation(project.layer(high.id)).astype(np.float32) / 255
    under_cyclegan = page.translation(low).astype(np.float32) / 255
    assert np.abs(result[60, 75] - under_cut[60, 75]).max() < 1e-6  # the top layer wins where both paint
    assert np.abs(result[60, 45] - under_cyclegan[60, 45]).max() < 1e-6

    qtbot.mouseClick(page.layers_panel.down, Qt.MouseButton.LeftButton)  # reorder: CUT goes under
    assert [la.id for la in project.layers] == [high.id, low.id]
    assert np.abs(result[60, 75] - under_cyclegan[60, 75]).max() < 1e-6
    assert np.abs(result[60, 125] - under_cut[60, 125]).max() < 1e-6
    qtbot.wait(20)  # the list shows the new order
    rows = page.layers_panel.list
    assert [rows.item(i).data(Qt.ItemDataRole.UserRole) for i in range(rows.count())] == [low.id, high.id]
    rows.item(0).setCheckState(Qt.CheckState.Unchecked)  # hide the CycleGAN layer
    assert not project.layer(low.id).visible
    assert np.abs(result[60, 75] - under_cut[60, 75]).max() < 1e-6 and np.array_equal(result[60, 45], photo[60, 45])
    assert np.abs(result - expected_composite(page)).max() < 1e-6

    qtbot.wait(20)
    rows.setCurrentRow(0)  # the other direction of the CycleGAN
    qtbot.wait(20)
    assert project.selected.id == low.id
    directions = page.layers_panel.direction_picker
    assert directions.isVisible() and directions.count() == 2
    pick(page, cyclegan, "BtoA")
    wait_translated(qtbot, page)
    assert np.abs(page.translation(project.layer(low.id)).astype(np.float32) / 255 - under_cyclegan).mean() > 0.02


def test_undo_and_redo_cover_strokes_and_layer_changes(main_window, page, cyclegan, qtbot, monkeypatch, tmp_path):
    project = open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (100, 140), seed=3), cyclegan)
    layer = project.layers[0]
    result = project.document.layer(RESULT).data
    untouched, before = result.copy(), project.undo_text  # picking the model (off the built-in) is undoable too
    brush(page, 20)
    stroke(qtbot, page.canvas, [(30, 50), (90, 50)])
    painted = result.copy()
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("Zebra", True))
    qtbot.mouseClick(page.layers_panel.rename_button, Qt.MouseButton.LeftButton)
    page.layers_panel.opacity.setValue(30)
    assert project.layer(layer.id).name == "Zebra" and project.layer(layer.id).opacity == 0.3
    faded = result.copy()

    menu(main_window, "Edit", "Undo Opacity of Zebra").trigger()
    assert np.array_equal(result, painted)
    menu(main_window, "Edit", "Undo Rename").trigger()
    assert project.layer(layer.id).name == "Brush 1"
    menu(main_window, "Edit", "Undo Brush").trigger()
    assert np.array_equal(result, untouched) and not project.mask(layer.id).any() and project.undo_text == before
    qtbot.keyClick(page.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert np.array_equal(result, painted)
    menu(main_window, "Edit", "Redo Rename").trigger()
    menu(main_window, "Edit", "Redo Opacity").trigger()
    assert np.array_equal(result, faded) and project.layer(layer.id).name == "Zebra"
    qtbot.mouseClick(page.layers_panel.delete, Qt.MouseButton.LeftButton)
    assert not project.layers and np.array_equal(result, untouched)
    menu(main_window, "Edit", "Undo Delete Zebra").trigger()
    assert np.array_equal(result, faded)


def test_progress_shows_with_cancel_and_the_mask_waits_for_the_translation(page, cyclegan, qtbot, tmp_path):
    shown = []
    # (a state of None: the built-in brush's translation, cancelled and forgotten when the layer's model changes)
    page.translator.changed.connect(lambda key: shown.append((page.progress.isVisible(), page.cancel.isVisible(),
                                                              getattr(page.translator.state(key), "status", None))))
    assert page.files.open_photo_file(write_photo(tmp_path / "photo.png", (120, 160), seed=6)).wait()
    pick(page, cyclegan)
    project = page.project
    layer = project.layers[0]
    assert page.progress.isVisible() and page.cancel.isVisible() and "translating" in page.layer_status(layer).text
    qtbot.mouseClick(page.cancel, Qt.MouseButton.LeftButton)
    assert not page.progress.isVisible() and page.translator.state(page.key(layer)).status == CANCELLED
    assert page.layers_panel.retry.isVisible() and "cancelled" in page.status_label.text()

    brush(page, 30)  # painting before the translation is there: the mask is kept (and tinted)
    stroke(qtbot, page.canvas, [(40, 60), (120, 60)])
    mask = project.mask(layer.id).copy()
    assert mask[60, 40:121].min() == 1 and layer.mask in page.canvas.shown_layers
    assert np.array_equal(project.document.layer(RESULT).data, project.document.layer(PHOTO).data)

    qtbot.mouseClick(page.layers_panel.retry, Qt.MouseButton.LeftButton)
    wait_translated(qtbot, page)
    assert (True, True, "running") in shown and shown[-1] == (False, False, READY)
    assert np.array_equal(project.mask(layer.id), mask) and layer.mask not in page.canvas.shown_layers
    translation = page.translation(layer).astype(np.float32) / 255
    result = project.document.layer(RESULT).data
    assert np.abs(result[mask == 1] - translation[mask == 1]).max() < 1e-6


def test_a_failed_translation_says_why_on_the_layer_and_keeps_the_mask(page, cyclegan, qtbot, tmp_path):
    model_file = Path(cyclegan.source)
    hidden = model_file.rename(model_file.with_suffix(".away"))
    assert page.files.open_photo_file(write_photo(tmp_path / "photo.png", (80, 100), seed=7)).wait()
    pick(page, cyclegan)
    project = page.project
    layer = project.layers[0]
    qtbot.waitUntil(lambda: page.translator.state(page.key(layer)).status == FAILED, timeout=WAIT)
    note = page.layer_status(layer)
    assert note.error and "is gone" in note.text and page.layers_panel.status.text() == note.text
    assert page.status_label.property("role") == "error"
    brush(page, 20)
    stroke(qtbot, page.canvas, [(30, 40), (70, 40)])
    assert project.mask(layer.id)[40, 30:71].min() == 1 and page.translator.submitted.count(page.key(layer)) == 1

    hidden.rename(model_file)
    qtbot.mouseClick(page.layers_panel.retry, Qt.MouseButton.LeftButton)
    wait_translated(qtbot, page)
    assert not page.layer_status(layer).text and not page.layers_panel.retry.isVisible()
    assert np.abs(project.document.layer(RESULT).data - expected_composite(page)).max() < 1e-6


def test_a_second_layer_with_the_same_model_reuses_the_cached_translation(page, cyclegan, qtbot, tmp_path):
    project = open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (100, 100), seed=8), cyclegan)
    submitted = len(page.translator.submitted)
    qtbot.mouseClick(page.layers_panel.add, Qt.MouseButton.LeftButton)
    second = project.selected
    assert page.key(second) == page.key(project.layers[0]) and page.translation(second) is not None
    assert len(page.translator.submitted) == submitted and not page.translator.busy
    brush(page, 16)
    stroke(qtbot, page.canvas, [(50, 50)])
    assert np.abs(project.document.layer(RESULT).data - expected_composite(page)).max() < 1e-6
    assert project.mask(second.id)[50, 50] == 1 and not project.mask(project.layers[0].id).any()


def test_screenshot_of_the_page_with_a_real_photo(main_window, page, cyclegan, qtbot, tmp_path):
    if not WALLPAPER.is_file():
        pytest.skip("no wallpapers installed")
    folder = Path(os.environ.get("I2I_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    main_window.resize(1400, 860)
    qtbot.wait(50)
    main_window.grab().save(str(folder / "brushes_page_empty.png"))
    photo = tmp_path / "wallpaper.jpg"
    with Image.open(WALLPAPER) as image:  # a real photo, at a size the tiny model translates in a second
        image.resize((960, 600), Image.Resampling.LANCZOS).save(photo, quality=92)
    project = open_photo(qtbot, page, photo, cyclegan)
    h, w = project.size
    brush(page, 60, hardness=40)
    stroke(qtbot, page.canvas, [(w * 0.45, h * 0.3), (w * 0.7, h * 0.45), (w * 0.9, h * 0.5)])
    page.add_layer()
    page.layers_panel.refresh()
    pick(page, cyclegan, "BtoA")
    wait_translated(qtbot, page)
    stroke(qtbot, page.canvas, [(w * 0.1, h * 0.8), (w * 0.4, h * 0.85)])
    qtbot.wait(50)
    main_window.grab().save(str(folder / "brushes_page.png"))
    assert (folder / "brushes_page.png").stat().st_size > 10_000
