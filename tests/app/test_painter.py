"""The painter as a user drives it: strokes, fills, undo, models and styles (files: test_painter_files.py)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from app.painter.page import LABELS, PHOTO, STYLE, starter_document
from app.painter.render import FULL_SLOT, PREVIEW_SLOT
from tests.app.conftest import find_menu_action
from tests.app.painter_page_fixtures import (  # noqa: F401 (fixtures are found by name)
    EMBEDDED,
    WAIT,
    ade,
    dialogs,
    page,
    screen,
    stroke,
    tool,
    use_model,
    vae,
    wait_full,
)

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


def test_stroke_paints_labels_and_previews_then_renders_in_full(main_window, page, ade, qtbot, monkeypatch):
    bridge = main_window.bridge
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
