"""What a page tells the user without a dialog: a status line under the canvas and a notice above it."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel

MIN_ELIDED_WIDTH = 60
FILE_LABEL_WIDTH = 420  # the most a file's line takes of a status row, so the messages beside it stay readable


class ElidedLabel(QLabel):
    """One line that gives way: it asks for its whole text's width but takes less, ending in "…" (the tooltip
    holds the whole text), so a long file name or message never widens the window. File names lose their
    middle, messages their end."""

    ELIDE = Qt.TextElideMode.ElideMiddle

    def set_text(self, text: str) -> None:
        self.setText(text)
        self.setToolTip(text)

    def minimumSizeHint(self) -> QSize:
        return QSize(min(MIN_ELIDED_WIDTH, super().minimumSizeHint().width()), super().minimumSizeHint().height())

    def paintEvent(self, event: QPaintEvent) -> None:
        rect = self.contentsRect()
        text = self.fontMetrics().elidedText(self.text(), self.ELIDE, rect.width())
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(rect, int(self.alignment() | Qt.AlignmentFlag.AlignVCenter), text)


class StatusLabel(ElidedLabel):
    """The latest message, muted or in the error colour; the tooltip holds the whole text when it is clipped."""

    ELIDE = Qt.TextElideMode.ElideRight

    def show_message(self, text: str, *, error: bool = False) -> None:
        self.set_text(text)
        self.setProperty("role", "error" if error else "muted")
        self.style().polish(self)  # the role's colour applies only after a re-polish


class Notice(QLabel):
    """What keeps the page from working (no model, a missing one), in the error colour; hidden while empty."""

    def __init__(self) -> None:
        super().__init__(wordWrap=True)
        self.setProperty("role", "error")
        self.hide()

    def say(self, text: str) -> None:
        self.setText(text)
        self.setVisible(bool(text))
