"""A column of sliders, one per editing direction, each with its own reset (and optionally a remove) button, and
optionally small pictures of what its two ends look like.

Values are gains in units of the direction (standard deviations for principal components, whole mean
differences for attributes); the readout shows them as a percent of `full` (the amount an artist reads as
"all of it"). `values_changed(values, final)` reports drags as they happen (final False)
and settles with final True on release, reset or a keyboard step, so the owner can preview cheaply
while dragging and render in full once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap, QWheelEvent
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QPushButton,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

STEPS = 100  # slider ticks per unit: values have two decimals
NO_DIRECTIONS = "No directions yet."
NAME_WIDTH = 100  # px; longer names are elided (the tooltip has them whole)
THUMB_BOX = (40, 30)  # px (width, height) an end's picture fits in


class _Slider(QSlider):
    """A horizontal slider that ignores the mouse wheel unless it has focus, so scrolling the panel
    past it never edits the photo by accident."""

    def __init__(self, limit: float) -> None:
        super().__init__(Qt.Orientation.Horizontal)
        self.setRange(-round(limit * STEPS), round(limit * STEPS))
        self.setSingleStep(STEPS // 10)
        self.setPageStep(STEPS // 2)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumWidth(60)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


class DirectionSliders(QWidget):
    values_changed = Signal(tuple, bool)  # values, final
    remove_requested = Signal(int)  # row index (only when built with removable=True)

    def __init__(self, parent: QWidget | None = None, *, limit: float = 3.0, full: float | None = None,
                 removable: bool = False, pictures: bool = False) -> None:
        super().__init__(parent)
        self._limit = limit
        self._full = full or limit
        self._removable = removable
        self._pictures = pictures  # a row of its own per slider, with its two ends' pictures either side
        self._sliders: list[_Slider] = []
        self._names: list[QLabel] = []
        self._readouts: list[QLabel] = []
        self._resets: list[QToolButton] = []
        self._ends: list[tuple[QLabel, QLabel]] = []
        self._rows = QWidget()
        self._grid = QGridLayout(self._rows)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setHorizontalSpacing(6)
        self._grid.setVerticalSpacing(2 if pictures else 6)
        self._grid.setColumnStretch(1, 1)
        self.hint = QLabel(NO_DIRECTIONS, wordWrap=True)
        self.hint.setProperty("role", "muted")
        self.reset_all = QPushButton("Reset all")
        self.reset_all.setToolTip("Set every slider back to 0")
        self.reset_all.clicked.connect(self._reset_all)
        self.footer = QHBoxLayout()  # owners may put their own buttons left of "Reset all"
        self.footer.addStretch()
        self.footer.addWidget(self.reset_all)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.hint)
        layout.addWidget(self._rows)
        layout.addLayout(self.footer)
        self.set_directions([])

    def set_directions(self, labels: list[str], tooltips: Sequence[str] = ()) -> None:
        """One slider per label, all at 0 (no signal). No labels: the hint alone."""
        _clear(self._grid)
        self._sliders, self._names, self._readouts, self._resets, self._ends = [], [], [], [], []
        for row, label in enumerate(labels):
            self._add_row(row, label, tooltips[row] if row < len(tooltips) else "")
        self.hint.setVisible(not labels)
        self._rows.setVisible(bool(labels))
        self.reset_all.setVisible(bool(labels))
        self._sync_resets()

    def set_hint(self, text: str) -> None:
        """What the empty state says (why there are no directions, what to do about it)."""
        self.hint.setText(text or NO_DIRECTIONS)

    def count(self) -> int:
        return len(self._sliders)

    def values(self) -> tuple[float, ...]:
        return tuple(s.value() / STEPS for s in self._sliders)

    def set_values(self, values: Sequence[float]) -> None:
        """Show `values` (missing ones are 0, extra ones ignored, each clamped to the range) silently."""
        for i, slider in enumerate(self._sliders):
            slider.blockSignals(True)
            slider.setValue(round(float(values[i]) * STEPS) if i < len(values) else 0)
            slider.blockSignals(False)
            self._show_value(i)
        self._sync_resets()

    def slider(self, row: int) -> QSlider:
        return self._sliders[row]

    def reset_button(self, row: int) -> QToolButton:
        return self._resets[row]

    def label(self, row: int) -> str:
        """Row `row`'s whole name (the label may show it elided)."""
        return str(self._names[row].property("full"))

    def set_label(self, row: int, label: str) -> None:
        """Rename row `row` (its tooltip keeps the explanation)."""
        name = self._names[row]
        name.setProperty("full", label)
        name.setText(name.fontMetrics().elidedText(label, Qt.TextElideMode.ElideRight, self._name_width()))
        self._resets[row].setToolTip(f"Reset {label} to 0")

    def set_pictures(self, row: int, left: np.ndarray | None, right: np.ndarray | None) -> None:
        """What the photo looks like at the slider's left and right ends (hxwx3 uint8), or None: not yet."""
        if not self._pictures:
            return
        for label, image, end in zip(self._ends[row], (left, right), ("left", "right"), strict=True):
            if image is None:
                label.clear()
                label.setToolTip(f"The {end} end: its picture is being made…")
                continue
            label.setPixmap(_pixmap(image).scaled(*THUMB_BOX, Qt.AspectRatioMode.KeepAspectRatio,
                                                  Qt.TransformationMode.SmoothTransformation))
            label.setToolTip(f"The photo with this slider at its {end} end")

    def has_pictures(self, row: int) -> bool:
        return self._pictures and all(not label.pixmap().isNull() for label in self._ends[row])

    def _name_width(self) -> int:
        return 2 * NAME_WIDTH if self._pictures else NAME_WIDTH

    def _add_row(self, row: int, label: str, tooltip: str) -> None:
        name = QLabel()
        name.setProperty("full", label)
        name.setText(name.fontMetrics().elidedText(label, Qt.TextElideMode.ElideRight, self._name_width()))
        name.setToolTip(tooltip or label)
        slider = _Slider(self._limit)
        slider.setToolTip(tooltip or label)
        readout = QLabel()
        readout.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        widest = max(readout.fontMetrics().horizontalAdvance(self._text(sign * self._limit)) for sign in (1, -1))
        readout.setMinimumWidth(widest + 4)
        reset = QToolButton(text="↺", autoRaise=True)
        reset.setToolTip(f"Reset {label} to 0")
        slider.valueChanged.connect(lambda _v, i=row: self._moved(i))
        slider.sliderReleased.connect(self._settled)
        reset.clicked.connect(lambda _c=False, i=row: self._reset(i))
        remove = None
        if self._removable:
            remove = QToolButton(text="✕", autoRaise=True)
            remove.setToolTip(f"Remove {label} from the model")
            remove.clicked.connect(lambda _c=False, i=row: self.remove_requested.emit(i))
        if self._pictures:  # name, readout, buttons above; left end, slider, right end below
            ends = (QLabel(), QLabel())
            for end in ends:
                end.setFixedSize(*THUMB_BOX)
                end.setAlignment(Qt.AlignmentFlag.AlignCenter)
            top = QHBoxLayout()
            top.addWidget(name, 1)
            top.addWidget(readout)
            top.addWidget(reset)
            if remove is not None:
                top.addWidget(remove)
            self._grid.addLayout(top, 2 * row, 0, 1, 3)
            for column, widget in enumerate((ends[0], slider, ends[1])):
                self._grid.addWidget(widget, 2 * row + 1, column)
            self._ends.append(ends)
        else:
            for column, widget in enumerate((name, slider, readout, reset, remove)):
                if widget is not None:
                    self._grid.addWidget(widget, row, column)
        self._sliders.append(slider)
        self._names.append(name)
        self._readouts.append(readout)
        self._resets.append(reset)
        self._show_value(row)
        if self._pictures:
            self.set_pictures(row, None, None)

    def _text(self, value: float) -> str:
        return f"{round(100 * value / self._full):+d}%"

    def _show_value(self, row: int) -> None:
        self._readouts[row].setText(self._text(self._sliders[row].value() / STEPS))

    def _moved(self, row: int) -> None:
        self._show_value(row)
        self._sync_resets()
        # a drag reports as it goes and settles on release; a key or click step is final at once
        self.values_changed.emit(self.values(), not self._sliders[row].isSliderDown())

    def _settled(self) -> None:
        self.values_changed.emit(self.values(), True)

    def _reset(self, row: int) -> None:
        if self._sliders[row].value() != 0:
            self._set_silently(row, 0)
            self._sync_resets()
            self.values_changed.emit(self.values(), True)

    def _reset_all(self) -> None:
        if any(self.values()):
            for row in range(len(self._sliders)):
                self._set_silently(row, 0)
            self._sync_resets()
            self.values_changed.emit(self.values(), True)

    def _set_silently(self, row: int, ticks: int) -> None:
        self._sliders[row].blockSignals(True)
        self._sliders[row].setValue(ticks)
        self._sliders[row].blockSignals(False)
        self._show_value(row)

    def _sync_resets(self) -> None:
        for slider, reset in zip(self._sliders, self._resets):
            reset.setEnabled(slider.value() != 0)
        self.reset_all.setEnabled(any(s.value() for s in self._sliders))


def _pixmap(image: np.ndarray) -> QPixmap:
    image = np.ascontiguousarray(image, np.uint8)
    h, w = image.shape[:2]
    return QPixmap.fromImage(QImage(image.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy())


def _clear(layout: QLayout) -> None:
    """Take every widget (and nested layout) out of `layout` and delete it."""
    while layout.count():
        item = layout.takeAt(0)
        if widget := item.widget():
            widget.hide()  # deleteLater keeps it on screen until the event loop runs
            widget.deleteLater()
        elif inner := item.layout():
            _clear(inner)
            inner.deleteLater()
