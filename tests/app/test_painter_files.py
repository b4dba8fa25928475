"""The painter's files as a user meets them: projects, label maps, exports, sizes, bad files, projects from
other programs, and recovery after a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
from PIL import Image
from PySide6.QtWidgets import QDialog, QMessageBox

from app.engine_bridge import EngineBridge
from app.fileio.ora import load_ora
from app.main_window import MainWindow
from app.painter import files as painter_files
from app.painter.page import LABELS, PHOTO, starter_document
from app.theme import apply_theme
from tests.app.conftest import files_done, find_menu_action
from tests.app.painter_page_fixtures import (  # noqa: F401 (fixtures are found by name)
    WAIT,
    ade,
    choose_file,
    dialogs,
    page,
    stroke,
    vae,
    wait_full,
)
from tests.conftest import REPO

# --- files -----------------------------------------------------------------------------------------------


def test_project_round_trip_keeps_pixels_and_settings(main_window, page, vae, qtbot, monkeypatch, tmp_path):
    page.style_panel.seed.setValue(1234)
    page.settings.set_current_class(2)
    stroke(qtbot, page.canvas, [(10, 10), (100, 20)])
    photo = wait_full(qtbot, page)
    labels = page.document.layer(LABELS).data.copy()
    project = tmp_path / "scene.ora"
    choose_file(monkeypatch, project)
    find_menu_action(main_window, "File", "Save Project As…").trigger()
    files_done(qtbot, page)
    assert project.is_file() and not page.document.modified

    page.new_document(np.zeros((128, 128), np.uint8))
    find_menu_action(main_window, "File", "Open Project…").trigger()
    files_done(qtbot, page)
    doc = page.document
    assert np.array_equal(doc.layer(LABELS).data, labels)
    assert np.abs(doc.layer(PHOTO).data - photo).max() <= 1 / 255 + 1e-6
    assert doc.settings["model_id"] == vae.id and doc.settings["seed"] == 1234
    assert page.style_panel.seed.value() == 1234 and page.entry == vae
    assert np.abs(wait_full(qtbot, page) - photo).max() <= 1 / 255 + 1e-6  # same model, seed: same photo


def test_label_png_and_photo_export(main_window, page, ade, qtbot, monkeypatch, tmp_path, dialogs):
    page.settings.set_current_class(7)
    stroke(qtbot, page.canvas, [(5, 5), (60, 60)])
    wait_full(qtbot, page)
    labels = page.document.layer(LABELS).data.copy()
    choose_file(monkeypatch, tmp_path / "map")
    find_menu_action(main_window, "File", "Save Labels As…").trigger()
    files_done(qtbot, page)
    saved = Image.open(tmp_path / "map.png")
    assert saved.mode == "P" and np.array_equal(np.asarray(saved), labels)
    for name in ("photo.png", "photo.jpg", "photo.tif"):
        choose_file(monkeypatch, tmp_path / name)
        find_menu_action(main_window, "File", "Export Photo…").trigger()
        files_done(qtbot, page)
        assert Image.open(tmp_path / name).size == (192, 128)

    page.new_document(np.zeros((128, 192), np.uint8))
    choose_file(monkeypatch, tmp_path / "map.png")
    find_menu_action(main_window, "File", "Open Labels…").trigger()
    files_done(qtbot, page)
    assert np.array_equal(page.document.layer(LABELS).data, labels) and not dialogs["shown"]


def test_a_size_the_model_cannot_render_is_rendered_near_it_and_resized(main_window, page, ade, qtbot, monkeypatch,
                                                                       tmp_path):
    sizes = []
    real_submit = main_window.bridge.submit
    monkeypatch.setattr(main_window.bridge, "submit", lambda r, **k: sizes.append(r.size) or real_submit(r, **k))
    odd = tmp_path / "odd_size.png"
    Image.fromarray(np.full((100, 150), 4, np.uint8)).save(odd)
    assert page.files.open_label_file(odd).wait()
    assert wait_full(qtbot, page).shape == (100, 150, 3)
    assert sizes[-1] == (96, 160)  # the nearest multiples of 32


def test_new_asks_before_discarding_and_offers_valid_sizes(main_window, page, ade, qtbot, monkeypatch, dialogs):
    page.settings.set_current_class(1)
    stroke(qtbot, page.canvas, [(5, 5), (30, 30)])
    painted = page.document

    def accept(dialog, size):
        dialog.width_box.setValue(size[1])
        dialog.height_box.setValue(size[0])
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(painter_files.NewDialog, "exec", lambda d: accept(d, (100, 250)))
    dialogs["answer"] = QMessageBox.StandardButton.Cancel
    find_menu_action(main_window, "File", "New Label Map…").trigger()
    assert page.document is painted and dialogs["shown"][-1][1] == "Unsaved changes"
    dialogs["answer"] = QMessageBox.StandardButton.Discard
    find_menu_action(main_window, "File", "New Label Map…").trigger()
    assert page.document.layer(LABELS).data.shape == (96, 256)  # the nearest multiples of 32


def test_bad_files_give_one_clear_message_and_lose_nothing(main_window, page, ade, qtbot, monkeypatch, tmp_path,
                                                           dialogs):
    page.settings.set_current_class(3)
    stroke(qtbot, page.canvas, [(5, 5), (60, 60)])
    work = page.document
    kept = work.layer(LABELS).data.copy()

    huge = tmp_path / "huge.png"
    Image.new("P", (8000, 8000)).save(huge)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    for path, words in ((huge, "at most 4096"), (broken, "broken.png")):
        choose_file(monkeypatch, path)
        find_menu_action(main_window, "File", "Open Labels…").trigger()
        files_done(qtbot, page)
        kind, _, text = dialogs["shown"][-1]
        assert kind == "warning" and words in text
        assert page.document is work and np.array_equal(work.layer(LABELS).data, kept)
    assert len(dialogs["shown"]) == 2

    colours = np.zeros((64, 96, 3), np.uint8)
    colours[:] = page.palette.by_id(2).color
    colours[:10, :10] = (1, 2, 3)  # no class has this colour
    odd = tmp_path / "odd.png"
    Image.fromarray(colours).save(odd)
    choose_file(monkeypatch, odd)
    dialogs["answer"] = QMessageBox.StandardButton.Discard
    find_menu_action(main_window, "File", "Open Labels…").trigger()
    files_done(qtbot, page)
    assert "#010203" in dialogs["shown"][-1][2] and "not in the" in dialogs["shown"][-1][2]
    assert (page.document.layer(LABELS).data[10:, 10:] == 2).all()


def test_project_from_another_program_keeps_its_extra_layers(main_window, page, ade, qtbot, monkeypatch, tmp_path,
                                                            dialogs):
    project = tmp_path / "ours.ora"
    assert page.files.save_project_file(project).wait()
    labels = page.document.layer(LABELS).data.copy()
    other = tmp_path / "theirs.ora"
    with zipfile.ZipFile(project) as src, zipfile.ZipFile(other, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "stack.xml":
                data = data.replace(b"<stack>", b'<stack><layer name="sketch" src="data/sketch.png" x="4" y="6" '
                                                b'composite-op="svg:multiply" />')
            dst.writestr(item, data)
        sketch = Image.new("RGBA", (40, 30), (200, 30, 30, 128))
        sketch.save(tmp_path / "sketch.png")
        dst.write(tmp_path / "sketch.png", "data/sketch.png")
    choose_file(monkeypatch, other)
    find_menu_action(main_window, "File", "Open Project…").trigger()
    files_done(qtbot, page)
    assert "from another program" in dialogs["shown"][-1][2]
    assert np.array_equal(page.document.layer(LABELS).data, labels) and page.document.has_layer("sketch")
    again = tmp_path / "again.ora"
    assert page.files.save_project_file(again).wait()
    with zipfile.ZipFile(again) as zf:
        assert b"svg:multiply" in zf.read("stack.xml")
    assert np.array_equal(load_ora(again).document.layer(LABELS).data, labels)


CRASHING_SESSION = """
import os, signal
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtWidgets import QApplication
from app.engine_bridge import EngineBridge
from app.main_window import MainWindow
app = QApplication([])
window = MainWindow(EngineBridge())
doc = window.painter.document
edit = doc.edit("labels", "Brush")
edit.region((30, 40, 50, 20))[:] = 12
edit.changed((30, 40, 50, 20))
edit.commit()
window.painter.files.autosave_now().wait()
os.kill(os.getpid(), signal.SIGKILL)  # no clean close: the autosave stays behind
"""


def test_a_killed_session_is_offered_for_recovery(qapp, qtbot, dialogs):
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(CRASHING_SESSION)], cwd=REPO, env=os.environ,
                         capture_output=True, timeout=120, check=False)
    assert run.returncode == -signal.SIGKILL, run.stderr.decode()[-2000:]
    expected = starter_document().layer(LABELS).data.copy()
    expected[40:60, 30:80] = 12

    dialogs["answer"] = QMessageBox.StandardButton.Yes
    apply_theme(qapp)
    bridge = EngineBridge()
    window = MainWindow(bridge)
    qtbot.addWidget(window)
    try:
        qtbot.waitUntil(lambda: any(t == "Recover unsaved work" for _, t, _ in dialogs["shown"]), timeout=WAIT)
        assert np.array_equal(window.painter.document.layer(LABELS).data, expected)
        assert window.painter.document.modified
        assert window.painter.files.autosave.pending() == []  # now ours: not offered to another window
    finally:
        window.close()
        bridge.shutdown()
