"""The Swap & Edit page's File and Edit actions: photos, projects (.ora), result export, autosave and
recovery, undo; the common part is app/fileio/page_files.py.

A project is an OpenRaster file other programs open as two layers, the photo and the result on top; our
state (the embedding and the edit layers) rides along as extra members (app/sae/state_io.py), so a
reopened project is never re-embedded.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtGui import QAction, QKeySequence

from app.document import Document, Layer
from app.engine_bridge import EngineBridge
from app.fileio.autosave import Autosave
from app.fileio.labels import FileError
from app.fileio.ora import extras, load_ora, set_extras
from app.fileio.page_files import PageFiles
from app.jobs import Outcome
from app.sae.decoder import RESULT
from app.sae.photos import Photo, embedded_at, working_size
from app.sae.session import PHOTO, add_derived_layers
from app.sae.stack import SwapProject
from app.sae.state_io import ProjectFormatError, is_swap_project, project_from_members, project_members
from app.widgets.files import PHOTO as PHOTO_FILES
from app.widgets.files import PHOTO_FILTER, add_recent
from app.widgets.page import RESULT_PENDING

if TYPE_CHECKING:
    from app.sae.page import SwapPage


def ora_document(project: SwapProject, doc: Document) -> Document:
    """What goes into the .ora: the photo, the result on top (what other programs show) and our state. A snapshot
    that costs no copies (its state is encoded when it is written, on the file lane)."""
    out = Document(doc.height, doc.width, settings=dict(doc.settings, model_id=project.model_id))
    for name in (PHOTO, RESULT):
        out.add_layer(Layer(name, "rgb", doc.shared(name), editable=False))
    state = copy.copy(project)  # its layers are one frozen value, which later edits replace: they are not in it
    set_extras(out, lambda: project_members(state))
    return out


def read_project(path: str | Path) -> tuple[SwapProject, Document, list[str]]:
    """A project file as (project, document with our layers, notes); FileError/ProjectFormatError otherwise."""
    loaded = load_ora(path)
    doc, name = loaded.document, Path(path).name
    members = extras(doc)
    if not is_swap_project(members):
        raise FileError(f"{name} is not a Swap & Edit project (open it in the Painter)")
    project = project_from_members(members, name)
    for layer in (PHOTO, RESULT):
        if not doc.has_layer(layer) or doc.layer(layer).kind != "rgb":
            raise ProjectFormatError(f"{name}: the {layer} layer is missing")
    if not embedded_at((doc.height, doc.width), project.embedding.size):
        raise ProjectFormatError(f"{name}: the layers are not the size of the embedded photo")
    project.photo_size = (doc.height, doc.width)
    add_derived_layers(doc)
    return project, doc, loaded.notes


class SwapFiles(PageFiles):
    PAGE_NAME = "Swap & Edit"
    AUTOSAVE_FOLDER = "autosave-swap"
    EXPORT_TEXT = "&Export Result…"
    EXPORT_TITLE = "Export Result"
    READ_ERRORS = (FileError, ProjectFormatError)

    def __init__(self, page: SwapPage, bridge: EngineBridge, autosave: Autosave | None = None) -> None:
        super().__init__(page, bridge, autosave)
        self.open_photo = self._action("&Open Photo…", self.choose_photo, QKeySequence.StandardKey.Open)

    @property
    def project(self) -> SwapProject | None:
        return self.page.session.project

    # --- the hooks -----------------------------------------------------------------------------------

    def history(self) -> SwapProject | None:
        return self.project

    def saved_document(self) -> Document | None:
        project, doc = self.project, self.page.session.document
        return ora_document(project, doc) if project is not None and doc is not None else None

    def load_project(self, path: str | Path) -> tuple[tuple[SwapProject, Document], list[str]]:
        project, doc, notes = read_project(path)
        return (project, doc), notes

    def show_project(self, loaded: tuple[SwapProject, Document], name: str) -> list[str]:
        return self.page.show_project(*loaded, name)

    def exported_image(self) -> np.ndarray | None:
        doc = self.page.session.document
        return doc.shared(RESULT) if doc is not None and self.page.result_exact() else None

    def export(self, path: str | Path) -> Outcome:
        if self.page.session.document is not None and self.exported_image() is None:
            self.show_status(f"Not exported. {RESULT_PENDING}")
            return Outcome.settled(False)
        return super().export(path)

    def photo_name(self) -> str:
        return self.page.session.photo_name or ""

    def export_name(self) -> str:
        return f"{Path(self.page.session.photo_name or 'result').stem}-edited.png"

    def open_actions(self) -> list[QAction]:
        return [self.open_photo]

    # --- photos --------------------------------------------------------------------------------------

    def choose_photo(self) -> None:
        self._open_chosen("Open Photo", PHOTO_FILTER, self.open_photo_file, PHOTO_FILES)

    def open_photo_file(self, path: str | Path) -> Outcome:
        """Read a photo (on the file lane) and embed it as a new project (after asking about unsaved work). Asked
        before the engine has listed the models (the app just started), it waits for the list, then opens."""
        if self.page.session.entry is None and not self.page.models_listed:
            return self._after_model_list(path)
        try:
            read = self.page.session.photo_reader()
        except ValueError as exc:
            self._warn("Open Photo", self._message(exc, path))
            return Outcome.settled(False)
        return self.open_with("Open Photo", path,
                              read, lambda photo: self.embed(photo, recent=Path(path)))

    def _after_model_list(self, path: str | Path) -> Outcome:
        """Open `path` once the model list is in; the outcome ends with that opening's."""
        waiting = Outcome(self)
        self.show_activity(f"Waiting for the model list to open {Path(path).name}…")

        def listed() -> None:
            self.page.models_arrived.disconnect(listed)
            opened = self.open_photo_file(path)
            opened.done.connect(waiting.settle)
            if opened.ok is not None:
                waiting.settle(opened.ok)

        self.page.models_arrived.connect(listed)
        return waiting

    def open_image(self, image: np.ndarray, name: str) -> bool:
        """Another tool's result as the photo to edit (HxWx3 float in [0, 1]), as opening a file would: the model's
        minimum size checked, then unsaved work asked about. False when it did not open (the user was told)."""
        entry = self.page.session.entry
        if entry is None:
            self._warn("Send to Swap & Edit", "Choose a Swapping Autoencoder model first (Models > Library…)")
            return False
        h, w = image.shape[:2]
        wh, ww = working_size((h, w))
        if min(wh, ww) < entry.capabilities.min_size:
            self._warn("Send to Swap & Edit", f"{name} is {w}x{h}: this model needs photos of at least "
                                              f"{entry.capabilities.min_size} px a side")
            return False
        if not self.confirm_discard():
            return False
        self.embed(Photo(np.ascontiguousarray(image, np.float32), name))
        return True

    def embed(self, photo: Photo, recent: Path | None = None) -> None:
        """Embed `photo`; its project replaces the current one (unsaved, no file yet) when it arrives; a photo
        file (`recent`) joins the recent photos then."""
        def done() -> None:
            self._replaced(None)
            if recent is not None:
                add_recent(PHOTO_FILES, recent, self.PAGE_NAME)

        self.page.session.embed(photo, on_done=done)
