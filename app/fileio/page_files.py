"""A page's File and Edit actions, shared by every page that edits one project at a time: projects (.ora)
opened and saved, an image exported, autosave every few minutes and recovery after a crash, undo and redo.

Every page keeps the same promises: a file is read completely before the current work is touched (a bad
file costs a message, never the work on screen), unsaved work is never dropped without asking, and no error
of opening, saving or autosaving vanishes: whatever a hook raises reaches the user as one line (a dialog, or
the status line for autosave), an unexpected one with its traceback in the log.

A page's files class subclasses PageFiles, passes the page (a QWidget) and implements these hooks:

    history()           the undoable model (an Undoable of app/history.py: a Document or a project), None while
                        nothing is open; its observers get changes with a `what`, "history" ones update Undo/Redo
    saved_document()    the Document that Save and autosave write (None: nothing to save)
    load_project(path)  read a project file completely: (what show_project takes, notes for the user);
                        raises one of READ_ERRORS with a one-line message
    show_project(loaded, name)  make it the page's current work (name: the file's stem, or "Recovered");
                        returns more notes for the user
    exported_image()    the HxWx3 image Export writes (None: nothing to export)

and may override these:

    photo_name()        what is open when it has no project file yet (titles, the default file name)
    export_name()       Export's default file name
    open_actions()      the File menu's first group (the page's own Open/New actions)
    save_palette()      the palette saved with the document (None: the one its settings name)
    show_status(text)   an error that needs no dialog (a failed autosave); default page.show_status(text, error=True)
    _on_change(change)  which changes of the history object count as unsaved work (default: "history" ones)

and sets these class attributes: PAGE_NAME (names the page in the recovery question; None: not named),
AUTOSAVE_FOLDER (under the user data folder; each page recovers only its own projects), EXPORT_TEXT,
EXPORT_TITLE, EXPORT_FILTERS and READ_ERRORS.

The page calls project_changed() whenever it shows another project (or none), and confirm_discard() before
it replaces or closes the current one. A subclass makes its own actions (the page's Open entries) after
PageFiles.__init__, with _action(); _replaced(None) marks work that came from no project file. A page whose
project is a plain Document (the painter; a stylize page with photo, style and mask layers) returns that
Document from both history() and saved_document().
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from app.document import Document
from app.fileio.autosave import Autosave
from app.fileio.labels import FileError, export_image
from app.fileio.ora import save_ora
from app.history import Undoable
from engine.errors import USER_ERRORS, error_message
from engine.palettes import Palette
from engine.storage import user_data_dir

AUTOSAVE_MS = 3 * 60 * 1000
PROJECT_FILTER = "OpenRaster projects (*.ora)"
IMAGE_FILTERS = {"PNG (*.png)": ".png", "JPEG (*.jpg *.jpeg)": ".jpg"}
Button = QMessageBox.StandardButton
log = logging.getLogger(__name__)


class PageFiles(QObject):
    PAGE_NAME: str | None = None
    AUTOSAVE_FOLDER = "autosave"
    EXPORT_TEXT = "&Export Image…"
    EXPORT_TITLE = "Export Image"
    EXPORT_FILTERS: dict[str, str] = IMAGE_FILTERS  # dialog filter -> the suffix a bare name gets
    READ_ERRORS: tuple[type[Exception], ...] = (FileError,)

    def __init__(self, page: QWidget, autosave: Autosave | None = None) -> None:
        super().__init__(page)
        self.page = page
        self.autosave = autosave or Autosave(user_data_dir() / self.AUTOSAVE_FOLDER)
        self.project_path: Path | None = None
        self._key = uuid.uuid4().hex
        self._changed_since_autosave = False
        self._unsubscribe = None

        self.open_project = self._action("Open &Project…", self.choose_project, "Ctrl+Shift+O")
        self.save_project = self._action("&Save Project", self.save, QKeySequence.StandardKey.Save)
        self.save_project_as = self._action("Save Project &As…", self.save_as, QKeySequence.StandardKey.SaveAs)
        self.export_result = self._action(self.EXPORT_TEXT, self.choose_export, "Ctrl+E")
        self.undo = self._action("&Undo", lambda: self.history() and self.history().undo(),
                                 QKeySequence.StandardKey.Undo)
        self.redo = self._action("&Redo", lambda: self.history() and self.history().redo())
        self.redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])

        self.timer = QTimer(self, interval=AUTOSAVE_MS)
        self.timer.timeout.connect(self.autosave_now)
        self.timer.start()
        QTimer.singleShot(0, self.offer_recovery)
        self.project_changed()

    # --- hooks ---------------------------------------------------------------------------------------

    def history(self) -> Undoable | None:
        raise NotImplementedError

    def saved_document(self) -> Document | None:
        raise NotImplementedError

    def load_project(self, path: str | Path) -> tuple[Any, list[str]]:
        raise NotImplementedError

    def show_project(self, loaded: Any, name: str) -> list[str]:
        raise NotImplementedError

    def exported_image(self) -> np.ndarray | None:
        raise NotImplementedError

    def photo_name(self) -> str:
        return ""

    def export_name(self) -> str:
        return "image.png"

    def open_actions(self) -> list[QAction]:
        return []

    def save_palette(self) -> Palette | None:
        return None

    def show_status(self, text: str) -> None:
        self.page.show_status(text, error=True)

    def _on_change(self, change: Any) -> None:
        if change.what == "history":
            self._changed_since_autosave = True
            self._update_history()

    # --- menus ---------------------------------------------------------------------------------------

    def menu_actions(self) -> dict[str, list[QAction | None]]:
        """Entries for the main window's menus (None: a separator)."""
        return {"File": [*self.open_actions(), None, self.open_project, self.save_project, self.save_project_as,
                         None, self.export_result],
                "Edit": [self.undo, self.redo]}

    def project_changed(self) -> None:
        """The page shows another project: follow its history."""
        if self._unsubscribe:
            self._unsubscribe()
        history = self.history()
        self._unsubscribe = history.subscribe(self._on_change) if history else None
        self._changed_since_autosave = bool(history and history.modified)
        for act in (self.save_project, self.save_project_as, self.export_result):
            act.setEnabled(history is not None)
        self._update_history()

    # --- projects ------------------------------------------------------------------------------------

    def choose_project(self) -> None:
        self._open_chosen("Open Project", PROJECT_FILTER, self.open_project_file)

    def open_project_file(self, path: str | Path) -> bool:
        try:
            loaded, notes = self.load_project(path)
        except Exception as exc:  # noqa: BLE001 - a file that cannot be read costs a message, never silence
            self._warn("Open Project", self._message(exc, path))
            return False
        if not self.confirm_discard():
            return False
        self._replaced(Path(path))
        try:
            notes = notes + self.show_project(loaded, Path(path).stem)
        except Exception as exc:  # noqa: BLE001
            self._warn("Open Project", self._message(exc, path))
            return False
        if notes:
            self._inform("Open Project", f"{Path(path).name}: " + "; ".join(notes) + ".")
        return True

    def save(self) -> bool:
        return self.save_project_file(self.project_path) if self.project_path else self.save_as()

    def save_as(self) -> bool:
        name = str(self.project_path or Path(self.photo_name() or "untitled").with_suffix(".ora"))
        path, _ = QFileDialog.getSaveFileName(self.page, "Save Project", name, PROJECT_FILTER)
        return bool(path) and self.save_project_file(with_suffix(path, ".ora"))

    def save_project_file(self, path: Path) -> bool:
        history = self.history()
        if history is None:
            return False
        written: list[Path] = []

        def write() -> None:  # making the document can fail too (out of memory): all of it under _try
            doc = self.saved_document()
            if doc is not None:
                save_ora(path, doc, palette=self.save_palette())  # atomic: a failure leaves the old file
                written.append(path)

        if not self._try("Save Project", write, path) or not written:
            return False
        self.project_path = path
        history.modified = False
        self.autosave.discard(self._key)
        return True

    def choose_export(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(self.page, self.EXPORT_TITLE, self.export_name(),
                                                   ";;".join(self.EXPORT_FILTERS))
        if path:
            self.export(path if Path(path).suffix else path + self.EXPORT_FILTERS.get(chosen, ".png"))

    def export(self, path: str | Path) -> bool:
        written: list[str | Path] = []

        def write() -> None:
            image = self.exported_image()
            if image is not None:
                export_image(path, image)
                written.append(path)

        return self._try(self.EXPORT_TITLE, write, path) and bool(written)

    # --- unsaved work --------------------------------------------------------------------------------

    def confirm_discard(self) -> bool:
        """True when the current project may be replaced or closed (saved, or its changes given up)."""
        history = self.history()
        if history is not None and history.modified:
            answer = QMessageBox.question(self.page, "Unsaved changes", f"Save the changes to {self.title()}?",
                                          Button.Save | Button.Discard | Button.Cancel, Button.Save)
            if answer == Button.Cancel or (answer == Button.Save and not self.save()):
                return False
        self.autosave.discard(self._key)  # given up or saved: nothing left to recover
        return True

    def autosave_now(self) -> None:
        history = self.history()
        if history is None or not history.modified or not self._changed_since_autosave:
            return
        try:
            doc = self.saved_document()
            if doc is None:
                return
            self.autosave.save(doc, key=self._key, title=self.title(), palette=self.save_palette(),
                               source=self.project_path)
            self._changed_since_autosave = False
        except Exception as exc:  # noqa: BLE001 - on a timer: an error raised here would vanish
            self.show_status(f"Autosave failed: {self._message(exc)}")

    def offer_recovery(self) -> None:
        """After a crash: offer the autosaves left behind, newest first."""
        for rec in self.autosave.pending():
            when = dt.datetime.fromtimestamp(rec.saved_at).strftime("%Y-%m-%d %H:%M")
            what = f"the {self.PAGE_NAME} project “{rec.title}”" if self.PAGE_NAME else f"“{rec.title}”"
            answer = QMessageBox.question(
                self.page, "Recover unsaved work",
                f"I2I Studio was closed without saving {what} (autosaved {when}). Recover it?\n\n"
                "Yes opens it; Discard deletes the autosave; Cancel keeps it for the next start.",
                Button.Yes | Button.Discard | Button.Cancel, Button.Yes)
            if answer == Button.Discard:
                self.autosave.discard(rec.path)
            elif answer != Button.Yes or self._recover(rec.path, rec.source):
                return  # later, or recovered: one project at a time

    def _recover(self, path: Path, source: Path | None) -> bool:
        try:
            loaded, _notes = self.load_project(path)
        except Exception as exc:  # noqa: BLE001
            self._warn("Recover", f"{self._message(exc, path)} (the autosave is kept at {path})")
            return False
        self._replaced(source if source is not None and source.suffix.lower() == ".ora" else None)
        self.show_project(loaded, source.stem if source else "Recovered")
        self.history().modified = True  # recovered work is unsaved until the user saves it
        self._key = path.stem  # keep autosaving into the file we recovered from, now as our own
        self._changed_since_autosave = True
        self.autosave_now()
        return True

    def title(self) -> str:
        return self.project_path.name if self.project_path else (self.photo_name() or "Untitled")

    # --- helpers -------------------------------------------------------------------------------------

    def _action(self, text: str, slot: Callable[[], object], shortcut: QKeySequence | str | None = None) -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        act.triggered.connect(lambda *_: slot())
        return act

    def _open_chosen(self, caption: str, name_filter: str, open_file: Callable[[str], object]) -> None:
        path, _ = QFileDialog.getOpenFileName(self.page, caption, "", name_filter)
        if path:
            open_file(path)

    def _replaced(self, project_path: Path | None) -> None:
        """Other work replaces the current one: a new autosave key, and the file it came from (if any)."""
        self._key = uuid.uuid4().hex
        self.project_path = project_path

    def _update_history(self) -> None:
        history = self.history()
        self.undo.setEnabled(bool(history and history.can_undo))
        self.redo.setEnabled(bool(history and history.can_redo))
        self.undo.setText(f"&Undo {history.undo_text}" if history and history.can_undo else "&Undo")
        self.redo.setText(f"&Redo {history.redo_text}" if history and history.can_redo else "&Redo")

    def _try(self, title: str, write: Callable[[], object], path: str | Path | None = None) -> bool:
        """Run a write (save, export): False after telling the user why it failed (the file it would
        have replaced is left as it was: every write is atomic)."""
        try:
            write()
            return True
        except Exception as exc:  # noqa: BLE001 - a failed save must never pass in silence
            self._warn(title, self._message(exc, path))
            return False

    def _message(self, exc: Exception, path: str | Path | None = None) -> str:
        """One line for the user, naming the file; an error that is not about the file or the machine is
        a bug of ours: said as such, with its traceback in the log."""
        expected = isinstance(exc, (FileError, *self.READ_ERRORS, *USER_ERRORS))
        if not expected:
            log.error("unexpected error", exc_info=exc)
        text = error_message(exc) if expected else f"unexpected error ({error_message(exc)})"
        if path is not None and Path(path).name not in text:
            text = f"{Path(path).name}: {text}"
        return text

    def _warn(self, title: str, text: str) -> None:
        QMessageBox.warning(self.page, title, text)

    def _inform(self, title: str, text: str) -> None:
        QMessageBox.information(self.page, title, text)


def with_suffix(path: str, suffix: str) -> Path:
    """`path` ending in `suffix` (added when missing, never replacing one the user typed)."""
    p = Path(path)
    return p if p.suffix.lower() == suffix else p.with_name(p.name + suffix)
