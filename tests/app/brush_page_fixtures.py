"""The Style Brushes page as the GUI tests drive it: the page in a main window, tiny CycleGAN and CUT models
imported through the Library, photos, menus, strokes and the brush; message boxes answer from a record.

Test modules import the fixtures they use by name (dialogs is autouse: importing it records every message box)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QFileDialog

from app.brushes.page import StyleBrushPage
from app.brushes.project import BrushProject
from app.main_window import MainWindow
from engine.api import ModelEntry
from tests.app.conftest import fake_message_boxes
from tests.brush_fixtures import write_tiny_cut, write_tiny_cyclegan

WAIT = 60_000  # the engine first renders the painter's starter scene; a loaded machine needs the margin


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


@pytest.fixture(autouse=True)
def dialogs(monkeypatch) -> dict:
    """Message boxes answer from `dialogs["answer"]` and are recorded instead of blocking."""
    return fake_message_boxes(monkeypatch)


def menu(window: MainWindow, title: str, text: str):
    for top in window.menuBar().actions():
        if top.text().replace("&", "") == title:
            for action in top.menu().actions():
                if action.text().replace("&", "").startswith(text) and action.isVisible():
                    return action
    raise LookupError(f"no visible {title} > {text}")


def choose_file(monkeypatch, path: Path | str) -> None:
    for name in ("getOpenFileName", "getSaveFileName"):
        monkeypatch.setattr(QFileDialog, name, lambda *a, **k: (str(path), ""))


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
    assert page.files.open_photo_file(path).wait()
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
