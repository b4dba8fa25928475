"""The painter as the GUI tests drive it: the page in a main window, the small official SPADE and a tiny SPADE
with a style encoder imported through the Library and picked, strokes in document pixels, file dialogs
answered; message boxes answer from a record.

Test modules import the fixtures they use by name (dialogs is autouse: importing it records every message
box)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QFileDialog

from app.main_window import MainWindow
from app.painter.page import PainterPage
from engine.models.spade import ConvEncoder, SPADEGenerator
from tests.app.conftest import fake_message_boxes
from tests.conftest import REPO

EMBEDDED = REPO / "resources" / "models" / "spade_landscape.safetensors"
ADE_OPTIONS = {"label_nc": 8, "contain_dontcare_label": True, "crop_size": 160, "aspect_ratio": 5 / 3}
WAIT = 30_000


@pytest.fixture(autouse=True)
def dialogs(monkeypatch) -> dict:
    """Message boxes answer from `dialogs["answer"]` and are recorded instead of blocking."""
    return fake_message_boxes(monkeypatch)


def choose_file(monkeypatch, path: Path | str) -> None:
    """The next file dialog (open or save) answers `path`."""
    for name in ("getOpenFileName", "getSaveFileName"):
        monkeypatch.setattr(QFileDialog, name, lambda *a, **k: (str(path), ""))


def import_model(window: MainWindow, qtbot, path: Path, options: dict) -> object:
    done: list = []
    window.catalog.import_checkpoint(str(path), done.append, options)
    qtbot.waitUntil(lambda: bool(done) and window.catalog.get(done[0].id) is not None, timeout=WAIT)
    return done[0]


def use_model(page: PainterPage, entry) -> None:
    """Pick `entry` in the model picker, as a user would."""
    index = page.model_picker.findData(entry.id)
    assert index >= 0, f"{entry.id} is not offered"
    page.model_picker.setCurrentIndex(index)
    page.model_picker.activated.emit(index)
    assert page.entry == entry


@pytest.fixture
def page(main_window) -> PainterPage:
    return main_window.painter


@pytest.fixture
def ade(main_window, qtbot, spade_checkpoint, page):
    """The small official-format SPADE (9 classes, no palette) on a blank 128x192 document."""
    entry = import_model(main_window, qtbot, spade_checkpoint, ADE_OPTIONS)
    use_model(page, entry)
    page.new_document(np.zeros((128, 192), np.uint8))
    wait_full(qtbot, page)
    return entry


@pytest.fixture
def vae(main_window, qtbot, page, tmp_path):
    """A tiny SPADE with a style encoder (fixed 128x128 output) on a blank document."""
    torch.manual_seed(0)
    folder = tmp_path / "vae_tiny"
    folder.mkdir()
    torch.save(SPADEGenerator(ngf=2, semantic_nc=5, z_dim=16, latent_hw=(4, 4)).state_dict(),
               folder / "latest_net_G.pth")
    torch.save(ConvEncoder(ngf=2, z_dim=16, crop_size=128).state_dict(), folder / "latest_net_E.pth")
    entry = import_model(main_window, qtbot, folder / "latest_net_G.pth", {"label_nc": 5, "crop_size": 128})
    use_model(page, entry)
    labels = np.zeros((128, 128), np.uint8)
    labels[64:] = 3
    page.new_document(labels)
    wait_full(qtbot, page)
    return entry


def wait_full(qtbot, page: PainterPage) -> np.ndarray:
    with qtbot.waitSignal(page.scheduler.rendered, timeout=WAIT, check_params_cb=lambda kind, _: kind == "full") as s:
        pass
    return s.args[1]


def screen(view, x: float, y: float) -> QPoint:
    """Widget position of document pixel (x, y)'s centre."""
    origin = view.map_to_document(QPointF(0, 0))
    return QPoint(round((x + 0.5 - origin.x()) * view.zoom), round((y + 0.5 - origin.y()) * view.zoom))


def stroke(qtbot, view, points: list[tuple[int, int]], *, between=None) -> None:
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=screen(view, *points[0]))
    for i, p in enumerate(points[1:]):
        qtbot.mouseMove(view, screen(view, *p))
        if between:
            between(i)
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=screen(view, *points[-1]))


def tool(page: PainterPage, key: str, qtbot) -> None:
    qtbot.keyClick(page.canvas, key)
    assert page.canvas.tool is page.tools[key]
