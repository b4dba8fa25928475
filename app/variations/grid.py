"""The engine side of the Variations page: the grid's results streamed in small batches, and the pick's result
as its knobs move; both from one cache of results by recipe.

The grid goes out as one VaryImage job per batch on one slot, in sequence: the first batch is one cell (so the
first thumbnail shows at once), then a row at a time. A new request (another crop, targets, seeds or knobs)
cancels the running batch and forgets the rest; cells already made for it come from the cache at once.
`set_active(False)` (the page hidden) stops the batch under way and keeps the rest for `set_active(True)`.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.engine_bridge import EngineBridge
from app.jobs import Job, Jobs
from engine.api import NORMALIZE_CLIP, Variation, VaryImage
from engine.imageio import to_uint8

GRID_SLOT, PICK_SLOT = "variations-grid", "variations-pick"
CACHE_RESULTS = 600  # 128x128 results: about 30 MB


@dataclass(frozen=True, eq=False)
class GridRequest:
    """A grid: rows of targets by columns of seeds, all with the same knobs, from one crop of one photo.
    `source` names the photo and crop (a new one means new results); `image` is the crop at the model's size."""

    model_id: str
    source: tuple
    image: np.ndarray
    targets: tuple[int, ...]
    seeds: tuple[int, ...]
    weight: float = 1.0
    normalize: str = NORMALIZE_CLIP

    @property
    def key(self) -> tuple:
        return self.model_id, self.source, self.targets, self.seeds, self.weight, self.normalize

    def variation(self, row: int, col: int) -> Variation:
        return Variation(self.targets[row], self.seeds[col], weight=self.weight)

    def cells(self) -> list[tuple[int, int]]:
        return [(r, c) for r in range(len(self.targets)) for c in range(len(self.seeds))]


class ResultCache:
    """Results (uint8, read-only) by (model, photo and crop, variation, normalisation), least recently used out."""

    def __init__(self, size: int = CACHE_RESULTS) -> None:
        self._items: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self.size = size

    def get(self, key: tuple) -> np.ndarray | None:
        image = self._items.get(key)
        if image is not None:
            self._items.move_to_end(key)
        return image

    def put(self, key: tuple, image: np.ndarray) -> np.ndarray:
        pixels = to_uint8(np.asarray(image), rounded=True) if image.dtype != np.uint8 else np.array(image)
        pixels.flags.writeable = False
        self._items[key] = pixels
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return pixels


class VariationJobs(QObject):
    cell_ready = Signal(int, int, object)  # row, column, HxWx3 uint8
    grid_progress = Signal(int, int)  # cells shown, cells in the grid
    pick_ready = Signal(object, object)  # the Variation asked for, HxWx3 uint8
    failed = Signal(str)

    def __init__(self, bridge: EngineBridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = Jobs(bridge, self)
        self.cache = ResultCache()
        self.request: GridRequest | None = None
        self._pending: list[tuple[int, int]] = []  # cells still to make, in order
        self._batch: list[tuple[int, int]] = []  # cells of the job in flight
        self._active = False  # until the page shows (set_active)
        self._pick: tuple[GridRequest, Variation] | None = None

    @staticmethod
    def key(request: GridRequest, variation: Variation) -> tuple:
        return request.model_id, request.source, variation, request.normalize

    @property
    def busy(self) -> bool:
        return self.jobs.busy

    def done(self) -> int:
        return 0 if self.request is None else len(self.request.cells()) - len(self._pending) - len(self._batch)

    # --- the grid --------------------------------------------------------------------------------------

    def set_request(self, request: GridRequest | None) -> None:
        """Show `request`: cached cells at once, the others streamed; what the previous request still had to
        make is cancelled."""
        if request is not None and self.request is not None and request.key == self.request.key:
            return
        self.jobs.cancel(GRID_SLOT)
        self.request, self._pending, self._batch = request, [], []
        if request is None:
            return
        for row, col in request.cells():
            image = self.cache.get(self.key(request, request.variation(row, col)))
            if image is None:
                self._pending.append((row, col))
            else:
                self.cell_ready.emit(row, col, image)
        self.grid_progress.emit(self.done(), len(request.cells()))
        self._pump()

    def set_active(self, active: bool) -> None:
        """False: stop making cells (the page is hidden); True: make the rest."""
        if active == self._active:
            return
        self._active = active
        if not active:
            self.jobs.cancel(GRID_SLOT, PICK_SLOT)
            self._pending[:0], self._batch = self._batch, []
        else:
            self._pump()
            if self._pick is not None:
                self.render_pick(*self._pick)

    def _pump(self) -> None:
        if self._active and self._pending and not self.jobs.running(GRID_SLOT):
            self.jobs.want(GRID_SLOT, self._next_batch)

    def _next_batch(self) -> Job | None:
        request = self.request
        if request is None or not self._pending or not self._active:
            return None
        first = self.done() == 0 and not self._batch
        size = 1 if first else max(1, len(request.seeds))
        self._batch, self._pending = self._pending[:size], self._pending[size:]
        batch = list(self._batch)
        variations = tuple(request.variation(r, c) for r, c in batch)
        job = VaryImage(request.model_id, request.image, variations, request.normalize)
        return Job(job, lambda images: self._arrived(request, batch, images), self._failed)

    def _arrived(self, request: GridRequest, batch: list[tuple[int, int]], images: tuple[np.ndarray, ...]) -> None:
        if request is not self.request:
            return
        self._batch = []
        for (row, col), image in zip(batch, images, strict=True):
            pixels = self.cache.put(self.key(request, request.variation(row, col)), image)
            self.cell_ready.emit(row, col, pixels)
        self.grid_progress.emit(self.done(), len(request.cells()))
        self._pump()

    def _failed(self, message: str) -> None:
        self._batch, self._pending = [], []
        self.failed.emit(message)

    # --- the pick ---------------------------------------------------------------------------------------

    def render_pick(self, request: GridRequest, variation: Variation) -> None:
        """The pick with its own knobs: from the cache, else asked for (the latest wish wins)."""
        self._pick = (request, variation)
        cached = self.cache.get(self.key(request, variation))
        if cached is not None:
            self.jobs.cancel(PICK_SLOT)
            self.pick_ready.emit(variation, cached)
            return
        if not self._active:
            return

        def make() -> Job:
            wanted_request, wanted = self._pick
            job = VaryImage(wanted_request.model_id, wanted_request.image, (wanted,), wanted_request.normalize)
            return Job(job, lambda images: self._picked(wanted_request, wanted, images[0]), self.failed.emit,
                       urgent=True)

        self.jobs.want(PICK_SLOT, make)

    def _picked(self, request: GridRequest, variation: Variation, image: np.ndarray) -> None:
        pixels = self.cache.put(self.key(request, variation), image)
        if self._pick is not None and self._pick[1] == variation and self._pick[0].source == request.source:
            self.pick_ready.emit(variation, pixels)

    def forget_pick(self) -> None:
        self._pick = None
        self.jobs.cancel(PICK_SLOT)
