"""A page's layer list bound to its project's layer stack (the Style Brushes and Swap & Edit projects, both
LayerStacks of app/history.py): the list shows the stack top first and follows its changes; a click asks the
stack to show or hide, select, move up or down, delete. Every change goes through the stack, hence into its
undo history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QToolButton

from app.history import LayerStack, ProjectChange

ID_ROLE = Qt.ItemDataRole.UserRole  # each list item holds its layer's id


class LayerListActions:
    """Mixed into a layer panel (a QWidget) with a `list`, `up`, `down` and `delete` buttons, and a `refresh()`
    that shows the stack; call `_follow_changes()` once those exist."""

    _project: Any  # the LayerStack shown, or None
    list: QListWidget
    up: QToolButton
    down: QToolButton
    delete: QToolButton

    def refresh(self) -> None:
        raise NotImplementedError

    def _follow_changes(self) -> None:
        self._project = None
        self._unsubscribe: Callable[[], None] | None = None
        # rebuilt on the next turn of the event loop: a tick must not delete its item from inside its signal
        self._rebuild_timer = QTimer(self, singleShot=True, interval=0)  # type: ignore[arg-type]
        self._rebuild_timer.timeout.connect(self.refresh)
        self.list.itemChanged.connect(self._ticked)
        self.list.currentItemChanged.connect(self._selected)

    def set_project(self, project: LayerStack | None) -> None:
        if self._unsubscribe:
            self._unsubscribe()
        self._project = project
        self._unsubscribe = project.subscribe(self._changed) if project else None
        self.refresh()

    def _changed(self, change: ProjectChange) -> None:
        if change.what == "selection" or (change.what == "layers" and change.final):
            self._rebuild_timer.start()

    def _fill_list(self, text: Callable[[Any], str]) -> None:
        """One checkable item per layer, top first, the selected one current; the buttons follow."""
        project = self._project
        self.list.blockSignals(True)
        self.list.clear()
        for layer in reversed(project.layers if project else ()):
            item = QListWidgetItem(text(layer))
            item.setData(ID_ROLE, layer.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked)
            self.list.addItem(item)
            if project.selected is layer:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        layer = project.selected if project else None
        index = project.index(layer.id) if layer else -1
        self.up.setEnabled(layer is not None and index < len(project.layers) - 1)
        self.down.setEnabled(layer is not None and index > 0)
        self.delete.setEnabled(layer is not None)

    def _ticked(self, item: QListWidgetItem) -> None:
        if self._project is not None:
            self._project.set_visible(item.data(ID_ROLE), item.checkState() == Qt.CheckState.Checked)

    def _selected(self, item: QListWidgetItem | None) -> None:
        if self._project is not None:
            self._project.select(item.data(ID_ROLE) if item else None)

    def _move(self, delta: int) -> None:
        if self._project is not None and self._project.selected is not None:
            self._project.move_layer(self._project.selected.id, delta)

    def _delete(self) -> None:
        if self._project is not None and self._project.selected is not None:
            self._project.remove_layer(self._project.selected.id)
