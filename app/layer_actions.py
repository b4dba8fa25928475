"""What a click in a page's layer list asks of the layer stack the panel shows (the Style Brushes and Swap & Edit
projects): tick to show or hide, select, move up or down, delete. Every change goes through the stack, hence into
its undo history."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidgetItem

ID_ROLE = Qt.ItemDataRole.UserRole  # each list item holds its layer's id


class LayerListActions:
    """Mixed into a layer panel that keeps its stack in `_project` (None when there is none)."""

    _project: Any

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
