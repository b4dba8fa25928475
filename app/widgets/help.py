"""Help that needs no network: the keyboard shortcut sheet (every shortcut of the window and of the tool on show)
and README sections shown in the app."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

README = Path(__file__).resolve().parents[2] / "README.md"
EXTRA_KEYS = (  # what no action carries: the canvas's own keys
    ("Canvas", "Space + drag, middle drag", "Pan"),
    ("Canvas", "Wheel", "Zoom at the pointer"),
    ("Canvas", "Ctrl+=, Ctrl+-, Ctrl+0", "Zoom in, zoom out, fit"),
    ("Canvas", "[ and ]", "Smaller and larger brush"),
    ("Variations", "Drag the square or its corners", "Choose what the model sees"),
    ("Variations", "Click, Shift+click a result", "Look at it large; blend the large one towards it"),
)


def shortcut_rows(groups: Iterable[tuple[str, Iterable[QAction]]]) -> list[tuple[str, str, str]]:
    """(group, keys, what) for every action that has a shortcut, in menu order, without duplicates."""
    rows, seen = [], set()
    for group, actions in groups:
        for action in actions:
            keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts())
            text = action.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
            if keys and (keys, text) not in seen:
                seen.add((keys, text))
                rows.append((group, keys, text))
    return rows + list(EXTRA_KEYS)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class ShortcutSheet(QDialog):
    def __init__(self, rows: list[tuple[str, str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts")
        self.resize(560, 600)
        self.rows = rows
        html, group = ["<table cellspacing=0 cellpadding=3>"], None
        for name, keys, what in rows:
            if name != group:
                html.append(f"<tr><td colspan=2><br><b>{_escape(name)}</b></td></tr>")
                group = name
            html.append(f"<tr><td width=200><code>{_escape(keys)}</code></td><td>{_escape(what)}</td></tr>")
        html.append("</table>")
        self.text = QTextBrowser()
        self.text.setHtml("".join(html))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)


def readme_section(title: str, readme: Path = README) -> str:
    """The Markdown of the README section headed `title` (its subsections included); "" when it is missing."""
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError:
        return ""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    return f"## {title}\n{match.group(1)}" if match else ""


class HelpTopic(QDialog):
    """A README section, rendered."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(760, 600)
        self.text = QTextBrowser(openExternalLinks=True)
        section = readme_section(title)
        self.text.setMarkdown(section or f"The README section “{title}” is missing from {README}.")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
