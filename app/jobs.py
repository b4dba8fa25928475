"""The one way the GUI runs engine jobs: per slot, at most one job in flight, progress, cancel.

Every page's scheduler or session owns a Jobs over the bridge and names its slots. A slot takes a job two ways:
- `send(slot, job)` submits at once; a job still running in the slot is superseded (the engine stops it and its
  outcome is dropped): for requests where only the newest matters and the engine should switch at once.
- `want(slot, make)` keeps one job in flight: it is sent now when the slot is idle, else `make` waits (only the
  latest one) and is called when the running job ends, so requests keep pace with the engine instead of
  queueing up, and each is built from the newest state when it goes out (`make` may return None: nothing to do).
`cancel(*slots)` stops the running jobs and forgets the waiting ones. A job's callbacks run on the GUI thread,
after `busy_changed` has told whether anything is still in flight. An urgent job (a quick preview) goes before the
jobs other slots have waiting; a job asked to stop ends at the engine's next layer, block or tile.

Widgets never hold a Jobs: they emit intents, and the page's parts that own the work submit. File work (the
bridge's FileWork) goes through a Jobs too, and whoever must know how it ends holds an Outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QEventLoop, QObject, QTimer, Signal

from app.engine_bridge import EngineBridge, FileWork
from engine.api import JobRef, Request

WAIT_LIMIT_MS = 30 * 60 * 1000  # Outcome.wait gives up after this (a disk that never answers)
Size = tuple[int, int]  # (H, W)


@dataclass(frozen=True)
class Job:
    request: Request | FileWork
    on_result: Callable[[Any], None]
    on_failed: Callable[[str], None]  # the engine's one-line message
    urgent: bool = False  # a quick preview: runs before the jobs other slots have waiting


class PreviewSize:
    """How large a quick preview is: about `pixels` whatever the full size (so its cost does not grow with the
    photo), at most `max_scale` of the full size's sides. The pixels adapt to how long the last preview took:
    a slower one than `budget_s` halves the next one's sides, a much faster one doubles them."""

    def __init__(self, pixels: int = 256 * 256, *, least: int = 48 * 48, most: int = 512 * 512,
                 budget_s: float = 0.3, max_scale: float = 0.5) -> None:
        self.first, self.least, self.most = pixels, least, most
        self.budget_s, self.max_scale = budget_s, max_scale
        self.pixels = pixels

    def scale(self, full: Size) -> float:
        return min(self.max_scale, (self.pixels / max(1, full[0] * full[1])) ** 0.5)

    def size(self, full: Size) -> Size:
        scale = self.scale(full)
        return max(1, round(full[0] * scale)), max(1, round(full[1] * scale))

    def took(self, seconds: float) -> None:
        """A preview came back `seconds` after it went out."""
        if seconds > self.budget_s:
            self.pixels = max(self.least, self.pixels // 4)
        elif seconds < self.budget_s / 4:
            self.pixels = min(self.most, self.pixels * 4)

    def reset(self) -> None:
        """Another model: another speed."""
        self.pixels = self.first


class Outcome(QObject):
    """How an operation started now (a save, an open) ends: `done(ok)` is emitted once. `wait()` is for callers
    that must know before they go on (a window that closes after saving): the event loop keeps turning meanwhile
    (painting, timers, the engine's events), only the user's input waits."""

    done = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ok: bool | None = None  # None while under way

    @classmethod
    def settled(cls, ok: bool) -> Outcome:
        """An operation that ended before it began (nothing to save, a refusal already shown)."""
        outcome = cls()
        outcome.ok = ok
        return outcome

    def settle(self, ok: bool) -> None:
        if self.ok is None:
            self.ok = ok
            self.done.emit(ok)

    def wait(self, timeout_ms: int = WAIT_LIMIT_MS) -> bool:
        """True when it succeeded; False when it failed, or did not end within `timeout_ms`."""
        if self.ok is None:
            loop = QEventLoop()
            limit = QTimer(loop, singleShot=True, interval=timeout_ms)
            limit.timeout.connect(loop.quit)
            self.done.connect(loop.quit)
            limit.start()
            loop.exec(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
            self.done.disconnect(loop.quit)
        return bool(self.ok)


Make = Callable[[], Job | None]


class Jobs(QObject):
    busy_changed = Signal(bool)  # whether any of these slots has a job in flight
    progress = Signal(str, float, str)  # slot, fraction in [0, 1], the engine's words
    cancelled = Signal(str)  # slot whose job the engine dropped without being asked to here

    def __init__(self, bridge: EngineBridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._bridge = bridge
        self._running: dict[str, JobRef] = {}
        self._waiting: dict[str, Make] = {}
        self._was_busy = False
        bridge.progress.connect(self._progress)
        bridge.cancelled.connect(self._dropped)

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def running(self, slot: str) -> bool:
        return slot in self._running

    def send(self, slot: str, job: Job) -> None:
        """Submit `job` now, superseding whatever the slot runs or waits for."""
        self._waiting.pop(slot, None)
        self._submit(slot, job)

    def want(self, slot: str, make: Make) -> None:
        """Ask for the job `make` builds: now if the slot is idle, else when its running job ends."""
        self._waiting[slot] = make
        self._pump(slot)

    def cancel(self, *slots: str) -> None:
        """Stop these slots' jobs (none named: every slot's) and forget the waiting ones."""
        for slot in slots or tuple(self._running):
            self._bridge.cancel(slot)
            self._running.pop(slot, None)
            self._waiting.pop(slot, None)
        self._update_busy()

    def _pump(self, slot: str) -> None:
        if slot in self._running or slot not in self._waiting:
            return
        job = self._waiting.pop(slot)()
        if job is not None:
            self._submit(slot, job)

    def _submit(self, slot: str, job: Job) -> None:
        # the bridge delivers only the slot's latest job's outcome: these callbacks are for this job alone
        def on_result(value: Any) -> None:
            self._ended(slot, job.on_result, value)

        def on_failed(message: str) -> None:
            self._ended(slot, job.on_failed, message)

        if isinstance(job.request, FileWork):
            self._running[slot] = self._bridge.submit_file(job.request, slot=slot, on_result=on_result,
                                                           on_failed=on_failed)
        else:
            self._running[slot] = self._bridge.submit(job.request, slot=slot, urgent=job.urgent,
                                                      on_result=on_result, on_failed=on_failed)
        self._update_busy()

    def _ended(self, slot: str, callback: Callable[[Any], None], value: Any) -> None:
        self._running.pop(slot, None)
        self._update_busy()
        callback(value)
        self._pump(slot)

    def _progress(self, job: JobRef, fraction: float, message: str) -> None:
        if self._running.get(job.slot) == job:
            self.progress.emit(job.slot, min(max(float(fraction), 0.0), 1.0), message)

    def _dropped(self, job: JobRef) -> None:
        if self._running.get(job.slot) == job:
            del self._running[job.slot]
            self._update_busy()
            self.cancelled.emit(job.slot)
            self._pump(job.slot)

    def _update_busy(self) -> None:
        if self.busy != self._was_busy:
            self._was_busy = self.busy
            self.busy_changed.emit(self.busy)
