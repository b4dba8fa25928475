"""Region controls: the similarity threshold the selected region grows with, and the sliders that move its
structure codes along the principal directions of structure codes. Emits intents; the page edits."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from app.sae.direction_sliders import DirectionSliders
from app.sae.edits import DEFAULT_THRESHOLD
from engine.api import CodeStats

THRESHOLD_STEPS = 100
MAX_DIRECTIONS = 6
HOW = ("Region tool (M): click the photo to select the cells whose structure is like the clicked one; "
       "Shift-drag adds cells, Alt-drag removes them.")
NO_DIRECTIONS = "Moving a region needs the model's structure directions: compute them under Statistics below."


class RegionPanel(QGroupBox):
    threshold_changed = Signal(float, bool)  # threshold, final
    gains_changed = Signal(tuple, bool)  # gains along the structure directions, final

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Region", parent)
        self.hint = QLabel(HOW, wordWrap=True)
        self.hint.setProperty("role", "muted")
        self.threshold = QSlider(Qt.Orientation.Horizontal)
        self.threshold.setRange(0, THRESHOLD_STEPS)
        self.threshold.setValue(round(DEFAULT_THRESHOLD * THRESHOLD_STEPS))
        self.threshold.setToolTip("How alike a cell's structure must be to the clicked one: lower grows the region")
        self.threshold.valueChanged.connect(self._moved)
        self.threshold.sliderReleased.connect(lambda: self.threshold_changed.emit(self.threshold_value(), True))
        self.readout = QLabel()
        self.readout.setMinimumWidth(self.readout.fontMetrics().horizontalAdvance("0.00") + 6)
        row = QHBoxLayout()
        row.addWidget(QLabel("Threshold"))
        row.addWidget(self.threshold, 1)
        row.addWidget(self.readout)
        self.sliders = DirectionSliders(self)
        self.sliders.values_changed.connect(self.gains_changed)
        layout = QVBoxLayout(self)
        layout.addWidget(self.hint)
        layout.addLayout(row)
        layout.addWidget(self.sliders)
        self._show_threshold()
        self.set_stats(None)
        self.show_region(None, ())

    def threshold_value(self) -> float:
        return self.threshold.value() / THRESHOLD_STEPS

    def set_stats(self, stats: CodeStats | None) -> None:
        """One slider per structure direction the model has (the strongest few)."""
        count = 0 if stats is None else min(MAX_DIRECTIONS, len(stats.structure_components))
        self.sliders.set_directions([f"Structure {i + 1}" for i in range(count)])
        self.sliders.set_hint(NO_DIRECTIONS)

    def show_region(self, threshold: float | None, gains: tuple[float, ...]) -> None:
        """The selected region's values (threshold None: no region selected; the sliders are off)."""
        if threshold is not None:
            self.threshold.blockSignals(True)
            self.threshold.setValue(round(threshold * THRESHOLD_STEPS))
            self.threshold.blockSignals(False)
            self._show_threshold()
        self.sliders.set_values(gains)
        self.sliders.setEnabled(threshold is not None)

    def _moved(self) -> None:
        self._show_threshold()
        self.threshold_changed.emit(self.threshold_value(), not self.threshold.isSliderDown())

    def _show_threshold(self) -> None:
        self.readout.setText(f"{self.threshold_value():.2f}")
