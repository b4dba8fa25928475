"""The photo with the square the model sees: drag inside the square to move it, drag a corner to resize it (it
stays square, the opposite corner fixed). Zoom and pan are the canvas's own (wheel, Space or middle drag).

The view only shows and emits intents: `crop_changed(crop, final)` while dragging (final False) and on release."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPainterPath, QPaintEvent, QPen

from app.canvas import CanvasView
from app.variations.project import MIN_CROP, Crop

HANDLE = 10  # screen px around a corner that grab it
SHADE = QColor(0, 0, 0, 110)  # outside the crop


class CropView(CanvasView):
    crop_changed = Signal(object, bool)  # Crop, final

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.crop: Crop | None = None
        self._drag: tuple[str, QPointF, Crop] | None = None  # "move" or a corner, where it began, the crop then

    def set_crop(self, crop: Crop | None) -> None:
        self.crop = crop
        self.update()

    def _screen_rect(self) -> QRectF:
        c = self.crop
        return self._to_screen(QRectF(c.x, c.y, c.side, c.side))

    def _hit(self, pos: QPointF) -> str | None:
        if self.crop is None or self.document is None:
            return None
        rect = self._screen_rect()
        corners = {"tl": rect.topLeft(), "tr": rect.topRight(), "bl": rect.bottomLeft(), "br": rect.bottomRight()}
        for name, corner in corners.items():
            if abs(pos.x() - corner.x()) <= HANDLE and abs(pos.y() - corner.y()) <= HANDLE:
                return name
        return "move" if rect.contains(pos) else None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        hit = self._hit(event.position()) if event.button() == Qt.MouseButton.LeftButton and not self._space else None
        if hit is None:
            super().mousePressEvent(event)
            return
        self._drag = (hit, self.map_to_document(event.position()), self.crop)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag is None:
            super().mouseMoveEvent(event)
            hit = self._hit(event.position()) if self._pan_from is None and not self._space else None
            cursors = {"move": Qt.CursorShape.SizeAllCursor, "tl": Qt.CursorShape.SizeFDiagCursor,
                       "br": Qt.CursorShape.SizeFDiagCursor, "tr": Qt.CursorShape.SizeBDiagCursor,
                       "bl": Qt.CursorShape.SizeBDiagCursor}
            if hit is not None:
                self.setCursor(cursors[hit])
            elif self._pan_from is None and not self._space:
                self.setCursor(Qt.CursorShape.ArrowCursor)
            return
        self._dragged(self.map_to_document(event.position()), final=False)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag is None or event.button() != Qt.MouseButton.LeftButton:
            super().mouseReleaseEvent(event)
            return
        self._dragged(self.map_to_document(event.position()), final=True)
        self._drag = None

    def _dragged(self, point: QPointF, *, final: bool) -> None:
        what, start, before = self._drag
        doc = self.document
        h, w = doc.height, doc.width
        dx, dy = round(point.x() - start.x()), round(point.y() - start.y())
        if what == "move":
            crop = Crop(before.x + dx, before.y + dy, before.side)
        else:
            # the opposite corner stays; the side follows the larger of the two moves
            right, bottom = before.x + before.side, before.y + before.side
            sx = -dx if what[1] == "l" else dx
            sy = -dy if what[0] == "t" else dy
            side = max(MIN_CROP, before.side + max(sx, sy))
            ax = right if what[1] == "l" else before.x  # the fixed corner
            ay = bottom if what[0] == "t" else before.y
            room_x = ax if what[1] == "l" else w - ax
            room_y = ay if what[0] == "t" else h - ay
            side = min(side, room_x, room_y)
            crop = Crop(ax - side if what[1] == "l" else ax, ay - side if what[0] == "t" else ay, side)
        crop = crop.fitted(h, w)
        if crop != self.crop or final:
            self.crop = crop
            self.update()
            self.crop_changed.emit(crop, final)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self.crop is None or self.document is None:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = self._screen_rect()
        image = self._to_screen(QRectF(0, 0, self.document.width, self.document.height))
        shade = QPainterPath()
        shade.addRect(image)
        hole = QPainterPath()
        hole.addRect(rect)
        painter.fillPath(shade.subtracted(hole), SHADE)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for color, width in ((QColor(0, 0, 0, 170), 3), (QColor(255, 255, 255), 1)):
            painter.setPen(QPen(color, width))
            painter.drawRect(rect)
        painter.setBrush(QColor(255, 255, 255))
        painter.setPen(QPen(QColor(0, 0, 0, 170), 1))
        for corner in (rect.topLeft(), rect.topRight(), rect.bottomLeft(), rect.bottomRight()):
            painter.drawRect(QRectF(corner.x() - 4, corner.y() - 4, 8, 8))
        painter.end()
