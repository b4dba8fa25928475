"""Region controls: what a click of the Region tool does now, New Region, the similarity threshold the selected
region grows with, how soft its edges are, and the sliders that move its structure codes along the principal
directions of structure codes, with pictures of the region at each slider's two ends. Emits intents; the page
edits."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from app.sae.direction_sliders import DirectionSliders
from app.sae.edits import DEFAULT_THRESHOLD
from app.sae.looks import Look
from engine.api import CodeStats

THRESHOLD_STEPS = 100
MAX_DIRECTIONS = 6
STRUCTURE_LIMIT = 3.0  # standard deviations of the photos' structure codes: ±100 %
NOTHING_SELECTED = ("No region selected · Region tool (M): <b>click</b> the photo to select the area whose structure "
                    "is like that spot")
SELECTED = ("<b>{name}</b> is selected · <b>Shift-click/drag</b>: add to it · <b>Ctrl-click/drag</b>: remove from it · "
            "a plain click changes nothing · <b>New Region</b>: start another")
NO_DIRECTIONS = "Reshaping a region needs the model's editing directions: compute them under Statistics below."


class RegionPanel(QGroupBox):
    threshold_changed = Signal(float, bool)  # threshold, final
    gains_changed = Signal(tuple, bool)  # gains along the structure directions, final

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Region", parent)
        self.hint = QLabel(NOTHING_SELECTED, wordWrap=True, textFormat=Qt.TextFormat.RichText)
        self.hint.setProperty("role", "muted")
        self.new_region = QPushButton("New Region")
        self.new_region.setToolTip("The next click on the photo starts a new region (the selected one is kept)")
        self.threshold = QSlider(Qt.Orientation.Horizontal)
        self.threshold.setRange(0, THRESHOLD_STEPS)
        self.threshold.setValue(round(DEFAULT_THRESHOLD * THRESHOLD_STEPS))
        self.threshold.setToolTip("How alike the structure must be to the clicked spot's: lower grows the region")
        self.threshold.valueChanged.connect(self._moved)
        self.threshold.sliderReleased.connect(lambda: self.threshold_changed.emit(self.threshold_value(), True))
        self.readout = QLabel()
        self.readout.setMinimumWidth(self.readout.fontMetrics().horizontalAdvance("100%") + 6)
        row = QHBoxLayout()
        row.addWidget(QLabel("Likeness"))
        row.addWidget(self.threshold, 1)
        row.addWidget(self.readout)
        self.edges = QLabel(wordWrap=True)
        self.edges.setProperty("role", "muted")
        self.sliders = DirectionSliders(self, limit=STRUCTURE_LIMIT, pictures=True)
        self.sliders.values_changed.connect(self.gains_changed)
        layout = QVBoxLayout(self)
        layout.addWidget(self.hint)
        layout.addWidget(self.new_region, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addLayout(row)
        layout.addWidget(self.edges)
        layout.addWidget(self.sliders)
        self._show_threshold()
        self.set_stats(None)
        self.set_feather(None)
        self.show_region(None, ())

    def threshold_value(self) -> float:
        return self.threshold.value() / THRESHOLD_STEPS

    def set_stats(self, stats: CodeStats | None) -> None:
        """One slider per structure direction the model has (the strongest few)."""
        count = 0 if stats is None else min(MAX_DIRECTIONS, len(stats.structure_components))
        self.sliders.set_directions(
            [f"Reshape {i + 1}" for i in range(count)],
            [f"Reshapes the selected region along one of the main ways the model's photos differ in structure "
             f"(structure component {i + 1}); ±100% is as far as those photos go" for i in range(count)])
        self.sliders.set_hint(NO_DIRECTIONS)

    def set_feather(self, pixels: float | None) -> None:
        """How far a region's edit blends into the photo around its edge, in the photo's pixels (None: no photo)."""
        self.edges.setText("" if pixels is None else
                           f"Edges blend over about {round(pixels)} px, following the photo's own edges.")
        self.edges.setVisible(pixels is not None)

    def show_region(self, threshold: float | None, gains: tuple[float, ...], name: str = "") -> None:
        """The selected region's values (threshold None: no region selected; the sliders are off)."""
        if threshold is not None:
            self.threshold.blockSignals(True)
            self.threshold.setValue(round(threshold * THRESHOLD_STEPS))
            self.threshold.blockSignals(False)
            self._show_threshold()
        self.hint.setText(NOTHING_SELECTED if threshold is None else SELECTED.format(name=name or "A region"))
        self.sliders.set_values(gains)
        self.sliders.setEnabled(threshold is not None)

    def show_looks(self, looks: Sequence[Look | None]) -> None:
        """The selected region at each Reshape slider's two ends (None: not made yet, or no region selected)."""
        for row in range(self.sliders.count()):
            look = looks[row] if row < len(looks) else None
            self.sliders.set_pictures(row, look.left if look else None, look.right if look else None)

    def _moved(self) -> None:
        self._show_threshold()
        self.threshold_changed.emit(self.threshold_value(), not self.threshold.isSliderDown())

    def _show_threshold(self) -> None:
        self.readout.setText(f"{self.threshold_value():.0%}")
