"""The brush layers, top first, and the selected layer's settings: its model and direction, opacity, and how
its translation stands. Bound to a BrushProject: every change goes through it (hence into its undo history).
Adding a layer and translating again are intents for the page, which knows the models and the engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QPushButton,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.brushes.project import BrushLayer
from app.brushes.sources import DIRECTION_TITLES, directions, source_of
from app.widgets.layer_actions import ID_ROLE, LayerListActions
from app.widgets.model_picker import DemoBadge
from engine.api import ModelEntry

OPACITY_STEPS = 100
ERROR_COLOR = QColor("#FF6B6B")  # the theme's error text


@dataclass(frozen=True)
class LayerNote:
    """How a layer's translation stands, for the list and the settings: one line, whether it is an error, and
    whether asking again could help (after a failure or a cancel)."""

    text: str = ""
    error: bool = False
    retry: bool = False


LayerStatus = Callable[[BrushLayer], LayerNote]


class BrushLayersPanel(LayerListActions, QWidget):
    add_requested = Signal()
    retry_requested = Signal(str)  # layer id: translate again after a failure or a cancel

    def __init__(self, status: LayerStatus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._status = status
        self._models: list[ModelEntry] = []

        self.list = QListWidget()
        self.list.setToolTip("Tick to show a layer; the selected layer is the one the brush paints into. "
                             "Double-click to rename.")
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setMinimumHeight(90)
        self.list.setMaximumHeight(130)  # the Style panel needs the room below
        self.list.itemDoubleClicked.connect(lambda item: self.rename())
        self.add, self.up, self.down, self.rename_button, self.delete = (
            QToolButton(text=t, autoRaise=True) for t in ("+", "▲", "▼", "✎", "✕"))
        for button, tip, slot in (
                (self.add, "Add a brush layer with the chosen model", self.add_requested.emit),
                (self.up, "Move the layer up (composited later, over the others)", lambda: self._move(1)),
                (self.down, "Move the layer down", lambda: self._move(-1)),
                (self.rename_button, "Rename the layer", self.rename),
                (self.delete, "Delete the layer (its mask too; Undo brings both back)", self._delete)):
            button.setToolTip(tip)
            button.clicked.connect(slot)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add)
        buttons.addStretch()
        for button in (self.up, self.down, self.rename_button, self.delete):
            buttons.addWidget(button)
        layers_box = QGroupBox("Brush layers")
        column = QVBoxLayout(layers_box)
        column.addWidget(self.list, 1)
        column.addLayout(buttons)

        # a row of its own, the panel's full width; the popup is as wide as the longest name
        self.model_picker = QComboBox(minimumContentsLength=12)
        self.model_picker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_picker.view().setTextElideMode(Qt.TextElideMode.ElideNone)
        self.model_picker.setToolTip("The translation this layer paints with")
        self.model_picker.activated.connect(lambda _: self._model_picked())
        self.direction_picker = QComboBox()
        self.direction_picker.setToolTip("Which way the model translates (CycleGAN models hold both generators)")
        self.direction_picker.activated.connect(lambda _: self._model_picked())
        self.direction_label = QLabel("Direction")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, OPACITY_STEPS)
        self.opacity.setPageStep(10)
        self.opacity.setToolTip("How strongly the whole layer shows where its mask is painted")
        self.opacity.valueChanged.connect(self._opacity_moved)
        self.opacity.sliderReleased.connect(lambda: self._set_opacity(final=True))
        self.opacity_readout = QLabel()
        self.opacity_readout.setMinimumWidth(self.opacity_readout.fontMetrics().horizontalAdvance("100%") + 6)
        self.opacity_readout.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        opacity_row = QHBoxLayout()
        opacity_row.addWidget(self.opacity, 1)
        opacity_row.addWidget(self.opacity_readout)
        self.fill_mask = QPushButton("Show Everywhere")
        self.fill_mask.setToolTip("Fill the layer's mask: its translation shows over the whole photo (undoable)")
        self.fill_mask.clicked.connect(lambda: self._fill(1.0))
        self.clear_mask = QPushButton("Clear Mask")
        self.clear_mask.setToolTip("Empty the layer's mask: it shows nowhere until painted again (undoable)")
        self.clear_mask.clicked.connect(lambda: self._fill(0.0))
        mask_row = QHBoxLayout()
        mask_row.addWidget(self.fill_mask)
        mask_row.addWidget(self.clear_mask)
        self.status = QLabel(wordWrap=True)
        self.status.setProperty("role", "muted")
        self.retry = QPushButton("Translate again")
        self.retry.setToolTip("Ask the engine for this layer's translation again")
        self.retry.clicked.connect(self._retry)
        layer_box = QGroupBox("Layer")
        form = QFormLayout(layer_box)
        form.addRow(QLabel("Model"))
        form.addRow(self.model_picker)
        self.demo_badge = DemoBadge()  # the layer's model is a small embedded one
        badge_row = QHBoxLayout()
        badge_row.addWidget(self.demo_badge)
        badge_row.addStretch()
        form.addRow(badge_row)
        form.addRow(self.direction_label, self.direction_picker)
        form.addRow("Opacity", opacity_row)
        form.addRow("Mask", mask_row)
        form.addRow(self.status)
        form.addRow(self.retry)
        self.layer_box = layer_box

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(layers_box, 1)
        layout.addWidget(layer_box)
        self._follow_changes()
        self.set_project(None)

    # --- binding -----------------------------------------------------------------------------------------

    def set_models(self, models: list[ModelEntry]) -> None:
        self._models = list(models)
        self.refresh()

    def refresh(self) -> None:
        """Show the project's layers and the selected layer's settings (after a change of the project)."""
        self._fill_list(lambda layer: "")  # the text tells the translation too: refresh_status writes it
        self._show_settings()
        self.refresh_status()

    def refresh_status(self) -> None:
        """Show how each layer's translation stands (as translations progress, arrive or fail)."""
        project = self._project
        self.list.blockSignals(True)
        for row in range(self.list.count()):
            item = self.list.item(row)
            try:
                layer = project.layer(item.data(ID_ROLE))
            except KeyError:  # the list is about to be rebuilt
                continue
            note = self._status(layer)
            item.setText(f"{layer.name}\n{self._model_text(layer)}{'  ·  ' + note.text if note.text else ''}")
            item.setToolTip(note.text or layer.name)
            item.setForeground(ERROR_COLOR if note.error else self.list.palette().text())
        self.list.blockSignals(False)
        layer = project.selected if project else None
        note = self._status(layer) if layer else LayerNote()
        self.status.setText(note.text)
        self.status.setVisible(bool(note.text))
        self.status.setProperty("role", "error" if note.error else "muted")
        self.status.style().polish(self.status)
        self.retry.setVisible(note.retry)

    def _model_text(self, layer: BrushLayer) -> str:
        if not layer.model_id:
            return "no model"
        entry = next((e for e in self._models if e.id == layer.model_id), None)
        return source_of(layer, entry).describe(layer, entry, self._project.styles if self._project else {})

    def _show_settings(self) -> None:
        project = self._project
        layer = project.selected if project else None
        self.rename_button.setEnabled(layer is not None)
        self.add.setEnabled(project is not None and bool(self._models))
        self.layer_box.setEnabled(layer is not None)

        self.model_picker.clear()
        for e in self._models:
            self.model_picker.addItem(e.name or e.id, e.id)
            self.model_picker.setItemData(self.model_picker.count() - 1, f"{e.id} ({e.method})",
                                          Qt.ItemDataRole.ToolTipRole)
        entry = next((e for e in self._models if layer is not None and e.id == layer.model_id), None)
        if layer is not None and layer.model_id and entry is None:  # keep showing what the layer names
            self.model_picker.addItem(f"{layer.model_id} (not in the Library)", layer.model_id)
        self.model_picker.setCurrentIndex(self.model_picker.findData(layer.model_id) if layer else -1)
        self.model_picker.view().setMinimumWidth(self.model_picker.view().sizeHintForColumn(0) + 24)
        self.demo_badge.show_for(entry)
        held = directions(entry) if entry is not None else ()
        self.direction_picker.clear()
        for direction in held:
            self.direction_picker.addItem(DIRECTION_TITLES[direction], direction)
        self.direction_picker.setCurrentIndex(max(0, self.direction_picker.findData(layer.direction if layer else "")))
        for widget in (self.direction_label, self.direction_picker):
            widget.setVisible(len(held) > 1)

        self.opacity.blockSignals(True)
        self.opacity.setValue(round((layer.opacity if layer else 1.0) * OPACITY_STEPS))
        self.opacity.blockSignals(False)
        self.opacity_readout.setText(f"{self.opacity.value()}%")

    # --- user actions ------------------------------------------------------------------------------------

    def rename(self) -> None:
        project = self._project
        layer = project.selected if project else None
        if layer is None:
            return
        name, ok = QInputDialog.getText(self, "Rename Layer", "Name:", text=layer.name)
        if ok:
            project.rename(layer.id, name)

    def _model_picked(self) -> None:
        project = self._project
        layer = project.selected if project else None
        entry = next((e for e in self._models if e.id == self.model_picker.currentData()), None)
        if layer is None or entry is None:
            return
        held = directions(entry)
        direction = self.direction_picker.currentData() if entry.id == layer.model_id else layer.direction
        project.set_model(layer.id, entry.id, direction if direction in held else held[0])

    def _opacity_moved(self, value: int) -> None:
        self.opacity_readout.setText(f"{value}%")
        self._set_opacity(final=not self.opacity.isSliderDown())

    def _set_opacity(self, *, final: bool) -> None:
        project = self._project
        if project is not None and project.selected is not None:
            project.set_opacity(project.selected.id, self.opacity.value() / OPACITY_STEPS, final=final)

    def _fill(self, value: float) -> None:
        if self._project is not None and self._project.selected is not None:
            self._project.fill_mask(self._project.selected.id, value)

    def _retry(self) -> None:
        if self._project is not None and self._project.selected is not None:
            self.retry_requested.emit(self._project.selected.id)
