"""A tool page as the main window knows it: the one protocol between them. A page names its entries for the
File and Edit menus (the window shows them, and their shortcuts live, only while the page is) and says whether
it may close (unsaved work); the window knows nothing else of it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShowEvent
from PySide6.QtWidgets import QLayout, QToolBar, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from app.canvas import CanvasView
    from app.fileio.page_files import PageFiles
    from app.tools import Tool, ToolSettings

ToolEntry = tuple[str, str, "Tool | None", str]  # shortcut key, name, the tool (None: look only), tooltip


class Page(QWidget):
    def menu_actions(self) -> dict[str, list[QAction | None]]:
        """Entries for the main window's menus, by menu title (None: a separator)."""
        return {}

    def may_close(self) -> bool:
        """Asked before the window closes: False keeps it open (the user kept unsaved work)."""
        return True


class ProjectPage(Page):
    """A page that edits one project at a time: its PageFiles (`files`) make the menu entries and guard unsaved
    work, and its canvas takes the keyboard whenever the page shows. The helpers below build what the pages'
    frames have in common."""

    files: PageFiles
    canvas: CanvasView
    notice: QWidget

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tools: dict[str, Tool | None] = {}  # by shortcut key
        self.tool_actions = QActionGroup(self)

    def menu_actions(self) -> dict[str, list[QAction | None]]:
        return self.files.menu_actions()

    def may_close(self) -> bool:
        return self.files.confirm_discard()

    def showEvent(self, event: QShowEvent) -> None:
        self.canvas.setFocus()  # so the tools' keys ([, ], B, E, …) reach the canvas, not a spin box
        super().showEvent(event)

    def add_tool_actions(self, bar: QToolBar, entries: Sequence[ToolEntry]) -> None:
        """One checkable toolbar entry per tool; choosing one gives the canvas that tool."""
        for key, name, tool, tip in entries:
            self.tools[key] = tool
            action = QAction(name, self, checkable=True, shortcut=QKeySequence(key))
            action.setToolTip(tip)
            action.triggered.connect(lambda *_, t=tool: self.canvas.set_tool(t))
            self.tool_actions.addAction(action)
            bar.addAction(action)

    def add_brush_keys(self, settings: ToolSettings) -> None:
        """[ and ] make the brush smaller and larger while the page has the focus."""
        for text, key, slot in (("Smaller brush", "[", settings.shrink), ("Larger brush", "]", settings.grow)):
            action = QAction(text, self, shortcut=QKeySequence(key))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(slot)
            self.addAction(action)

    def lay_out(self, toolbar: QToolBar, middle: QLayout, status: QLayout) -> None:
        """The page's frame: the toolbar, the notice, the views and panels, the status line."""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 4)
        layout.addWidget(toolbar)
        layout.addWidget(self.notice)
        layout.addLayout(middle, 1)
        layout.addLayout(status)
