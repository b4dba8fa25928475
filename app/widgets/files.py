"""Files into a page: the file dialogs' filter, files dragged from a file manager onto any widget (without
subclassing it), and the conventions of desktop editors: dialogs that start in the folder last used for that
kind of file, and recent files per kind (both kept in QSettings)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSettings, QStandardPaths, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog, QWidget

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



# --- remembered folders and recent files (per kind of file, in QSettings) ---------------------------------------

PROJECT, PHOTO, LABELS, EXPORT = "project", "photo", "labels", "export"  # the kinds of file the dialogs remember
KIND_TITLES = {PROJECT: "Projects", PHOTO: "Photos", LABELS: "Label maps"}  # Open Recent's sections
MAX_RECENT = 8


def start_folder(kind: str) -> str:
    """The folder the last dialog for `kind` ended in (else the Pictures folder, else home): never the install
    folder, where a dialog with no start would open."""
    folder = QSettings().value(f"folders/{kind}", "", str)
    if folder and Path(folder).is_dir():
        return folder
    pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    return pictures if pictures and Path(pictures).is_dir() else str(Path.home())


def remember_folder(kind: str, path: str | Path) -> None:
    QSettings().setValue(f"folders/{kind}", str(Path(path).parent))


def open_file_name(parent: QWidget | None, caption: str, name_filter: str, kind: str) -> str:
    """An Open dialog starting in `kind`'s folder; the chosen file's folder is remembered ("" when cancelled)."""
    path, _ = QFileDialog.getOpenFileName(parent, caption, start_folder(kind), name_filter)
    if path:
        remember_folder(kind, path)
    return path


def open_file_names(parent: QWidget | None, caption: str, name_filter: str, kind: str) -> list[str]:
    """An Open dialog for several files, starting in `kind`'s folder, which the chosen files' folder becomes."""
    paths, _ = QFileDialog.getOpenFileNames(parent, caption, start_folder(kind), name_filter)
    if paths:
        remember_folder(kind, paths[0])
    return paths


def existing_folder(parent: QWidget | None, caption: str, kind: str) -> str:
    """A folder dialog starting in `kind`'s folder; the chosen folder is remembered ("" when cancelled)."""
    folder = QFileDialog.getExistingDirectory(parent, caption, start_folder(kind))
    if folder:
        QSettings().setValue(f"folders/{kind}", folder)
    return folder


def save_file_name(parent: QWidget | None, caption: str, name: str | Path, name_filter: str,
                   kind: str) -> tuple[str, str]:
    """A Save dialog proposing `name` (a bare name goes into `kind`'s folder); (path, chosen filter)."""
    proposed = Path(name) if Path(name).is_absolute() else Path(start_folder(kind)) / Path(name).name
    path, chosen = QFileDialog.getSaveFileName(parent, caption, str(proposed), name_filter)
    if path:
        remember_folder(kind, path)
    return path, chosen


@dataclass(frozen=True)
class Recent:
    path: Path
    tool: str  # the tool that opened or saved it, which opens it again


def recent_files(kind: str) -> list[Recent]:
    entries = QSettings().value(f"recent/{kind}", [], list) or []
    out = []
    for entry in entries:
        tool, _, path = str(entry).partition("\t")
        if path:
            out.append(Recent(Path(path), tool))
    return out


def add_recent(kind: str, path: str | Path, tool: str) -> None:
    """Put `path` first in `kind`'s recent files (at most MAX_RECENT)."""
    path = Path(path).resolve()
    kept = [r for r in recent_files(kind) if r.path != path]
    _store(kind, [Recent(path, tool), *kept][:MAX_RECENT])


def forget_recent(kind: str, path: str | Path) -> None:
    _store(kind, [r for r in recent_files(kind) if r.path != Path(path)])


def clear_recent() -> None:
    for kind in KIND_TITLES:
        _store(kind, [])


def _store(kind: str, entries: list[Recent]) -> None:
    QSettings().setValue(f"recent/{kind}", [f"{r.tool}\t{r.path}" for r in entries])


def display_path(path: str | Path) -> str:
    """A path as a status line says it: the home folder as ~."""
    path, home = Path(path), Path.home()
    try:
        return "~/" + str(path.relative_to(home))
    except ValueError:
        return str(path)
