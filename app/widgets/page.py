"""A tool page as the main window knows it: the one protocol between them. A page names its entries for the
File and Edit menus (the window shows them, and their shortcuts live, only while the page is), says whether it
may close (unsaved work), what it has open (the window's title, the undo history panel), whether it has a result
image and takes photos (File > Send to), which side panels Tab hides, opens recent files, and what saves its work
into a studio project; the window knows nothing else of it. Pages never import each other: a photo goes from one to another through the window."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShowEvent
from PySide6.QtWidgets import QLayout, QLineEdit, QToolBar, QVBoxLayout, QWidget

from app.widgets.files import PHOTO, PROJECT

if TYPE_CHECKING:
    from app.canvas import CanvasView
    from app.fileio.page_files import PageFiles
    from app.history import Undoable
    from app.tools import Tool, ToolSettings

ToolEntry = tuple[str, str, "Tool | None", str]  # shortcut key, name, the tool (None: look only), tooltip

# Export and Send to take only a full-resolution result: never a preview, nor a blank awaiting its first render
RESULT_PENDING = "Not yet: the full-resolution result is still being generated; try again when it shows"


class Page(QWidget):
    changed = Signal()  # what is open, its modified mark or its history changed
    message = Signal(str)  # a confirmation for the window's status bar ("Saved ~/x.ora")

    ACCEPTS_PHOTOS = False  # a page that takes a photo another tool made (receive_photo)

    def menu_actions(self) -> dict[str, list[QAction | None]]:
        """Entries for the main window's menus, by menu title (None: a separator)."""
        return {}

    def may_close(self) -> bool:
        """Asked before the window closes: False keeps it open (the user kept unsaved work)."""
        return True

    def document_title(self) -> str:
        """The file (or photo) open in the page ("": nothing open)."""
        return ""

    def is_modified(self) -> bool:
        return False

    def history(self) -> Undoable | None:
        """The undoable model of what is open (the undo history panel shows it)."""
        return None

    def has_result(self) -> bool:
        """Whether result_image() has one (cheap: it touches no pixels, for menus)."""
        return False

    def result_image(self) -> np.ndarray | None:
        """The page's result (HxWx3 float32 in [0, 1]) another tool can take as its photo; None: none yet."""
        return None

    def receive_photo(self, image: np.ndarray, name: str) -> bool:
        """Open `image` (another tool's result, named after where it came from) as the page's photo, as opening
        a photo file would (after asking about unsaved work); False when it did not (the user was told why)."""
        return False

    def open_recent(self, kind: str, path: Path) -> bool:
        """Open a recent file of `kind` (app/widgets/files.py) as File > Open would; False: not a kind it opens."""
        return False

    def panels(self) -> list[QWidget]:
        """The side panels Tab hides (the canvas stays)."""
        return []

    def focus_canvas(self) -> None:
        """Give the keyboard to the page's canvas (so its tool keys work), as entering the page does."""

    def project_files(self) -> PageFiles | None:
        """What saves and opens the page's work as a project (.ora): a studio project holds each tool's work
        through it (app/fileio/studio.py); None: the page keeps no work."""
        return None


class ProjectPage(Page):
    """A page that edits one project at a time: its PageFiles (`files`) make the menu entries and guard unsaved
    work, and its canvas takes the keyboard whenever the page shows. The helpers below build what the pages'
    frames have in common."""

    canvas: CanvasView
    notice: QWidget

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tools: dict[str, Tool | None] = {}  # by shortcut key
        self.tool_actions = QActionGroup(self)
        self.side_panels: list[QWidget] = []  # what panels() gives: the pages fill it as they lay out
        self._files: PageFiles | None = None
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # holds the keyboard while there is no canvas to show

    @property
    def files(self) -> PageFiles:
        return self._files

    @files.setter
    def files(self, files: PageFiles) -> None:
        """The page's PageFiles: its changes and confirmations are the page's (changed, message)."""
        self._files = files
        files.changed.connect(self.changed)
        files.message.connect(self.message)

    def menu_actions(self) -> dict[str, list[QAction | None]]:
        return self.files.menu_actions()

    def may_close(self) -> bool:
        return self.files.confirm_discard()

    def document_title(self) -> str:
        return self.files.title() if self.files.history() is not None else ""

    def is_modified(self) -> bool:
        history = self.files.history()
        return bool(history and history.modified)

    def history(self) -> Undoable | None:
        return self.files.history()

    def has_result(self) -> bool:
        return self.files.history() is not None and self.files.exported_image() is not None

    def result_image(self) -> np.ndarray | None:
        return self.files.exported_image()  # what Export writes: only a full-resolution result, never a preview

    def open_recent(self, kind: str, path: Path) -> bool:
        if kind != PROJECT:
            return False
        self.files.open_project_file(path)
        return True

    def panels(self) -> list[QWidget]:
        return list(self.side_panels)

    def project_files(self) -> PageFiles:
        return self.files

    def focus_canvas(self) -> None:
        """The canvas when it shows, else the page itself: never a spin box of the toolbar, which would take
        the tools' keys ([, ], \\, B, …) as text."""
        (self.canvas if self.canvas.isVisible() else self).setFocus(Qt.FocusReason.OtherFocusReason)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.focus_canvas()
        QTimer.singleShot(0, self.focus_canvas)  # again once the stack has finished moving the focus

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

    def keep_focus_off(self, *boxes: QWidget) -> None:
        """Toolbar fields the user clicks to type in, never reached by Tab; Enter gives the keyboard back to the
        canvas."""
        for box in boxes:
            box.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
            line = box.findChild(QLineEdit)
            if line is not None:
                line.returnPressed.connect(self.focus_canvas)

    def lay_out(self, toolbar: QToolBar, middle: QLayout, status: QLayout) -> None:
        """The page's frame: the toolbar, the notice, the views and panels, the status line."""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 4)
        layout.addWidget(toolbar)
        layout.addWidget(self.notice)
        layout.addLayout(middle, 1)
        layout.addLayout(status)


class PhotoPage(ProjectPage):
    """A project page whose work starts from a photo: Send to and Open Recent's photos open through its files'
    open_image / open_photo_file."""

    def receive_photo(self, image: np.ndarray, name: str) -> bool:
        return self.files.open_image(image, name)

    def open_recent(self, kind: str, path: Path) -> bool:
        if kind == PHOTO:
            self.files.open_photo_file(path)
            return True
        return super().open_recent(kind, path)
