"""Models > Library driven like a user: file dialog, drag and drop, a bad file, remove, screenshots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from app.library_dialog import LibraryDialog
from tests.translation_fixtures import tiny_generator


@pytest.fixture
def library(main_window, menu_action, qtbot) -> LibraryDialog:
    menu_action(main_window, "Models", "Library…").trigger()
    dialog = main_window.library()
    qtbot.waitExposed(dialog)
    return dialog


@pytest.fixture
def choose_files(monkeypatch):
    """Make the next file dialog answer with `paths`, as if the user had picked them."""

    def choose(*paths: Path) -> None:
        monkeypatch.setattr(QFileDialog, "getOpenFileNames",
                            staticmethod(lambda *args, **kwargs: ([str(p) for p in paths], "")))

    return choose


def listed(dialog: LibraryDialog) -> list[str]:
    """The methods of the models on the cards."""
    return [card.entry.method for card in dialog.cards]


def imported_ids(dialog: LibraryDialog) -> list[str]:
    return [card.entry.id for card in dialog.cards if card.badge.text() == "Imported"]


def import_with_button(dialog: LibraryDialog, qtbot, choose_files, path: Path) -> None:
    choose_files(path)
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(imported_ids(dialog)) == 1, timeout=20_000)


def test_import_button_lists_and_selects_the_model(library, main_window, qtbot, choose_files, spade_checkpoint):
    import_with_button(library, qtbot, choose_files, spade_checkpoint)
    new_id = imported_ids(library)[0]
    assert new_id.startswith("spade")
    qtbot.waitUntil(lambda: library.selected_id() == new_id, timeout=5_000)
    details = library.details.toPlainText()
    assert "Hyperparameters" in details and "label_nc" in details
    assert "Classes (" in details
    entry = main_window.catalog.get(new_id)
    assert f"{entry.classes[1][0]:>3} {entry.classes[1][1]}" in details  # "ID NAME"
    assert f"sha256: {entry.sha256}" in details  # on the details tab, never on the card
    card = next(c for c in library.cards if c.entry.id == new_id)
    assert card.property("selected") and entry.sha256[:12] not in card.licence.text() + card.what.text()
    assert not library.busy.isVisible()


def test_import_options_reach_the_engine(library, main_window, qtbot, choose_files, spade_checkpoint):
    qtbot.keyClicks(library.options, "label_nc=8 contain_dontcare_label=True crop_size=160 aspect_ratio=1.6666666666666667")
    import_with_button(library, qtbot, choose_files, spade_checkpoint)
    entry = main_window.catalog.get(imported_ids(library)[0])
    assert entry.hparams["label_nc"] == 8 and entry.hparams["output_hw"] == [96, 160]
    assert entry.hparams["assumed"] == ["num_upsampling_layers"]  # normal vs more: not in the weights


def test_malformed_import_options_are_reported(library, qtbot, choose_files, spade_checkpoint):
    qtbot.keyClicks(library.options, "label_nc")
    choose_files(spade_checkpoint)
    qtbot.mouseClick(library.import_button, Qt.MouseButton.LeftButton)
    assert library.message.property("role") == "error" and "NAME=VALUE" in library.message.text()
    assert imported_ids(library) == []


def test_dropping_a_file_imports_it(library, qtbot, spade_checkpoint):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(spade_checkpoint))])
    enter = QDragEnterEvent(QPoint(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(library, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(library, drop)
    assert drop.isAccepted()
    qtbot.waitUntil(lambda: "spade" in listed(library), timeout=20_000)


def test_bad_file_shows_one_line_error_and_dialog_stays_usable(library, qtbot, choose_files, tmp_path,
                                                               spade_checkpoint):
    bad = tmp_path / "notes.txt"
    bad.write_text("this is not a checkpoint\nat all\n")
    choose_files(bad)
    qtbot.mouseClick(library.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: library.message.property("role") == "error", timeout=20_000)
    text = library.message.text()
    assert "notes.txt" in text and "\n" not in text and "Traceback" not in text
    assert library.isVisible() and imported_ids(library) == []
    import_with_button(library, qtbot, choose_files, spade_checkpoint)
    assert library.message.property("role") == "muted"


def test_remove_asks_then_removes(library, qtbot, choose_files, monkeypatch, spade_checkpoint):
    import_with_button(library, qtbot, choose_files, spade_checkpoint)
    qtbot.waitUntil(library.remove_button.isEnabled, timeout=5_000)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(
        lambda *args, **kwargs: asked.append(args) or QMessageBox.StandardButton.Yes))
    qtbot.mouseClick(library.remove_button, Qt.MouseButton.LeftButton)
    assert asked
    qtbot.waitUntil(lambda: imported_ids(library) == [], timeout=20_000)
    assert not library.remove_button.isEnabled()


def test_screenshots(main_window, menu_action, qtbot, choose_files, tmp_path, spade_checkpoint):
    out = Path(os.environ.get("I2I_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    choose_files(spade_checkpoint)
    menu_action(main_window, "Models", "Import Checkpoint…").trigger()  # opens the library and imports
    library = main_window.library()
    qtbot.waitUntil(lambda: library.selected_id() is not None, timeout=20_000)
    qtbot.waitUntil(lambda: "Device: C" in main_window.device_label.text(), timeout=20_000)
    assert main_window.grab().save(str(out / "main_window.png"))
    assert library.grab().save(str(out / "library.png"))
    assert (out / "main_window.png").stat().st_size > 10_000


@pytest.mark.parametrize("answer", [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes])
def test_nonfinite_weights_ask_import_anyway(answer, library, qtbot, monkeypatch, choose_files, tmp_path):
    weights = tiny_generator("cyclegan").state_dict()
    weights["model.1.weight"].view(-1)[:2] = float("nan")
    path = tmp_path / "broken.pth"
    torch.save(weights, path)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *args, **kwargs: asked.append(args) or answer))
    choose_files(path)
    qtbot.mouseClick(library.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(asked), timeout=20_000)
    question = asked[0][2]
    assert question.startswith("broken.pth: 2 weights are NaN or infinite (in model.1.weight).")
    assert "Import it anyway?" in question and "--allow-nonfinite" not in question
    if answer == QMessageBox.StandardButton.No:
        qtbot.waitUntil(lambda: library.message.property("role") == "error", timeout=5_000)
        assert "NaN or infinite" in library.message.text() and imported_ids(library) == []
        return
    qtbot.waitUntil(lambda: len(imported_ids(library)) == 1, timeout=20_000)
    qtbot.waitUntil(lambda: "WARNING" in library.message.text(), timeout=5_000)
    assert library.message.property("role") == "error" and len(asked) == 1
    entry = library._catalog.get(imported_ids(library)[0])
    assert entry.notes.startswith("WARNING: 2 weights are NaN or infinite")
    qtbot.waitUntil(lambda: "notes: WARNING" in library.details.toPlainText(), timeout=5_000)
