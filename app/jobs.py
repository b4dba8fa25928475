"""The one way the GUI runs engine jobs: per slot, at most one job in flight, progress, cancel.

Every page's scheduler or session owns a Jobs over the bridge and names its slots. A slot takes a job two ways:
- `send(slot, job)` submits at once; a job still running in the slot is superseded (the engine stops it and its
  outcome is dropped): for requests where only the newest matters and the engine should switch at once.
- `want(slot, make)` keeps one job in flight: it is sent now when the slot is idle, else `make` waits (only the
  latest one) and is called when the running job ends, so requests keep pace with the engine instead of
  queueing up, and each is built from the newest state when it goes out (`make` may return None: nothing to do).
`cancel(*slots)` stops the running jobs and forgets the waiting ones. A job's callbacks run on the GUI thread,
after `busy_changed` has told whether anything is still in flight.

Widgets never hold a Jobs: they emit intents, and the page's parts that own the work submit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.engine_bridge import EngineBridge
from engine.api import JobRef, Request


@dataclass(frozen=True)
class Job:
    request: Request
    on_result: Callable[[Any], None]
    on_failed: Callable[[str], None]  # the engine's one-line message


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
        self._running[slot] = self._bridge.submit(job.request, slot=slot,
                                                  on_result=lambda value: self._ended(slot, job.on_result, value),
                                                  on_failed=lambda message: self._ended(slot, job.on_failed, message))
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
