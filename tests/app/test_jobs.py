"""The one job helper (app/jobs.py) on a stand-in bridge that delivers outcomes when a test says: one job in
flight per slot, the latest wish resent when it ends, send superseding, progress, cancel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from PySide6.QtCore import QObject, Signal

from app.jobs import Job, Jobs
from engine.api import JobRef, ListModels


@dataclass
class Submitted:
    ref: JobRef
    request: Any
    on_result: Callable[[Any], None]
    on_failed: Callable[[str], None]


class FakeBridge(QObject):
    """Keeps what was submitted; a slot's latest job alone reports back, as the EngineBridge routes it."""

    progress = Signal(object, float, str)
    cancelled = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.submitted: list[Submitted] = []
        self.cancels: list[str] = []

    def submit(self, request: Any, *, slot: str, on_result, on_failed, urgent: bool = False) -> JobRef:
        ref = JobRef(len(self.submitted), slot, len(self.submitted))
        self.submitted.append(Submitted(ref, request, on_result, on_failed))
        return ref

    def cancel(self, slot: str) -> None:
        self.cancels.append(slot)

    def finish(self, index: int, value: Any = None, *, failed: str = "") -> None:
        job = self.submitted[index]
        job.on_failed(failed) if failed else job.on_result(value)


@pytest.fixture
def bridge(qapp) -> FakeBridge:
    return FakeBridge()


def ignore(_outcome: Any) -> None:
    """An outcome a test does not look at."""


def test_one_job_in_flight_and_the_latest_wish_goes_out_when_it_ends(bridge):
    jobs = Jobs(bridge)
    results: list[Any] = []
    built: list[int] = []

    def make(n: int):
        def build() -> Job:
            built.append(n)  # built when it goes out, from the state of that moment
            return Job(ListModels(), lambda value: results.append((n, value)), results.append)
        return build

    busy: list[bool] = []
    jobs.busy_changed.connect(busy.append)
    jobs.want("preview", make(1))
    for n in (2, 3, 4):  # while 1 runs: only the latest waits
        jobs.want("preview", make(n))
    assert built == [1] and len(bridge.submitted) == 1 and jobs.busy and jobs.running("preview")
    bridge.finish(0, "one")
    assert results == [(1, "one")] and built == [1, 4] and len(bridge.submitted) == 2
    bridge.finish(1, "four")
    assert results[-1] == (4, "four") and not jobs.busy
    assert busy == [True, False, True, False]  # told before each outcome's callback runs

    jobs.want("preview", lambda: None)  # nothing to do: nothing sent
    assert len(bridge.submitted) == 2 and not jobs.busy


def test_a_failure_ends_the_job_and_the_waiting_one_goes_out(bridge):
    jobs = Jobs(bridge)
    failures: list[str] = []
    jobs.want("decode", lambda: Job(ListModels(), ignore, failures.append))
    jobs.want("decode", lambda: Job(ListModels(), ignore, failures.append))
    bridge.finish(0, failed="out of memory")
    assert failures == ["out of memory"] and len(bridge.submitted) == 2 and jobs.busy


def test_send_supersedes_and_cancel_forgets_the_waiting_job(bridge):
    jobs = Jobs(bridge)
    jobs.send("full", Job(ListModels(), ignore, ignore))
    jobs.send("full", Job(ListModels(), ignore, ignore))  # the engine stops the first; only the second reports
    assert len(bridge.submitted) == 2 and jobs.running("full")

    jobs.want("preview", lambda: Job(ListModels(), ignore, ignore))
    waiting: list[int] = []
    jobs.want("preview", lambda: waiting.append(4))
    jobs.cancel("preview")
    assert bridge.cancels == ["preview"] and not jobs.running("preview") and jobs.busy  # "full" still runs
    jobs.cancel()
    assert bridge.cancels == ["preview", "full"] and not jobs.busy and waiting == []


def test_progress_of_our_own_job_only_and_a_job_the_engine_dropped(bridge):
    jobs = Jobs(bridge)
    progress: list[tuple] = []
    dropped: list[str] = []
    jobs.progress.connect(lambda *args: progress.append(args))
    jobs.cancelled.connect(dropped.append)
    jobs.send("translate", Job(ListModels(), ignore, ignore))
    ours = bridge.submitted[0].ref
    bridge.progress.emit(ours, 1.5, "tile 3/3")
    bridge.progress.emit(JobRef(99, "translate", 99), 0.5, "someone else's")
    assert progress == [("translate", 1.0, "tile 3/3")]

    jobs.want("translate", lambda: Job(ListModels(), ignore, ignore))  # waits for the running one
    bridge.cancelled.emit(ours)  # e.g. the engine stopped it
    assert dropped == ["translate"] and len(bridge.submitted) == 2 and jobs.running("translate")
