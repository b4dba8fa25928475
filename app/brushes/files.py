"""The Style Brushes page's File and Edit actions: photos, projects (.ora), composite export, autosave and
recovery, undo. Like the other pages': a file is read completely before the current work is touched, and
unsaved work is never dropped without asking.

A project is an OpenRaster file other programs open as two layers, the photo and the composite on top; the
brush layers, their masks and the translations they use ride along as extra members (app/brushes/state_io.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.brushes.photos import photo_key, read_photo
from app.brushes.project import PHOTO, RESULT, TOOL_SETTING, BrushProject, ProjectChange, brush_document
from app.brushes.state_io import ProjectFormatError, is_brush_project, project_members, state_from_members
from app.brushes.translations import Key
from app.document import Document, Layer
from app.fileio.autosave import Autosave
from app.fileio.labels import FileError, export_image
from app.fileio.ora import extras, load_ora, save_ora, set_extras
from app.sae.stats_dialogs import PHOTO_FILTER
from engine.api import MAX_TRANSLATE_PIXELS
from engine.imageio import ImageFileError
from engine.storage import user_data_dir

if TYPE_CHECKING:
    from app.brushes.page import StyleBrushPage

AUTOSAVE_MS = 3 * 60 * 1000
AUTOSAVE_FOLDER = "autosave-brushes"  # apart from the other pages': each recovers only its own projects
PROJECT_FILTER = "OpenRaster projects (*.ora)"
EXPORT_FILTERS = {"PNG (*.png)": ".png", "JPEG (*.jpg *.jpeg)": ".jpg"}
Button = QMessageBox.StandardButton


def saved_document(project: BrushProject, page: StyleBrushPage) -> Document:
    """What goes into the .ora: the photo, the composite on top (what other programs show) and our state
    with the translations the layers use."""
    doc = project.document
    out = Document(doc.height, doc.width, settings={"tool": TOOL_SETTING})
    for name in (PHOTO, RESULT):
        out.add_layer(Layer(name, "rgb", doc.layer(name).data, editable=False))
    translations = {}
    for layer in project.layers:
        key, image = page.key(layer), page.translation(layer)
        if key is not None and image is not None:
            translations[key] = image
    set_extras(out, project_members(project, translations))
    return out


def read_project(path: str | Path) -> tuple[BrushProject, dict[Key, np.ndarray], list[str]]:
    """A project file as (project, the translations stored with it, notes); FileError/ProjectFormatError
    otherwise."""
    loaded = load_ora(path, max_pixels=MAX_TRANSLATE_PIXELS)
    doc, name = loaded.document, Path(path).name
    members = extras(doc)
    if not is_brush_project(members):
        raise FileError(f"{name} is not a Style Brushes project (open it in the page that made it)")
    if not doc.has_layer(PHOTO) or doc.layer(PHOTO).kind != "rgb":
        raise ProjectFormatError(f"{name}: the photo layer is missing")
    photo = np.ascontiguousarray(doc.layer(PHOTO).data, np.float32)
    key = photo_key(photo)
    state = state_from_members(members, (doc.height, doc.width), key, name)
    project = BrushProject(brush_document(photo), key, state.layers, state.masks)
    return project, state.translations, loaded.notes


class BrushFiles(QObject):
    def __init__(self, page: StyleBrushPage, autosave: Autosave | None = None) -> None:
        super().__init__(page)
        self.page = page
        self.autosave = autosave or Autosave(user_data_dir() / AUTOSAVE_FOLDER)
        self.project_path: Path | None = None
        self._key = uuid.uuid4().hex
        self._changed_since_autosave = False
        self._unsubscribe = None

        def action(text: str, slot, shortcut: QKeySequence | str | None = None) -> QAction:
            act = QAction(text, self)
            if shortcut is not None:
                act.setShortcut(QKeySequence(shortcut))
            act.triggered.connect(lambda *_: slot())
            return act

        self.open_photo = action("&Open Photo…", self.choose_photo, QKeySequence.StandardKey.Open)
        self.open_project = action("Open &Project…", self.choose_project, "Ctrl+Shift+O")
        self.save_project = action("&Save Project", self.save, QKeySequence.StandardKey.Save)
        self.save_project_as = action("Save Project &As…", self.save_as, QKeySequence.StandardKey.SaveAs)
        self.export_result = action("&Export Image…", self.choose_export, "Ctrl+E")
        self.undo = action("&Undo", lambda: self.project and self.project.undo(), QKeySequence.StandardKey.Undo)
        self.redo = action("&Redo", lambda: self.project and self.project.redo())
        self.redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])

        self.timer = QTimer(self, interval=AUTOSAVE_MS)
        self.timer.timeout.connect(self.autosave_now)
        self.timer.start()
        QTimer.singleShot(0, self.offer_recovery)

    @property
    def project(self) -> BrushProject | None:
        return self.page.project

    def menu_actions(self) -> dict[str, list[QAction | None]]:
        return {"File": [self.open_photo, None, self.open_project, self.save_project, self.save_project_as, None,
                         self.export_result],
                "Edit": [self.undo, self.redo]}

    def project_changed(self) -> None:
        """The page shows another project: follow its history."""
        if self._unsubscribe:
            self._unsubscribe()
        project = self.project
        self._unsubscribe = project.subscribe(self._on_change) if project else None
        self._changed_since_autosave = bool(project and project.modified)
        for act in (self.save_project, self.save_project_as, self.export_result):
            act.setEnabled(project is not None)
        self._update_history()

    # --- photos --------------------------------------------------------------------------------------

    def choose_photo(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.page, "Open Photo", "", PHOTO_FILTER)
        if path:
            self.open_photo_file(path)

    def open_file(self, path: str | Path) -> bool:
        """A dropped file: a project when it is one, else a photo."""
        return self.open_project_file(path) if Path(path).suffix.lower() == ".ora" else self.open_photo_file(path)

    def open_photo_file(self, path: str | Path) -> bool:
        """Read a photo and start a new project on it (after asking about unsaved work)."""
        try:
            photo = read_photo(path)
        except ImageFileError as exc:
            self._warn("Open Photo", str(exc))
            return False
        if not self.confirm_discard():
            return False
        self._replaced(None)
        self.page.open_photo(photo)
        return True

    # --- projects ------------------------------------------------------------------------------------

    def choose_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.page, "Open Project", "", PROJECT_FILTER)
        if path:
            self.open_project_file(path)

    def open_project_file(self, path: str | Path) -> bool:
        try:
            project, translations, notes = read_project(path)
        except (FileError, ProjectFormatError) as exc:
            self._warn("Open Project", str(exc))
            return False
        if not self.confirm_discard():
            return False
        self._replaced(Path(path))
        self.page.set_project(project, Path(path).stem, translations=translations)
        if notes:
            self._inform("Open Project", f"{Path(path).name}: " + "; ".join(notes) + ".")
        return True

    def save(self) -> bool:
        return self.save_project_file(self.project_path) if self.project_path else self.save_as()

    def save_as(self) -> bool:
        name = str(self.project_path or Path(self.page.photo_name or "untitled").with_suffix(".ora"))
        path, _ = QFileDialog.getSaveFileName(self.page, "Save Project", name, PROJECT_FILTER)
        return bool(path) and self.save_project_file(_with_suffix(path, ".ora"))

    def save_project_file(self, path: Path) -> bool:
        project = self.project
        if project is None:
            return False
        if not self._try("Save Project", lambda: save_ora(path, saved_document(project, self.page))):
            return False
        self.project_path = path
        project.modified = False
        self.autosave.discard(self._key)
        return True

    def choose_export(self) -> None:
        stem = Path(self.page.photo_name or "photo").stem
        path, chosen = QFileDialog.getSaveFileName(self.page, "Export Image", f"{stem}-brushed.png",
                                                   ";;".join(EXPORT_FILTERS))
        if path:
            path = path if Path(path).suffix else path + EXPORT_FILTERS.get(chosen, ".png")
            self.export(path)

    def export(self, path: str | Path) -> bool:
        project = self.project
        return project is not None and self._try(
            "Export Image", lambda: export_image(path, project.document.layer(RESULT).data))

    # --- unsaved work --------------------------------------------------------------------------------

    def confirm_discard(self) -> bool:
        """True when the current project may be replaced or closed (saved, or its changes given up)."""
        project = self.project
        if project is not None and project.modified:
            answer = QMessageBox.question(self.page, "Unsaved changes", f"Save the changes to {self.title()}?",
                                          Button.Save | Button.Discard | Button.Cancel, Button.Save)
            if answer == Button.Cancel or (answer == Button.Save and not self.save()):
                return False
        self.autosave.discard(self._key)
        return True

    def autosave_now(self) -> None:
        project = self.project
        if project is None or not project.modified or not self._changed_since_autosave:
            return
        try:
            self.autosave.save(saved_document(project, self.page), key=self._key, title=self.title(),
                               source=self.project_path)
            self._changed_since_autosave = False
        except (FileError, OSError) as exc:
            self.page.show_status(f"Autosave failed: {exc}", error=True)

    def offer_recovery(self) -> None:
        """After a crash: offer the autosaved projects left behind, newest first."""
        for rec in self.autosave.pending():
            when = dt.datetime.fromtimestamp(rec.saved_at).strftime("%Y-%m-%d %H:%M")
            answer = QMessageBox.question(
                self.page, "Recover unsaved work",
                f"I2I Studio was closed without saving the Style Brushes project “{rec.title}” (autosaved {when}). "
                "Recover it?\n\nYes opens it; Discard deletes the autosave; Cancel keeps it for the next start.",
                Button.Yes | Button.Discard | Button.Cancel, Button.Yes)
            if answer == Button.Discard:
                self.autosave.discard(rec.path)
            elif answer != Button.Yes or self._recover(rec.path, rec.source):
                return

    def _recover(self, path: Path, source: Path | None) -> bool:
        try:
            project, translations, _notes = read_project(path)
        except (FileError, ProjectFormatError) as exc:
            self._warn("Recover", f"{exc} (the autosave is kept at {path})")
            return False
        self._replaced(source if source is not None and source.suffix.lower() == ".ora" else None)
        project.modified = True  # recovered work is unsaved until the user saves it
        self.page.set_project(project, source.stem if source else "Recovered", translations=translations)
        self._key = path.stem
        self._changed_since_autosave = True
        self.autosave_now()
        return True

    def title(self) -> str:
        return self.project_path.name if self.project_path else (self.page.photo_name or "Untitled")

    # --- helpers -------------------------------------------------------------------------------------

    def _replaced(self, project_path: Path | None) -> None:
        self._key = uuid.uuid4().hex
        self.project_path = project_path

    def _on_change(self, change: ProjectChange) -> None:
        if change.what == "history":
            self._changed_since_autosave = True
            self._update_history()

    def _update_history(self) -> None:
        project = self.project
        self.undo.setEnabled(bool(project and project.can_undo))
        self.redo.setEnabled(bool(project and project.can_redo))
        self.undo.setText(f"&Undo {project.undo_text}" if project and project.can_undo else "&Undo")
        self.redo.setText(f"&Redo {project.redo_text}" if project and project.can_redo else "&Redo")

    def _try(self, title: str, write) -> bool:
        try:
            write()
            return True
        except (FileError, OSError, ValueError) as exc:
            self._warn(title, str(exc))
            return False

    def _warn(self, title: str, text: str) -> None:
        QMessageBox.warning(self.page, title, text)

    def _inform(self, title: str, text: str) -> None:
        QMessageBox.information(self.page, title, text)


def _with_suffix(path: str, suffix: str) -> Path:
    p = Path(path)
    return p if p.suffix.lower() == suffix else p.with_name(p.name + suffix)
