"""One background thread that runs every engine job.

Slots give "latest request wins": submitting to a slot replaces the job still waiting there and
asks the running job of that slot to stop. Every job carries a stamp; a result whose stamp is not
the newest of its slot is dropped, so the GUI never sees a stale render. Errors come back as
`Failed` events with a readable message; the thread itself never dies of a job's error.

A job asked to stop stops at the next boundary: the handler's own `check()` calls between tiles and steps,
and, in a worker started with `boundaries` (the engine's), the start of every network module's forward (a
process-wide forward pre-hook that checks the job this thread runs, if any), so a superseded render ends within a
layer, not at its end. Work that
no Python boundary interrupts (an ONNX Runtime run) registers how to stop it with `stop_on_cancel`. Urgent jobs
(quick previews) run before the other waiting ones; a running job is never interrupted for them.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.api import Cancelled, Event, Failed, JobRef, Preview, Progress, Request, Result
from engine.errors import USER_ERRORS, error_message

log = logging.getLogger(__name__)


class JobCancelled(Exception):
    """Raised inside a handler by `JobContext.check()` when its job should stop."""


_running = threading.local()  # .job: the JobContext this thread runs now (None between jobs)
_hook_lock = threading.Lock()
_hook_installed = False


def _install_module_boundaries() -> None:
    """Once per process, on the thread that runs the networks (torch is imported here if it was not yet, so no
    other thread imports it meanwhile: torch's import is not safe from two threads at once): make every module's
    forward a cancel boundary. Registered once and never removed, so compiled graphs are not invalidated by hooks
    coming and going; outside a job, and while torch.compile traces, the hook does nothing."""
    global _hook_installed
    if _hook_installed:
        return
    with _hook_lock:
        if not _hook_installed:
            import torch
            from torch.nn.modules.module import register_module_forward_pre_hook

            compiling = torch.compiler.is_compiling

            def boundary(module: Any, args: Any) -> None:
                ctx = getattr(_running, "job", None)
                if ctx is not None and not compiling():
                    ctx.check()

            register_module_forward_pre_hook(boundary)
            _hook_installed = True


@contextmanager
def stop_on_cancel(stop: Callable[[], None]) -> Iterator[None]:
    """Around work of the job this thread runs that no boundary interrupts (e.g. an ONNX Runtime run: `stop` sets
    its RunOptions.terminate): cancelling the job calls `stop()` at once, from the cancelling thread, and the error
    the stopped work raises leaves as JobCancelled. Outside a job it does nothing."""
    ctx = getattr(_running, "job", None)
    if ctx is None:
        yield
        return
    ctx._stops.append(stop)
    try:
        if ctx.cancelled:
            stop()
        yield
    except Exception:
        ctx.check()  # stopped because cancelled: JobCancelled, not the work's own error
        raise
    finally:
        ctx._stops.remove(stop)


class JobContext:
    """What a handler sees of its job: a cancel token and ways to report progress."""

    def __init__(self, job: JobRef, emit: Callable[[Event], None]) -> None:
        self.job = job
        self._emit = emit
        self._cancel = threading.Event()
        self._stops: list[Callable[[], None]] = []  # see stop_on_cancel

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()
        for stop in list(self._stops):
            stop()

    def check(self) -> None:
        """Call between tiles, steps or layers: stops the job cooperatively when cancelled (module forwards call
        it by themselves while the job runs)."""
        if self._cancel.is_set():
            raise JobCancelled

    def progress(self, fraction: float, message: str = "") -> None:
        self._emit(Progress(self.job, float(fraction), message))

    def preview(self, image: np.ndarray) -> None:
        self._emit(Preview(self.job, image))


Handler = Callable[[Request, JobContext], Any]


@dataclass
class _Slot:
    stamp: int = 0
    pending: tuple[Request, JobContext] | None = None
    running: JobContext | None = None
    urgent: bool = False  # the pending job goes before the other slots' waiting ones


class Worker:
    """Runs `handler(request, ctx)` for submitted requests on a single thread."""

    def __init__(self, handler: Handler, on_event: Callable[[Event], None], *, name: str = "engine",
                 boundaries: bool = False) -> None:
        """boundaries: this worker runs torch networks, whose modules' forwards are cancel boundaries."""
        self._handler = handler
        self._on_event = on_event
        self._boundaries = boundaries
        self._slots: dict[str, _Slot] = {}
        self._order: OrderedDict[str, None] = OrderedDict()  # slots with pending work, oldest first
        self._ids = itertools.count(1)
        self._lock = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def submit(self, request: Request, *, slot: str = "default", urgent: bool = False) -> JobRef:
        """Queue `request` in `slot`, superseding whatever that slot still holds. `urgent` (a quick preview): it
        runs before the jobs already waiting in other slots."""
        with self._lock:
            if self._stopping:
                raise RuntimeError("the engine worker has stopped")
            state = self._slots.setdefault(slot, _Slot())
            state.stamp += 1
            job = JobRef(next(self._ids), slot, state.stamp)
            ctx = JobContext(job, self._emit_current)
            superseded = state.pending
            state.pending = (request, ctx)
            state.urgent = urgent
            if state.running is not None:
                state.running.cancel()
            self._order.pop(slot, None)
            self._order[slot] = None
            self._lock.notify()
        if superseded is not None:
            self._on_event(Cancelled(superseded[1].job))
        return job

    def cancel(self, slot: str) -> None:
        """Drop the waiting job of `slot` and ask its running job to stop."""
        with self._lock:
            state = self._slots.get(slot)
            if state is None:
                return
            state.stamp += 1  # anything still in flight is now stale
            dropped = state.pending
            state.pending = None
            self._order.pop(slot, None)
            if state.running is not None:
                state.running.cancel()
        if dropped is not None:
            self._on_event(Cancelled(dropped[1].job))

    def stop(self, timeout: float | None = 5.0) -> None:
        """Cancel everything and end the thread (waits up to `timeout` for the running job)."""
        with self._lock:
            self._stopping = True
            for state in self._slots.values():
                state.pending = None
                if state.running is not None:
                    state.running.cancel()
            self._order.clear()
            self._lock.notify_all()
        self._thread.join(timeout)

    def _is_current(self, job: JobRef) -> bool:
        with self._lock:
            state = self._slots.get(job.slot)
            return state is not None and state.stamp == job.stamp and not self._stopping

    def _emit_current(self, event: Event) -> None:
        if self._is_current(event.job):
            self._on_event(event)

    def _next(self) -> tuple[Request, JobContext] | None:
        with self._lock:
            while not self._order and not self._stopping:
                self._lock.wait()
            if self._stopping:
                return None
            slot = next((s for s in self._order if self._slots[s].urgent), next(iter(self._order)))
            del self._order[slot]
            state = self._slots[slot]
            item = state.pending
            state.pending = None
            state.running = item[1] if item else None
            return item

    def _run(self) -> None:
        while (item := self._next()) is not None:
            request, ctx = item
            event = self._execute(request, ctx)
            with self._lock:
                self._slots[ctx.job.slot].running = None
            if isinstance(event, Cancelled) or self._is_current(ctx.job):
                self._on_event(event)
        if callable(close := getattr(self._handler, "close", None)):  # stopped: the handler's background work ends
            close()

    def _execute(self, request: Request, ctx: JobContext) -> Event:
        _running.job = ctx
        try:
            if self._boundaries:
                _install_module_boundaries()
            ctx.check()
            return Result(ctx.job, self._handler(request, ctx))
        except JobCancelled:
            return Cancelled(ctx.job)
        except USER_ERRORS as exc:  # bad input: the message says it all
            log.info("job %s: %s", ctx.job, exc)
            return Failed(ctx.job, error_message(exc))
        except Exception as exc:  # a job's error is data for the GUI, never the thread's death
            log.exception("job %s failed", ctx.job)
            return Failed(ctx.job, error_message(exc))
        finally:
            _running.job = None
