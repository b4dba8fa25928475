"""The label canvas and its tools, driven with real mouse and key events."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from app.canvas import CanvasView
from app.document import Document, Layer
from app.tools import (
    BrushTool,
    EraserTool,
    EyedropperTool,
    FillTool,
    LassoFillTool,
    RectFillTool,
    ToolSettings,
)
from engine.palettes import load as load_palette

H, W = 256, 384
LEFT, MIDDLE = Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton
NONE, SHIFT = Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier


def labels_doc(h: int = H, w: int = W) -> Document:
    doc = Document(h, w)
    doc.add_layer(Layer("labels", "labels", np.zeros((h, w), np.uint8)))
    return doc


@pytest.fixture
def settings() -> ToolSettings:
    return ToolSettings(current_class=3, background_class=0, brush_size=5)


@pytest.fixture
def view(qtbot) -> CanvasView:
    canvas = CanvasView(labels_doc())
    canvas.resize(800, 600)
    qtbot.addWidget(canvas)
    canvas.show()
    qtbot.waitExposed(canvas)
    assert canvas.zoom == pytest.approx(2.0)  # fit: doc pixel centres fall on whole screen pixels
    return canvas


def labels(view: CanvasView) -> np.ndarray:
    return view.document.layer("labels").data


def screen(view: CanvasView, x: float, y: float) -> QPoint:
    """Widget position of document point (x, y)."""
    origin = view.map_to_document(QPointF(0, 0))
    return QPoint(round((x - origin.x()) * view.zoom), round((y - origin.y()) * view.zoom))


def stroke(qtbot, view: CanvasView, points, modifiers=NONE, button=LEFT) -> None:
    qtbot.mousePress(view, button, modifiers, screen(view, *points[0]))
    for p in points[1:]:
        qtbot.mouseMove(view, screen(view, *p))
    qtbot.mouseRelease(view, button, modifiers, screen(view, *points[-1]))


def swept(a, b, diameter: int, shape=(H, W)) -> np.ndarray:
    """Independent reference: pixels whose centres lie within diameter/2 of the segment a-b."""
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]] + 0.5
    (ax, ay), (bx, by) = a, b
    vx, vy = bx - ax, by - ay
    t = np.clip(((xs - ax) * vx + (ys - ay) * vy) / max(vx * vx + vy * vy, 1e-12), 0, 1)
    return (xs - ax - t * vx) ** 2 + (ys - ay - t * vy) ** 2 <= (diameter / 2) ** 2 + 1e-6


def test_brush_stroke_paints_exactly_the_path_as_one_undo_step(qtbot, view, settings):
    view.set_tool(BrushTool(view.document, "labels", settings))
    started, finished = [], []
    view.stroke_started.connect(lambda: started.append(1))
    view.stroke_finished.connect(lambda: finished.append(1))
    # a fast stroke: two mouse moves 100 px apart must still leave no gaps
    stroke(qtbot, view, [(50.5, 50.5), (150.5, 50.5), (150.5, 150.5)])
    expected = swept((50.5, 50.5), (150.5, 50.5), 5) | swept((150.5, 50.5), (150.5, 150.5), 5)
    assert np.array_equal(labels(view) == 3, expected)
    assert labels(view)[50, 50:151].tolist() == [3] * 101 and labels(view)[47, 100] == 0
    assert started == [1] and finished == [1]
    painted = labels(view).copy()
    view.document.undo()
    assert not labels(view).any() and not view.document.can_undo
    view.document.redo()
    assert np.array_equal(labels(view), painted)


def test_diagonal_strokes_have_no_gaps_even_at_one_pixel(qtbot, view, settings):
    settings.set_brush_size(1)
    view.set_tool(BrushTool(view.document, "labels", settings))
    stroke(qtbot, view, [(10.5, 10.5), (200.5, 90.5), (30.5, 200.5)])
    count, _ = cv2.connectedComponents((labels(view) == 3).astype(np.uint8), connectivity=8)
    assert count == 2  # background + one connected line
    assert labels(view)[10, 10] == labels(view)[90, 200] == labels(view)[200, 30] == 3


def test_shift_click_draws_a_straight_line_from_the_previous_stroke(qtbot, view, settings):
    view.set_tool(BrushTool(view.document, "labels", settings))
    stroke(qtbot, view, [(20.5, 100.5)])
    dab = labels(view).copy()
    stroke(qtbot, view, [(120.5, 160.5)], modifiers=SHIFT)
    assert np.array_equal(labels(view) == 3, swept((20.5, 100.5), (120.5, 160.5), 5))
    view.document.undo()  # the line is its own step
    assert np.array_equal(labels(view), dab)


def test_fill_replaces_exactly_the_4_connected_region(qtbot, view, settings):
    doc = view.document
    edit = doc.edit("labels", "setup")
    edit.region((10, 10, 50, 40))[...] = 5
    edit.region((60, 50, 20, 20))[...] = 5  # touches the first block only at a corner
    edit.commit()
    before = labels(view).copy()
    settings.set_current_class(7)
    view.set_tool(FillTool(lambda: doc, "labels", settings))  # a getter works as well as a document
    stroke(qtbot, view, [(30.5, 30.5)])
    expected = before.copy()
    expected[10:50, 10:60] = 7
    assert np.array_equal(labels(view), expected)
    doc.undo()
    assert np.array_equal(labels(view), before)


def test_rect_fill_shows_a_rubber_band_and_fills_on_release(qtbot, view, settings):
    tool = RectFillTool(view.document, "labels", settings)
    view.set_tool(tool)
    qtbot.mousePress(view, LEFT, NONE, screen(view, 40.5, 60.5))
    qtbot.mouseMove(view, screen(view, 10.5, 20.5))
    assert tool.outline(QPointF(10.5, 20.5)).boundingRect().getRect() == (10, 20, 31, 41)
    assert not labels(view).any()  # nothing until release
    qtbot.mouseRelease(view, LEFT, NONE, screen(view, 10.5, 20.5))
    expected = np.zeros((H, W), bool)
    expected[20:61, 10:41] = True
    assert np.array_equal(labels(view) == 3, expected)
    assert tool.outline(QPointF(0, 0)) is None


def test_lasso_fills_the_enclosed_pixels(qtbot, view, settings):
    view.set_tool(LassoFillTool(view.document, "labels", settings))
    stroke(qtbot, view, [(100, 100), (200, 100), (200, 150), (150, 200), (100, 200)])
    painted = labels(view) == 3
    assert painted[101:149, 101:199].all() and painted[150, 120] and not painted[190, 190]
    assert not painted[:99].any() and not painted[:, :99].any() and not painted[202:].any()
    assert view.document.undo_text == "Lasso fill"


def test_eraser_paints_the_background_class(qtbot, view, settings):
    labels(view)[...] = 4
    settings.set_background_class(2)
    view.set_tool(EraserTool(view.document, "labels", settings))
    stroke(qtbot, view, [(100.5, 100.5), (120.5, 100.5)])
    assert np.array_equal(labels(view) == 2, swept((100.5, 100.5), (120.5, 100.5), 5))


@pytest.mark.parametrize("modifier", [Qt.KeyboardModifier.AltModifier, Qt.KeyboardModifier.ControlModifier])
@pytest.mark.parametrize("tool_type", [BrushTool, FillTool, RectFillTool, LassoFillTool, EyedropperTool])
def test_alt_or_ctrl_click_picks_the_class_with_any_tool(qtbot, view, settings, modifier, tool_type):
    labels(view)[70:80, 70:80] = 9
    view.set_tool(tool_type(view.document, "labels", settings))
    started = []
    view.stroke_started.connect(lambda: started.append(1))
    stroke(qtbot, view, [(75.5, 75.5)], modifiers=modifier)
    assert settings.current_class == 9 and not started and not view.document.can_undo
    if tool_type is EyedropperTool:
        stroke(qtbot, view, [(5.5, 5.5)])
        assert settings.current_class == 0


def test_brackets_change_the_brush_size(qtbot, view, settings):
    view.set_tool(BrushTool(view.document, "labels", settings))
    settings.set_brush_size(16)
    qtbot.keyClick(view, Qt.Key.Key_BracketRight)
    assert settings.brush_size == 20
    qtbot.keyClick(view, Qt.Key.Key_BracketLeft)
    assert settings.brush_size == 16
    settings.set_brush_size(1)
    qtbot.keyClick(view, Qt.Key.Key_BracketLeft)
    assert settings.brush_size == 1
    qtbot.keyClick(view, Qt.Key.Key_BracketRight)
    assert settings.brush_size == 2
    settings.set_brush_size(10_000)
    assert settings.brush_size == 512


def test_wheel_zooms_about_the_cursor(view):
    anchor = QPointF(300, 200)
    before = view.map_to_document(anchor)
    zooms = []
    view.zoom_changed.connect(zooms.append)
    event = QWheelEvent(anchor, view.mapToGlobal(anchor), QPoint(), QPoint(0, 120), Qt.MouseButton.NoButton,
                        NONE, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view, event)
    assert view.zoom == pytest.approx(2.5) and zooms == [pytest.approx(2.5)]
    after = view.map_to_document(anchor)
    assert (after.x(), after.y()) == pytest.approx((before.x(), before.y()))


def test_zoom_keys_and_fit(qtbot, view):
    ctrl = Qt.KeyboardModifier.ControlModifier
    qtbot.keyClick(view, Qt.Key.Key_Equal, ctrl)
    assert view.zoom == pytest.approx(2.5)
    qtbot.keyClick(view, Qt.Key.Key_Minus, ctrl)
    qtbot.keyClick(view, Qt.Key.Key_Minus, ctrl)
    assert view.zoom == pytest.approx(1.6)
    qtbot.keyClick(view, Qt.Key.Key_0, ctrl)
    assert view.zoom == pytest.approx(2.0)
    centre = view.map_to_document(QPointF(400, 300))
    assert (centre.x(), centre.y()) == pytest.approx((W / 2, H / 2))
    view.set_zoom(8.0)
    view.zoom_fit()
    assert view.zoom == pytest.approx(2.0)


@pytest.mark.parametrize("how", ["middle", "space"])
def test_drag_pans_without_painting(qtbot, view, settings, how):
    view.set_tool(BrushTool(view.document, "labels", settings))
    moved = []
    view.view_changed.connect(lambda: moved.append(1))
    before = view.map_to_document(QPointF(400, 300))
    if how == "space":
        qtbot.keyPress(view, Qt.Key.Key_Space)
    button = MIDDLE if how == "middle" else LEFT
    qtbot.mousePress(view, button, NONE, QPoint(400, 300))
    qtbot.mouseMove(view, QPoint(460, 260))
    qtbot.mouseRelease(view, button, NONE, QPoint(460, 260))
    if how == "space":
        qtbot.keyRelease(view, Qt.Key.Key_Space)
    after = view.map_to_document(QPointF(400, 300))
    assert (after.x() - before.x(), after.y() - before.y()) == pytest.approx((-30, 20))
    assert moved and not labels(view).any() and view.zoom == pytest.approx(2.0)


def test_linked_views_share_zoom_and_pan(qtbot, view):
    photo = CanvasView(view.document, layers=["labels"])
    photo.resize(800, 600)
    qtbot.addWidget(photo)
    view.link(photo)
    view.set_zoom(3.0, QPointF(100, 100))
    assert photo.zoom == 3.0 and photo.map_to_document(QPointF(5, 5)) == view.map_to_document(QPointF(5, 5))
    photo.set_zoom(1.0)
    assert view.zoom == 1.0


def test_a_deleted_view_stops_observing_its_document(qtbot):
    doc = labels_doc()
    view = CanvasView(doc)
    other = CanvasView(doc)
    other.set_document(None)
    assert len(doc._observers) == 1
    view.deleteLater()
    qtbot.waitUntil(lambda: not doc._observers)
    edit = doc.edit("labels", "after")  # would reach a deleted widget if it were still subscribed
    edit.region((0, 0, 4, 4))[...] = 1
    edit.changed((0, 0, 4, 4))
    edit.commit()


def test_cursor_reports_the_document_pixel(qtbot, view):
    seen = []
    view.cursor_moved.connect(lambda x, y: seen.append((x, y)))
    qtbot.mouseMove(view, screen(view, 12.5, 34.5))
    qtbot.mouseMove(view, QPoint(2, 2))  # outside the image
    assert seen[-2:] == [(12, 34), (-1, -1)]


def test_undo_redo_keys_and_a_hundred_steps(qtbot, view, settings):
    view.set_tool(BrushTool(view.document, "labels", settings))
    for i in range(100):
        settings.set_current_class(i + 1)
        stroke(qtbot, view, [(10.5 + i * 3, 100.5)])
    final = labels(view).copy()
    for _ in range(100):
        qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not labels(view).any()
    for _ in range(100):
        qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | SHIFT)
    assert np.array_equal(labels(view), final)


def test_a_dab_on_a_huge_map_converts_only_its_rect(qtbot, settings):
    view = CanvasView(labels_doc(4000, 4000))
    view.resize(800, 600)
    qtbot.addWidget(view)
    view.show()
    settings.set_brush_size(16)
    view.set_tool(BrushTool(view.document, "labels", settings))
    before = view.converted_pixels
    stroke(qtbot, view, [(2000.5, 2000.5)])
    assert labels(view)[2000, 2000] == 3
    assert 0 < view.converted_pixels - before <= 16 * 16
    view.document.undo()  # undo restores (and converts) 64x64 tiles, not the image
    assert view.converted_pixels - before <= 16 * 16 + 4 * 64 * 64


def test_layers_are_shown_through_the_lut_with_opacity(qtbot, view):
    doc = view.document
    labels(view)[:, : W // 2] = 3
    doc.replace_pixels("labels", labels(view))  # tell observers: the whole layer changed
    view.set_label_lut(load_palette("ade20k").lut())
    image = view.grab().toImage()
    assert image.pixelColor(screen(view, 10.5, 10.5)).getRgb()[:3] == (6, 230, 230)  # ade20k "sky"
    doc.add_layer(Layer("photo", "rgb", np.full((H, W, 3), (1.0, 0.0, 0.0), np.float32)))
    doc.set_layer_property("photo", opacity=0.5)
    rgb = view.grab().toImage().pixelColor(screen(view, 10.5, 10.5)).getRgb()[:3]
    assert rgb == pytest.approx((130, 115, 115), abs=2)  # half red over sky
    doc.set_layer_property("photo", opacity=1.0)
    photo = CanvasView(doc, layers=["photo"])  # the photo side: only its own layer
    photo.resize(800, 600)
    qtbot.addWidget(photo)
    assert photo.grab().toImage().pixelColor(screen(view, 10.5, 10.5)).getRgb()[:3] == (255, 0, 0)


def test_screenshot(qtbot, view, settings, tmp_path):
    doc = view.document
    doc.add_layer(Layer("mask", "mask", np.zeros((H, W), np.float32)))
    doc.layer("mask").data[180:240, 280:370] = 1.0
    doc.replace_pixels("mask", doc.layer("mask").data)
    view.set_label_lut(load_palette("ade20k").lut())
    labels(view)[:] = 3
    doc.replace_pixels("labels", labels(view))
    settings.set_current_class(2)
    view.set_tool(RectFillTool(doc, "labels", settings))
    stroke(qtbot, view, [(20.5, 140.5), (150.5, 250.5)])
    settings.set_current_class(5)
    view.set_tool(LassoFillTool(doc, "labels", settings))
    stroke(qtbot, view, [(200, 250), (260, 150), (300, 200), (380, 120), (383, 250)])
    settings.set_current_class(13)
    settings.set_brush_size(12)
    view.set_tool(BrushTool(doc, "labels", settings))
    stroke(qtbot, view, [(30.5, 60.5), (120.5, 30.5), (200.5, 80.5), (250.5, 40.5)])
    settings.set_brush_size(30)
    qtbot.mouseMove(view, screen(view, 330.5, 60.5))  # leave the brush outline in the picture
    out = Path(os.environ.get("I2I_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    assert view.grab().save(str(out / "canvas.png"))
