"""GUI test setup: headless Qt, a throwaway data dir and settings, a main window that cleans up."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is imported anywhere

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox

from app.app import identify_application
from app.engine_bridge import EngineBridge
from app.main_window import MainWindow
from app.theme import apply_theme

SPADE_ADE20K = Path("/work/shared/fixtures/official/spade/small/ade20k_like/latest_net_G.pth")


@pytest.fixture(autouse=True)
def isolated_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never touch the user's real catalog or QSettings."""
    data = tmp_path / "data"
    monkeypatch.setenv("I2I_STUDIO_DATA", str(data))
    monkeypatch.delenv("I2I_DEVICE", raising=False)
    identify_application()
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    return data


@pytest.fixture
def spade_checkpoint() -> Path:
    if not SPADE_ADE20K.is_file():
        pytest.skip(f"fixture missing: {SPADE_ADE20K}")
    return SPADE_ADE20K


@pytest.fixture
def main_window(qtbot, qapp) -> Iterator[MainWindow]:
    apply_theme(qapp)
    bridge = EngineBridge()
    window = MainWindow(bridge)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()
    bridge.shutdown()


@pytest.fixture
def menu_action() -> Callable[[MainWindow, str, str], QAction]:
    return find_menu_action


def files_done(qtbot, page, timeout: int = 60_000) -> None:
    """Wait until the page's file work (opening, saving, exporting, on the file lane) has ended."""
    qtbot.waitUntil(lambda: not page.files.busy, timeout=timeout)


def find_menu_action(window: MainWindow, menu: str, text: str) -> QAction:
    """The action a user would click: menu and entry titles without their & mnemonics."""
    for top in window.menuBar().actions():
        if top.text().replace("&", "") == menu:
            for action in top.menu().actions():
                if action.text().replace("&", "") == text:
                    return action
    raise LookupError(f"no {menu} > {text}")


def fake_message_boxes(monkeypatch: pytest.MonkeyPatch) -> dict:
    """Message boxes answer from the returned record's "answer" and are recorded in its "shown" as
    (kind, title, text) instead of blocking."""
    record: dict = {"answer": QMessageBox.StandardButton.Discard, "shown": []}

    def fake(kind):
        def show(parent, title, text, *args, **kwargs):
            record["shown"].append((kind, title, text))
            return record["answer"] if kind == "question" else QMessageBox.StandardButton.Ok
        return show

    for kind in ("question", "warning", "information", "critical"):
        monkeypatch.setattr(QMessageBox, kind, fake(kind))
    return record
