"""The painter as a user drives it: strokes, fills, undo, files, models, styles, crashes and bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

from app.engine_bridge import EngineBridge
from app.fileio.ora import load_ora
from app.main_window import MainWindow
from app.painter import files as painter_files
from app.painter.page import LABELS, PHOTO, STYLE, PainterPage, starter_document
from app.painter.render import FULL_SLOT, PREVIEW_SLOT
from app.theme import apply_theme
from engine.models.spade import ConvEncoder, SPADEGenerator
from tests.app.conftest import find_menu_action
from tests.conftest import REPO

EMBEDDED = REPO / "resources" / "models" / "spade_landscape.safetensors"
ADE_OPTIONS = {"label_nc": 8, "contain_dontcare_label": True, "crop_size": 160, "aspect_ratio": 5 / 3}
WAIT = 30_000


# --- helpers -----------------------------------------------------------------------------------------------


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


def choose_file(monkeypatch, path: Path | str) -> None:
    """The next file dialog (open or save) answers `path`."""
    for name in ("getOpenFileName", "getSaveFileName"):
        monkeypatch.setattr(painter_files.QFileDialog, name, lambda *a, **k: (str(path), ""))


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


# --- the painter on start ------------------------------------------------------------------------------


def test_painter_is_the_start_view_with_the_starter_scene(main_window, page, menu_action, qtbot):
    assert main_window.tools.currentWidget() is page
    assert menu_action(main_window, "View", "Painter").isChecked()
    starter = starter_document().layer(LABELS).data
    assert np.array_equal(page.document.layer(LABELS).data, starter)
    panel = page.palette_panel
    assert panel.tree.topLevelItemCount() == 4  # sky, terrain, water, vegetation
    qtbot.keyClicks(panel.search, "tre")
    shown = [item.text(0).split()[-1] for i, item in panel._items.items() if not item.isHidden()]
    assert shown == ["tree"]
    panel.search.clear()
    panel.tree.setCurrentItem(panel._items[13])
    qtbot.mouseClick(panel.set_background, Qt.MouseButton.LeftButton)
    assert page.settings.background_class == 13 and panel.background_label.text() == "Eraser: 13 sand"
    assert page.files.timer.isActive() and page.files.timer.interval() == 3 * 60 * 1000  # autosave
    menu_action(main_window, "View", "Start Page").trigger()
    assert main_window.tools.currentWidget() is not page
    assert not menu_action(main_window, "File", "Save Project").isVisible()  # page entries follow the page


@pytest.mark.skipif(not EMBEDDED.is_file(), reason="the embedded default model is not packaged yet")
def test_starter_scene_renders_with_the_embedded_default(main_window, page, qtbot):
    qtbot.waitUntil(lambda: page.entry is not None, timeout=WAIT)
    assert page.entry.id == "spade-landscape-default"
    photo = wait_full(qtbot, page)
    assert photo.shape == (*page.document.layer(LABELS).data.shape, 3) and photo.std() > 0.02
    assert not page.notice.isVisible() and not page.document.modified


# --- painting and rendering -----------------------------------------------------------------------------


def test_stroke_paints_labels_and_previews_then_renders_in_full(page, ade, qtbot, monkeypatch):
    bridge = page.scheduler._bridge
    log: list[tuple[str, str, object]] = []
    real_submit, real_cancel = bridge.submit, bridge.cancel
    monkeypatch.setattr(bridge, "submit", lambda r, **k: log.append(("submit", k["slot"], r.size)) or real_submit(r, **k))
    monkeypatch.setattr(bridge, "cancel", lambda slot: log.append(("cancel", slot, None)) or real_cancel(slot))
    arrived: list[str] = []
    page.scheduler.rendered.connect(lambda kind, image: (arrived.append(kind), log.append(("result", kind, None))))

    page.palette_panel.tree.itemClicked.emit(page.palette_panel._items[3], 0)
    assert page.settings.current_class == 3
    before = page.document.layer(LABELS).data.copy()

    def wait_for_a_preview(i: int) -> None:
        if i == 2:  # mid-stroke: the photo follows while the button is still down
            qtbot.waitUntil(lambda: "preview" in arrived, timeout=WAIT)
    stroke(qtbot, page.canvas, [(20, 60), (40, 60), (60, 60), (80, 60), (100, 60), (120, 60)],
           between=wait_for_a_preview)
    qtbot.waitUntil(lambda: "full" in arrived, timeout=WAIT)

    labels = page.document.layer(LABELS).data
    assert (labels[60, 20:121] == 3).all() and (labels != before).sum() > 100
    previews = [e for e in log if e[:2] == ("submit", PREVIEW_SLOT)]
    fulls = [e for e in log if e[:2] == ("submit", FULL_SLOT)]
    assert previews and previews[0][2] == (64, 96)  # half size, a multiple of 32
    assert len(fulls) == 1 and fulls[0][2] == (128, 192)
    # never two previews in flight: each one after the first waits for the result before it
    in_flight = 0
    for event, slot, _ in log:
        if (event, slot) == ("submit", PREVIEW_SLOT):
            in_flight += 1
            assert in_flight == 1
        elif (event, slot) in (("result", "preview"), ("cancel", PREVIEW_SLOT)):
            in_flight = 0
    assert log.index(("cancel", PREVIEW_SLOT, None)) < log.index(fulls[0])  # the full render supersedes
    assert arrived[-1] == "full" and page.document.layer(PHOTO).data.shape == (128, 192, 3)


def test_fill_eyedropper_and_cursor_class(page, ade, qtbot):
    page.settings.set_current_class(5)
    tool(page, "R", qtbot)
    stroke(qtbot, page.canvas, [(10, 10), (50, 40)])
    labels = page.document.layer(LABELS).data
    assert (labels[10:41, 10:51] == 5).all() and (labels == 5).sum() == 41 * 31

    tool(page, "E", qtbot)
    page.settings.set_background_class(1)
    stroke(qtbot, page.canvas, [(180, 120), (180, 120)])  # the eraser paints the background class
    assert labels[120, 180] == 1
    page.document.undo()

    page.settings.set_current_class(2)
    tool(page, "G", qtbot)
    qtbot.mouseClick(page.canvas, Qt.MouseButton.LeftButton, pos=screen(page.canvas, 100, 100))
    assert (labels == 2).sum() == 128 * 192 - 41 * 31 and (labels[10:41, 10:51] == 5).all()

    tool(page, "I", qtbot)
    qtbot.mouseClick(page.canvas, Qt.MouseButton.LeftButton, pos=screen(page.canvas, 20, 20))
    assert page.settings.current_class == 5 and page.palette_panel.current_label.text() == "Paint: 5 class 5"
    qtbot.mouseMove(page.canvas, screen(page.canvas, 150, 90))
    assert page.cursor_label.text().endswith("2 class 2")


def test_undo_redo_restore_exact_pixels(main_window, page, ade, qtbot):
    page.settings.set_current_class(4)
    before = page.document.layer(LABELS).data.copy()
    stroke(qtbot, page.canvas, [(30, 30), (90, 80), (150, 40)])
    after = page.document.layer(LABELS).data.copy()
    assert not np.array_equal(before, after)

    undo = find_menu_action(main_window, "Edit", "Undo Brush")
    assert undo.isEnabled()
    undo.trigger()
    assert np.array_equal(page.document.layer(LABELS).data, before)
    find_menu_action(main_window, "Edit", "Redo Brush").trigger()
    assert np.array_equal(page.document.layer(LABELS).data, after)
    qtbot.keyClick(page.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(page.document.layer(LABELS).data, before)
    qtbot.keyClick(page.canvas, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(page.document.layer(LABELS).data, after)
    qtbot.keyClick(page.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(page.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert np.array_equal(page.document.layer(LABELS).data, after)
    assert wait_full(qtbot, page).shape == (128, 192, 3)  # undo re-renders the photo too


def test_bracket_keys_change_the_brush_size(page, qtbot):
    size = page.settings.brush_size
    qtbot.keyClick(page.canvas, Qt.Key.Key_BracketRight)
    assert page.settings.brush_size > size and page.brush_size.value() == page.settings.brush_size
    qtbot.keyClick(page.canvas, Qt.Key.Key_BracketLeft)
    assert page.settings.brush_size == size
    page.brush_size.setValue(40)
    assert page.settings.brush_size == 40


# --- models and styles ----------------------------------------------------------------------------------


def test_model_switch_reports_labels_the_model_lacks(page, ade, qtbot, dialogs):
    page.set_document(starter_document())  # landscape ids 0..14; this model knows 0..8
    assert page.notice.isVisible()
    text = page.notice.text()
    assert "9 grass" in text and "10 tree" in text and "12 flower" in text and "not remapped" in text
    assert np.array_equal(page.document.layer(LABELS).data, starter_document().layer(LABELS).data)
    assert page.palette_panel.palette.ids() == tuple(range(9))
    qtbot.waitUntil(lambda: page.render_label.text().startswith("Render failed"), timeout=WAIT)
    assert "out of range" in page.render_label.text() and not dialogs["shown"]  # one line, no dialog
    page.settings.set_current_class(0)
    tool(page, "G", qtbot)
    page.canvas.set_zoom(2.0)  # whole screen pixels per document pixel: every click hits its pixel
    labels = page.document.layer(LABELS).data
    for _ in range(100):  # fill each region of a class the model lacks, one click per region
        ys, xs = np.nonzero(labels > 8)
        if not len(ys):
            break
        qtbot.mouseClick(page.canvas, Qt.MouseButton.LeftButton, pos=screen(page.canvas, xs[0], ys[0]))
    assert labels.max() <= 8 and not page.notice.isVisible()


def test_style_controls_follow_the_model(page, ade, vae, qtbot, tmp_path):
    assert page.style_panel.randomize.isEnabled() and page.style_panel.drop.isEnabled()
    first = page.document.layer(PHOTO).data.copy()
    page.style_panel.seed.setValue(0)
    qtbot.mouseClick(page.style_panel.randomize, Qt.MouseButton.LeftButton)
    seed = page.style_panel.seed.value()
    assert seed != 0 and page.document.settings["seed"] == seed
    second = wait_full(qtbot, page)
    assert np.abs(second - first).max() > 0.01
    strip = [page.style_panel.strip.item(i).text() for i in range(page.style_panel.strip.count())]
    assert strip[0] == str(seed)

    style = tmp_path / "style.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (90, 70, 3), np.uint8)).save(style)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(style))])
    where, how = QPoint(10, 10), (Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    assert QApplication.sendEvent(page.style_panel.drop, QDragEnterEvent(where, *how))  # the drop target accepts
    QApplication.sendEvent(page.style_panel.drop, QDropEvent(QPointF(where), *how))
    assert page.document.has_layer(STYLE) and not page.document.layer(STYLE).visible
    assert np.abs(wait_full(qtbot, page) - second).max() > 0.01

    use_model(page, ade)  # no encoder, no style code: disabled, with the reason
    assert not page.style_panel.randomize.isEnabled() and not page.style_panel.drop.isEnabled()
    assert "no image encoder" in page.style_panel.style_reason.text()
    assert "no random style code" in page.style_panel.seed_reason.text()


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
    assert project.is_file() and not page.document.modified

    page.new_document(np.zeros((128, 128), np.uint8))
    find_menu_action(main_window, "File", "Open Project…").trigger()
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
    saved = Image.open(tmp_path / "map.png")
    assert saved.mode == "P" and np.array_equal(np.asarray(saved), labels)
    for name in ("photo.png", "photo.jpg", "photo.tif"):
        choose_file(monkeypatch, tmp_path / name)
        find_menu_action(main_window, "File", "Export Photo…").trigger()
        assert Image.open(tmp_path / name).size == (192, 128)

    page.new_document(np.zeros((128, 192), np.uint8))
    choose_file(monkeypatch, tmp_path / "map.png")
    find_menu_action(main_window, "File", "Open Labels…").trigger()
    assert np.array_equal(page.document.layer(LABELS).data, labels) and not dialogs["shown"]


def test_a_size_the_model_cannot_render_is_rendered_near_it_and_resized(page, ade, qtbot, monkeypatch, tmp_path):
    sizes = []
    real_submit = page.scheduler._bridge.submit
    monkeypatch.setattr(page.scheduler._bridge, "submit", lambda r, **k: sizes.append(r.size) or real_submit(r, **k))
    odd = tmp_path / "odd_size.png"
    Image.fromarray(np.full((100, 150), 4, np.uint8)).save(odd)
    assert page.files.open_label_file(odd)
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
    assert "#010203" in dialogs["shown"][-1][2] and "not in the" in dialogs["shown"][-1][2]
    assert (page.document.layer(LABELS).data[10:, 10:] == 2).all()


def test_project_from_another_program_keeps_its_extra_layers(main_window, page, ade, qtbot, monkeypatch, tmp_path,
                                                            dialogs):
    project = tmp_path / "ours.ora"
    page.files.save_project_file(project)
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
    assert "from another program" in dialogs["shown"][-1][2]
    assert np.array_equal(page.document.layer(LABELS).data, labels) and page.document.has_layer("sketch")
    again = tmp_path / "again.ora"
    page.files.save_project_file(again)
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
window.painter.files.autosave_now()
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


# --- screenshots ------------------------------------------------------------------------------------------


def test_screenshots_of_the_painter(main_window, page, ade, vae, qtbot, tmp_path):
    folder = Path(os.environ.get("I2I_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    main_window.resize(1280, 800)
    groups = np.array([0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 1, 1], np.uint8)  # landscape -> 5 coarse ids
    page.new_document(groups[starter_document().layer(LABELS).data])
    for seed in (11, 22, 33):
        page.style_panel.seed.setValue(seed)
        wait_full(qtbot, page)
    qtbot.wait(50)
    main_window.grab().save(str(folder / "painter_vae.png"))
    if EMBEDDED.is_file():
        use_model(page, next(e for e in page.models() if e.id == "spade-landscape-default"))
        page.set_document(starter_document())
        wait_full(qtbot, page)
        qtbot.wait(50)
        main_window.grab().save(str(folder / "painter_default.png"))
    use_model(page, ade)
    page.set_document(starter_document())  # labels this model lacks: the notice and a one-line failure
    qtbot.waitUntil(lambda: page.render_label.text().startswith("Render failed"), timeout=WAIT)
    main_window.grab().save(str(folder / "painter_missing_labels.png"))
    assert (folder / "painter_vae.png").stat().st_size > 10_000
