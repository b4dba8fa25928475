"""The Style Brushes page's File and Edit actions: photos, projects (.ora), composite export, autosave and
recovery, undo; the common part is app/fileio/page_files.py.

A project is an OpenRaster file other programs open as two layers, the photo and the composite on top; the
brush layers, their masks and the translations they use ride along as extra members (app/brushes/state_io.py).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtGui import QAction, QKeySequence

from app.brushes.photos import Photo, check_size, photo_key, read_photo
from app.brushes.project import PHOTO, RESULT, TOOL_SETTING, BrushProject, brush_document
from app.brushes.state_io import ProjectFormatError, is_brush_project, project_members, state_from_members
from app.brushes.translations import RUNNING, Key
from app.document import Document, Layer
from app.engine_bridge import EngineBridge
from app.fileio.autosave import Autosave
from app.fileio.labels import FileError
from app.fileio.ora import extras, load_ora, set_extras
from app.fileio.page_files import PageFiles
from app.jobs import Outcome
from app.widgets.files import PHOTO as PHOTO_FILES
from app.widgets.files import PHOTO_FILTER, add_recent
from app.widgets.page import RESULT_PENDING
from engine.api import MAX_TRANSLATE_PIXELS
from engine.imageio import ImageFileError, to_uint8

if TYPE_CHECKING:
    from app.brushes.page import StyleBrushPage

# Decoded pixels opening a project may cost: the photo and the composite (each its PNG and its array), then
# each brush layer's mask and translation, all of the photo's size. 8 photos' worth: a photo at the page's
# largest size (64 MP) with its composite and two brush layers, or a 12 MP phone photo with 18.
MAX_PROJECT_PIXELS = 8 * MAX_TRANSLATE_PIXELS


def ora_document(project: BrushProject, page: StyleBrushPage) -> Document:
    """What goes into the .ora: the photo, the composite on top (what other programs show) and our state
    with the translations the layers use. A snapshot that costs no copies (its state is encoded when it is
    written, on the file lane)."""
    state = copy.copy(project)  # its layers are one frozen value, which later edits replace
    state.document, state.styles = project.document.snapshot(), dict(project.styles)  # masks are painted in place
    doc = state.document
    out = Document(doc.height, doc.width, settings={"tool": TOOL_SETTING})
    for name in (PHOTO, RESULT):
        out.add_layer(Layer(name, "rgb", doc.layer(name).data, editable=False))
    translations = {}
    for layer in project.layers:
        key, image = page.key(layer), page.translation(layer)
        if key is not None and image is not None:  # the cache's images are read-only
            translations[key] = image
    set_extras(out, lambda: project_members(state, translations))
    return out


def read_project(path: str | Path) -> tuple[BrushProject, dict[Key, np.ndarray], list[str]]:
    """A project file as (project, the translations stored with it, notes); FileError/ProjectFormatError
    otherwise."""
    loaded = load_ora(path, max_pixels=MAX_TRANSLATE_PIXELS, max_decoded=MAX_PROJECT_PIXELS)
    doc, name = loaded.document, Path(path).name
    members = extras(doc)
    if not is_brush_project(members):
        raise FileError(f"{name} is not a Style Brushes project (open it in the page that made it)")
    if not doc.has_layer(PHOTO) or doc.layer(PHOTO).kind != "rgb":
        raise ProjectFormatError(f"{name}: the photo layer is missing")
    photo = np.ascontiguousarray(doc.layer(PHOTO).data, np.float32)
    key = photo_key(photo)
    state = state_from_members(members, (doc.height, doc.width), key, name, loaded.budget)
    project = BrushProject(brush_document(photo), key, state.layers, state.masks, state.styles)
    return project, state.translations, loaded.notes + state.notes


class BrushFiles(PageFiles):
    PAGE_NAME = "Style Brushes"
    AUTOSAVE_FOLDER = "autosave-brushes"
    READ_ERRORS = (FileError, ProjectFormatError)

    def __init__(self, page: StyleBrushPage, bridge: EngineBridge, autosave: Autosave | None = None) -> None:
        super().__init__(page, bridge, autosave)
        self.open_photo = self._action("&Open Photo…", self.choose_photo, QKeySequence.StandardKey.Open)

    @property
    def project(self) -> BrushProject | None:
        return self.page.project

    # --- the hooks -----------------------------------------------------------------------------------

    def history(self) -> BrushProject | None:
        return self.project

    def saved_document(self) -> Document | None:
        return ora_document(self.project, self.page) if self.project else None

    def load_project(self, path: str | Path) -> tuple[tuple[BrushProject, dict[Key, np.ndarray]], list[str]]:
        project, translations, notes = read_project(path)
        return (project, translations), notes

    def show_project(self, loaded: tuple[BrushProject, dict[Key, np.ndarray]], name: str) -> list[str]:
        project, translations = loaded
        self.page.set_project(project, name, translations=translations)
        return []

    def exported_image(self) -> np.ndarray | None:
        return self.project.document.shared(RESULT) if self.project and not self._translating() else None

    def _translating(self) -> bool:
        """A layer still waits for its translation (it shows a preview or nothing yet)."""
        page = self.page
        states = (page.translator.state(key) for layer in self.project.layers if (key := page.key(layer)) is not None)
        return any(state is not None and state.status == RUNNING for state in states)

    def export(self, path: str | Path) -> Outcome:
        if self.project is not None and self.exported_image() is None:
            self.show_status(f"Not exported. {RESULT_PENDING}")
            return Outcome.settled(False)
        return super().export(path)

    def photo_name(self) -> str:
        return self.page.photo_name

    def export_name(self) -> str:
        return f"{Path(self.page.photo_name or 'photo').stem}-brushed.png"

    def open_actions(self) -> list[QAction]:
        return [self.open_photo]

    # --- photos --------------------------------------------------------------------------------------

    def choose_photo(self) -> None:
        self._open_chosen("Open Photo", PHOTO_FILTER, self.open_photo_file, PHOTO_FILES)

    def open_file(self, path: str | Path) -> Outcome:
        """A dropped file: a project when it is one, else a photo."""
        return self.open_project_file(path) if Path(path).suffix.lower() == ".ora" else self.open_photo_file(path)

    def open_photo_file(self, path: str | Path) -> Outcome:
        """Read a photo (on the file lane) and start a new project on it (after asking about unsaved work)."""
        def show(photo: Photo) -> None:
            self._replaced(None)
            self.page.open_photo(photo)
            add_recent(PHOTO_FILES, path, self.PAGE_NAME)

        return self.open_with("Open Photo", path, read_photo, show)

    def open_image(self, image: np.ndarray, name: str) -> bool:
        """Another tool's result as the photo to paint on (HxWx3 float in [0, 1]), as opening a file would: its
        size checked, then unsaved work asked about. False when it did not open (the user was told)."""
        h, w = image.shape[:2]
        try:
            check_size(name, w, h)
        except ImageFileError as exc:
            self._warn("Send to Style Brushes", str(exc))
            return False
        if not self.confirm_discard():
            return False
        pixels = to_uint8(image)
        self._replaced(None)
        self.page.open_photo(Photo(pixels.astype(np.float32) / 255.0, name))  # on the 8-bit grid, as a file reads
        return True
