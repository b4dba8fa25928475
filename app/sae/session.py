"""The Swap & Edit page's current work: the model, the project (codes and edit layers) and the document
that shows it (photo, result, mask overlay); and the two things that need the encoder: embedding the
photo once, and embedding reference photos for their texture codes (cached per model and file).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.document import Document, Layer
from app.engine_bridge import EngineBridge
from app.jobs import Job, Jobs
from app.sae.decoder import PHOTO, RESULT
from app.sae.photos import Photo, open_photo, reference_image, thumbnail
from app.sae.stack import Reference, SwapProject
from engine.api import EncodeImage, ModelEntry
from engine.imageio import ImageFileError

MASK = "mask"
ENCODE_SLOT = "sae-encode"
REFERENCE_SLOT = "sae-reference"
TOOL_SETTING = "swap-and-edit"  # the document setting "tool" of our projects
MASK_OPACITY = 0.6  # the region tint stays light enough to judge the result under it


def swap_document(photo: np.ndarray, model_id: str, result: np.ndarray | None = None) -> Document:
    """The document of a project: the photo, the result on top (the photo until it is generated) and the
    region mask overlay (hidden until a region is selected)."""
    h, w = photo.shape[:2]
    result = np.array(photo if result is None else result, np.float32)
    doc = Document(h, w, settings={"model_id": model_id, "tool": TOOL_SETTING}, layers=[
        Layer(PHOTO, "rgb", np.ascontiguousarray(photo, np.float32), editable=False),
        Layer(RESULT, "rgb", result, editable=False, derived=True)])
    add_derived_layers(doc)
    return doc


def add_derived_layers(doc: Document) -> None:
    """The result is generated from the project's codes, the mask overlay shows its selected region: writing
    either is no edit of the document (which may come from a file, where all layers are alike)."""
    doc.set_layer_property(RESULT, derived=True)
    if not doc.has_layer(MASK):
        doc.add_layer(Layer(MASK, "mask", np.zeros((doc.height, doc.width), np.float32), visible=False,
                            opacity=MASK_OPACITY, editable=False, derived=True))


class SwapSession(QObject):
    project_changed = Signal()  # another project (or none) with its document
    status = Signal(str, bool)  # one line for the user, is it an error
    encoding = Signal(bool)  # an embedding (photo or reference) is in progress
    progress = Signal(float, str)  # of the embedding in progress

    def __init__(self, bridge: EngineBridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge  # for the page's other parts that ask the engine (the sliders' thumbnails)
        self.jobs = Jobs(bridge, self)
        self.jobs.busy_changed.connect(self.encoding)
        self.jobs.progress.connect(lambda _slot, fraction, message: self.progress.emit(fraction, message))
        self.entry: ModelEntry | None = None
        self.project: SwapProject | None = None
        self.document: Document | None = None
        self.photo_name = ""
        self.photo_note = ""  # what the user must know about the size the photo is worked at
        self._references: dict[tuple, np.ndarray] = {}  # (model, file, mtime, size) -> texture code

    @property
    def min_size(self) -> int:
        return self.entry.capabilities.min_size if self.entry else 1

    @property
    def busy(self) -> bool:
        return self.jobs.busy

    def set_model(self, entry: ModelEntry | None) -> None:
        self.entry = entry

    # --- the photo -----------------------------------------------------------------------------------

    def photo_reader(self) -> Callable[[str | Path], Photo]:
        """What reads and sizes a photo for the current model (touching neither the session nor Qt, so it may run
        on the file lane); ValueError (one line) when there is no model to size it for."""
        if self.entry is None:
            raise ValueError("Choose a Swapping Autoencoder model first (Models > Library…)")
        min_size = self.min_size
        return lambda path: open_photo(path, min_size)

    def embed(self, photo: Photo, on_done: Callable[[], None] | None = None) -> None:
        """Embed `photo` with the current model; a new project replaces the current one when it arrives."""
        entry = self.entry
        h, w = photo.image.shape[:2]
        size = photo.note or f"{w}x{h}"
        self.status.emit(f"Embedding {photo.name} ({size})…", False)

        def arrived(embedding) -> None:
            self.photo_name, self.photo_note = photo.name, photo.note
            project = SwapProject(entry.id, embedding, photo_size=(h, w))
            self.set_project(project, swap_document(photo.image, entry.id))
            self.status.emit(f"Embedded {photo.name} ({size}): edits show as changes of the photo", False)
            if on_done:
                on_done()

        def failed(message: str) -> None:
            self.status.emit(f"Cannot embed {photo.name}: {message}", True)

        self.jobs.send(ENCODE_SLOT, Job(EncodeImage(entry.id, photo.working), arrived, failed))

    def set_project(self, project: SwapProject | None, document: Document | None) -> None:
        self.project, self.document = project, document
        self.project_changed.emit()

    # --- references ----------------------------------------------------------------------------------

    def embed_reference(self, path: str | Path, on_done: Callable[[Reference], None]) -> None:
        """Embed a reference photo and hand its texture code over as a Reference (cached per model and file)."""
        path = Path(path)
        if self.entry is None:
            self.status.emit("Choose a Swapping Autoencoder model first", True)
            return
        try:
            image = reference_image(path, self.min_size)
            key = (self.entry.id, str(path.resolve()), path.stat().st_mtime_ns, image.shape)
        except (ImageFileError, ValueError, OSError) as exc:
            self.status.emit(f"Reference: {exc}", True)
            return
        thumb = thumbnail(image)
        if key in self._references:
            on_done(Reference("ref", path.name, self._references[key], thumb))
            return
        self.status.emit(f"Embedding the reference {path.name}…", False)
        model_id = self.entry.id

        def arrived(embedding) -> None:
            self._references[key] = embedding.texture
            if self.project is not None and self.project.model_id == model_id:  # not another model's by now
                self.status.emit(f"Texture of {path.name} applied", False)
                on_done(Reference("ref", path.name, embedding.texture, thumb))

        def failed(message: str) -> None:
            self.status.emit(f"Reference {path.name}: {message}", True)

        self.jobs.send(REFERENCE_SLOT, Job(EncodeImage(self.entry.id, image), arrived, failed))
