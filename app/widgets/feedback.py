"""What a page tells the user without a dialog: a status line under the canvas and a notice above it."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel


class StatusLabel(QLabel):
    """The latest message, muted or in the error colour; the tooltip holds the whole text when it is clipped."""

    def show_message(self, text: str, *, error: bool = False) -> None:
        self.setText(text)
        self.setToolTip(text)
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
