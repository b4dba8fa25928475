"""The tool mechanism the canvas drives: a tool turns mouse events (in document coordinates) into one
undoable document edit per press..release, and describes what the view should outline.

Tools never repaint anything themselves: they write through `Edit.region` and announce each touched
rect with `Edit.changed`, and every observer of the document (the canvas, the painter's render
scheduler) reacts to that. Label tools live in label_tools.py; later tools (clone brush, style-brush
masks) subclass `Tool` or `StrokeTool` and only implement how a footprint is applied.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QPainterPath

from app.document import Document, Edit
from app.tools.settings import ToolSettings

DocumentSource = Document | Callable[[], Document | None] | None
PICK_MODIFIERS = Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.ControlModifier


class Tool:
    name = "Tool"
    shortcut = ""  # the letter the painter binds to this tool
    cursor = Qt.CursorShape.CrossCursor

    def __init__(self, document: DocumentSource, layer_name: str, settings: ToolSettings) -> None:
        self._source = document  # a getter lets one tool follow the painter's current document
        self.layer_name = layer_name
        self.settings = settings
        self._edit: Edit | None = None

    @property
    def document(self) -> Document | None:
        return self._source() if callable(self._source) else self._source

    @property
    def active(self) -> bool:
        """Between a press that began a stroke and its release."""
        return self._edit is not None

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> bool:
        """Begin a stroke; returns whether one began (Alt/Ctrl-click picks the class instead)."""
        if modifiers & PICK_MODIFIERS:
            self.pick(pos)
            return False
        doc = self.document
        if self._edit is not None or doc is None or not doc.has_layer(self.layer_name):
            return False
        if not doc.layer(self.layer_name).editable:
            return False
        self._edit = doc.edit(self.layer_name, self.name)
        self.begin(self._edit, pos, modifiers)
        return True

    def move(self, pos: QPointF, buttons: Qt.MouseButton) -> None:
        if self._edit is not None:
            self.drag(self._edit, pos)

    def release(self, pos: QPointF) -> None:
        """End the stroke: one commit, hence one undo step."""
        if self._edit is None:
            return
        edit, self._edit = self._edit, None
        try:
            self.end(edit, pos)
        finally:
            edit.commit()

    def hover(self, pos: QPointF) -> None:
        """The mouse moved with no stroke in progress."""

    def outline(self, pos: QPointF) -> QPainterPath | None:
        """What the view draws at the mouse (brush circle, rubber band), in document coordinates."""
        return None

    def pick(self, pos: QPointF) -> None:
        """Eyedropper shared by all tools: the label under `pos` becomes the current class."""
        doc = self.document
        if doc is None or not doc.has_layer(self.layer_name):
            return
        layer = doc.layer(self.layer_name)
        x, y = math.floor(pos.x()), math.floor(pos.y())
        if layer.kind == "labels" and 0 <= x < doc.width and 0 <= y < doc.height:
            self.settings.set_current_class(int(layer.data[y, x]))

    # --- what subclasses implement ---------------------------------------------------------------

    def begin(self, edit: Edit, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        pass

    def drag(self, edit: Edit, pos: QPointF) -> None:
        pass

    def end(self, edit: Edit, pos: QPointF) -> None:
        pass


class StrokeTool(Tool):
    """A round hard-edged footprint swept along the mouse path; shift-press continues with a straight
    line from where the previous stroke ended. Subclasses say what a footprint does in `apply`."""

    def __init__(self, document: DocumentSource, layer_name: str, settings: ToolSettings) -> None:
        super().__init__(document, layer_name, settings)
        self._last: QPointF | None = None  # snapped centre of the latest dab

    def apply(self, edit: Edit, x: int, y: int, mask: np.ndarray) -> None:
        """Write the footprint `mask` (bool, top-left at document pixel x, y) into `edit`."""
        raise NotImplementedError

    def begin(self, edit: Edit, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        line = modifiers & Qt.KeyboardModifier.ShiftModifier and self._last is not None
        self._segment(edit, self._last if line else pos, pos)

    def drag(self, edit: Edit, pos: QPointF) -> None:
        if snap(pos, self.settings.brush_size) != self._last:  # moves within a pixel add nothing
            self._segment(edit, self._last, pos)

    def end(self, edit: Edit, pos: QPointF) -> None:
        self.drag(edit, pos)

    def outline(self, pos: QPointF) -> QPainterPath:
        d = self.settings.brush_size
        path = QPainterPath()
        path.addEllipse(snap(pos, d), d / 2, d / 2)
        return path

    def _segment(self, edit: Edit, a: QPointF, b: QPointF) -> None:
        d = self.settings.brush_size
        a, b = snap(a, d), snap(b, d)
        # long segments go in pieces so each footprint's bounding box (and repaint) stays tight
        pieces = max(1, math.ceil(math.hypot(b.x() - a.x(), b.y() - a.y()) / max(8.0, d)))
        for i in range(pieces):
            p, q = a + (b - a) * (i / pieces), a + (b - a) * ((i + 1) / pieces)
            x, y, mask = swept_disc(p, q, d)
            clipped = clip_mask(edit.data.shape, x, y, mask)
            if clipped is not None:
                self.apply(edit, *clipped)
        self._last = b


def snap(pos: QPointF, diameter: int) -> QPointF:
    """Centre a footprint on the pixel grid so every dab of a size covers the same pixel pattern."""
    x0, y0 = round(pos.x() - diameter / 2), round(pos.y() - diameter / 2)
    return QPointF(x0 + diameter / 2, y0 + diameter / 2)


def swept_disc(a: QPointF, b: QPointF, diameter: int) -> tuple[int, int, np.ndarray]:
    """Pixels whose centres lie within diameter/2 of the segment a-b: (x, y, bool mask).

    A disc swept along the segment instead of dabs at intervals, so fast strokes have no gaps and
    edges no scallops; at a = b it is exactly the pattern of `disc(diameter)`.
    """
    if a == b:
        return round(a.x() - diameter / 2), round(a.y() - diameter / 2), disc(diameter)
    r = diameter / 2
    x0, y0, distance2 = segment_distance2(a, b, r)
    return x0, y0, distance2 <= r * r + 1e-6


def segment_distance2(a: QPointF, b: QPointF, reach: float) -> tuple[int, int, np.ndarray]:
    """Squared distances from the segment a-b to the centres of the pixels within `reach` of its bounding
    box: (x, y, float array), top-left at document pixel x, y. Soft brushes shape their falloff with it."""
    x0, y0 = math.floor(min(a.x(), b.x()) - reach), math.floor(min(a.y(), b.y()) - reach)
    x1, y1 = math.ceil(max(a.x(), b.x()) + reach), math.ceil(max(a.y(), b.y()) + reach)
    ys, xs = np.ogrid[y0:y1, x0:x1]
    px, py = xs + 0.5 - a.x(), ys + 0.5 - a.y()
    vx, vy = b.x() - a.x(), b.y() - a.y()
    length2 = vx * vx + vy * vy
    t = np.clip((px * vx + py * vy) / length2, 0.0, 1.0) if length2 else 0.0
    return x0, y0, (px - t * vx) ** 2 + (py - t * vy) ** 2


@lru_cache(maxsize=16)
def disc(diameter: int) -> np.ndarray:
    c = np.arange(diameter) + 0.5 - diameter / 2
    mask = c[None, :] ** 2 + c[:, None] ** 2 <= (diameter / 2) ** 2 + 1e-6
    mask.flags.writeable = False  # shared by the cache
    return mask


def clip_mask(shape: tuple[int, ...], x: int, y: int, mask: np.ndarray) -> tuple[int, int, np.ndarray] | None:
    """The part of `mask` (top-left at x, y) that lies inside an image of `shape`; None if nothing does."""
    h, w = mask.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, shape[1]), min(y + h, shape[0])
    if x0 >= x1 or y0 >= y1:
        return None
    return x0, y0, mask[y0 - y:y1 - y, x0 - x:x1 - x]


def fill_mask(edit: Edit, x: int, y: int, mask: np.ndarray, value: float) -> None:
    """Set the pixels of `mask` (top-left at x, y, inside the layer) to `value` and announce the rect."""
    rect = (x, y, mask.shape[1], mask.shape[0])
    edit.region(rect)[mask] = value
    edit.changed(rect)
