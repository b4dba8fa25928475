"""The one Qt adapter to the engine, and the only GUI file that touches threads.

The engine runs every job on its own worker thread and reports events through a plain callback
on that thread. The bridge forwards each event through a queued signal, so the GUI sees it on
its own thread as an ordinary Qt signal; neither side ever waits for the other.

Every request enters through `submit`, and a slot keeps only its latest request (stale results are
dropped by the worker). The pages submit through app/jobs.py, which keeps one job in flight per slot and
resends the latest wish when it ends, so sliders and strokes keep pace with the engine; widgets never
manage jobs, timers or threads themselves.

File work (saves, autosaves, exports, reading photos and projects) goes through `submit_file` as a FileWork: it
runs on a second thread, the file lane, so the GUI thread never waits on a disk or an encoder, and a save never
waits for a render. Its events come back as the engine's do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, Qt, Signal, Slot

from engine.api import (
    DEFAULT_MODE,
    Cancelled,
    Event,
    Failed,
    JobRef,
    Preview,
    Progress,
    Request,
    Result,
    pick_mode,
)
from engine.service import check_device, start_engine, start_file_worker
from engine.storage import user_data_dir


class FileJob(Protocol):
    """What file work sees of its job on the file lane."""

    def progress(self, fraction: float, message: str = "") -> None: ...


@dataclass(frozen=True, eq=False)
class FileWork:
    """Work on files for the file lane: `run(job)` runs there and its value is the job's result. It must not touch
    Qt or a live document (give it a snapshot); what it raises comes back as a one-line failure."""

    run: Callable[[FileJob], Any]


@dataclass(frozen=True)
class _Route:
    job: JobRef
    on_result: Callable[[Any], None] | None
    on_failed: Callable[[str], None] | None


class EngineBridge(QObject):
    """Owns the engine worker; re-emits its events as signals on the GUI thread."""

    progress = Signal(object, float, str)  # job, fraction, message
    preview = Signal(object, object)  # job, HxWx3 float32 image
    result = Signal(object, object)  # job, value
    failed = Signal(object, str)  # job, one-line message
    cancelled = Signal(object)  # job

    _event_arrived = Signal(object)  # emitted on the worker thread, delivered on the GUI thread

    def __init__(self, *, device: str | None = None, mode: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._closed = False
        # Per-job callbacks, one per slot: only a slot's latest job can still deliver a result.
        self._routes: dict[str, _Route] = {}
        self._event_arrived.connect(self._dispatch, Qt.ConnectionType.QueuedConnection)
        self.startup_warning = ""
        try:
            check_device(device)
        except (ValueError, RuntimeError) as exc:  # e.g. a saved "CUDA" preference on a machine without one
            self.startup_warning = f"Device '{device}' unavailable ({exc}); using automatic choice"
            device = None
        try:
            pick_mode(mode)
        except ValueError as exc:  # a mistyped $I2I_MODE: the default, said once
            self.startup_warning = f"{exc}; using the default mode"
            mode = DEFAULT_MODE
        # torch loads on the worker's thread
        self._worker = start_engine(self._on_engine_event, device=device, mode=mode)
        self._files = start_file_worker(self._on_engine_event)

    @staticmethod
    def data_dir() -> Path:
        """Where the user's catalog and settings of the engine live."""
        return user_data_dir()

    def submit(
        self,
        request: Request,
        *,
        slot: str = "default",
        on_result: Callable[[Any], None] | None = None,
        on_failed: Callable[[str], None] | None = None,
        urgent: bool = False,
    ) -> JobRef:
        """Queue `request` in `slot` (superseding that slot's waiting job). urgent: a quick preview, run before the
        jobs waiting in other slots.

        `on_result(value)` / `on_failed(message)` are called on the GUI thread for this job only;
        they are dropped if the job is cancelled or superseded.
        """
        return self._route(self._worker.submit(request, slot=slot, urgent=urgent), on_result, on_failed)

    def submit_file(
        self,
        work: FileWork,
        *,
        slot: str,
        on_result: Callable[[Any], None] | None = None,
        on_failed: Callable[[str], None] | None = None,
    ) -> JobRef:
        """Queue file work on the file lane in `slot` (a name no engine request uses), as `submit` does."""
        return self._route(self._files.submit(work, slot=slot), on_result, on_failed)

    def _route(self, job: JobRef, on_result: Callable[[Any], None] | None,
               on_failed: Callable[[str], None] | None) -> JobRef:
        if on_result or on_failed:
            self._routes[job.slot] = _Route(job, on_result, on_failed)
        else:
            self._routes.pop(job.slot, None)
        return job

    def cancel(self, slot: str) -> None:
        self._routes.pop(slot, None)
        self._worker.cancel(slot)
        self._files.cancel(slot)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the worker (cancelling its jobs); later events are ignored. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._routes.clear()
        self._worker.stop(timeout)
        self._files.stop(timeout)

    def _on_engine_event(self, event: Event) -> None:
        # Worker thread: hand the event over and return at once.
        if not self._closed:
            self._event_arrived.emit(event)

    @Slot(object)
    def _dispatch(self, event: Event) -> None:
        if self._closed:
            return
        job = event.job
        if isinstance(event, Progress):
            self.progress.emit(job, event.fraction, event.message)
        elif isinstance(event, Preview):
            self.preview.emit(job, event.image)
        elif isinstance(event, Result):
            route = self._take_route(job)
            self.result.emit(job, event.value)
            if route and route.on_result:
                route.on_result(event.value)
        elif isinstance(event, Failed):
            route = self._take_route(job)
            self.failed.emit(job, event.message)
            if route and route.on_failed:
                route.on_failed(event.message)
        elif isinstance(event, Cancelled):
            self._take_route(job)
            self.cancelled.emit(job)

    def _take_route(self, job: JobRef) -> _Route | None:
        route = self._routes.get(job.slot)
        if route is None or route.job != job:
            return None
        return self._routes.pop(job.slot)
