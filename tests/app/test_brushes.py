"""Style Brushes as a user drives it, with tiny random CycleGAN and CUT models running in the real engine:
open a photo, paint translations through soft masks, layers, undo, files, progress and cancel, bad input.
The project, the mask brush, the file state and the cache are tested without a window first."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QInputDialog, QMessageBox

from app.brushes import files as brush_files
from app.brushes.composite import blend
from app.brushes.page import StyleBrushPage
from app.brushes.photos import photo_key, read_photo
from app.brushes.project import PHOTO, RESULT, BrushProject, brush_document
from app.brushes.state_io import ProjectFormatError, project_members, state_from_members
from app.brushes.tools import BrushSettings, MaskEraser, MaskTool
from app.brushes.translations import CANCELLED, FAILED, READY, Key, TranslationCache
from app.main_window import MainWindow
from engine.api import MAX_TRANSLATE_PIXELS, ModelEntry
from tests.brush_fixtures import write_tiny_cut, write_tiny_cyclegan

WAIT = 60_000  # the engine first renders the painter's starter scene; a loaded machine needs the margin
WALLPAPER = Path("/usr/share/wallpapers/Autumn/contents/images/1280x800.jpg")


def write_photo(path: Path, size: tuple[int, int], seed: int = 0, mode: str = "RGB") -> Path:
    """Smooth colour fields with a few blocks and some grain: a translation of it varies across the photo."""
    rng = np.random.default_rng(seed)
    h, w = size
    ys, xs = np.mgrid[0:h, 0:w] / max(h, w)
    image = np.stack([np.sin(6 * xs + seed) * 0.5 + 0.5, ys, np.cos(5 * (xs + ys)) * 0.5 + 0.5], -1)
    for _ in range(3):
        y0, x0 = rng.integers(0, max(1, h // 2)), rng.integers(0, max(1, w // 2))
        image[y0:y0 + h // 4, x0:x0 + w // 4] = rng.random(3)
    rgb = (np.clip(image + rng.normal(0, 0.03, image.shape), 0, 1) * 255).astype(np.uint8)
    if mode == "I;16":
        Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(path)
    else:
        Image.fromarray(rgb).convert(mode).save(path)
    return path


def huge_header_png(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims width x height but whose data is a few bytes: refused before decoding."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
                     + chunk(b"IEND", b""))
    return path


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


@pytest.fixture(autouse=True)
def dialogs(monkeypatch) -> dict:
    """Message boxes answer from `dialogs["answer"]` and are recorded instead of blocking."""
    record: dict = {"answer": QMessageBox.StandardButton.Discard, "shown": []}

    def fake(kind):
        def show(parent, title, text, *args, **kwargs):
            record["shown"].append((kind, title, text))
            return record["answer"] if kind == "question" else QMessageBox.StandardButton.Ok
        return show

    for kind in ("question", "warning", "information", "critical"):
        monkeypatch.setattr(QMessageBox, kind, fake(kind))
    return record


def menu(window: MainWindow, title: str, text: str):
    for top in window.menuBar().actions():
        if top.text().replace("&", "") == title:
            for action in top.menu().actions():
                if action.text().replace("&", "").startswith(text) and action.isVisible():
                    return action
    raise LookupError(f"no visible {title} > {text}")


def choose_file(monkeypatch, path: Path | str) -> None:
    for name in ("getOpenFileName", "getSaveFileName"):
        monkeypatch.setattr(brush_files.QFileDialog, name, lambda *a, **k: (str(path), ""))


@pytest.fixture
def page(main_window) -> StyleBrushPage:
    menu(main_window, "View", "Style Brushes").trigger()
    assert main_window.tools.currentWidget() is main_window.brushes
    return main_window.brushes


def import_model(main_window, qtbot, path: Path) -> ModelEntry:
    done: list = []
    main_window.catalog.import_checkpoint(str(path), done.append)
    qtbot.waitUntil(lambda: bool(done) and main_window.catalog.get(done[0].id) is not None, timeout=WAIT)
    return done[0]


@pytest.fixture
def cyclegan(main_window, page, qtbot, tmp_path) -> ModelEntry:
    """A tiny two-direction CycleGAN, imported through the Library like a user's checkpoint."""
    return import_model(main_window, qtbot, write_tiny_cyclegan(tmp_path / "models" / "tiny_cyclegan.safetensors"))


