"""Translated photos: asked of the engine once per (model, direction, photo) — for style transfer models per
(model, style image, strength, photo) — and kept, so painting never waits on a model.

TranslationCache is plain Python: an LRU bounded in bytes whose entries in use by the open project are
never evicted. Translator sends the request a layer's source makes (app/brushes/sources.py) through the engine
jobs (one slot per key without its photo, so a newer photo supersedes an older one's job) and reports how each
translation stands. Before a full-resolution job it sends a quick preview of the same request on a small copy of
the photo (urgent: it goes before other waiting work), kept, upscaled, until the full image comes.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np
from PySide6.QtCore import QObject, Signal

from app.engine_bridge import EngineBridge
from app.jobs import Job, Jobs, PreviewSize
from engine.api import FullRes, Request

DEFAULT_CACHE_BYTES = 1536 * 1024 * 1024  # about forty 12-megapixel translations
SLOT_PREFIX = "brushes-translate:"
PREVIEW_SUFFIX = ":preview"
PREVIEW_BUDGET_S = 0.6  # a first look within about a second, model loading aside
READY, RUNNING, FAILED, CANCELLED = "ready", "running", "failed", "cancelled"


@dataclass(frozen=True)
class Key:
    model_id: str
    direction: str
    photo: str  # the photo's content key (BrushProject.photo_key)
    style: str = ""  # style transfer: the style image's key (StyleImage.key); "" for a translation
    strength: float = 1.0  # style transfer: 0 = the photo ... 1 = the model's full output
    full_res: str = FullRes.TILED  # how a large photo reaches full resolution (engine.api.FullRes)


@dataclass(frozen=True)
class TranslationState:
    status: str  # READY, RUNNING, FAILED or CANCELLED
    message: str = ""  # the engine's progress text or its one-line failure
    fraction: float = 0.0


def to_uint8(image: np.ndarray) -> np.ndarray:
    """[0, 1] floats to 8 bits, rounded (a quarter of the memory of float32; the display is 8-bit anyway). In place
    on one float32 temporary: runs on the GUI thread when a full translation lands (about 0.25 s less at 12 MP
    than the plain expression, the same bits)."""
    out = np.clip(image, 0.0, 1.0, dtype=np.float32)
    out *= np.float32(255.0)
    out += np.float32(0.5)
    return out.astype(np.uint8)


class TranslationCache:
    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._images: OrderedDict[Key, np.ndarray] = OrderedDict()
        self._pinned: frozenset[Key] = frozenset()

    def __contains__(self, key: Key) -> bool:
        return key in self._images

    def __len__(self) -> int:
        return len(self._images)

    @property
    def nbytes(self) -> int:
        return sum(image.nbytes for image in self._images.values())

    def get(self, key: Key) -> np.ndarray | None:
        image = self._images.get(key)
        if image is not None:
            self._images.move_to_end(key)
        return image

    def put(self, key: Key, image: np.ndarray) -> None:
        """Keep `image` (HxWx3 uint8, made read-only) as the most recently used entry."""
        image = np.ascontiguousarray(image, np.uint8)
        image.flags.writeable = False
        self._images[key] = image
        self._images.move_to_end(key)
        self._evict()

    def pin(self, keys: Iterable[Key]) -> None:
        """These entries (the open project's) stay, whatever the budget says."""
        self._pinned = frozenset(keys)
        self._evict()

    def _evict(self) -> None:
        total = self.nbytes
        for key in list(self._images):
            if total <= self.max_bytes:
                return
            if key not in self._pinned:
                total -= self._images.pop(key).nbytes


class Translator(QObject):
    changed = Signal(object)  # Key whose state changed (started, progressed, ready, failed, cancelled)
    previewed = Signal(object)  # Key whose quick preview came (Translator.preview)
    busy_changed = Signal(bool)

    def __init__(self, bridge: EngineBridge, cache: TranslationCache | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = Jobs(bridge, self)
        self.jobs.busy_changed.connect(self.busy_changed)
        self.jobs.progress.connect(self._progress)
        self.jobs.cancelled.connect(self._dropped)
        self.cache = cache or TranslationCache()
        self._states: dict[Key, TranslationState] = {}
        self._running: dict[str, Key] = {}  # slot -> the key its job makes
        self.submitted: list[Key] = []  # every translation asked of the engine, oldest first (tests read it)
        self.preview_size = PreviewSize(budget_s=PREVIEW_BUDGET_S)
        self._previews: dict[Key, np.ndarray] = {}  # HxWx3 uint8, upscaled, until the key's full image comes

    @property
    def busy(self) -> bool:
        return self.jobs.busy

    def state(self, key: Key) -> TranslationState | None:
        """None: never asked for (or forgotten)."""
        if key in self.cache:
            return TranslationState(READY)
        state = self._states.get(key)
        return None if state is not None and state.status == READY else state

    def running(self) -> list[tuple[Key, TranslationState]]:
        return [(key, self._states[key]) for key in self._running.values()]

    def preview(self, key: Key) -> np.ndarray | None:
        """The key's quick preview at the photo's size (HxWx3 uint8) while its full image is on its way."""
        return self._previews.get(key)

    def request(self, key: Key, request: Request, size: tuple[int, int], *, retry: bool = False,
                preview: Request | None = None) -> None:
        """Make `key`'s image (of a photo of `size`) with `request` unless it is cached or on its way; one that
        failed or was cancelled is asked again only with `retry` (the user said so). `preview`: the same request
        on a small copy of the photo, sent first."""
        state = self.state(key)
        if state is not None and (state.status in (READY, RUNNING) or not retry):
            return
        slot = _slot(key)
        if preview is not None and key not in self._previews:
            sent = time.perf_counter()

            def previewed(image: np.ndarray) -> None:
                self._preview_arrived(key, image, size, time.perf_counter() - sent)

            # a failed preview is not told: the full job fails alike and says why
            self.jobs.send(slot + PREVIEW_SUFFIX, Job(preview, previewed, lambda message: None, urgent=True))
        if slot in self._running:  # the slot's older job (another photo) is superseded
            self._settle(self._running.pop(slot), None)
        self._states[key] = TranslationState(RUNNING, "waiting for the engine")
        self._running[slot] = key
        self.jobs.send(slot, Job(request, lambda image: self._arrived(key, image, size),
                                 lambda message: self._settle(key, TranslationState(FAILED, message))))
        self.submitted.append(key)
        self.changed.emit(key)

    def cancel(self, keys: Iterable[Key] | None = None, *, forget: bool = False) -> None:
        """Stop these translations (None: all of them). They stay cancelled until asked for with `retry`;
        with `forget` they are as if never asked for (no use now, but wanted again if their photo comes back)."""
        running = {key: slot for slot, key in self._running.items()}
        for key in list(running if keys is None else keys):
            if key in running:
                self.jobs.cancel(running[key], running[key] + PREVIEW_SUFFIX)
                self._previews.pop(key, None)
                self._settle(key, None if forget else TranslationState(CANCELLED, "cancelled"))

    def _arrived(self, key: Key, image: np.ndarray, size: tuple[int, int]) -> None:
        image = np.asarray(image)
        if image.shape != (*size, 3):
            self._settle(key, TranslationState(FAILED, f"the engine returned a {image.shape} image for a "
                                                        f"{size[1]}x{size[0]} photo"))
            return
        self.cache.put(key, to_uint8(image))
        self._previews.pop(key, None)
        self._settle(key, TranslationState(READY))

    def _preview_arrived(self, key: Key, image: np.ndarray, size: tuple[int, int], seconds: float) -> None:
        self.preview_size.took(seconds)
        if key in self.cache or self._running.get(_slot(key)) != key:  # the full image came first, or it is no use
            return
        small = to_uint8(np.asarray(image))
        self._previews[key] = cv2.resize(small, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
        self.previewed.emit(key)

    def _settle(self, key: Key, state: TranslationState | None) -> None:
        if self._running.get(_slot(key)) == key:
            del self._running[_slot(key)]
        if state is None:
            self._states.pop(key, None)
        else:
            self._states[key] = state
        self.changed.emit(key)

    def _progress(self, slot: str, fraction: float, message: str) -> None:
        key = self._running.get(slot)
        if key is not None:
            self._states[key] = TranslationState(RUNNING, message, fraction)
            self.changed.emit(key)


    def _dropped(self, slot: str) -> None:
        """The engine dropped a job we did not cancel ourselves (e.g. it stopped)."""
        if slot in self._running:
            self._settle(self._running[slot], TranslationState(CANCELLED, "cancelled"))


def _slot(key: Key) -> str:
    return f"{SLOT_PREFIX}{key.model_id}:{key.direction}:{key.style}:{key.strength}"
