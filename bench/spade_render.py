"""SPADE full-size render: our engine path versus a plain eager forward, peak memory, GUI stall.

The network is the official ADE20K configuration (ngf 64, 151 input channels, 256x256) with random
weights, saved in the official on-disk format and imported through the normal import path.
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

from engine.api import RenderLabels, Result
from engine.catalog import Catalog
from engine.device import pick_device
from engine.handlers import Engine
from engine.models import spade
from engine.worker import Worker

REPEATS = 5


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def official_checkpoint(folder: Path) -> Path:
    net = spade.SPADEGenerator(ngf=64, semantic_nc=151, num_upsampling_layers="normal")
    path = folder / "ade20k_random" / "latest_net_G.pth"
    path.parent.mkdir()
    torch.save(net.state_dict(), path)  # the official layout: no prefix, bare state dict
    return path


def time_it(fn) -> float:
    fn()  # warm-up
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class WorkerClient:
    """Submit and wait, as the GUI does, but blocking (the benchmark's own thread waits)."""

    def __init__(self, engine: Engine) -> None:
        self._done = threading.Event()
        self.value = None
        self.worker = Worker(engine, self._on_event)

    def _on_event(self, event) -> None:
        if isinstance(event, Result):
            self.value = event.value
            self._done.set()
        elif not hasattr(event, "fraction"):
            raise SystemExit(f"render failed: {event}")

    def render(self, request: RenderLabels):
        self._done.clear()
        self.worker.submit(request, slot="preview")
        self._done.wait(600)
        return self.value


def gui_stall_ms(model_id: str, labels: np.ndarray) -> float:
    """The longest gap between 5 ms timer ticks of a Qt event loop while renders run on the engine."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from app.engine_bridge import EngineBridge

    app = QApplication.instance() or QApplication(sys.argv[:1])
    bridge = EngineBridge()
    clock, gaps, last, done = QElapsedTimer(), [], [0], []
    clock.start()

    def tick() -> None:
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(tick)

    def next_render(*_) -> None:
        if len(done) == REPEATS:
            app.quit()
            return
        done.append(1)
        bridge.submit(RenderLabels(model_id, labels), slot="preview", on_result=next_render,
                      on_failed=lambda job, msg: (print("render failed:", msg), app.quit()))

    QTimer.singleShot(0, lambda: (last.__setitem__(0, clock.elapsed()), timer.start(), next_render()))
    app.exec()
    timer.stop()
    bridge.shutdown()
    return float(max(gaps[1:]))


def main() -> None:
    device = pick_device()
    print(f"device: {device}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["I2I_STUDIO_DATA"] = tmp
        catalog = Catalog()
        engine = Engine(catalog, device)
        base_rss = peak_rss_mib()
        entry = engine.import_model(str(official_checkpoint(Path(tmp))), None)
        nets = engine.models.load(entry.id).nets
        labels = np.random.default_rng(0).integers(0, 151, (256, 256)).astype(np.int32)
        seg = spade.encode_labels(labels, label_nc=150, contain_dontcare_label=True, no_instance=True).to(device)

        def eager() -> None:
            with torch.inference_mode():
                nets["netG"](seg, latent_hw=(8, 8)).cpu()

        client = WorkerClient(engine)
        request = RenderLabels(entry.id, labels)
        t_eager = time_it(eager)
        t_engine = time_it(lambda: client.render(request))
        client.worker.stop()
        print(f"SPADE ade20k config (ngf 64), 256x256, median of {REPEATS}:")
        print(f"  plain eager forward      {t_eager * 1000:8.1f} ms")
        print(f"  engine (worker, labels -> image) {t_engine * 1000:8.1f} ms   ratio {t_engine / t_eager:.3f}")
        print(f"  peak RSS {peak_rss_mib():.0f} MiB (before the model: {base_rss:.0f} MiB)")
        print(f"  longest GUI event-loop stall during {REPEATS} renders: {gui_stall_ms(entry.id, labels):.1f} ms")


if __name__ == "__main__":
    main()
