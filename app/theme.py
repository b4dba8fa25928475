"""The app-wide look: qdarkstyle plus a few tweaks of our own."""

from __future__ import annotations

import qdarkstyle
from PySide6.QtWidgets import QApplication

# Our own widgets refer to these object names / properties instead of setting colours inline.
_TWEAKS = """
QLabel#title { font-size: 26pt; font-weight: 600; padding: 0; }
QLabel#subtitle { color: #9DA9B5; padding: 0; }
QLabel#heading { font-weight: 600; padding: 0; }
QLabel[role="error"] { color: #FF6B6B; }
QLabel[role="muted"] { color: #9DA9B5; }
/* qdarkstyle's 2px padding crowds the text; set it for every state, or a button sized while
   disabled is too narrow for its text once enabled. */
QPushButton, QPushButton:disabled, QPushButton:checked, QPushButton:checked:disabled {
    min-height: 22px; padding: 3px 12px;
}
QPushButton[role="primary"] { padding: 6px 18px; font-weight: 600; }
/* A toggle that is on reads as chosen (the selection blue), never as the grey of a pressed or hovered button;
   keyboard focus is only an outline, so a focused toggle that is off still looks off. */
QToolButton:checked, QPushButton:checked { background-color: #1A72BB; color: #FFFFFF; }
QToolButton:checked:hover, QPushButton:checked:hover { background-color: #1F80CF; }
QToolButton, QPushButton { border: 1px solid transparent; }
QToolButton:focus, QPushButton:focus { border: 1px solid #9DA9B5; }
QFrame#toolCard { background-color: #37414F; border: 1px solid #455364; border-radius: 8px; }
QFrame#toolCard:hover { border: 1px solid #1A72BB; }
QFrame#toolCard QLabel { background: transparent; border: none; }
"""


def apply_theme(app: QApplication) -> None:
    """Call once, after the QApplication exists (qdarkstyle patches palettes on load)."""
    app.setStyleSheet(qdarkstyle.load_stylesheet(qt_api="pyside6") + _TWEAKS)
