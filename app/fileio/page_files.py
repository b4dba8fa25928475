"""A page's File and Edit actions, shared by every page that edits one project at a time: projects (.ora)
opened and saved, an image exported, autosave every few minutes and recovery after a crash, undo and redo.

Every page keeps the same promises: a file is read completely before the current work is touched (a bad
file costs a message, never the work on screen), unsaved work is never dropped without asking, and no error
of opening, saving or autosaving vanishes: whatever a hook raises reaches the user as one line (a dialog, or
the status line for autosave), an unexpected one with its traceback in the log.

Reading and writing run on the bridge's file lane, never on the GUI thread: Save, autosave and Export write a
snapshot of the project taken on the GUI thread when the job goes out (cheap: the arrays are shared, and the
document copies a layer before it next writes it in place), so the user keeps looking and editing meanwhile, and
an edit made during a save is neither in that file nor lost (the project stays modified). Opening reads the file
there too, then asks about unsaved work and shows it. Each operation returns an Outcome (app/jobs.py) that says
how it ended; progress shows in the page's status line.

A page's files class subclasses PageFiles, passes the page (a QWidget) and the bridge, and implements these hooks:

    history()           the undoable model (an Undoable of app/history.py: a Document or a project), None while
                        nothing is open; its observers get changes with a `what`, "history" ones update Undo/Redo
    saved_document()    a snapshot Document that Save and autosave write (None: nothing to save), cheap: see
                        app/fileio/ora.py snapshot(); it is encoded and written on the file lane
    load_project(path)  read a project file completely: (what show_project takes, notes for the user);
                        raises one of READ_ERRORS with a one-line message; runs on the file lane, so it
                        touches neither the page nor Qt
    show_project(loaded, name)  make it the page's current work (name: the file's stem, or "Recovered");
                        returns more notes for the user
    exported_image()    the HxWx3 image Export writes (None: nothing to export), an array nobody writes in place
                        again (Document.shared)

and may override these:

    photo_name()        what is open when it has no project file yet (titles, the default file name)
    export_name()       Export's default file name
    open_actions()      the File menu's first group (the page's own Open/New actions)
    save_palette()      the palette saved with the document (None: the one its settings name)
    show_status(text)   an error that needs no dialog (a failed autosave); default page.show_status(text, error=True)
    show_activity(text) what the file lane is doing or did ("Saving p.ora: layer 2 of 4"); default
                        page.show_status(text)
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMessageBox, QWidget

from app.document import Document
from app.engine_bridge import EngineBridge, FileJob, FileWork
from app.fileio.autosave import Autosave
from app.fileio.labels import FileError, export_image
from app.fileio.ora import save_ora
from app.history import Undoable
from app.jobs import Job, Jobs, Outcome
from app.widgets.files import EXPORT, PROJECT, add_recent, display_path, open_file_name, save_file_name
from engine.errors import USER_ERRORS, error_message
from engine.palettes import Palette
from engine.storage import user_data_dir

AUTOSAVE_MS = 3 * 60 * 1000
PROJECT_FILTER = "OpenRaster projects (*.ora)"
IMAGE_FILTERS = {"PNG (*.png)": ".png", "JPEG (*.jpg *.jpeg)": ".jpg"}
Button = QMessageBox.StandardButton
log = logging.getLogger(__name__)

Work = Callable[[FileJob], Any]  # runs on the file lane


@dataclass(frozen=True)
class _Raised:
    """What file work raised, carried back to the GUI thread, which words it (and logs a bug of ours)."""

    error: Exception


def _catching(work: Work) -> FileWork:
    def run(job: FileJob) -> Any:
        try:
            return work(job)
        except Exception as exc:  # noqa: BLE001 - worded on the GUI thread by PageFiles._message
            return _Raised(exc)
    return FileWork(run)


class PageFiles(QObject):
    changed = Signal()  # the history, the modified mark or the project file changed (the window's title)
    message = Signal(str)  # a confirmation for the window's status bar: "Saved ~/x.ora"

    PAGE_NAME: str | None = None
    AUTOSAVE_FOLDER = "autosave"
    EXPORT_TEXT = "&Export Image…"
    EXPORT_TITLE = "Export Image"
    EXPORT_FILTERS: dict[str, str] = IMAGE_FILTERS  # dialog filter -> the suffix a bare name gets
    READ_ERRORS: tuple[type[Exception], ...] = (FileError,)

    def __init__(self, page: QWidget, bridge: EngineBridge, autosave: Autosave | None = None) -> None:
        super().__init__(page)
        self.page = page
        self.autosave = autosave or Autosave(user_data_dir() / self.AUTOSAVE_FOLDER)
        self.project_path: Path | None = None
        self._key = uuid.uuid4().hex
        self._changed_since_autosave = False
        self._unsubscribe = None
        self.jobs = Jobs(bridge, self)  # the file lane's jobs of this page
        self.jobs.progress.connect(self._progress)
        self.jobs.cancelled.connect(self._dropped)
        self._slots = f"files-{uuid.uuid4().hex[:12]}"
        self._waiting: dict[str, Outcome] = {}  # by slot: the outcome of the job waiting there
        self._running: dict[str, tuple[Outcome, str]] = {}  # by slot: the running job's outcome and what it does

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

    def show_activity(self, text: str) -> None:
        self.page.show_status(text)

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

    def open_project_file(self, path: str | Path) -> Outcome:
        """Read the project on the file lane; then (unsaved work permitting) show it."""
        name = Path(path).name

        def show(loaded: tuple[Any, list[str]]) -> None:
            project, notes = loaded
            self._replaced(Path(path))
            notes = notes + self.show_project(project, Path(path).stem)
            add_recent(PROJECT, path, self.PAGE_NAME or "")
            self.show_activity(f"Opened {name}")
            if notes:
                self._inform("Open Project", f"{name}: " + "; ".join(notes) + ".")

        return self.open_with("Open Project", path, self.load_project, show)

    def open_with(self, title: str, path: str | Path, read: Callable[[str | Path], Any],
                  show: Callable[[Any], object]) -> Outcome:
        """Read a file with `read(path)` on the file lane (it must not touch the page or Qt); then, unsaved work
        permitting, `show(value)` on the GUI thread (False: it did not open)."""
        def replace(value: Any) -> object:
            return self.confirm_discard() and show(value)

        return self._run("open", title, path, f"Opening {Path(path).name}", lambda: lambda job: read(path), replace)

    def save(self) -> Outcome:
        return self.save_project_file(self.project_path) if self.project_path else self.save_as()

    def save_as(self) -> Outcome:
        name = self.project_path or Path(self.photo_name() or "untitled").with_suffix(".ora").name
        path, _ = save_file_name(self.page, "Save Project", name, PROJECT_FILTER, PROJECT)
        return self.save_project_file(with_suffix(path, ".ora")) if path else Outcome.settled(False)

    def save_project_file(self, path: Path) -> Outcome:
        """Write the project as it is when the save goes out; the old file stays until the new one is whole."""
        history = self.history()
        if history is None:
            return Outcome.settled(False)

        def snapshot() -> Work | None:  # on the GUI thread: making the document can fail too (out of memory)
            doc, palette, revision = self.saved_document(), self.save_palette(), history.revision
            if doc is None:
                return None

            def write(job: FileJob) -> int:
                save_ora(path, doc, palette=palette, progress=job.progress)  # atomic
                return revision

            return write

        def saved(revision: int) -> None:
            if self.history() is not history:  # another project is shown by now: this one was saved all the same
                return
            self.project_path = path
            if history.revision == revision:  # no edit since the snapshot
                history.modified = False
            self.autosave.discard(self._key)
            self.show_activity(f"Saved {path.name}")
            add_recent(PROJECT, path, self.PAGE_NAME or "")
            self.message.emit(f"Saved {display_path(path)}")
            self.changed.emit()

        return self._run(f"save:{path}", "Save Project", path, f"Saving {path.name}", snapshot, saved)

    def choose_export(self) -> None:
        path, chosen = save_file_name(self.page, self.EXPORT_TITLE, self.export_name(),
                                      ";;".join(self.EXPORT_FILTERS), EXPORT)
        if path:
            self.export(path if Path(path).suffix else path + self.EXPORT_FILTERS.get(chosen, ".png"))

    def export(self, path: str | Path) -> Outcome:
        def image() -> Work | None:
            pixels = self.exported_image()
            return None if pixels is None else lambda job: export_image(path, pixels)

        def exported(_: object) -> None:
            self.show_activity(f"Exported {Path(path).name}")
            self.message.emit(f"Exported {display_path(path)}")

        return self._run(f"export:{path}", self.EXPORT_TITLE, path, f"Exporting {Path(path).name}", image, exported)

    # --- unsaved work --------------------------------------------------------------------------------

    def confirm_discard(self) -> bool:
        """True when the current project may be replaced or closed (saved, or its changes given up). Saves under
        way end first; a save asked for here is waited for (the window keeps painting)."""
        self.finish()
        history = self.history()
        if history is not None and history.modified:
            answer = QMessageBox.question(self.page, "Unsaved changes", self.unsaved_question(),
                                          Button.Save | Button.Discard | Button.Cancel, Button.Save)
            if answer == Button.Cancel or (answer == Button.Save and not self.save().wait()):
                return False
        self.autosave.discard(self._key)  # given up or saved: nothing left to recover
        return True

    def finish(self) -> None:
        """Let the file work under way end (the event loop keeps turning; the user's input waits)."""
        for slot, (outcome, _) in list(self._running.items()):
            if self.jobs.running(slot):
                outcome.wait()

    @property
    def busy(self) -> bool:
        return self.jobs.busy

    def autosave_now(self) -> Outcome:
        """Autosave the project as it is when the job goes out, if there is unsaved work not autosaved yet."""
        history = self.history()
        if history is None or not history.modified or not self._changed_since_autosave:
            return Outcome.settled(False)

        def snapshot() -> Work | None:
            doc = self.saved_document()
            if doc is None:
                return None
            self._changed_since_autosave = False  # an edit from now on is for the next autosave
            autosave, key, title, source = self.autosave, self._key, self.title(), self.project_path
            palette = self.save_palette()
            return lambda job: autosave.save(doc, key=key, title=title, palette=palette, source=source,
                                             progress=job.progress)

        def failed(text: str) -> None:  # on a timer: no dialog, and the next autosave tries again
            self._changed_since_autosave = True
            self.show_status(f"Autosave failed: {text}")

        return self._run("autosave", "Autosave", None, "Autosaving", snapshot,
                         lambda _: self.show_activity("Autosaved"), report=failed)

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
        """Open an autosave (read on the file lane, waited for: the question that follows depends on it)."""
        def recovered(loaded: tuple[Any, list[str]]) -> None:
            self._replaced(source if source is not None and source.suffix.lower() == ".ora" else None)
            self.show_project(loaded[0], source.stem if source else "Recovered")
            self.history().modified = True  # recovered work is unsaved until the user saves it
            self._key = path.stem  # keep autosaving into the file we recovered from, now as our own
            self._changed_since_autosave = True
            self.autosave_now().wait()  # the autosave is ours now: never offered to another window

        load = self.load_project
        return self._run("open", "Recover", path, f"Recovering {path.name}", lambda: lambda job: load(path),
                         recovered, report=lambda text: self._warn("Recover", f"{text} (the autosave is kept at {path})")
                         ).wait()

    def title(self) -> str:
        return self.project_path.name if self.project_path else (self.photo_name() or "Untitled")

    def unsaved_question(self) -> str:
        """Names the tool and the project file, so it never reads as overwriting the photo that was opened."""
        tool = f"{self.PAGE_NAME} " if self.PAGE_NAME else ""
        if self.project_path:
            return f"Save the changes to the {tool}project “{self.project_path.name}”?"
        photo = self.photo_name()
        on = f" on “{photo}”" if photo else ""
        kept = f" ({photo} itself is never changed)" if photo else ""
        return f"Save your {tool}work{on} as a project (.ora){kept}?"

    # --- helpers -------------------------------------------------------------------------------------

    def _action(self, text: str, slot: Callable[[], object], shortcut: QKeySequence | str | None = None) -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        act.triggered.connect(lambda *_: slot())
        return act

    def _open_chosen(self, caption: str, name_filter: str, open_file: Callable[[str], object],
                     kind: str = PROJECT) -> None:
        path = open_file_name(self.page, caption, name_filter, kind)
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
        self.changed.emit()

    # --- the file lane -------------------------------------------------------------------------------

    def _run(self, kind: str, title: str, path: str | Path | None, doing: str, prepare: Callable[[], Work | None],
             then: Callable[[Any], object], *, report: Callable[[str], None] | None = None) -> Outcome:
        """One operation on the file lane, one at a time per `kind`: `prepare()` runs on the GUI thread when the
        job goes out (now, or when the previous one of its kind ends) and gives the work (None: nothing to do);
        the work runs on the lane; `then(value)` on the GUI thread (False: it did not succeed). Whatever fails is
        told with `report` (default: a dialog titled `title`) as one line naming the file. A waiting job that a
        newer one of its kind replaces ends with it."""
        slot = f"{self._slots}:{kind}"
        outcome = self._waiting.setdefault(slot, Outcome())
        tell = report or (lambda text: self._warn(title, text))

        def fail(text: str) -> None:
            tell(text)
            outcome.settle(False)

        def arrived(value: Any) -> None:
            self._running.pop(slot, None)
            if isinstance(value, _Raised):
                fail(self._message(value.error, path))
                return
            try:
                ok = then(value) is not False
            except Exception as exc:  # noqa: BLE001 - showing what was read can fail too
                fail(self._message(exc, path))
                return
            outcome.settle(ok)

        def failed(message: str) -> None:
            self._running.pop(slot, None)
            fail(message if path is None or Path(path).name in message else f"{Path(path).name}: {message}")

        def make() -> Job | None:
            self._waiting.pop(slot, None)
            try:
                work = prepare()
            except Exception as exc:  # noqa: BLE001 - a failed snapshot must never pass in silence
                fail(self._message(exc, path))
                return None
            if work is None:
                outcome.settle(False)
                return None
            self._running[slot] = (outcome, doing)
            self.show_activity(f"{doing}…")
            return Job(_catching(work), arrived, failed)

        self.jobs.want(slot, make)
        return outcome

    def _progress(self, slot: str, fraction: float, message: str) -> None:
        if slot in self._running:
            what = message.partition(": ")[2] or message
            self.show_activity(f"{self._running[slot][1]}: {what} ({fraction:.0%})")

    def _dropped(self, slot: str) -> None:
        """The lane dropped a job (it stopped): whoever waits for it learns it did not succeed."""
        if slot in self._running:
            self._running.pop(slot)[0].settle(False)

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
