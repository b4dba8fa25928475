"""The mask brush and eraser: soft round strokes painted into the selected brush layer's mask.

A stroke is one Document edit (hence one undo step) on the mask layer. Its footprint falls off from the
centre with the hardness, and a stroke lays at most `strength` over what was there: inside one stroke the
coverage is the maximum of its dabs, so going over the same spot again does not build up; separate strokes
do. The brush: mask = before + (1 - before) * strength * coverage; the eraser: before * (1 - strength * coverage).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QPainterPath

from app.brushes.project import BrushProject
from app.document import Edit
from app.tools.base import Tool, clip_mask, segment_distance2
from app.tools.settings import ToolSettings

ProjectSource = Callable[[], BrushProject | None]
Message = Callable[[str], None]


class BrushSettings(ToolSettings):
    """The brush size (diameter in photo pixels) plus hardness and strength, both in [0, 1]."""

    def __init__(self, *, brush_size: int = 64, hardness: float = 0.5, strength: float = 1.0) -> None:
        super().__init__(brush_size=brush_size)
        self._hardness, self._strength = hardness, strength

    @property
    def hardness(self) -> float:
        """1: a crisp edge; 0: soft all the way from the centre."""
        return self._hardness

    @property
    def strength(self) -> float:
        """The most one stroke lays over the mask."""
        return self._strength

    def set_hardness(self, value: float) -> None:
        self._set("_hardness", min(max(float(value), 0.0), 1.0))

    def set_strength(self, value: float) -> None:
        self._set("_strength", min(max(float(value), 0.0), 1.0))


def falloff(distance2: np.ndarray, radius: float, hardness: float) -> np.ndarray:
    """Coverage in [0, 1] at squared distances from the stroke: 1 inside hardness * radius, then a smooth
    step down to 0 at the radius (at least one pixel wide, so hard edges are still anti-aliased)."""
    width = max(1.0, (1.0 - hardness) * radius)
    t = np.clip((radius - np.sqrt(distance2)) / width, 0.0, 1.0).astype(np.float32)
    return t * t * (3.0 - 2.0 * t)


class MaskTool(Tool):
    """Paints the selected layer's mask; the eraser is the same tool with `erase`."""

    name, shortcut = "Brush", "B"
    erase = False

    def __init__(self, project: ProjectSource, settings: BrushSettings, message: Message) -> None:
        super().__init__(lambda: project().document if project() else None, "", settings)
        self._project = project
        self._message = message
        self._last: QPointF | None = None
        self._coverage: np.ndarray | None = None  # this stroke's coverage so far (calloc'd: costs what it touches)
        self._before: np.ndarray | None = None  # the mask as the stroke found it, where it has touched

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> bool:
        project = self._project()
        layer = project.selected if project else None
        if layer is None:
            if project is not None:
                self._message("Add a brush layer first (the + under the layer list)")
            return False
        self.layer_name = layer.mask
        if not super().press(pos, modifiers & ~Qt.KeyboardModifier.AltModifier & ~Qt.KeyboardModifier.ControlModifier):
            return False
        project.begin_stroke()
        if not layer.visible:
            self._message(f"{layer.name} is hidden: tick it in the layer list to see what you paint")
        return True

    def release(self, pos: QPointF) -> None:
        project = self._project()
        if project is None or not self.active:
            return
        try:
            with project.stroke():
                super().release(pos)
        finally:
            self._coverage = self._before = None

    def begin(self, edit: Edit, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        self._coverage = np.zeros(edit.data.shape, np.float32)
        self._before = np.zeros(edit.data.shape, np.float32)
        line = modifiers & Qt.KeyboardModifier.ShiftModifier and self._last is not None
        self._segment(edit, self._last if line else pos, pos)

    def drag(self, edit: Edit, pos: QPointF) -> None:
        if pos != self._last:
            self._segment(edit, self._last, pos)

    def end(self, edit: Edit, pos: QPointF) -> None:
        self.drag(edit, pos)

    def outline(self, pos: QPointF) -> QPainterPath:
        settings: BrushSettings = self.settings  # type: ignore[assignment]
        radius = settings.brush_size / 2
        path = QPainterPath()
        path.addEllipse(pos, radius, radius)
        inner = radius - max(1.0, (1.0 - settings.hardness) * radius)
        if inner > 2:  # where the full strength ends
            path.addEllipse(pos, inner, inner)
        return path

    def _segment(self, edit: Edit, a: QPointF, b: QPointF) -> None:
        radius = self.settings.brush_size / 2
        # long segments go in pieces so each footprint's rectangle (and repaint) stays tight
        pieces = max(1, math.ceil(math.hypot(b.x() - a.x(), b.y() - a.y()) / max(8.0, 2 * radius)))
        for i in range(pieces):
            p, q = a + (b - a) * (i / pieces), a + (b - a) * ((i + 1) / pieces)
            x, y, distance2 = segment_distance2(p, q, radius)
            clipped = clip_mask(edit.data.shape, x, y, distance2)
            if clipped is not None:
                self._dab(edit, *clipped)
        self._last = b

    def _dab(self, edit: Edit, x: int, y: int, distance2: np.ndarray) -> None:
        settings: BrushSettings = self.settings  # type: ignore[assignment]
        cover = falloff(distance2, settings.brush_size / 2, settings.hardness)
        if not cover.any():
            return
        h, w = cover.shape
        rect = (x, y, w, h)
        mask = edit.region(rect)
        coverage = self._coverage[y:y + h, x:x + w]
        before = self._before[y:y + h, x:x + w]
        np.copyto(before, mask, where=coverage == 0)  # pixels this stroke has not touched yet
        np.maximum(coverage, cover, out=coverage)
        amount = coverage * np.float32(settings.strength)  # 0 where untouched: those pixels keep `before`
        mask[...] = before * (1.0 - amount) if self.erase else before + (1.0 - before) * amount
        edit.changed(rect)


class MaskEraser(MaskTool):
    name, shortcut = "Eraser", "E"
    erase = True
