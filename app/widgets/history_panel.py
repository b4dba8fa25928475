"""The undo history panel: the open work's steps, oldest first, under "Opened"; the current state is selected,
steps that redo would take are greyed; a click goes back (or forward) to that state, as repeated Undo or Redo."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from app.history import Undoable

START = "Opened"  # the state before any step


class HistoryPanel(QListWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._history: Undoable | None = None
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the canvas keeps the keyboard
        self.itemClicked.connect(self._clicked)

    def show_history(self, history: Undoable | None) -> None:
        """Show `history` as it is now (call again whenever it changes)."""
        self._history = history
        self.clear()
        if history is None:
            return
        done = history.history.descriptions(undo=True)
        undone = history.history.descriptions(undo=False)
        for index, text in enumerate([START, *done, *undone]):
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, index)
            if index > len(done):
                item.setForeground(self.palette().placeholderText())
            self.addItem(item)
        self.setCurrentRow(len(done))
        self.scrollToItem(self.currentItem())

    def _clicked(self, item: QListWidgetItem) -> None:
        if self._history is not None:
            self._history.go_to(int(item.data(Qt.ItemDataRole.UserRole)))
