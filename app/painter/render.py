"""The painter's render scheduler: label edits in, photos out, without ever making the GUI wait.

Every change is seen first in a quick low-resolution preview, then at full resolution; the photo on screen stays
until the next image lands (never blanked or washed while one renders). During a stroke at most one preview is in
flight (app/jobs.py): when it returns and the labels changed meanwhile, the next one goes out, so previews keep pace
with the engine instead of queueing up. A preview's size is a number of pixels, whatever the canvas' size, that
adapts to how long previews take, so a big model on a slow machine still follows the brush. When the stroke ends,
a preview of the final labels and a full-resolution render go out, superseding whatever still renders (the engine
stops it at its next layer). Edits outside a stroke (fill, undo, open) do the same on the next turn of the event
loop, so a burst of changes costs one pair of requests.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import cv2
import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from app.document import Change, Document
from app.engine_bridge import EngineBridge
from app.jobs import Job, Jobs, PreviewSize
from engine.api import ModelEntry, RenderLabels

LABELS, PHOTO, STYLE = "labels", "photo", "style"  # the painter's layers; the seed is the "seed" setting
PREVIEW_SLOT = "painter-preview"
FULL_SLOT = "painter-render"
PREVIEW_BUDGET_S = 0.3  # a slower preview halves the next one's sides; a much faster one doubles them

Size = tuple[int, int]


def size_multiple(entry: ModelEntry) -> int:
    """Output sides must be multiples of this (1 when the model states no rule)."""
    return entry.capabilities.size_multiple  # stated by the engine's architecture


def fixed_size(entry: ModelEntry) -> Size | None:
    """The one size a model with a VAE latent can produce, else None."""
    return entry.capabilities.fixed_size


def valid_size(entry: ModelEntry, size: Size) -> Size:
    """The size nearest to `size` that the model can render."""
    if (fixed := fixed_size(entry)) is not None:
        return fixed
    m = size_multiple(entry)
    return tuple(max(m, round(side / m) * m) for side in size)  # type: ignore[return-value]


def resize_rgb(image: np.ndarray, size: Size) -> np.ndarray:
    """Bilinear resize of an HxWx3 float image to `size` (H, W), kept in float (runs on the GUI thread
    for every preview, hence OpenCV: a few ms where Pillow takes tens at 1024 px)."""
    if image.shape[:2] == tuple(size):
        return image
    resized = cv2.resize(np.ascontiguousarray(image, dtype=np.float32), (size[1], size[0]),
                         interpolation=cv2.INTER_LINEAR if size[0] >= image.shape[0] else cv2.INTER_AREA)
    return np.clip(resized, 0.0, 1.0)


def nearest(labels: np.ndarray, size: Size) -> np.ndarray:
    """The label map subsampled to `size` (H, W): each output pixel takes the label under its centre, as the
    engine resizes label maps (ids are never blended)."""
    h, w = labels.shape[:2]
    rows = ((np.arange(size[0]) + 0.5) * h / size[0]).astype(np.intp)
    cols = ((np.arange(size[1]) + 0.5) * w / size[1]).astype(np.intp)
    return labels[np.ix_(np.minimum(rows, h - 1), np.minimum(cols, w - 1))]


class RenderScheduler(QObject):
    """Observes a document's label layer and the canvas strokes; keeps its photo layer rendered."""

    rendered = Signal(str, object)  # "preview" | "full", the image written into the photo layer
    failed = Signal(str)  # one line for the page's status
    busy_changed = Signal(bool)

    def __init__(self, bridge: EngineBridge, *, labels: str = LABELS, photo: str = PHOTO, style: str = STYLE,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = Jobs(bridge, self)
        self.jobs.busy_changed.connect(self.busy_changed)
        self._labels, self._photo, self._style = labels, photo, style
        self._doc: Document | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._entry: ModelEntry | None = None
        self._in_stroke = False
        self.preview = PreviewSize(budget_s=PREVIEW_BUDGET_S)
        self._preview_sent = 0.0
        self._refresh_timer = QTimer(self, singleShot=True, interval=0)
        self._refresh_timer.timeout.connect(self.refresh)
        self._version = 0  # counts the changes the photo must follow
        self._shown: int | None = None  # the version the photo layer shows at full resolution; None: none

    @property
    def busy(self) -> bool:
        return self.jobs.busy

    @property
    def rendering(self) -> bool:
        """A render is under way or about to go out (a full-resolution one follows)."""
        return self.jobs.busy or self._refresh_timer.isActive() or self._in_stroke

    @property
    def full_shown(self) -> bool:
        """The photo layer shows the full-resolution render of the document as it is now (not a preview, not a
        blank waiting for its first render): what Export and Send to may take."""
        return self._shown == self._version

    def _changed(self) -> None:
        self._version += 1

    def set_document(self, doc: Document | None) -> None:
        if self._unsubscribe:
            self._unsubscribe()
        self._doc, self._unsubscribe = doc, (doc.subscribe(self._on_change) if doc else None)
        self._in_stroke = False
        self._changed()
        self.jobs.cancel(PREVIEW_SLOT, FULL_SLOT)  # results for the previous document must not land here
        self._request_refresh()

    def set_model(self, entry: ModelEntry | None) -> None:
        self._entry = entry
        self.preview.reset()
        self._changed()
        self.jobs.cancel(PREVIEW_SLOT, FULL_SLOT)
        self._request_refresh()

    # --- canvas intents --------------------------------------------------------------------------------

    def stroke_started(self) -> None:
        self._in_stroke = True
        self._refresh_timer.stop()
        self.jobs.cancel(FULL_SLOT)  # an older full render landing mid-stroke would paint over newer previews

    def stroke_finished(self) -> None:
        self._in_stroke = False
        self.refresh()

    # --- requests ----------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """A preview of the labels as they are now, then the full-resolution render; both supersede what their
        slots still render."""
        self._refresh_timer.stop()
        self.jobs.cancel(PREVIEW_SLOT)  # a preview of older labels is of no use now
        if (preview := self._preview_job()) is not None:
            self.jobs.send(PREVIEW_SLOT, preview)
        self.render_full()

    def render_full(self) -> None:
        """Render at full resolution now, superseding a full render on its way."""
        self._refresh_timer.stop()
        if (request := self._request(full=True)) is not None:
            version = self._version
            self.jobs.send(FULL_SLOT, Job(request, lambda image: self._arrived("full", image, version),
                                          self.failed.emit))

    def _request_refresh(self) -> None:
        if not self._in_stroke:
            self._refresh_timer.start()

    def _preview_job(self) -> Job | None:
        """The preview of the labels as they are when it goes out (None: the full render is as small)."""
        if (request := self._request(full=False)) is None:
            return None
        self._preview_sent = time.perf_counter()
        return Job(request, lambda image: self._arrived("preview", image), self.failed.emit, urgent=True)

    def _request(self, *, full: bool) -> RenderLabels | None:
        if self._doc is None or self._entry is None or not self._doc.has_layer(self._labels):
            return None
        shape = (self._doc.height, self._doc.width)
        size = valid_size(self._entry, shape if full else self.preview.size(shape))
        if not full and size == valid_size(self._entry, shape):
            return None
        style = None
        if self._entry.capabilities.style_image and self._doc.has_layer(self._style):
            style = self._doc.layer(self._style).data
        seed = self._doc.settings.get("seed")
        labels = self._doc.layer(self._labels).data
        # a copy (the engine reads it on its own thread while the user paints on); a preview's, subsampled
        labels = labels.copy() if full else nearest(labels, size)
        return RenderLabels(self._entry.id, labels, size=size, style=style,
                            seed=int(seed) if isinstance(seed, int) else None)

    # --- results -----------------------------------------------------------------------------------------

    def _arrived(self, kind: str, image: np.ndarray, version: int | None = None) -> None:
        self._shown = version  # a preview (None) replaces the full render on screen
        if kind == "preview":
            self.preview.took(time.perf_counter() - self._preview_sent)
        doc = self._doc
        if doc is not None and doc.has_layer(self._photo):
            image = resize_rgb(np.asarray(image, dtype=np.float32), (doc.height, doc.width))
            doc.replace_pixels(self._photo, image)  # a derived layer: rendering is no edit
            self.rendered.emit(kind, image)

    def _on_change(self, change: Change) -> None:
        style_changed = change.name == self._style and change.what in ("pixels", "layers")
        if style_changed or change == Change("setting", "seed") or change == Change("layers", self._labels):
            self._changed()
            self._request_refresh()
            return
        if change.what != "pixels" or change.name != self._labels:
            return
        self._changed()
        if self._in_stroke:
            self.jobs.want(PREVIEW_SLOT, self._preview_job)  # while one renders, the newest labels wait for it
        else:
            self._request_refresh()
