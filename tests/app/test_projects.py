"""A studio project holds the work of several tools (File > Save Studio Project: a folder with one .ora per tool and
NAME.i2i), and File > Open Studio Project brings every tool's work back, names (where a photo came from) included;
and the status bar keeps a confirmation readable while the engine reports what it does."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QFileDialog

from app import main_window as main_window_module
from app.fileio.labels import FileError
from app.fileio.studio import project_folder, read_manifest, work_file_name
from app.widgets import files
from tests.app.conftest import fake_message_boxes, files_done, find_menu_action
from tests.app.swap_page_fixtures import write_photo
from tests.sae_fixtures import write_tiny_sae

WAIT = 60_000


@pytest.fixture(autouse=True)
def dialogs(monkeypatch) -> dict:
    return fake_message_boxes(monkeypatch)


def paint(qtbot, view, points) -> None:
    origin = view.map_to_document(QPointF(0, 0))
    at = [QPoint(round((x - origin.x()) * view.zoom), round((y - origin.y()) * view.zoom)) for x, y in points]
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=at[0])
    for p in at[1:]:
        qtbot.mouseMove(view, p)
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=at[-1])


def answer_file_dialogs(monkeypatch, path) -> None:
    for name in ("getOpenFileName", "getSaveFileName"):
        monkeypatch.setattr(QFileDialog, name, lambda *a, **k: (str(path), ""))


def test_file_names_and_folders_of_a_studio_project(tmp_path):
    assert project_folder(tmp_path / "valley.i2i") == tmp_path / "valley"
    assert project_folder(tmp_path / "valley" / "valley.i2i") == tmp_path / "valley"  # saved again in place
    assert work_file_name("Untitled from Painter", "Swap & Edit", set()) == "Untitled from Painter.ora"
    assert work_file_name("street.ora", "Painter", set()) == work_file_name("street.jpg", "Painter", set()) == "street.ora"
    assert work_file_name("a/b:c", "Painter", set()) == "a b c.ora"
    assert work_file_name("photo", "Style Brushes", {"photo.ora"}) == "photo (Style Brushes).ora"
    (tmp_path / "bad.i2i").write_text("{}")
    with pytest.raises(FileError, match="bad.i2i is not an I2I Studio project"):
        read_manifest(tmp_path / "bad.i2i")
    (tmp_path / "evil.i2i").write_text(json.dumps({"format": "i2i-studio-project", "version": 1,
                                                   "tools": [{"tool": "Painter", "file": "../x.ora"}]}))
    with pytest.raises(FileError, match="damaged"):
        read_manifest(tmp_path / "evil.i2i")


def test_a_studio_project_saves_and_reopens_every_tools_work(main_window, qtbot, tmp_path, monkeypatch, dialogs):
    window, painter, swap, brushes = main_window, main_window.painter, main_window.swap, main_window.brushes
    paint(qtbot, painter.canvas, [(40, 40), (90, 70)])
    qtbot.waitUntil(lambda: painter.scheduler.full_shown, timeout=WAIT)
    labels = painter.document.layer("labels").data.copy()
    window.send_to(swap)  # the painter's result becomes Swap & Edit's photo, named after where it came from
    qtbot.waitUntil(lambda: swap.project is not None and not swap.session.busy, timeout=WAIT)
    assert swap.session.photo_name == "Untitled from Painter"
    codes = swap.project.embedding.structure.copy()
    window.show_tool("Style Brushes")
    assert brushes.files.open_photo_file(write_photo(tmp_path / "street.png", (64, 80))).wait()
    brush_photo = brushes.project.document.layer("photo").data.copy()
    window.show_tool("Swap & Edit")

    chosen = tmp_path / "valley.i2i"
    answer_file_dialogs(monkeypatch, chosen)
    shown: list[str] = []
    window.statusBar().messageChanged.connect(shown.append)
    find_menu_action(window, "File", "Save Studio Project As…").trigger()
    folder = tmp_path / "valley"
    qtbot.waitUntil(lambda: (folder / "valley.i2i").is_file(), timeout=WAIT)
    manifest = read_manifest(folder / "valley.i2i")
    saved = {w.tool: w.file for w in manifest.tools}
    assert saved == {"Painter": "Untitled.ora", "Swap & Edit": "Untitled from Painter.ora",
                     "Style Brushes": "street.ora"}
    assert manifest.current == "Swap & Edit" and all((folder / f).is_file() for f in saved.values())
    assert any(m.startswith("Saved the project") and "valley.i2i" in m for m in shown)
    assert window.windowTitle().startswith("Untitled from Painter.ora — Swap & Edit")  # each tool's own file
    assert not painter.is_modified() and not swap.is_modified() and not brushes.is_modified()

    # other work replaces it in every tool; then the project brings it all back
    paint(qtbot, painter.canvas, [(10, 100), (120, 110)])
    assert swap.files.open_photo_file(write_photo(tmp_path / "other.png", (128, 160), seed=4)).wait(), dialogs["shown"]
    qtbot.waitUntil(lambda: swap.session.photo_name == "other.png" and not swap.session.busy, timeout=WAIT)
    window.show_tool("Painter")
    answer_file_dialogs(monkeypatch, folder / "valley.i2i")
    dialogs["answer"] = dialogs["answer"].Discard  # the newer, unsaved work is given up when asked
    find_menu_action(window, "File", "Open Studio Project…").trigger()
    qtbot.waitUntil(lambda: window.current_page() is swap, timeout=WAIT)
    for page in (painter, swap, brushes):
        files_done(qtbot, page)
    qtbot.waitUntil(lambda: swap.session.photo_name == "Untitled from Painter", timeout=WAIT)
    assert np.array_equal(painter.document.layer("labels").data, labels)
    assert np.array_equal(swap.project.embedding.structure, codes)
    assert np.array_equal(brushes.project.document.layer("photo").data, brush_photo)
    assert painter.files.project_path == folder / "Untitled.ora"
    assert any("Painter project “Untitled.ora”" in text for _, _, text in dialogs["shown"])  # it asked first
    assert files.recent_files(files.PROJECT)[0].path == (folder / "valley.i2i").resolve()

    # and each tool's own Save still writes its own file in the project
    paint(qtbot, painter.canvas, [(20, 20), (30, 30)])
    assert painter.files.save().wait()
    assert painter.files.project_path == folder / "Untitled.ora"
    window.recent_menu.aboutToShow.emit()  # File > Open Recent lists the project; choosing it opens every tool's work
    entry = next(a for a in window.recent_menu.actions() if a.text().startswith("valley.i2i"))
    assert entry.text().endswith("All tools")
    window.show_tool("Style Brushes")
    entry.trigger()
    assert window.current_page() is swap


def test_a_confirmation_stays_in_the_status_bar_while_the_engine_reports(main_window, qtbot, tmp_path, monkeypatch):
    window, painter = main_window, main_window.painter
    monkeypatch.setattr(main_window_module, "STATUS_MESSAGE_MS", 600)
    checkpoint = write_tiny_sae(tmp_path / "tiny.safetensors")
    paint(qtbot, painter.canvas, [(40, 40), (80, 60)])
    answer_file_dialogs(monkeypatch, tmp_path / "dunes.ora")
    assert painter.files.save_as().wait()
    saved = f"Saved {files.display_path(tmp_path / 'dunes.ora')}"
    assert window.statusBar().currentMessage() == saved
    window.catalog.import_checkpoint(str(checkpoint))  # the engine's own words ("Importing tiny…"), right after
    assert window.statusBar().currentMessage() == saved  # still readable
    qtbot.waitUntil(lambda: window.catalog.get("tiny") is not None or "Imported" in window.statusBar().currentMessage(),
                    timeout=WAIT)
    qtbot.wait(700)  # once a confirmation has been read, what the engine does shows again
    window.catalog.import_checkpoint(str(checkpoint))
    assert window.statusBar().currentMessage() == "Importing tiny.safetensors…"
    qtbot.waitUntil(lambda: not window.catalog._running, timeout=WAIT)
