"""Keeps the result layer generated from the project's final codes, without ever making the GUI wait.

Only the generator runs here (DecodeCodes); the photo is embedded once elsewhere. The scheduler remembers
which codes the pixels on screen were generated from ("landed"), and asks for as little as it can:
- a structure edit (clone stroke, region move) regenerates only the changed cells, changed_cells(landed,
  new), grown by the generator's reach (a cell's code changes the pixels up to that many cells away),
  and the returned patch is pasted in; the engine computes it with the receptive-field margin, so the
  pixels equal a full decode;
- a texture edit changes every pixel: while a slider is dragged, quick previews (a few pixels whatever the photo's
  size, adapting to the model's speed: app/jobs.py PreviewSize), then, when it is released (or a swap lands), a
  preview of the final codes at once and a full decode that supersedes any still running (the engine stops it
  at its next layer);
- a structure edit over most of the photo is previewed and decoded like a texture edit.
The result layer keeps what it shows until the next image lands. While a drag goes on each slot has at most one
request in flight (app/jobs.py): when it returns and the codes moved on, the next one goes out, so requests keep
pace with the engine instead of queueing (and superseding) each other.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.document import Document
from app.engine_bridge import EngineBridge
from app.history import ProjectChange
from app.jobs import Job, Jobs, PreviewSize
from app.sae.photos import resize
from app.sae.stack import SwapProject
from engine.api import DecodeCodes, DecodedPatch, ModelEntry
from engine.codes import changed_cells

PHOTO, RESULT = "photo", "result"
PREVIEW_SLOT = "sae-preview"
DECODE_SLOT = "sae-decode"
PREVIEW_BUDGET_S = 0.5
MAX_REGION_SHARE = 0.5  # a structure edit over more of the code than this is decoded (or previewed) whole

Codes = tuple[np.ndarray, np.ndarray]


def reach_cells(entry: ModelEntry) -> int:
    """How many cells away a changed structure code can still change pixels (the model states it)."""
    return entry.capabilities.margin_cells


class DecodeScheduler(QObject):
    decoded = Signal(str)  # "preview", "region" or "full": the result layer shows it now
    failed = Signal(str)  # one line for the status
    busy_changed = Signal(bool)

    def __init__(self, bridge: EngineBridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = Jobs(bridge, self)
        self.jobs.busy_changed.connect(self.busy_changed)
        self._project: SwapProject | None = None
        self._doc: Document | None = None
        self._model_id: str | None = None
        self._reach = 0
        self._unsubscribe: Callable[[], None] | None = None
        self._landed: Codes | None = None  # the codes the result layer was generated from; None: a preview
        self.preview = PreviewSize(budget_s=PREVIEW_BUDGET_S)
        self._preview_sent = 0.0
        self.requests: list[DecodeCodes] = []  # what was asked, newest last (the page's status and tests read it)

    @property
    def busy(self) -> bool:
        return self.jobs.busy

    def set_target(self, project: SwapProject | None, doc: Document | None, model: ModelEntry | None) -> None:
        """Follow `project`, writing into `doc`'s result layer, generating with `model` (None: the project's
        model is not available; the result layer keeps what it shows)."""
        if self._unsubscribe:
            self._unsubscribe()
        self._project, self._doc = project, doc
        if (model.id if model else None) != self._model_id:
            self.preview.reset()
        self._model_id = model.id if model else None
        self._reach = reach_cells(model) if model else 0
        self._unsubscribe = project.subscribe(self._on_change) if project else None
        self.jobs.cancel(PREVIEW_SLOT, DECODE_SLOT)  # results for another project must not land here
        self._landed = None  # a reopened project's result is 8-bit: generate it exactly once
        self.jobs.want(DECODE_SLOT, self._final_job)

    def _on_change(self, change: ProjectChange) -> None:
        if change.what != "layers":
            return
        if change.final:
            self._settle()
        elif self._cheap():
            self.jobs.want(DECODE_SLOT, self._final_job)
        else:
            self.jobs.cancel(DECODE_SLOT)  # an older exact result landing mid-drag would hide newer previews
            self.jobs.want(PREVIEW_SLOT, self._preview_job)

    def _settle(self) -> None:
        """The exact result of the final codes: a small region in turn, or else a preview at once and then the whole
        decode, superseding one still running."""
        self.jobs.cancel(PREVIEW_SLOT)  # a preview of older codes is of no use now
        region = self._region(*self._project.final_codes()) if self._project is not None else ()
        if region == ():  # the screen shows these codes already
            return
        if region is not None:
            self.jobs.want(DECODE_SLOT, self._final_job)
            return
        if (preview := self._preview_job()) is not None:
            self.jobs.send(PREVIEW_SLOT, preview)
        if (final := self._final_job()) is not None:
            self.jobs.send(DECODE_SLOT, final)

    def _cheap(self) -> bool:
        """Can the change since the landed codes be generated exactly as a small region?"""
        if self._project is None:
            return False
        region = self._region(*self._project.final_codes())
        return region is not None and region != ()

    def _region(self, structure: np.ndarray, texture: np.ndarray) -> tuple[int, int, int, int] | None | tuple[()]:
        """Cells to regenerate: () nothing, None everything."""
        if self._landed is None or not np.array_equal(self._landed[1], texture):
            return None
        box = changed_cells(self._landed[0], structure)
        if box is None:
            return ()
        h, w = structure.shape[1:]
        r = self._reach
        top, left, bottom, right = max(0, box[0] - r), max(0, box[1] - r), min(h, box[2] + r), min(w, box[3] + r)
        return (top, left, bottom, right) if (bottom - top) * (right - left) <= MAX_REGION_SHARE * h * w else None

    # --- requests ----------------------------------------------------------------------------------------

    def _request(self, structure: np.ndarray, texture: np.ndarray, *, region=None, scale: float = 1.0) -> DecodeCodes:
        project, embedding = self._project, self._project.embedding
        # onto the photo: the result is the photo plus the codes' change, at the photo's own resolution
        request = DecodeCodes(self._model_id, structure, texture, tuple(embedding.size), region=region, scale=scale,
                              noise_seed=project.noise_seed, photo=self._doc.shared(PHOTO),
                              base_codes=(embedding.structure, embedding.texture), **project.region_blend())
        self.requests.append(request)
        del self.requests[:-50]
        return request

    def _final_job(self) -> Job | None:
        """The exact result of the codes as they are when it goes out: the changed region, or all of it."""
        if self._project is None or self._model_id is None:
            return None
        structure, texture = self._project.final_codes()
        region = self._region(structure, texture)
        if region == ():
            return None  # the screen already shows these codes (an undo back to them, a no-op stroke)
        kind = "full" if region is None else "region"
        return Job(self._request(structure, texture, region=region),
                   lambda patch: self._final_landed(kind, patch, (structure, texture)), self.failed.emit)

    def _preview_job(self) -> Job | None:
        if self._project is None or self._model_id is None:
            return None
        self._landed = None  # the result is about to show a preview: the next exact decode must be whole
        self._preview_sent = time.perf_counter()
        scale = self.preview.scale(tuple(self._project.embedding.size))
        return Job(self._request(*self._project.final_codes(), scale=scale), self._preview_landed, self.failed.emit,
                   urgent=True)

    # --- results -----------------------------------------------------------------------------------------

    def _final_landed(self, kind: str, patch: DecodedPatch, codes: Codes) -> None:
        self._paste(patch)
        self._landed = codes
        self.decoded.emit(kind)

    def _preview_landed(self, patch: DecodedPatch) -> None:
        self.preview.took(time.perf_counter() - self._preview_sent)
        self._paste(patch, whole=True)
        self.decoded.emit("preview")

    def _paste(self, patch: DecodedPatch, *, whole: bool = False) -> None:
        doc = self._doc
        if doc is None or not doc.has_layer(RESULT):
            return
        image = np.asarray(patch.image, np.float32)
        data = doc.writable(RESULT)
        if whole and image.shape[:2] != data.shape[:2]:
            image = resize(image, data.shape[:2])  # a preview returned at its own size
        h = min(image.shape[0], data.shape[0] - patch.top)
        w = min(image.shape[1], data.shape[1] - patch.left)
        data[patch.top:patch.top + h, patch.left:patch.left + w] = image[:h, :w]
        doc.replace_pixels(RESULT, data)
