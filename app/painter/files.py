"""The painter's File and Edit actions: label maps, projects, photo export, autosave and recovery, undo.

Every action reads its file completely before the current document is touched, and asks before
unsaved changes are dropped: a bad file costs a message, never the work on screen.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QMessageBox,
    QSpinBox,
)

from app.document import Change
from app.fileio.autosave import Autosave
from app.fileio.labels import MAX_SIDE, FileError, export_image, read_label_image, write_label_png
from app.fileio.ora import load_ora, save_ora
from app.painter.render import LABELS, PHOTO, fixed_size, size_multiple, valid_size
from engine.api import ModelEntry

if TYPE_CHECKING:
    from app.painter.page import PainterPage

AUTOSAVE_MS = 3 * 60 * 1000
LABEL_FILTER = "Label maps (*.png);;All images (*.png *.bmp *.tif *.tiff *.gif *.webp)"
PROJECT_FILTER = "OpenRaster projects (*.ora)"
PHOTO_FILTERS = {"PNG (*.png)": ".png", "JPEG (*.jpg *.jpeg)": ".jpg", "TIFF (*.tif *.tiff)": ".tif"}
Button = QMessageBox.StandardButton


class NewDialog(QDialog):
    """Width and height in steps the model can render (fixed for models whose latent fixes the size)."""

    def __init__(self, entry: ModelEntry | None, size: tuple[int, int], parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New Label Map")
        step = size_multiple(entry) if entry else 1
        fixed = fixed_size(entry) if entry else None
        h, w = fixed or (valid_size(entry, size) if entry else size)
        form = QFormLayout(self)
        self.width_box, self.height_box = (QSpinBox(minimum=step, maximum=MAX_SIDE // step * step, singleStep=step,
                                                    suffix=" px", enabled=fixed is None) for _ in range(2))
        self.width_box.setValue(w)
        self.height_box.setValue(h)
        form.addRow("Width", self.width_box)
        form.addRow("Height", self.height_box)
        rule = entry.size_rule if entry else "any size"
        form.addRow(QLabel(f"{entry.name or entry.id}: {rule}" if entry else rule, wordWrap=True))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self._entry = entry

    def chosen_size(self) -> tuple[int, int]:
        size = (self.height_box.value(), self.width_box.value())
        return valid_size(self._entry, size) if self._entry else size


class PainterFiles(QObject):
    def __init__(self, page: PainterPage, autosave: Autosave | None = None) -> None:
        super().__init__(page)
        self.page = page
        self.autosave = autosave or Autosave()
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

        self.new = action("&New Label Map…", self.new_document, QKeySequence.StandardKey.New)
        self.open_labels = action("&Open Labels…", self.choose_labels, QKeySequence.StandardKey.Open)
        self.save_labels = action("Save &Labels As…", self.choose_labels_target)
        self.open_project = action("Open &Project…", self.choose_project, "Ctrl+Shift+O")
        self.save_project = action("&Save Project", self.save, QKeySequence.StandardKey.Save)
        self.save_project_as = action("Save Project &As…", self.save_as, QKeySequence.StandardKey.SaveAs)
        self.export_photo = action("&Export Photo…", self.choose_export, "Ctrl+E")
        self.undo = action("&Undo", lambda: self.page.document and self.page.document.undo(),
                           QKeySequence.StandardKey.Undo)
        self.redo = action("&Redo", lambda: self.page.document and self.page.document.redo())
        self.redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])

        self.timer = QTimer(self, interval=AUTOSAVE_MS)
        self.timer.timeout.connect(self.autosave_now)
        self.timer.start()
        QTimer.singleShot(0, self.offer_recovery)

    def menu_actions(self) -> dict[str, list[QAction | None]]:
        """Entries for the main window's menus (None: a separator)."""
        return {"File": [self.new, self.open_labels, self.save_labels, None, self.open_project, self.save_project,
                         self.save_project_as, None, self.export_photo],
                "Edit": [self.undo, self.redo]}

    def document_changed(self) -> None:
        """The page shows another document: follow its history."""
        if self._unsubscribe:
            self._unsubscribe()
        doc = self.page.document
        self._unsubscribe = doc.subscribe(self._on_change) if doc else None
        self._changed_since_autosave = bool(doc and doc.modified)
        self._update_history()

    # --- label maps --------------------------------------------------------------------------------------

    def new_document(self) -> None:
        doc = self.page.document
        dialog = NewDialog(self.page.entry, (doc.height, doc.width) if doc else (256, 256), self.page)
        if dialog.exec() != QDialog.DialogCode.Accepted or not self.confirm_discard():
            return
        self._replace(lambda: self.page.new_document(
            np.full(dialog.chosen_size(), self.page.settings.background_class, np.uint8)), None)

    def choose_labels(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.page, "Open Label Map", "", LABEL_FILTER)
        if path:
            self.open_label_file(path)

    def open_label_file(self, path: str | Path) -> bool:
        try:
            loaded = read_label_image(path, self.page.palette)
        except FileError as exc:
            self._warn("Open Labels", str(exc))
            return False
        if not self.confirm_discard():
            return False
        self._replace(lambda: self.page.new_document(loaded.labels), None)
        if loaded.message:
            self._inform("Open Labels", f"{Path(path).name}: {loaded.message}.")
        return True

    def choose_labels_target(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.page, "Save Label Map", "labels.png", "Indexed PNG (*.png)")
        if path:
            self._try("Save Labels", lambda: write_label_png(_with_suffix(path, ".png"),
                                                             self.page.document.layer(LABELS).data, self.page.palette))

    # --- projects ----------------------------------------------------------------------------------------

    def choose_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.page, "Open Project", "", PROJECT_FILTER)
        if path:
            self.open_project_file(path)

    def open_project_file(self, path: str | Path) -> bool:
        try:
            loaded = load_ora(path)
        except FileError as exc:
            self._warn("Open Project", str(exc))
            return False
        if not self.confirm_discard():
            return False
        notes = self._replace(lambda: self.page.set_document(loaded.document), Path(path))
        if loaded.notes or notes:
            self._inform("Open Project", f"{Path(path).name}: " + "; ".join(loaded.notes + notes) + ".")
        return True

    def save(self) -> bool:
        return self.save_project_file(self.project_path) if self.project_path else self.save_as()

    def save_as(self) -> bool:
        name = str(self.project_path or "untitled.ora")
        path, _ = QFileDialog.getSaveFileName(self.page, "Save Project", name, PROJECT_FILTER)
        return bool(path) and self.save_project_file(_with_suffix(path, ".ora"))

    def save_project_file(self, path: Path) -> bool:
        doc = self.page.document
        if not self._try("Save Project", lambda: save_ora(path, doc, palette=self.page.palette)):
            return False
        self.project_path = path
        doc.modified = False
        self.autosave.discard(self._key)
        return True

    def choose_export(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(self.page, "Export Photo", "photo.png", ";;".join(PHOTO_FILTERS))
        if path:
            path = path if Path(path).suffix else path + PHOTO_FILTERS.get(chosen, ".png")
            self._try("Export Photo", lambda: export_image(path, self.page.document.layer(PHOTO).data))

    # --- unsaved work ------------------------------------------------------------------------------------

    def confirm_discard(self) -> bool:
        """True when the current document may be replaced or closed (saved, or its changes given up)."""
        doc = self.page.document
        if doc is not None and doc.modified:
            answer = QMessageBox.question(self.page, "Unsaved changes", f"Save the changes to {self.title()}?",
                                          Button.Save | Button.Discard | Button.Cancel, Button.Save)
            if answer == Button.Cancel or (answer == Button.Save and not self.save()):
                return False
        self.autosave.discard(self._key)  # given up or saved: nothing left to recover
        return True

    def autosave_now(self) -> None:
        doc = self.page.document
        if doc is None or not doc.modified or not self._changed_since_autosave:
            return
        try:
            self.autosave.save(doc, key=self._key, title=self.title(), palette=self.page.palette,
                               source=self.project_path)
            self._changed_since_autosave = False
        except (FileError, OSError) as exc:
            self.page._render_status(f"Autosave failed: {exc}", error=True)

    def offer_recovery(self) -> None:
        """After a crash: offer the autosaves left behind, newest first."""
        for rec in self.autosave.pending():
            when = dt.datetime.fromtimestamp(rec.saved_at).strftime("%Y-%m-%d %H:%M")
            answer = QMessageBox.question(
                self.page, "Recover unsaved work",
                f"I2I Studio was closed without saving “{rec.title}” (autosaved {when}). Recover it?\n\n"
                "Yes opens it; Discard deletes the autosave; Cancel keeps it for the next start.",
                Button.Yes | Button.Discard | Button.Cancel, Button.Yes)
            if answer == Button.Discard:
                self.autosave.discard(rec.path)
            elif answer != Button.Yes or self._recover(rec.path, rec.source):
                return  # later, or recovered: one document at a time

    def _recover(self, path: Path, source: Path | None) -> bool:
        try:
            loaded = load_ora(path)
        except FileError as exc:
            self._warn("Recover", f"{exc} (the autosave is kept at {path})")
            return False
        project = source if source is not None and source.suffix.lower() == ".ora" else None
        self._replace(lambda: self.page.set_document(loaded.document), project)
        loaded.document.modified = True  # recovered work is unsaved until the user saves it
        self._key = path.stem  # keep autosaving into the file we recovered from, now as our own
        self._changed_since_autosave = True
        self.autosave_now()
        return True

    def title(self) -> str:
        return self.project_path.name if self.project_path else "Untitled"

    # --- helpers -----------------------------------------------------------------------------------------

    def _replace(self, show, project: Path | None) -> list[str]:
        self._key = uuid.uuid4().hex
        self.project_path = project
        return show() or []

    def _on_change(self, change: Change) -> None:
        if change.what == "history":
            self._update_history()
        elif change.name != PHOTO:  # the photo is derived: re-rendering it is no change to save
            self._changed_since_autosave = True

    def _update_history(self) -> None:
        doc = self.page.document
        self.undo.setEnabled(bool(doc and doc.can_undo))
        self.redo.setEnabled(bool(doc and doc.can_redo))
        self.undo.setText(f"&Undo {doc.undo_text}" if doc and doc.can_undo else "&Undo")
        self.redo.setText(f"&Redo {doc.redo_text}" if doc and doc.can_redo else "&Redo")

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
