"""Tools for painting a "labels" layer (HxW uint8 class ids) with the classes in ToolSettings."""

from __future__ import annotations

import math

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainterPath, QPolygonF

from app.document import Edit
from app.tools.base import DocumentSource, StrokeTool, Tool, clip_mask, fill_mask
from app.tools.settings import ToolSettings

SUBPIXEL_BITS = 4  # cv2.fillPoly fixed-point precision, so lasso edges follow the mouse, not whole pixels


class BrushTool(StrokeTool):
    name, shortcut = "Brush", "B"

    def value(self) -> int:
        return self.settings.current_class

    def apply(self, edit: Edit, x: int, y: int, mask: np.ndarray) -> None:
        fill_mask(edit, x, y, mask, self.value())


class EraserTool(BrushTool):
    """The brush with the background class."""

    name, shortcut = "Eraser", "E"

    def value(self) -> int:
        return self.settings.background_class


class FillTool(Tool):
    """Flood fill of the 4-connected region of the clicked class."""

    name, shortcut = "Fill", "G"

    def begin(self, edit: Edit, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        labels = self.document.layer(self.layer_name).data  # read only: the flood below writes a mask
        x, y = math.floor(pos.x()), math.floor(pos.y())
        h, w = labels.shape
        if not (0 <= x < w and 0 <= y < h) or labels[y, x] == self.settings.current_class:
            return
        mask = np.zeros((h + 2, w + 2), np.uint8)
        flags = 4 | cv2.FLOODFILL_MASK_ONLY | (1 << 8)  # 4-connected, exact class match, mask value 1
        _, _, _, (rx, ry, rw, rh) = cv2.floodFill(labels, mask, (x, y), 0, 0, 0, flags)
        fill_mask(edit, rx, ry, mask[ry + 1:ry + 1 + rh, rx + 1:rx + 1 + rw].astype(bool),
                  self.settings.current_class)


class RectFillTool(Tool):
    """Drag a rectangle; the pixels under it (both corners included) get the current class on release."""

    name, shortcut = "Rectangle fill", "R"

    def __init__(self, document: DocumentSource, layer_name: str, settings: ToolSettings) -> None:
        super().__init__(document, layer_name, settings)
        self._start = QPointF()

    def begin(self, edit: Edit, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        self._start = pos

    def end(self, edit: Edit, pos: QPointF) -> None:
        r = self._pixels(pos)
        mask = np.ones((int(r.height()), int(r.width())), bool)
        clipped = clip_mask(edit.data.shape, int(r.x()), int(r.y()), mask)
        if clipped is not None:
            fill_mask(edit, *clipped, self.settings.current_class)

    def outline(self, pos: QPointF) -> QPainterPath | None:
        if not self.active:
            return None
        path = QPainterPath()
        path.addRect(self._pixels(pos))
        return path

    def _pixels(self, pos: QPointF) -> QRectF:
        x0, x1 = sorted((math.floor(self._start.x()), math.floor(pos.x())))
        y0, y1 = sorted((math.floor(self._start.y()), math.floor(pos.y())))
        return QRectF(x0, y0, x1 - x0 + 1, y1 - y0 + 1)


class LassoFillTool(Tool):
    """Drag a freehand polygon; the pixels whose centres it encloses get the current class on release."""

    name, shortcut = "Lasso fill", "L"

    def __init__(self, document: DocumentSource, layer_name: str, settings: ToolSettings) -> None:
        super().__init__(document, layer_name, settings)
        self._points: list[QPointF] = []

    def begin(self, edit: Edit, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        self._points = [pos]

    def drag(self, edit: Edit, pos: QPointF) -> None:
        self._points.append(pos)

    def end(self, edit: Edit, pos: QPointF) -> None:
        points, self._points = [*self._points, pos], []
        if len(points) < 3:
            return
        xy = np.array([(p.x(), p.y()) for p in points])
        x0, y0 = np.floor(xy.min(axis=0)).astype(int)
        x1, y1 = np.ceil(xy.max(axis=0)).astype(int)
        mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
        # OpenCV puts pixel centres on integers, ours on +0.5
        fixed = np.round((xy - (x0 + 0.5, y0 + 0.5)) * (1 << SUBPIXEL_BITS)).astype(np.int32)
        cv2.fillPoly(mask, [fixed], 1, cv2.LINE_8, SUBPIXEL_BITS)
        clipped = clip_mask(edit.data.shape, int(x0), int(y0), mask.astype(bool))
        if clipped is not None:
            fill_mask(edit, *clipped, self.settings.current_class)

    def outline(self, pos: QPointF) -> QPainterPath | None:
        if not self.active:
            return None
        path = QPainterPath()
        path.addPolygon(QPolygonF([*self._points, pos]))
        path.closeSubpath()
        return path


class EyedropperTool(Tool):
    """A click sets the current class; it never changes the document."""

    name, shortcut = "Eyedropper", "I"

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> bool:
        self.pick(pos)
        return False


LABEL_TOOLS: tuple[type[Tool], ...] = (BrushTool, EraserTool, FillTool, RectFillTool, LassoFillTool,
                                       EyedropperTool)