@pytest.fixture
def cut(main_window, page, qtbot, tmp_path) -> ModelEntry:
    return import_model(main_window, qtbot, write_tiny_cut(tmp_path / "models" / "tiny_cut.safetensors", seed=3))


def wait_translated(qtbot, page: StyleBrushPage) -> None:
    """Until every layer with a model shows its translation."""
    qtbot.waitUntil(lambda: not page.translator.busy and all(
        page.translation(la) is not None for la in page.project.layers if la.model_id), timeout=WAIT)


def pick(page: StyleBrushPage, entry: ModelEntry, direction: str = "") -> None:
    """Choose the selected layer's model (and direction) in the Layer panel, as a user does."""
    panel = page.layers_panel
    if page.project.selected.model_id != entry.id:
        panel.model_picker.setCurrentIndex(panel.model_picker.findData(entry.id))
        panel.model_picker.activated.emit(panel.model_picker.currentIndex())
        panel.refresh()  # as the next turn of the event loop would
    if direction and page.project.selected.direction != direction:
        panel.direction_picker.setCurrentIndex(panel.direction_picker.findData(direction))
        panel.direction_picker.activated.emit(panel.direction_picker.currentIndex())
    assert page.project.selected.model_id == entry.id
    assert not direction or page.project.selected.direction == direction


def open_photo(qtbot, page: StyleBrushPage, path: Path, model: ModelEntry) -> BrushProject:
    """Open a photo and paint its first layer with `model` (the Library may list a built-in brush first)."""
    assert page.files.open_photo_file(path)
    pick(page, model)
    wait_translated(qtbot, page)
    return page.project


def screen(view, x: float, y: float) -> QPoint:
    """The screen point whose document position is (x, y) (within a screen pixel)."""
    origin = view.map_to_document(QPointF(0, 0))
    return QPoint(round((x - origin.x()) * view.zoom), round((y - origin.y()) * view.zoom))


def stroke(qtbot, view, points: list[tuple[float, float]]) -> None:
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=screen(view, *points[0]))
    for p in points[1:]:
        qtbot.mouseMove(view, screen(view, *p))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=screen(view, *points[-1]))


def brush(page: StyleBrushPage, size: int, hardness: int = 100, strength: int = 100) -> None:
    """Set the brush as a user does, in the Brush panel."""
    page.brush_panel.size.setValue(size)
    page.brush_panel.hardness.slider.setValue(hardness)
    page.brush_panel.strength.slider.setValue(strength)


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


def test_save_and_reopen_gives_the_same_composite_without_translating_again(main_window, page, cyclegan, cut, qtbot,
                                                                            monkeypatch, tmp_path, dialogs):
    project = open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (90, 130), seed=4), cyclegan)
    brush(page, 26, hardness=30, strength=80)
    stroke(qtbot, page.canvas, [(20, 40), (110, 50)])
    page.add_layer()
    pick(page, cut)
    wait_translated(qtbot, page)
    stroke(qtbot, page.canvas, [(60, 20), (60, 80)])
    page.layers_panel.opacity.setValue(70)
    composite = project.document.layer(RESULT).data.copy()
    layers = project.layers
    masks = [project.mask(la.id).copy() for la in layers]

    saved = tmp_path / "brushed.ora"
    choose_file(monkeypatch, saved)
    menu(main_window, "File", "Save Project As").trigger()
    assert saved.is_file() and not project.modified
    with zipfile.ZipFile(saved) as zf:
        merged = np.asarray(Image.open(zf.open("mergedimage.png")).convert("RGB"), np.float32) / 255
    assert np.abs(merged - composite).max() <= 1 / 255 + 1e-6  # other programs show the composite

    open_photo(qtbot, page, write_photo(tmp_path / "other.png", (64, 64), seed=5), cut)  # the last model used
    submitted = len(page.translator.submitted)
    page.translator.cache.max_bytes = 0  # nothing left over in memory: the file must bring the translations
    page.translator.cache.pin(())
    choose_file(monkeypatch, saved)
    menu(main_window, "File", "Open Project").trigger()
    again = page.project
    assert again is not project and again.layers == layers and not dialogs["shown"]
    for layer, mask in zip(again.layers, masks, strict=True):
        assert np.array_equal(again.mask(layer.id), mask)
    assert np.array_equal(again.document.layer(RESULT).data, composite)  # exactly, at once
    assert len(page.translator.submitted) == submitted
    page.files.export(tmp_path / "out.jpg")
    assert Image.open(tmp_path / "out.jpg").size == (130, 90)


