"""Keeps the result layer generated from the project's final codes, without ever making the GUI wait.

Only the generator runs here (DecodeCodes); the photo is embedded once elsewhere. The scheduler remembers
which codes the pixels on screen were generated from ("landed"), and asks for as little as it can:
- a structure edit (clone stroke, region move) regenerates only the changed cells, changed_cells(landed,
  new), grown by the generator's reach (a cell's code changes the pixels up to that many cells away),
  and the returned patch is pasted in; the engine computes it with the receptive-field margin, so the
  pixels equal a full decode;
- a texture edit changes every pixel: while a slider is dragged, previews at PREVIEW_SCALE, then one full
  decode when it is released;
- a structure edit over most of the photo during a drag is previewed like a texture edit.
Each slot has at most one request in flight: when it returns and the codes moved on, the next one goes
out, so requests keep pace with the engine instead of queueing (and superseding) each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.document import Document
from app.engine_bridge import EngineBridge
from app.sae.photos import resize
from app.sae.stack import ProjectChange, SwapProject
from engine.api import DecodeCodes, DecodedPatch, ModelEntry
from engine.codes import changed_cells

RESULT = "result"
PREVIEW_SLOT = "sae-preview"
DECODE_SLOT = "sae-decode"
PREVIEW_SCALE = 0.5
MAX_REGION_SHARE = 0.5  # a structure edit over more of the code than this is decoded (or previewed) whole

Codes = tuple[np.ndarray, np.ndarray]


def reach_cells(hparams: Mapping[str, Any]) -> int:
    """How many cells away a changed structure code can still change pixels (the model states it)."""
    return int(hparams["receptive_margin"])


class DecodeScheduler(QObject):
    decoded = Signal(str)  # "preview", "region" or "full": the result layer shows it now
    failed = Signal(str)  # one line for the status
    busy_changed = Signal(bool)

    def __init__(self, bridge: EngineBridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._bridge = bridge
        self._project: SwapProject | None = None
        self._doc: Document | None = None
        self._model_id: str | None = None
        self._reach = 0
        self._unsubscribe: Callable[[], None] | None = None
        self._landed: Codes | None = None  # the codes the result layer was generated from; None: a preview
        self._final_in_flight = self._preview_in_flight = False
        self._final_dirty = self._preview_dirty = False
        self._was_busy = False
        self.requests: list[DecodeCodes] = []  # what was asked, newest last (the page's status and tests read it)

    @property
    def busy(self) -> bool:
        return self._final_in_flight or self._preview_in_flight

    def set_target(self, project: SwapProject | None, doc: Document | None, model: ModelEntry | None) -> None:
        """Follow `project`, writing into `doc`'s result layer, generating with `model` (None: the project's
        model is not available; the result layer keeps what it shows)."""
        if self._unsubscribe:
            self._unsubscribe()
        self._project, self._doc = project, doc
        self._model_id = model.id if model else None
        self._reach = reach_cells(model.hparams) if model else 0
        self._unsubscribe = project.subscribe(self._on_change) if project else None
        self._cancel(PREVIEW_SLOT, DECODE_SLOT)  # results for another project must not land here
        self._landed = None  # a reopened project's result is 8-bit: generate it exactly once
        self._preview_dirty = False
        self._final_dirty = True
        self._pump_final()

    def _on_change(self, change: ProjectChange) -> None:
        if change.what != "layers":
            return
        if change.final:
            self._cancel(PREVIEW_SLOT)  # the exact result supersedes any preview on its way
            self._final_dirty = True
            self._pump_final()
        elif self._cheap():
            self._final_dirty = True
            self._pump_final()
        else:
            self._cancel(DECODE_SLOT)  # an older exact result landing mid-drag would hide newer previews
            self._preview_dirty = True
            self._pump_preview()

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
        project = self._project
        request = DecodeCodes(self._model_id, structure, texture, tuple(project.embedding.size),
                              region=region, scale=scale, noise_seed=project.noise_seed)
        self.requests.append(request)
        del self.requests[:-50]
        return request

    def _pump_final(self) -> None:
        if self._final_in_flight or not self._final_dirty or self._project is None or self._model_id is None:
            return
        self._final_dirty = False
        structure, texture = self._project.final_codes()
        region = self._region(structure, texture)
        if region == ():
            return  # the screen already shows these codes (an undo back to them, a no-op stroke)
        request = self._request(structure, texture, region=region)
        self._final_in_flight = True
        self._update_busy()
        kind = "full" if region is None else "region"
        self._bridge.submit(request, slot=DECODE_SLOT,
                            on_result=lambda patch: self._final_landed(kind, patch, (structure, texture)),
                            on_failed=lambda message: self._failed(DECODE_SLOT, message))

    def _pump_preview(self) -> None:
        if self._preview_in_flight or not self._preview_dirty or self._project is None or self._model_id is None:
            return
        self._preview_dirty = False
        self._landed = None  # the result is about to show a preview: the next exact decode must be whole
        request = self._request(*self._project.final_codes(), scale=PREVIEW_SCALE)
        self._preview_in_flight = True
        self._update_busy()
        self._bridge.submit(request, slot=PREVIEW_SLOT, on_result=self._preview_landed,
                            on_failed=lambda message: self._failed(PREVIEW_SLOT, message))

    # --- results -----------------------------------------------------------------------------------------

    def _final_landed(self, kind: str, patch: DecodedPatch, codes: Codes) -> None:
        self._final_in_flight = False
        self._paste(patch)
        self._landed = codes
        self._update_busy()
        self.decoded.emit(kind)
        self._pump_final()  # the codes moved on while this one was generated

    def _preview_landed(self, patch: DecodedPatch) -> None:
        self._preview_in_flight = False
        self._paste(patch, whole=True)
        self._update_busy()
        self.decoded.emit("preview")
        self._pump_preview()

    def _failed(self, slot: str, message: str) -> None:
        if slot == PREVIEW_SLOT:
            self._preview_in_flight = False
        else:
            self._final_in_flight = False
        self._update_busy()
        self.failed.emit(message)

    def _paste(self, patch: DecodedPatch, *, whole: bool = False) -> None:
        doc = self._doc
        if doc is None or not doc.has_layer(RESULT):
            return
        image = np.asarray(patch.image, np.float32)
        data = doc.layer(RESULT).data
        if whole and image.shape[:2] != data.shape[:2]:
            image = resize(image, data.shape[:2])  # a preview returned at its own size
        h = min(image.shape[0], data.shape[0] - patch.top)
        w = min(image.shape[1], data.shape[1] - patch.left)
        data[patch.top:patch.top + h, patch.left:patch.left + w] = image[:h, :w]
        modified = doc.modified  # the result is derived from the codes: generating it is no edit
        doc.replace_pixels(RESULT, data)
        doc.modified = modified

    def _cancel(self, *slots: str) -> None:
        for slot in slots:
            self._bridge.cancel(slot)
        self._preview_in_flight &= PREVIEW_SLOT not in slots
        self._final_in_flight &= DECODE_SLOT not in slots
        if DECODE_SLOT in slots:
            self._final_dirty = True  # what was cancelled still has to be generated
        self._update_busy()

    def _update_busy(self) -> None:
        if self.busy != self._was_busy:
            self._was_busy = self.busy
            self.busy_changed.emit(self.busy)
