"""The edit layers of a project, top first: a check box shows or hides each, the buttons reorder and delete,
the selection says which layer the controls edit. Bound to a SwapProject; every change goes through it
(hence into its undo history)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.layer_actions import ID_ROLE, LayerListActions
from app.sae.stack import (
    CloneLayer,
    EditLayer,
    ProjectChange,
    RegionLayer,
    SwapLayer,
    SwapProject,
    TextureLayer,
)



def describe(layer: EditLayer, project: SwapProject) -> str:
    """One line after the name: what the layer does."""
    if isinstance(layer, SwapLayer):
        ref = project.references.get(layer.reference)
        return f"{layer.alpha:.0%} {ref.name if ref else '?'}"
    if isinstance(layer, TextureLayer):
        moved = sum(1 for g in layer.gains if g) + sum(1 for _, a in layer.attributes if a)
        return f"{moved} slider{'s' if moved != 1 else ''}"
    if isinstance(layer, CloneLayer):
        return f"{int(layer.cells.sum())} cells"
    if isinstance(layer, RegionLayer):
        return f"{int((layer.weights > 0).sum())} cells · threshold {layer.threshold:.2f}"
    return ""


class LayersPanel(LayerListActions, QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Edit layers", parent)
        self._project: SwapProject | None = None
        self._unsubscribe: Callable[[], None] | None = None
        # rebuilt on the next turn of the event loop: a tick must not delete its item from inside its signal
        self._rebuild_timer = QTimer(self, singleShot=True, interval=0)
        self._rebuild_timer.timeout.connect(self._rebuild)
        self.list = QListWidget()
        self.list.setToolTip("Tick to show a layer; the selected layer is the one the controls edit")
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.list.itemChanged.connect(self._ticked)
        self.list.currentItemChanged.connect(self._selected)
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
        self.set_project(None)

    def set_project(self, project: SwapProject | None) -> None:
        if self._unsubscribe:
            self._unsubscribe()
        self._project = project
        self._unsubscribe = project.subscribe(self._changed) if project else None
        self._rebuild()

    def _changed(self, change: ProjectChange) -> None:
        if change.what == "selection" or (change.what == "layers" and change.final):
            self._rebuild_timer.start()

    def _rebuild(self) -> None:
        project = self._project
        self.list.blockSignals(True)
        self.list.clear()
        for layer in reversed(project.layers if project else ()):
            item = QListWidgetItem(f"{layer.name}\n{describe(layer, project)}")
            item.setData(ID_ROLE, layer.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked)
            self.list.addItem(item)
            if project.selected is layer:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        project = self._project
        layer = project.selected if project else None
        index = project.index(layer.id) if layer else -1
        self.up.setEnabled(layer is not None and index < len(project.layers) - 1)
        self.down.setEnabled(layer is not None and index > 0)
        self.delete.setEnabled(layer is not None)

