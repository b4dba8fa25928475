"""Photo files into a page: the file dialogs' filter, and files dragged from a file manager onto any widget
(without subclassing it)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QWidget

from engine.codes import PHOTO_SUFFIXES

PHOTO_FILTER = "Photos (" + " ".join(f"*{s}" for s in sorted(PHOTO_SUFFIXES)) + ")"


class FileDrop(QObject):
    """Install on widgets; `dropped(paths, modifiers)` when local files are dropped on one of them."""

    dropped = Signal(list, object)  # [str], Qt.KeyboardModifier held at the drop

    def install(self, *widgets: QWidget) -> None:
        for widget in widgets:
            widget.setAcceptDrops(True)
            widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            if _paths(event):  # type: ignore[arg-type]
                event.acceptProposedAction()
                return True
        elif event.type() == QEvent.Type.Drop:
            paths = _paths(event)  # type: ignore[arg-type]
            if paths:
                event.acceptProposedAction()
                self.dropped.emit(paths, event.modifiers())
                return True
        return super().eventFilter(watched, event)


def _paths(event: QDragEnterEvent | QDropEvent) -> list[str]:
    mime = event.mimeData()
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []

