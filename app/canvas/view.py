"""The canvas: shows a Document's layers, zooms and pans, and feeds mouse strokes to the current Tool.

It never edits the document itself (tools do) and repaints from the document's Change events, so the
strokes, undo, and the engine's photo all reach the screen the same way: only the dirty rect is
reconverted (LayerImages) and repainted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFocusEvent,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPixmap,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QWidget

from app.canvas.layer_images import CONVERTERS, LayerImages
from app.document import Change, Document, Layer
from app.tools.base import Tool

MIN_ZOOM, MAX_ZOOM = 1 / 64, 64.0
ZOOM_STEP = 1.25  # per wheel notch and per Ctrl +/-
FIT_MARGIN = 0.96
BACKGROUND = QColor("#19232D")  # qdarkstyle's window colour, so the image edge reads clearly
CHECKER = (QColor("#2b3440"), QColor("#36404c"))  # under transparent layers (masks, empty images)


class CanvasView(QWidget):
    stroke_started = Signal()
    stroke_finished = Signal()
    zoom_changed = Signal(float)
    cursor_moved = Signal(int, int)
    view_changed = Signal()

    def __init__(self, document: Document | None = None, *, layers: Sequence[str] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumSize(64, 64)
        self._only = tuple(layers) if layers is not None else None
        self._doc: Document | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._images = LayerImages()
        self._tool: Tool | None = None
        self._zoom, self._offset, self._fit = 1.0, QPointF(), True  # offset: screen position of (0, 0)
        self._group: list[CanvasView] = [self]  # views sharing zoom and pan, shared by all of them
        self._syncing = False
        self._mouse: QPointF | None = None
        self._pan_from: QPointF | None = None
        self._space = self._stroking = False
        self._overlay = QRect()  # screen area of the outline drawn last
        self._pixel = (-1, -1)
        self._checker = _checker_brush()
        self.set_document(document)

    # --- document and layers ------------------------------------------------------------------------

    @property
    def document(self) -> Document | None:
        return self._doc

    def set_document(self, document: Document | None) -> None:
        self._finish_stroke()
        if self._unsubscribe is not None:
            self.destroyed.disconnect(self._unsubscribe)
            self._unsubscribe()
        self._doc, self._unsubscribe, self._images = document, None, LayerImages()
        if document is not None:
            self._unsubscribe = document.subscribe(self._on_change)
            self.destroyed.connect(self._unsubscribe)  # a document may outlive its views
            self._images.keep(self._shown())
        if self._fit:
            self.zoom_fit()
        self.update()

    @property
    def shown_layers(self) -> tuple[str, ...] | None:
        """The layers this view shows (None: all of them)."""
        return self._only

    def set_shown_layers(self, names: Sequence[str] | None) -> None:
        """Show only these layers (None: all of them), e.g. a mask overlay that follows a selection."""
        self._only = tuple(names) if names is not None else None
        self._images.keep(self._shown())
        self.update()

    def set_label_lut(self, lut: np.ndarray) -> None:
        """(256, 3) uint8 colour per label id."""
        self._images.set_lut(lut, self._shown())
        self.update()

    @property
    def converted_pixels(self) -> int:
        """Pixels turned into display colours so far: evidence that dabs convert only their rect."""
        return self._images.converted_pixels

    def _shown(self) -> list[Layer]:
        layers = self._doc.layers if self._doc is not None else ()
        return [la for la in layers if la.kind in CONVERTERS and (self._only is None or la.name in self._only)]

    def _on_change(self, change: Change) -> None:
        if change.what == "pixels" and change.name in self._images:
            rect = self._images.update(self._doc.layer(change.name), change.rect)
            self.update(self._to_screen(QRectF(*rect)).toAlignedRect().adjusted(-1, -1, 1, 1))
        elif change.what in ("layer", "layers"):
            if change.what == "layers":
                self._images.drop(change.name)  # removed, or replaced under the same name
            self._images.keep(self._shown())
            self.update()

    # --- tools ------------------------------------------------------------------------------------------

    @property
    def tool(self) -> Tool | None:
        return self._tool

    def set_tool(self, tool: Tool | None) -> None:
        """None: view only (e.g. the photo)."""
        self._finish_stroke()
        if self._tool is not None:
            self._tool.settings.changed.disconnect(self._refresh_overlay)
        self._tool = tool
        if tool is not None:
            tool.settings.changed.connect(self._refresh_overlay)  # the brush circle follows [ and ]
        self._update_cursor()
        self._refresh_overlay()

    def _finish_stroke(self) -> None:
        if self._stroking:
            self._stroking = False
            self._tool.release(self.map_to_document(self._mouse or QPointF()))
            self.stroke_finished.emit()

    def _refresh_overlay(self) -> None:
        path = self._outline()
        new = path.boundingRect().toAlignedRect().adjusted(-3, -3, 3, 3) if path is not None else QRect()
        self.update(self._overlay.united(new))
        self._overlay = new

    def _outline(self) -> QPainterPath | None:
        """The tool's outline in screen coordinates."""
        if self._tool is None or self._mouse is None or self._pan_from is not None or self._space:
            return None
        path = self._tool.outline(self.map_to_document(self._mouse))
        return self._transform().map(path) if path is not None else None

    def _update_cursor(self) -> None:
        if self._pan_from is not None:
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        elif self._space:
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.setCursor(self._tool.cursor if self._tool is not None else Qt.CursorShape.ArrowCursor)

    # --- zoom, pan and linking -------------------------------------------------------------------------

    @property
    def zoom(self) -> float:
        """Screen pixels per document pixel."""
        return self._zoom

    def set_zoom(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom keeping the document point under `anchor` (default: the centre) in place."""
        anchor = QPointF(self.width() / 2, self.height() / 2) if anchor is None else anchor
        point = self.map_to_document(anchor)
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, factor))
        self._set_view(zoom, anchor - point * zoom, fit=False)

    def zoom_in(self) -> None:
        self.set_zoom(self._zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self._zoom / ZOOM_STEP)

    def zoom_fit(self) -> None:
        if self._doc is None:
            self._fit = True
            return
        w, h = self._doc.width, self._doc.height
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, min(self.width() / w, self.height() / h) * FIT_MARGIN))
        self._set_view(zoom, QPointF((self.width() - w * zoom) / 2, (self.height() - h * zoom) / 2), fit=True)

    def link(self, other: CanvasView) -> None:
        """Share zoom and pan both ways; `other` takes this view's current one."""
        if other in self._group:
            return
        group = self._group + [view for view in other._group if view not in self._group]
        for view in group:
            view._group = group
        other._follow(self._zoom, self._offset, self._fit)

    def map_to_document(self, pos: QPointF) -> QPointF:
        return (pos - self._offset) / self._zoom

    def _transform(self) -> QTransform:
        return QTransform(self._zoom, 0, 0, self._zoom, self._offset.x(), self._offset.y())

    def _to_screen(self, rect: QRectF) -> QRectF:
        return self._transform().mapRect(rect)

    def _set_view(self, zoom: float, offset: QPointF, fit: bool) -> None:
        zoomed = zoom != self._zoom
        moved = zoomed or offset != self._offset
        self._zoom, self._offset, self._fit = zoom, offset, fit
        if not moved:
            return
        self.update()
        self._overlay = QRect()
        if zoomed:
            self.zoom_changed.emit(zoom)
        self.view_changed.emit()
        if not self._syncing:
            for other in self._group:
                if other is not self:
                    other._follow(zoom, offset, fit)

    def _follow(self, zoom: float, offset: QPointF, fit: bool) -> None:
        self._syncing = True  # a linked view moved: follow it without echoing back
        try:
            self._set_view(zoom, offset, fit)
        finally:
            self._syncing = False

    # --- events -------------------------------------------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:
        if self._fit:
            self.zoom_fit()
        super().resizeEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        notches = event.angleDelta().y() / 120
        if notches:
            self.set_zoom(self._zoom * ZOOM_STEP ** notches, event.position())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        button, pos = event.button(), event.position()
        self._mouse = pos
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space):
            if not self._stroking:
                self._pan_from = pos
                self._update_cursor()
                self._refresh_overlay()
        elif button == Qt.MouseButton.LeftButton and self._tool is not None and not self._stroking:
            if self._tool.press(self.map_to_document(pos), event.modifiers()):
                self._stroking = True
                self.stroke_started.emit()
            self._refresh_overlay()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        self._mouse = pos
        if self._pan_from is not None:
            self._set_view(self._zoom, self._offset + pos - self._pan_from, fit=False)
            self._pan_from = pos
        point = self.map_to_document(pos)
        self._report_pixel(point)
        if self._tool is not None and self._pan_from is None:
            if self._stroking:
                self._tool.move(point, event.buttons())
            else:
                self._tool.hover(point)
        self._refresh_overlay()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._mouse = event.position()
        if self._pan_from is not None and event.button() in (Qt.MouseButton.MiddleButton,
                                                             Qt.MouseButton.LeftButton):
            self._pan_from = None
            self._update_cursor()
        elif event.button() == Qt.MouseButton.LeftButton:
            self._finish_stroke()
        self._refresh_overlay()

    def leaveEvent(self, event: QEvent) -> None:
        if not self._stroking and self._pan_from is None:
            self._mouse = None
            self._report_pixel(None)
            self._refresh_overlay()
        super().leaveEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, ctrl = event.key(), bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space = True
                self._update_cursor()
                self._refresh_overlay()
        elif event.matches(QKeySequence.StandardKey.ZoomIn) or (ctrl and key in (Qt.Key.Key_Equal,
                                                                                 Qt.Key.Key_Plus)):
            self.zoom_in()
        elif event.matches(QKeySequence.StandardKey.ZoomOut) or (ctrl and key == Qt.Key.Key_Minus):
            self.zoom_out()
        elif ctrl and key == Qt.Key.Key_0:
            self.zoom_fit()
        elif key in (Qt.Key.Key_BracketLeft, Qt.Key.Key_BracketRight) and self._tool is not None:
            if key == Qt.Key.Key_BracketLeft:
                self._tool.settings.shrink()
            else:
                self._tool.settings.grow()
        elif event.matches(QKeySequence.StandardKey.Undo) and self._doc is not None and not self._stroking:
            self._doc.undo()  # reached only where no window action owns the shortcut
        elif event.matches(QKeySequence.StandardKey.Redo) and self._doc is not None and not self._stroking:
            self._doc.redo()
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self._update_cursor()
            self._refresh_overlay()
        else:
            super().keyReleaseEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        self._space = False  # the release may go to another widget
        self._update_cursor()
        super().focusOutEvent(event)

    def _report_pixel(self, point: QPointF | None) -> None:
        doc = self._doc
        x, y = (int(np.floor(point.x())), int(np.floor(point.y()))) if point is not None else (-1, -1)
        if doc is None or not (0 <= x < doc.width and 0 <= y < doc.height):
            x = y = -1
        if (x, y) != self._pixel:
            self._pixel = (x, y)
            self.cursor_moved.emit(x, y)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        exposed = event.rect()
        painter.fillRect(exposed, BACKGROUND)
        if self._doc is not None:
            bounds = QRectF(0, 0, self._doc.width, self._doc.height)
            painter.fillRect(self._to_screen(bounds).toAlignedRect() & exposed, self._checker)
            # only the exposed document pixels, so a dab's repaint costs the dab
            visible = self._transform().inverted()[0].mapRect(QRectF(exposed)).toAlignedRect()
            source = QRectF(visible.adjusted(-1, -1, 1, 1)) & bounds
            painter.setTransform(self._transform())
            for layer in self._shown():
                if layer.visible and layer.name in self._images:
                    painter.setOpacity(layer.opacity)
                    # labels stay hard-edged at every zoom; photos are smoothed when shrunk
                    smooth = layer.kind != "labels" and self._zoom < 1
                    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
                    painter.drawImage(source, self._images.image(layer.name), source)
            painter.resetTransform()
            painter.setOpacity(1.0)
        path = self._outline()
        if path is not None:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            for color, width in ((QColor(0, 0, 0, 170), 3), (QColor(255, 255, 255), 1)):
                painter.setPen(QPen(color, width))  # dark halo + light line: visible on any class
                painter.drawPath(path)
        painter.end()


def _checker_brush() -> QBrush:
    tile = QPixmap(16, 16)
    tile.fill(CHECKER[0])
    painter = QPainter(tile)
    painter.fillRect(0, 0, 8, 8, CHECKER[1])
    painter.fillRect(8, 8, 8, 8, CHECKER[1])
    painter.end()
    return QBrush(tile)
