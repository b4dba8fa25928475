"""The edit layers of a project, top first: a check box shows or hides each, the buttons reorder and delete,
the selection says which layer the controls edit. Bound to a SwapProject; every change goes through it
(hence into its undo history)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QListWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.sae.stack import (
    CloneLayer,
    EditLayer,
    RegionLayer,
    SwapLayer,
    SwapProject,
    TextureLayer,
)
from app.widgets.layer_actions import LayerListActions


def describe(layer: EditLayer, project: SwapProject) -> str:
    """One line after the name: what the layer does."""
    if isinstance(layer, SwapLayer):
        ref = project.references.get(layer.reference)
        return f"{layer.alpha:.0%} {ref.name if ref else '?'}"
    if isinstance(layer, TextureLayer):
        moved = sum(1 for g in layer.gains if g) + sum(1 for _, a in layer.attributes if a)
        return f"{moved} slider{'s' if moved != 1 else ''}"
    if isinstance(layer, CloneLayer):
        return area(layer.cells)
    if isinstance(layer, RegionLayer):
        return f"{area(layer.weights > 0)} · likeness {layer.threshold:.0%}"
    return ""


def area(cells: np.ndarray) -> str:
    """How much of the photo the cells cover, in words an artist reads ("12% of the photo")."""
    share = float(np.count_nonzero(cells)) / max(1, cells.size)
    if share == 0:
        return "empty"
    return f"{share:.0%} of the photo" if share >= 0.01 else "under 1% of the photo"


class LayersPanel(LayerListActions, QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Edit layers", parent)
        self.list = QListWidget()
        self.list.setToolTip("Tick to show a layer; the selected layer is the one the controls edit")
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.up, self.down, self.delete = (QToolButton(text=t, autoRaise=True) for t in ("▲", "▼", "✕"))
        for button, tip, slot in ((self.up, "Move the layer up (applied later)", lambda: self._move(1)),
                                  (self.down, "Move the layer down (applied earlier)", lambda: self._move(-1)),
                                  (self.delete, "Delete the layer", self._delete)):
            button.setToolTip(tip)
            button.clicked.connect(slot)
        buttons = QHBoxLayout()
        buttons.addStretch()
        for button in (self.up, self.down, self.delete):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self._follow_changes()
        self.set_project(None)

    def refresh(self) -> None:
        self._fill_list(lambda layer: f"{layer.name}\n{describe(layer, self._project)}")