def test_progress_shows_with_cancel_and_the_mask_waits_for_the_translation(page, cyclegan, qtbot, tmp_path):
    shown = []
    page.translator.changed.connect(lambda key: shown.append((page.progress.isVisible(), page.cancel.isVisible(),
                                                              page.translator.state(key).status)))
    assert page.files.open_photo_file(write_photo(tmp_path / "photo.png", (120, 160), seed=6))
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
    assert page.files.open_photo_file(write_photo(tmp_path / "photo.png", (80, 100), seed=7))
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


def test_bad_photos_give_a_message_and_keep_the_work(page, cyclegan, qtbot, tmp_path, dialogs):
    project = open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (64, 80), seed=9), cyclegan)
    brush(page, 16)
    stroke(qtbot, page.canvas, [(30, 30)])
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"plain text")
    narrow = write_photo(tmp_path / "narrow.png", (300, 1))
    huge = huge_header_png(tmp_path / "huge.png", 20000, 20000)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(write_photo(tmp_path / "whole.png", (200, 200)).read_bytes()[:400])
    for path, words in ((corrupt, "corrupt.jpg: the image is truncated or corrupt"),
                        (junk, "junk.png: not an image file"), (narrow, "1x300"), (huge, "too large"),
                        (truncated, "truncated.png")):
        assert not page.files.open_photo_file(path)
        kind, title, text = dialogs["shown"][-1]
        assert (kind, title) == ("warning", "Open Photo") and words in text and "\n" not in text, text
        assert page.project is project and project.mask(project.layers[0].id)[30, 30] == 1
    assert not any(kind == "question" for kind, *_ in dialogs["shown"])  # never asked to drop the work first
    big = huge_header_png(tmp_path / "big.png", 9000, 8000)  # 72 megapixels: under Pillow's limit, over ours
    assert not page.files.open_photo_file(big)
    assert f"{MAX_TRANSLATE_PIXELS // 1_000_000} megapixels" in dialogs["shown"][-1][2]


@pytest.mark.parametrize("mode, note", [("L", "greyscale"), ("RGBA", "transparent areas on white"),
                                        ("I;16", "16-bit, edited in 8 bits")])
def test_grey_transparent_and_16_bit_photos_are_converted(tmp_path, mode, note):
    photo = read_photo(write_photo(tmp_path / "photo.png", (40, 50), mode=mode))
    image = photo.image
    assert image.shape == (40, 50, 3) and image.dtype == np.float32 and note in photo.note
    assert np.array_equal(np.rint(image * 255).astype(np.float32) / 255.0, image)  # on the 8-bit grid
    if mode != "RGBA":
        assert np.array_equal(image[..., 0], image[..., 2])


def test_autosaved_work_is_offered_after_a_crash(page, cyclegan, qtbot, tmp_path, dialogs):
    project = open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (80, 90), seed=10), cyclegan)
    brush(page, 20)
    stroke(qtbot, page.canvas, [(20, 20), (70, 60)])
    composite = project.document.layer(RESULT).data.copy()
    page.files.autosave_now()
    note = next(page.files.autosave.folder.glob("*.json"))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    note.write_text(note.read_text().replace(f'"pid": {os.getpid()}', f'"pid": {int(gone.stdout)}'))
    page.set_project(None)  # as a fresh start would find it

    dialogs["answer"] = QMessageBox.StandardButton.Yes
    page.files.offer_recovery()
    assert dialogs["shown"][-1][1] == "Recover unsaved work"
    recovered = page.project
    assert recovered.modified and recovered.layers == project.layers
    assert np.array_equal(recovered.document.layer(RESULT).data, composite)
    assert page.files.autosave.pending() == []


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
