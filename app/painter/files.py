"""The painter's File and Edit actions: label maps, projects, photo export, autosave and recovery, undo;
the common part is app/fileio/page_files.py. A project is the painter's Document itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QSpinBox

from app.document import Change, Document
from app.engine_bridge import EngineBridge
from app.fileio.autosave import Autosave
from app.fileio.labels import MAX_SIDE, LabelImport, read_label_image, write_label_png
from app.fileio.ora import load_ora, snapshot
from app.fileio.page_files import IMAGE_FILTERS, PageFiles, Work, with_suffix
from app.jobs import Outcome
from app.painter.layers import complete_document
from app.painter.render import LABELS, PHOTO, fixed_size, size_multiple, valid_size
from app.widgets.files import LABELS as LABEL_FILES
from app.widgets.files import add_recent, display_path, save_file_name
from app.widgets.page import RESULT_PENDING
from engine.api import ModelEntry
from engine.palettes import Palette

if TYPE_CHECKING:
    from app.painter.page import PainterPage

LABEL_FILTER = "Label maps (*.png);;All images (*.png *.bmp *.tif *.tiff *.gif *.webp)"


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


class PainterFiles(PageFiles):
    PAGE_NAME = "Painter"
    EXPORT_TEXT = "&Export Photo…"
    EXPORT_TITLE = "Export Photo"
    EXPORT_FILTERS = {**IMAGE_FILTERS, "TIFF (*.tif *.tiff)": ".tif"}

    def __init__(self, page: PainterPage, bridge: EngineBridge, autosave: Autosave | None = None) -> None:
        super().__init__(page, bridge, autosave)
        self.labels_name = ""  # the label map file the work started from, while it has no project file
        self._exports_waiting = 0  # exports waiting for the full-resolution render
        self.new = self._action("&New Label Map…", self.new_document, QKeySequence.StandardKey.New)
        self.open_labels = self._action("&Open Labels…", self.choose_labels, QKeySequence.StandardKey.Open)
        self.save_labels = self._action("Save &Labels As…", self.choose_labels_target)

    # --- the hooks -----------------------------------------------------------------------------------------

    def history(self) -> Document | None:
        return self.page.document

    def saved_document(self) -> Document | None:
        return snapshot(self.page.document) if self.page.document is not None else None

    def load_project(self, path: str | Path) -> tuple[Document, list[str]]:
        loaded = load_ora(path)
        return loaded.document, loaded.notes

    def show_project(self, loaded: Document, name: str) -> list[str]:
        self.labels_name = ""
        notes = complete_document(loaded, self.page.settings.background_class)
        return notes + self.page.set_document(loaded)

    def exported_image(self) -> np.ndarray | None:
        doc = self.page.document
        return doc.shared(PHOTO) if doc is not None and self.page.scheduler.full_shown else None

    @property
    def busy(self) -> bool:
        return super().busy or self._exports_waiting > 0

    def export(self, path: str | Path) -> Outcome:
        """Export the full-resolution photo: one still rendering is waited for (never a preview or a blank)."""
        scheduler = self.page.scheduler
        if self.page.document is None or scheduler.full_shown:
            return super().export(path)
        if self.page.entry is None or not scheduler.rendering:  # nothing will render it
            self.show_status(f"Not exported. {RESULT_PENDING}")
            return Outcome.settled(False)
        outcome = Outcome(self)
        self._exports_waiting += 1
        self.show_activity(f"Exporting {Path(path).name} once the full-resolution render is done…")

        def rendered(_kind: str, _image: object) -> None:
            if scheduler.full_shown:
                stop()
                exported = super(PainterFiles, self).export(path)
                if exported.ok is None:
                    exported.done.connect(outcome.settle)
                else:
                    outcome.settle(exported.ok)

        def failed(_message: str) -> None:
            stop()
            outcome.settle(False)

        def stop() -> None:
            self._exports_waiting -= 1
            scheduler.rendered.disconnect(rendered)
            scheduler.failed.disconnect(failed)

        scheduler.rendered.connect(rendered)
        scheduler.failed.connect(failed)
        return outcome

    def export_name(self) -> str:
        return f"{Path(self.title()).stem}-photo.png" if self.project_path or self.labels_name else "photo.png"

    def photo_name(self) -> str:
        return self.labels_name

    def open_actions(self) -> list[QAction]:
        return [self.new, self.open_labels, self.save_labels]

    def save_palette(self) -> Palette:
        return self.page.palette

    def show_status(self, text: str) -> None:
        self.page._render_status(text, error=True)

    def show_activity(self, text: str) -> None:
        self.page._render_status(text)

    def _on_change(self, change: Change) -> None:
        if change.what == "history":
            self._update_history()
        elif change.name != PHOTO:  # the photo is derived: re-rendering it is no change to save
            self._changed_since_autosave = True

    # --- label maps --------------------------------------------------------------------------------------

    def new_document(self) -> None:
        doc = self.page.document
        dialog = NewDialog(self.page.entry, (doc.height, doc.width) if doc else (256, 256), self.page)
        if dialog.exec() != QDialog.DialogCode.Accepted or not self.confirm_discard():
            return
        self._replaced(None)
        self.labels_name = ""
        self.page.new_document(np.full(dialog.chosen_size(), self.page.settings.background_class, np.uint8))

    def choose_labels(self) -> None:
        self._open_chosen("Open Label Map", LABEL_FILTER, self.open_label_file, LABEL_FILES)

    def open_label_file(self, path: str | Path) -> Outcome:
        """Read a label map on the file lane; then (unsaved work permitting) it becomes a new document."""
        palette = self.page.palette

        def show(loaded: LabelImport) -> None:
            self._replaced(None)
            self.labels_name = Path(path).name
            self.page.new_document(loaded.labels)
            add_recent(LABEL_FILES, path, self.PAGE_NAME)
            if loaded.message:
                self._inform("Open Labels", f"{Path(path).name}: {loaded.message}.")

        return self.open_with("Open Labels", path, lambda p: read_label_image(p, palette), show)

    def choose_labels_target(self) -> None:
        name = f"{Path(self.labels_name).stem or 'labels'}.png"
        path, _ = save_file_name(self.page, "Save Label Map", name, "Indexed PNG (*.png)", LABEL_FILES)
        if path:
            self.save_labels_file(with_suffix(path, ".png"))

    def save_labels_file(self, path: Path) -> Outcome:
        """Write the label map as it is now, as an indexed PNG (on the file lane)."""
        def labels() -> Work | None:
            doc, palette = self.page.document, self.page.palette
            if doc is None:
                return None
            pixels = doc.shared(LABELS)
            return lambda job: write_label_png(path, pixels, palette)

        def saved(_: object) -> None:
            self.show_activity(f"Saved {path.name}")
            add_recent(LABEL_FILES, path, self.PAGE_NAME)
            self.message.emit(f"Saved {display_path(path)}")

        return self._run(f"labels:{path}", "Save Labels", path, f"Saving {path.name}", labels, saved)
