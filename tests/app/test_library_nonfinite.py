"""Models > Library with weights that hold NaN or infinite values: refused unless the user says import anyway."""

from __future__ import annotations

import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.library_dialog import COLUMNS, LibraryDialog
from tests.translation_fixtures import tiny_generator


@pytest.fixture
def library(main_window, menu_action, qtbot) -> LibraryDialog:
    menu_action(main_window, "Models", "Library…").trigger()
    dialog = main_window.library()
    qtbot.waitExposed(dialog)
    return dialog


def imported(dialog: LibraryDialog) -> list[str]:
    origin, ids = COLUMNS.index("Origin"), COLUMNS.index("ID")
    return [dialog.table.item(r, ids).text() for r in range(dialog.table.rowCount())
            if dialog.table.item(r, origin).text() == "imported"]


@pytest.mark.parametrize("answer", [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes])
def test_nonfinite_weights_ask_import_anyway(answer, library, qtbot, monkeypatch, tmp_path):
    weights = tiny_generator("cyclegan").state_dict()
    weights["model.1.weight"].view(-1)[:2] = float("nan")
    path = tmp_path / "broken.pth"
    torch.save(weights, path)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *args, **kwargs: asked.append(args) or answer))
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(lambda *args, **kwargs: ([str(path)], "")))
    qtbot.mouseClick(library.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(asked), timeout=20_000)
    question = asked[0][2]
    assert question.startswith("broken.pth: 2 weights are NaN or infinite (in model.1.weight).")
    assert "Import it anyway?" in question and "--allow-nonfinite" not in question
    if answer == QMessageBox.StandardButton.No:
        qtbot.waitUntil(lambda: library.message.property("role") == "error", timeout=5_000)
        assert "NaN or infinite" in library.message.text() and imported(library) == []
        return
    qtbot.waitUntil(lambda: len(imported(library)) == 1, timeout=20_000)
    qtbot.waitUntil(lambda: "WARNING" in library.message.text(), timeout=5_000)
    assert library.message.property("role") == "error" and len(asked) == 1
    entry = library._catalog.get(imported(library)[0])
    assert entry.notes.startswith("WARNING: 2 weights are NaN or infinite")
    qtbot.waitUntil(lambda: "notes: WARNING" in library.details.toPlainText(), timeout=5_000)
