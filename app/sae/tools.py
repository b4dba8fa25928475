"""Tools that edit the structure code, one code cell at a time: the clone stamp and the region picker.

They work like the painter's tools (the canvas feeds them mouse events in document pixels) but edit the
SwapProject instead of a document layer: a stroke is a drag of the project (final False per move) and one
undo step when the button is released. The brush size is a diameter in cells (shown in the photo's pixels:
BrushSizeBox), and the outline drawn on the image is the exact set of cells a dab would touch.

Clicks that do more than paint never need Alt alone, which Linux window managers take (Alt-drag moves the
window): Ctrl-click or the Set Source button picks the clone source; a Region click never replaces the selected
region: a plain click starts one only while none is selected (or after New Region), Shift adds, Ctrl removes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainterPath, QValidator
from PySide6.QtWidgets import QSpinBox, QWidget

from app.sae import edits
from app.sae.stack import CloneLayer, RegionLayer, SwapProject
from app.tools.base import Tool, clip_mask, snap, swept_disc
from app.tools.settings import ToolSettings
from engine.api import ModelEntry

ProjectSource = Callable[[], SwapProject | None]
Message = Callable[[str], None]
CROSS = 6.0  # half-size of the clone source marker, in document pixels at zoom 1
ALT = Qt.KeyboardModifier.AltModifier
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
SOURCE = CTRL | ALT  # with a click, sets the clone source (Ctrl for Linux, where the window manager takes Alt)
CLONE_TIP = ("Clone brush (C): Ctrl-click (or Set Source, then click) picks where it copies from; "
             "painting then copies that structure")
SOURCE_TIP = "Set Source: the next click on the photo picks where the clone brush copies from (or Ctrl-click it)"
REGION_TIP = ("Region (M): click to select the similar structure around a spot (while no region is selected); "
              "Shift-click/drag adds to the selected region, Ctrl-click/drag removes from it")


class CellTool(Tool):
    """Shared by the cell tools: the project, cell geometry, footprints and their outline."""

    def __init__(self, project: ProjectSource, settings: ToolSettings, message: Message) -> None:
        super().__init__(None, "", settings)
        self._project = project
        self._message = message
        self._stroking = False
        self._last: QPointF | None = None  # the latest dab, in cells

    @property
    def project(self) -> SwapProject | None:
        return self._project()

    @property
    def active(self) -> bool:
        return self._stroking

    def cell_point(self, pos: QPointF) -> QPointF:
        ch, cw = self.project.cell_size
        return QPointF(pos.x() / cw, pos.y() / ch)

    def cell_at(self, pos: QPointF) -> tuple[int, int] | None:
        """(y, x) of the cell under `pos`, or None outside the code."""
        return self.project.cell_of(pos.y(), pos.x())

    def footprint(self, a: QPointF, b: QPointF) -> np.ndarray:
        """Cells (h, w bool) within brush_size/2 of the segment a-b (both in cells)."""
        d = self.settings.brush_size
        mask = np.zeros(self.project.code_shape, bool)
        x, y, disc = swept_disc(snap(a, d), snap(b, d), d)
        clipped = clip_mask(mask.shape, x, y, disc)
        if clipped is not None:
            x0, y0, part = clipped
            mask[y0:y0 + part.shape[0], x0:x0 + part.shape[1]] |= part
        return mask

    def outline(self, pos: QPointF) -> QPainterPath | None:
        if self.project is None:
            return None
        here = self.cell_point(pos)
        return cells_outline(self.footprint(here, here), self.project.cell_size)

    def release(self, pos: QPointF) -> None:
        if self._stroking:
            self._stroking = False
            self.finish(pos)

    def finish(self, pos: QPointF) -> None:
        """The stroke ended (button released, or the view changed tool)."""


class CloneTool(CellTool):
    """Ctrl-click (or Alt-click, or a click after `arm`) sets the source; painting copies the structure code from
    the source, at the offset between the source and where the first stroke after it began (an aligned clone
    stamp)."""

    name = "Clone"
    shortcut = "C"

    def __init__(self, project: ProjectSource, settings: ToolSettings, message: Message) -> None:
        super().__init__(project, settings, message)
        self.source: tuple[int, int] | None = None
        self.offset: tuple[int, int] | None = None
        self.armed = False  # the next click sets the source (the Set Source button)
        self._code: np.ndarray | None = None  # the structure as the stroke began
        self._layer: CloneLayer | None = None

    def arm(self) -> None:
        """The next click on the photo sets the source (for a mouse, a pen or a window manager without Ctrl)."""
        self.armed = True
        self._message("Click the photo where the clone brush should copy from")

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> bool:
        project = self.project
        if project is None or self._stroking:
            return False
        cell = self.cell_at(pos)
        if modifiers & SOURCE or self.armed:
            if cell is not None:
                self.source, self.offset, self.armed = cell, None, False
                ch, cw = project.cell_size
                self._message(f"Clone source set at {round((cell[1] + 0.5) * cw)}, {round((cell[0] + 0.5) * ch)} px: "
                              "now paint where it should go")
            return False
        if self.source is None:
            self._message("Ctrl-click the photo (or press Set Source, then click) to choose where the clone brush "
                          "copies from")
            return False
        if cell is None:
            return False
        if self.offset is None:
            self.offset = (self.source[0] - cell[0], self.source[1] - cell[1])
        self._code, _ = project.final_codes()
        self._layer = edits.clone_target(project)
        self._stroking = True
        self._last = self.cell_point(pos)
        self._dab(self._last, self._last)
        return True

    def move(self, pos: QPointF, buttons: Qt.MouseButton) -> None:
        if self._stroking:
            here = self.cell_point(pos)
            self._dab(self._last, here)
            self._last = here

    def finish(self, pos: QPointF) -> None:
        project = self.project
        if project is not None and project.dragging:
            project.settle("Clone")
        self._code = self._layer = None

    def _dab(self, a: QPointF, b: QPointF) -> None:
        self._layer = edits.clone_cells(self.project, self._layer, self._code, self.footprint(a, b), self.offset)

    def outline(self, pos: QPointF) -> QPainterPath | None:
        path = super().outline(pos)
        if path is None or self.source is None:
            return path
        ch, cw = self.project.cell_size
        if self.offset is None:  # where the copying starts from
            centre = QPointF((self.source[1] + 0.5) * cw, (self.source[0] + 0.5) * ch)
        else:  # the source under the brush, as it moves
            centre = pos + QPointF(self.offset[1] * cw, self.offset[0] * ch)
        path.moveTo(centre - QPointF(CROSS, 0))
        path.lineTo(centre + QPointF(CROSS, 0))
        path.moveTo(centre - QPointF(0, CROSS))
        path.lineTo(centre + QPointF(0, CROSS))
        return path


class RegionTool(CellTool):
    """A plain click grows a new region from the cell's structure code (threshold in the side panel), only while no
    region is selected or after `start_new`: it never replaces the selected one. Shift-click/drag adds cells to the
    selected region (or starts one when none is), Ctrl- or Alt-click/drag takes cells out."""

    name = "Region"
    shortcut = "M"

    def __init__(self, project: ProjectSource, settings: ToolSettings, message: Message,
                 threshold: Callable[[], float]) -> None:
        super().__init__(project, settings, message)
        self._threshold = threshold
        self.new_next = False  # the next click starts a new region even while one is selected (New Region)
        self._add = True
        self._layer: RegionLayer | None = None
        self._structure: np.ndarray | None = None

    def start_new(self) -> None:
        """The next click starts a new region, whatever is selected."""
        self.new_next = True
        self._message("Click the photo to start a new region")

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> bool:
        project = self.project
        if project is None or self._stroking:
            return False
        cell = self.cell_at(pos)
        layer = project.selected if isinstance(project.selected, RegionLayer) else None
        if layer is None and modifiers & (CTRL | ALT):
            self._message("No region is selected to remove cells from: click the photo to select one first")
            return False
        if layer is None or (self.new_next and not modifiers & (SHIFT | CTRL | ALT)):
            if cell is not None:
                self.new_next = False
                edits.start_region(project, cell, self._threshold())
            return False
        if not modifiers & (SHIFT | CTRL | ALT):
            self._message(f"'{layer.name}' is selected: Shift-click adds to it, Ctrl-click removes from it; "
                          "New Region (in the Region panel) starts another")
            return False
        self._layer, self._add = layer, bool(modifiers & SHIFT) and not modifiers & (CTRL | ALT)
        self._structure = project.structure_below(layer.id)
        self._stroking = True
        self._last = self.cell_point(pos)
        self._dab(self._last, self._last)
        return True

    def move(self, pos: QPointF, buttons: Qt.MouseButton) -> None:
        if self._stroking:
            here = self.cell_point(pos)
            self._dab(self._last, here)
            self._last = here

    def finish(self, pos: QPointF) -> None:
        project = self.project
        if project is not None and project.dragging:
            project.settle("Add to region" if self._add else "Remove from region")
        self._layer = self._structure = None

    def _dab(self, a: QPointF, b: QPointF) -> None:
        self._layer = edits.brush_region(self.project, self._layer, self.footprint(a, b), add=self._add,
                                         structure=self._structure)


def cells_outline(cells: np.ndarray, cell_size: tuple[float, float]) -> QPainterPath:
    """The outline of a set of cells of cell_size (height, width), in document pixels (one rectangle per run of
    cells, merged)."""
    ch, cw = cell_size
    path = QPainterPath()
    for y in range(cells.shape[0]):
        row = cells[y]
        if not row.any():
            continue
        edges = np.flatnonzero(np.diff(np.concatenate(([0], row.astype(np.int8), [0]))))
        for start, stop in zip(edges[::2], edges[1::2]):
            path.addRect(QRectF(start * cw, y * ch, (stop - start) * cw, ch))
    return path.simplified()


def cell_px(project: SwapProject | None, entry: ModelEntry | None) -> float:
    """One code cell's width in the photo's pixels: the open photo's, else the model's at its working size."""
    if project is not None:
        return project.cell_size[1]
    return float(entry.capabilities.size_multiple) if entry is not None else 1.0


class BrushSizeBox(QSpinBox):
    """The brush diameter, kept in code cells (what the tools paint) and shown and typed in the photo's pixels:
    one step is one cell. `cell_px` tells the current photo's cell width in its pixels."""

    def __init__(self, cell_px: Callable[[], float], *, maximum: int, parent: QWidget | None = None) -> None:
        self._cell_px = cell_px  # first: the base class asks textFromValue while it is built
        super().__init__(parent)
        self.setRange(1, maximum)
        self.setKeyboardTracking(False)
        self.setToolTip("Brush diameter in pixels of the photo; it paints whole structure cells, so it steps by one "
                        "cell ([ smaller, ] larger)")

    def refresh(self) -> None:
        """Show the size anew (another photo: another cell size)."""
        self.lineEdit().setText(self.textFromValue(self.value()))
        self.updateGeometry()

    def textFromValue(self, value: int) -> str:
        return f"{round(value * self._cell_px())} px"

    def valueFromText(self, text: str) -> int:
        digits = re.search(r"\d+(\.\d*)?", text)
        if digits is None:
            return self.value()
        cells = round(float(digits.group()) / max(self._cell_px(), 1e-6))
        return min(self.maximum(), max(self.minimum(), cells))

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        if re.fullmatch(r"\s*\d*(\.\d*)?\s*(p|px)?\s*", text):
            state = QValidator.State.Acceptable if re.search(r"\d", text) else QValidator.State.Intermediate
            return state, text, pos
        return QValidator.State.Invalid, text, pos
