"""The Variations page's File and Edit actions: photos, projects (.ora), the composite exported at the photo's
full resolution, a single result exported, autosave and recovery, undo; the common part is
app/fileio/page_files.py. Photos are read here (pages never import each other): checked from the header before
decoding, kept in 8 bits so a saved project gives back the very same pixels."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtGui import QAction, QKeySequence

from app.document import Document, Layer
from app.engine_bridge import EngineBridge
from app.fileio.autosave import Autosave
from app.fileio.labels import FileError, export_image
from app.fileio.ora import extras, load_ora, set_extras
from app.fileio.page_files import IMAGE_FILTERS, PageFiles
from app.jobs import Outcome
from app.variations.project import PHOTO, RESULT, TOOL_SETTING, VariationsProject, project_document
from app.variations.state_io import (
    ProjectFormatError,
    is_variations_project,
    layers_from_members,
    project_members,
)
from app.widgets.files import EXPORT, PHOTO_FILTER, add_recent, display_path, save_file_name
from app.widgets.files import PHOTO as PHOTO_FILES
from engine.api import MAX_TRANSLATE_PIXELS
from engine.imageio import ImageFileError, image_info, read_rgb8, to_uint8

if TYPE_CHECKING:
    from app.variations.page import VariationsPage

MAX_PHOTO_PIXELS = MAX_TRANSLATE_PIXELS
MIN_SIDE = 16
MAX_PROJECT_PIXELS = 4 * MAX_PHOTO_PIXELS  # the photo and the composite, each its PNG and its array


@dataclass(frozen=True, eq=False)
class Photo:
    image: np.ndarray  # HxWx3 float32 in [0, 1], on the 8-bit grid
    name: str
    key: str  # photo_key(image), made on the file lane


def check_size(name: str, width: int, height: int) -> None:
    if width * height > MAX_PHOTO_PIXELS:
        raise ImageFileError(f"{name} is {width}x{height} ({width * height / 1e6:.0f} megapixels): Variations takes "
                             f"photos up to {MAX_PHOTO_PIXELS // 1_000_000} megapixels; scale it down first")
    if min(width, height) < MIN_SIDE:
        raise ImageFileError(f"{name} is {width}x{height}: Variations needs at least {MIN_SIDE} px a side")


def read_photo(path: str | Path) -> Photo:
    """The photo to vary; ImageFileError (one line) when it cannot be used."""
    path = Path(path)
    _mode, width, height = image_info(path)
    check_size(path.name, width, height)
    pixels = read_rgb8(path, max_pixels=MAX_PHOTO_PIXELS)  # alpha over white, greyscale expanded, 16-bit scaled
    image = pixels.astype(np.float32)
    image /= 255.0
    return Photo(image, path.name, photo_key(image))


def photo_key(image: np.ndarray) -> str:
    """The same pixels give the same key (results are cached under it)."""
    digest = hashlib.blake2b(str(image.shape).encode(), digest_size=16)
    digest.update(np.ascontiguousarray(to_uint8(image)).data)
    return digest.hexdigest()


def read_project(path: str | Path) -> tuple[tuple[VariationsProject, str], list[str]]:
    """(the project and its photo's key, notes for the user); FileError/ProjectFormatError otherwise."""
    loaded = load_ora(path, max_pixels=MAX_PHOTO_PIXELS, max_decoded=MAX_PROJECT_PIXELS)
    doc, name = loaded.document, Path(path).name
    members = extras(doc)
    if not is_variations_project(members):
        raise FileError(f"{name} is not a Variations project (open it in the page that made it)")
    if not doc.has_layer(PHOTO) or doc.layer(PHOTO).kind != "rgb":
        raise ProjectFormatError(f"{name}: the photo layer is missing")
    photo = np.ascontiguousarray(doc.layer(PHOTO).data, np.float32)
    layers, crop = layers_from_members(members, (doc.height, doc.width), name, loaded.budget)
    project = VariationsProject(project_document(photo, crop), layers)
    project.recomposite()
    return (project, photo_key(photo)), loaded.notes


class VariationsFiles(PageFiles):
    PAGE_NAME = "Variations"
    AUTOSAVE_FOLDER = "autosave-variations"
    EXPORT_TEXT = "&Export Result…"
    EXPORT_TITLE = "Export Result"
    READ_ERRORS = (FileError, ProjectFormatError)

    def __init__(self, page: VariationsPage, bridge: EngineBridge, autosave: Autosave | None = None) -> None:
        super().__init__(page, bridge, autosave)
        self.open_photo = self._action("&Open Photo…", self.choose_photo, QKeySequence.StandardKey.Open)
        self.export_pick = self._action("Export &Pick…", self.choose_pick_export)

    @property
    def project(self) -> VariationsProject | None:
        return self.page.project

    # --- the hooks -----------------------------------------------------------------------------------

    def history(self) -> VariationsProject | None:
        return self.project

    def saved_document(self) -> Document | None:
        project = self.project
        if project is None:
            return None
        doc = project.document.snapshot()
        out = Document(doc.height, doc.width, settings=dict(doc.settings) | {"tool": TOOL_SETTING})
        for name in (PHOTO, RESULT):
            out.add_layer(Layer(name, "rgb", doc.layer(name).data, editable=False))
        state = VariationsProject(doc, project.layers)  # the layers are one frozen value
        set_extras(out, lambda: project_members(state))
        return out

    def load_project(self, path: str | Path) -> tuple[tuple[VariationsProject, str], list[str]]:
        return read_project(path)

    def show_project(self, loaded: tuple[VariationsProject, str], name: str) -> list[str]:
        loaded, key = loaded
        self.page.set_project(loaded, name, key)
        missing = sorted({la.recipe.model_id for la in loaded.layers if self.page.catalog.get(la.recipe.model_id)
                          is None})
        if not missing:
            return []
        return [f"the model {', '.join(repr(m) for m in missing)} of its kept layers is not in the Library: they "
                + "show as saved, and are made again once it is imported"]

    def exported_image(self) -> np.ndarray | None:
        return self.project.document.shared(RESULT) if self.project else None

    def photo_name(self) -> str:
        return self.page.photo_name

    def export_name(self) -> str:
        return f"{Path(self.page.photo_name or 'photo').stem}-variations.png"

    def open_actions(self) -> list[QAction]:
        return [self.open_photo]

    def menu_actions(self) -> dict[str, list[QAction | None]]:
        menus = super().menu_actions()
        menus["File"].append(self.export_pick)
        return menus

    def project_changed(self) -> None:
        super().project_changed()
        if hasattr(self, "export_pick"):  # PageFiles.__init__ calls this before our actions exist
            self.export_pick.setEnabled(self.history() is not None)

    # --- photos and single results ---------------------------------------------------------------------

    def choose_photo(self) -> None:
        self._open_chosen("Open Photo", PHOTO_FILTER, self.open_photo_file, PHOTO_FILES)

    def open_file(self, path: str | Path) -> Outcome:
        """A dropped file: a project when it is one, else a photo."""
        return self.open_project_file(path) if Path(path).suffix.lower() == ".ora" else self.open_photo_file(path)

    def open_photo_file(self, path: str | Path) -> Outcome:
        def show(photo: Photo) -> None:
            self._replaced(None)
            self.page.open_photo(photo.image, photo.name, photo.key)
            add_recent(PHOTO_FILES, path, self.PAGE_NAME)

        return self.open_with("Open Photo", path, read_photo, show)

    def open_image(self, image: np.ndarray, name: str) -> bool:
        """Another tool's result as the photo (after its size is checked and unsaved work asked about)."""
        h, w = image.shape[:2]
        try:
            check_size(name, w, h)
        except ImageFileError as exc:
            self._warn("Send to Variations", str(exc))
            return False
        if not self.confirm_discard():
            return False
        self._replaced(None)
        self.page.open_photo(to_uint8(image).astype(np.float32) / 255.0, name)  # on the 8-bit grid, as a file reads
        return True

    def choose_pick_export(self) -> None:
        if self.page.pick_image() is None:
            self.show_status("Not exported: click a result in the grid first, and wait for it to show")
            return
        path, chosen = save_file_name(self.page, "Export Pick", self.page.pick_file_name(),
                                      ";;".join(IMAGE_FILTERS), EXPORT)
        if path:
            self.export_pick_to(path if Path(path).suffix else path + IMAGE_FILTERS.get(chosen, ".png"))

    def export_pick_to(self, path: str | Path) -> Outcome:
        """Write the pick alone, at the model's size, on the file lane."""
        def image():
            pixels = self.page.pick_image()
            if pixels is None:
                return None
            exact = (pixels.astype(np.float32) + 0.5) / 255.0  # export truncates to 8 bits: the same bytes again
            return lambda job: export_image(path, exact)

        def exported(_: object) -> None:
            self.show_activity(f"Exported {Path(path).name}")
            self.message.emit(f"Exported {display_path(path)}")

        return self._run(f"export:{path}", "Export Pick", path, f"Exporting {Path(path).name}", image, exported)
