"""Translated photos: asked of the engine once per (model, direction, photo) — for style transfer models per
(model, style image, strength, photo) — and kept, so painting never waits on a model.

TranslationCache is plain Python: an LRU bounded in bytes whose entries in use by the open project are
never evicted. Translator sends TranslateImage or StylizeImage through the bridge (one slot per key without
its photo, so a newer photo supersedes an older one's job) and reports how each translation stands.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.engine_bridge import EngineBridge
from engine.api import JobRef, StylizeImage, TranslateImage

DEFAULT_CACHE_BYTES = 1536 * 1024 * 1024  # about forty 12-megapixel translations
SLOT_PREFIX = "brushes-translate:"
READY, RUNNING, FAILED, CANCELLED = "ready", "running", "failed", "cancelled"


@dataclass(frozen=True)
class Key:
    model_id: str
    direction: str
    photo: str  # the photo's content key (BrushProject.photo_key)
    style: str = ""  # style transfer: the style image's key (StyleImage.key); "" for a translation
    strength: float = 1.0  # style transfer: 0 = the photo ... 1 = the model's full output


@dataclass(frozen=True)
class TranslationState:
    status: str  # READY, RUNNING, FAILED or CANCELLED
    message: str = ""  # the engine's progress text or its one-line failure
    fraction: float = 0.0


def to_uint8(image: np.ndarray) -> np.ndarray:
    """[0, 1] floats to 8 bits, rounded (a quarter of the memory of float32; the display is 8-bit anyway)."""
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


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
    busy_changed = Signal(bool)

    def __init__(self, bridge: EngineBridge, cache: TranslationCache | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.cache = cache or TranslationCache()
        self._states: dict[Key, TranslationState] = {}
        self._jobs: dict[Key, JobRef] = {}
        self.submitted: list[Key] = []  # every translation asked of the engine, oldest first (tests read it)
        bridge.progress.connect(self._progress)
        bridge.cancelled.connect(self._cancelled)

    @property
    def busy(self) -> bool:
        return bool(self._jobs)

    def state(self, key: Key) -> TranslationState | None:
        """None: never asked for (or forgotten)."""
        if key in self.cache:
            return TranslationState(READY)
        state = self._states.get(key)
        return None if state is not None and state.status == READY else state

    def running(self) -> list[tuple[Key, TranslationState]]:
        return [(key, self._states[key]) for key in self._jobs]

    def request(self, key: Key, photo: np.ndarray, *, style: np.ndarray | None = None, retry: bool = False) -> None:
        """Translate `photo` (stylise it after `style`, HxWx3 uint8, for a key with a style) unless it is cached
        or on its way; one that failed or was cancelled is asked again only with `retry` (the user said so)."""
        state = self.state(key)
        if state is not None and (state.status in (READY, RUNNING) or not retry):
            return
        slot = _slot(key)
        superseded = next((k for k, job in self._jobs.items() if job.slot == slot), None)
        if superseded is not None:  # the slot's older job (another photo) is dropped by the worker
            self._settle(superseded, None)
        was_busy = self.busy
        self._states[key] = TranslationState(RUNNING, "waiting for the engine")
        if key.style:
            if style is None:
                raise ValueError("a style transfer needs its style image")
            request = StylizeImage(key.model_id, photo, style, key.strength)
        else:
            request = TranslateImage(key.model_id, photo, key.direction)
        self._jobs[key] = self.bridge.submit(
            request, slot=slot,
            on_result=lambda image: self._arrived(key, image, photo.shape[:2]),
            on_failed=lambda message: self._settle(key, TranslationState(FAILED, message)))
        self.submitted.append(key)
        if not was_busy:
            self.busy_changed.emit(True)
        self.changed.emit(key)

    def cancel(self, keys: Iterable[Key] | None = None, *, forget: bool = False) -> None:
        """Stop these translations (None: all of them). They stay cancelled until asked for with `retry`;
        with `forget` they are as if never asked for (no use now, but wanted again if their photo comes back)."""
        for key in list(self._jobs if keys is None else keys):
            job = self._jobs.get(key)
            if job is not None:
                self.bridge.cancel(job.slot)
                self._settle(key, None if forget else TranslationState(CANCELLED, "cancelled"))

    def _arrived(self, key: Key, image: np.ndarray, size: tuple[int, int]) -> None:
        image = np.asarray(image)
        if image.shape != (*size, 3):
            self._settle(key, TranslationState(FAILED, f"the engine returned a {image.shape} image for a "
                                                        f"{size[1]}x{size[0]} photo"))
            return
        self.cache.put(key, to_uint8(image))
        self._settle(key, TranslationState(READY))

    def _settle(self, key: Key, state: TranslationState | None) -> None:
        running = self._jobs.pop(key, None) is not None
        if state is None:
            self._states.pop(key, None)
        else:
            self._states[key] = state
        if running and not self.busy:
            self.busy_changed.emit(False)
        self.changed.emit(key)

    def _progress(self, job: JobRef, fraction: float, message: str) -> None:
        key = next((k for k, j in self._jobs.items() if j == job), None)
        if key is not None:
            self._states[key] = TranslationState(RUNNING, message, min(max(fraction, 0.0), 1.0))
            self.changed.emit(key)

    def _cancelled(self, job: JobRef) -> None:
        """The engine dropped a job we did not cancel ourselves (e.g. it stopped)."""
        key = next((k for k, j in self._jobs.items() if j == job), None)
        if key is not None:
            self._settle(key, TranslationState(CANCELLED, "cancelled"))


def _slot(key: Key) -> str:
    style = f":{key.style}:{key.strength}" if key.style else ""
    return f"{SLOT_PREFIX}{key.model_id}:{key.direction}{style}"
