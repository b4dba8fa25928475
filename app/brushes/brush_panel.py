"""The brush controls: size, hardness and strength, bound both ways to BrushSettings (so [ and ] show here)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QLabel, QSlider, QSpinBox, QWidget

from app.brushes.tools import BrushSettings
from app.tools.settings import MAX_BRUSH, MIN_BRUSH

PERCENT = 100
HOW = "B paints the selected layer's translation in, E erases it; [ and ] change the size."


class PercentSlider(QWidget):
    """A 0..100% slider with its readout; `setter` gets the fraction as it moves."""

    def __init__(self, tip: str, setter: Callable[[float], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, PERCENT)
        self.slider.setPageStep(10)
        self.slider.setToolTip(tip)
        self.readout = QLabel()
        self.readout.setMinimumWidth(self.readout.fontMetrics().horizontalAdvance("100%") + 6)
        self.readout.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.slider.valueChanged.connect(lambda v: (self.readout.setText(f"{v}%"), setter(v / PERCENT)))
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.readout)

    def show_value(self, fraction: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(round(fraction * PERCENT))
        self.slider.blockSignals(False)
        self.readout.setText(f"{self.slider.value()}%")


class BrushPanel(QGroupBox):
    def __init__(self, settings: BrushSettings, parent: QWidget | None = None) -> None:
        super().__init__("Brush", parent)
        self.settings = settings
        self.size = QSpinBox(minimum=MIN_BRUSH, maximum=MAX_BRUSH, suffix=" px", keyboardTracking=False)
        self.size.setToolTip("Brush diameter in photo pixels ([ smaller, ] larger)")
        self.size.valueChanged.connect(settings.set_brush_size)
        self.hardness = PercentSlider("Hardness: 100% gives a crisp edge, lower feathers it", settings.set_hardness)
        self.strength = PercentSlider("Strength: the most one stroke lays down (paint again to add more)",
                                      settings.set_strength)
        hint = QLabel(HOW, wordWrap=True)
        hint.setProperty("role", "muted")
        form = QFormLayout(self)
        form.addRow(hint)
        form.addRow("Size", self.size)
        form.addRow("Hardness", self.hardness)
        form.addRow("Strength", self.strength)
        settings.changed.connect(self._show)
        self._show()

    def _show(self) -> None:
        self.size.blockSignals(True)
        self.size.setValue(self.settings.brush_size)
        self.size.blockSignals(False)
        self.hardness.show_value(self.settings.hardness)
        self.strength.show_value(self.settings.strength)
