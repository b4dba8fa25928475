"""The worker thread without Qt: latest-wins, stale drop, cancel, errors as data."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest

from engine.api import Cancelled, Failed, Progress, Result
from engine.worker import JobContext, Worker


@dataclass(frozen=True)
class Job:
    name: str
    steps: int = 0  # cooperative steps of 10 ms each
    fail: bool = False
    gate: threading.Event | None = None  # blocks the handler until set


class Recorder:
    def __init__(self) -> None:
        self.events: list = []
        self.threads: set[str] = set()
        self.cond = threading.Condition()

    def __call__(self, event) -> None:
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def wait_for(self, predicate, timeout: float = 5.0):
        with self.cond:
            assert self.cond.wait_for(lambda: predicate(self.events), timeout), self.events
            return list(self.events)

    def finals(self):
        return [e for e in self.events if not isinstance(e, Progress)]


def handler(recorder: Recorder):
    def handle(request: Job, ctx: JobContext) -> str:
        recorder.threads.add(threading.current_thread().name)
        if request.gate is not None:
            request.gate.wait(5)
        for i in range(request.steps):
            ctx.check()
            ctx.progress(i / request.steps)
            time.sleep(0.01)
        if request.fail:
            raise ValueError(f"{request.name} is broken")
        return request.name
    return handle


@pytest.fixture
def setup():
    recorder = Recorder()
    worker = Worker(handler(recorder), recorder)
    yield worker, recorder
    worker.stop()


def results(events):
    return [e.value for e in events if isinstance(e, Result)]


def test_runs_jobs_on_its_own_thread(setup):
    worker, rec = setup
    worker.submit(Job("a"))
    rec.wait_for(lambda ev: results(ev) == ["a"])
    assert rec.threads == {"engine"}
    assert threading.current_thread().name not in rec.threads


def test_latest_request_wins_in_a_slot(setup):
    worker, rec = setup
    gate = threading.Event()
    worker.submit(Job("blocker", gate=gate), slot="other")  # keeps the thread busy
    refs = [worker.submit(Job(f"r{i}"), slot="preview") for i in range(5)]
    gate.set()
    events = rec.wait_for(lambda ev: "r4" in results(ev))
    assert results(events) == ["blocker", "r4"]  # r0..r3 were superseded while waiting
    cancelled = {e.job.id for e in events if isinstance(e, Cancelled)}
    assert cancelled == {r.id for r in refs[:4]}


def test_running_job_is_cancelled_and_its_result_dropped_when_superseded(setup):
    worker, rec = setup
    first = worker.submit(Job("slow", steps=200), slot="preview")
    rec.wait_for(lambda ev: any(isinstance(e, Progress) for e in ev))
    worker.submit(Job("fresh"), slot="preview")
    events = rec.wait_for(lambda ev: "fresh" in results(ev))
    assert "slow" not in results(events)
    assert any(isinstance(e, Cancelled) and e.job == first for e in events)
    # the slow job stopped early instead of running its 200 steps
    assert sum(isinstance(e, Progress) and e.job == first for e in events) < 100


def test_stale_result_is_dropped_even_if_the_handler_ignores_cancel(setup):
    worker, rec = setup
    gate = threading.Event()
    first = worker.submit(Job("old", gate=gate), slot="preview")  # never calls ctx.check()
    time.sleep(0.05)
    second = worker.submit(Job("new"), slot="preview")
    gate.set()
    events = rec.wait_for(lambda ev: "new" in results(ev))
    assert results(events) == ["new"]
    assert second.stamp > first.stamp


def test_slots_do_not_supersede_each_other(setup):
    worker, rec = setup
    gate = threading.Event()
    worker.submit(Job("blocker", gate=gate), slot="x")
    worker.submit(Job("a"), slot="a")
    worker.submit(Job("b"), slot="b")
    gate.set()
    events = rec.wait_for(lambda ev: len(results(ev)) == 3)
    assert results(events) == ["blocker", "a", "b"]  # slots are served oldest first


def test_cancel_slot(setup):
    worker, rec = setup
    job = worker.submit(Job("long", steps=500), slot="render")
    rec.wait_for(lambda ev: any(isinstance(e, Progress) for e in ev))
    worker.cancel("render")
    events = rec.wait_for(lambda ev: any(isinstance(e, Cancelled) for e in ev))
    assert [e for e in events if isinstance(e, Cancelled)][0].job == job
    assert results(events) == []


def test_error_is_returned_as_data_and_the_worker_survives(setup):
    worker, rec = setup
    worker.submit(Job("bad", fail=True))
    events = rec.wait_for(lambda ev: any(isinstance(e, Failed) for e in ev))
    failed = [e for e in events if isinstance(e, Failed)][0]
    assert failed.message == "bad is broken"
    worker.submit(Job("good"))
    rec.wait_for(lambda ev: results(ev) == ["good"])
    assert worker.thread.is_alive()


def test_stop_ends_the_thread_and_refuses_new_work(setup):
    worker, rec = setup
    worker.submit(Job("long", steps=1000))
    worker.stop(timeout=5)
    assert not worker.thread.is_alive()
    with pytest.raises(RuntimeError):
        worker.submit(Job("late"))
