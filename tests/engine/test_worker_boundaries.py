"""Where a job asked to stop stops (without Qt): at the start of the next network module, inside an ONNX Runtime run
at its next node; and urgent jobs (previews) go before the ones waiting."""

from __future__ import annotations

import threading
import time

import torch
from torch import nn

from engine.api import Cancelled, Result
from engine.inference import OnnxGraph, OnnxSession
from engine.worker import Worker
from tests.engine.test_worker import Recorder, results


class Block(nn.Module):
    def __init__(self, ran: list[str], name: str) -> None:
        super().__init__()
        self.ran, self.name = ran, name
        self.conv = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.ran.append(self.name)
        time.sleep(0.02)
        return self.conv(x)


def test_a_superseded_network_stops_at_its_next_block():
    ran: list[str] = []
    net = nn.Sequential(*[Block(ran, f"b{i}") for i in range(40)])
    rec = Recorder()

    def handle(request: str, ctx) -> tuple[int, ...]:
        with torch.inference_mode():
            return tuple(net(torch.zeros(1, 4, 8, 8)).shape)

    worker = Worker(handle, rec, boundaries=True)
    try:
        worker.submit("stale", slot="render")
        while len(ran) < 3:
            time.sleep(0.005)
        worker.submit("new", slot="render")
        events = rec.wait_for(lambda ev: results(ev))
    finally:
        worker.stop()
    assert isinstance(events[0], Cancelled) and results(events) == [(1, 4, 8, 8)]
    assert len(ran) - 40 <= 5  # the stale job ran a few of its 40 blocks, not all of them


def test_a_superseded_onnx_run_stops_at_its_next_node():
    net = nn.Sequential(*[nn.Conv2d(16, 16, 3, padding=1) for _ in range(60)]).eval()
    session = OnnxSession(OnnxGraph(net, (torch.zeros(1, 16, 32, 32),), ("x",), ("y",), "convs",
                                    {"x": {2: "h", 3: "w"}}), torch.device("cpu"))
    x = torch.randn(1, 16, 320, 320)
    started = time.perf_counter()
    session(x)
    whole = time.perf_counter() - started
    rec = Recorder()
    worker = Worker(lambda request, ctx: session(x)[0].shape, rec, boundaries=True)
    try:
        started = time.perf_counter()
        worker.submit("stale", slot="render")
        time.sleep(whole / 4)
        worker.submit("new", slot="render")
        events = rec.wait_for(lambda ev: results(ev), timeout=60)
        both = time.perf_counter() - started
    finally:
        worker.stop()
    assert isinstance(events[0], Cancelled) and len(results(events)) == 1
    assert both < 1.75 * whole  # a quarter of the stale run, not all of it, then the new one


def test_urgent_jobs_run_before_those_already_waiting():
    running, gate = threading.Event(), threading.Event()
    order: list[str] = []
    rec = Recorder()

    def handle(request: str, ctx) -> str:
        if request == "busy":
            running.set()
            gate.wait(5)
        order.append(request)
        return request

    worker = Worker(handle, rec)
    try:
        worker.submit("busy", slot="a")
        assert running.wait(5)
        worker.submit("full render", slot="b")
        worker.submit("preview", slot="c", urgent=True)
        gate.set()
        rec.wait_for(lambda ev: len([e for e in ev if isinstance(e, Result)]) == 3)
    finally:
        worker.stop()
    assert order == ["busy", "preview", "full render"]
