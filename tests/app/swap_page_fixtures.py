"""The Swap & Edit page as the GUI tests drive it: the page in a main window, a tiny random Swapping Autoencoder
imported through the Library and picked, photos, menus, drops and cell strokes; message boxes answer from a record.

Test modules import the fixtures they use by name (dialogs is autouse: importing it records every message box)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog

from app.main_window import MainWindow
from app.sae.page import SwapPage
from app.sae.stack import SwapProject
from tests.app.conftest import fake_message_boxes
from tests.sae_fixtures import write_tiny_sae

WAIT = 30_000
CELL = 8  # the tiny model's cell


@pytest.fixture(autouse=True)
def dialogs(monkeypatch) -> dict:
    """Message boxes answer from `dialogs["answer"]` and are recorded instead of blocking."""
    return fake_message_boxes(monkeypatch)


def write_photo(path: Path, size: tuple[int, int], seed: int = 0, mode: str = "RGB") -> Path:
    """A photo-like image: smooth colour fields, a few shapes and some grain, so codes vary across it."""
    rng = np.random.default_rng(seed)
    h, w = size
    ys, xs = np.mgrid[0:h, 0:w] / max(h, w)
    image = np.stack([np.sin(6 * xs + seed) * 0.5 + 0.5, ys, np.cos(5 * (xs + ys) + 2 * seed) * 0.5 + 0.5], -1)
    for _ in range(4):
        y0, x0 = rng.integers(0, h // 2), rng.integers(0, w // 2)
        image[y0:y0 + h // 4, x0:x0 + w // 4] = rng.random(3)
    image = np.clip(image + rng.normal(0, 0.03, image.shape), 0, 1)
    rgb = (image * 255).astype(np.uint8)
    if mode == "RGBA":
        Image.fromarray(rgb).convert("RGBA").save(path)
    elif mode == "L":
        Image.fromarray(rgb).convert("L").save(path)
    elif mode == "I;16":
        Image.fromarray((image[..., 0] * 65535).astype(np.uint16)).save(path)
    else:
        Image.fromarray(rgb).save(path)
    return path


def view_action(window: MainWindow) -> QAction:
    for top in window.menuBar().actions():
        if top.text().replace("&", "") == "View":
            return next(a for a in top.menu().actions() if a.text() == "Swap && Edit")
    raise LookupError("no View > Swap & Edit")


def menu(window: MainWindow, title: str, text: str) -> QAction:
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
def page(main_window, qtbot) -> SwapPage:
    view_action(main_window).trigger()
    assert main_window.tools.currentWidget() is main_window.swap
    return main_window.swap


@pytest.fixture
def tiny(main_window, page, qtbot, tmp_path):
    """The tiny random SAE, imported through the Library like a user's checkpoint, chosen on the page."""
    path = write_tiny_sae(tmp_path / "models" / "tiny_sae.safetensors")
    done: list = []
    main_window.catalog.import_checkpoint(str(path), done.append)
    qtbot.waitUntil(lambda: bool(done) and page.model_picker.findData(done[0].id) >= 0, timeout=WAIT)
    page.model_picker.setCurrentIndex(page.model_picker.findData(done[0].id))  # picked as a user would
    page.model_picker.activated.emit(page.model_picker.currentIndex())
    qtbot.waitUntil(lambda: page.session.entry is not None and page.session.entry.id == done[0].id, timeout=WAIT)
    assert not page.notice.isVisible()
    return done[0]


def wait_decoded(qtbot, page: SwapPage, kind: str = "full") -> None:
    qtbot.waitSignal(page.scheduler.decoded, timeout=WAIT, check_params_cb=lambda k: k == kind).wait()


def wait_idle(qtbot, page: SwapPage) -> None:
    """Until everything asked of the engine has come back (a stroke sends several requests in turn)."""
    qtbot.waitUntil(lambda: not page.scheduler.busy and not page.session.busy, timeout=WAIT)


def open_photo(qtbot, page: SwapPage, path: Path) -> SwapProject:
    with qtbot.waitSignal(page.scheduler.decoded, timeout=WAIT, check_params_cb=lambda k: k == "full"):
        assert page.files.open_photo_file(path).wait()
    return page.project


def drop(widget, paths: list[Path], modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    where = QPoint(30, 30)
    how = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, modifiers)
    enter = QDragEnterEvent(where, *how)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(widget, QDropEvent(QPointF(where), *how))


def screen(view, x: float, y: float) -> QPoint:
    origin = view.map_to_document(QPointF(0, 0))
    return QPoint(round((x + 0.5 - origin.x()) * view.zoom), round((y + 0.5 - origin.y()) * view.zoom))


def cell_pos(view, cy: int, cx: int) -> QPoint:
    return screen(view, cx * CELL + CELL / 2 - 0.5, cy * CELL + CELL / 2 - 0.5)


def stroke(qtbot, view, cells: list[tuple[int, int]], modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, modifiers, cell_pos(view, *cells[0]))
    for c in cells[1:]:
        qtbot.mouseMove(view, cell_pos(view, *c))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, modifiers, cell_pos(view, *cells[-1]))
