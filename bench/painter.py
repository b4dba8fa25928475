"""The painter's latency as a user feels it: simulated mouse strokes on the real page, offscreen.

For each model and size: stroke-to-preview (mouse press to the first low-resolution photo, while the
button is still down), stroke-to-full (mouse release to the full-resolution photo), and the longest
stall of the GUI event loop (gap between ticks of a 5 ms timer) while painting continuously. Models:
the embedded default (when packaged) and the official ADE20K SPADE configuration (ngf 64, 151 input
channels, random weights, saved in the official layout and imported through the normal path).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

STROKES = 3
MOVE_MS = 10  # a mouse event every 10 ms, as a quick hand produces them
PAINT_SECONDS = 4.0
TICK_MS = 5
TIMEOUT_S = 300.0
SIZES = ((256, 256), (512, 512))


def scene(size: tuple[int, int], classes: int) -> np.ndarray:
    """Horizontal bands of a few classes, like a landscape: something for a real model to render."""
    rows = np.linspace(0, min(classes, 6) - 0.01, size[0]).astype(np.uint8)
    return np.repeat(rows[:, None], size[1], axis=1)


class Session:
    """A main window whose painter page is driven with QTest mouse events."""

    def __init__(self) -> None:
        from PySide6.QtWidgets import QApplication

        from app.engine_bridge import EngineBridge
        from app.main_window import MainWindow
        from app.theme import apply_theme

        self.app = QApplication.instance() or QApplication(sys.argv[:1])
        apply_theme(self.app)
        self.bridge = EngineBridge()
        self.window = MainWindow(self.bridge)
        self.window.resize(1280, 800)
        self.window.show()
        self.page = self.window.painter
        self.arrivals: list[tuple[str, float]] = []
        self.failures: list[str] = []
        self.page.scheduler.rendered.connect(lambda kind, _: self.arrivals.append((kind, time.perf_counter())))
        self.page.scheduler.failed.connect(self.failures.append)
        listed: list[bool] = []
        self.window.catalog.changed.connect(lambda: listed.append(True))
        self.pump(lambda: bool(listed))  # the catalog lists the built-in models asynchronously

    def close(self) -> None:
        self.page.document.modified = False  # nothing to save: no question on close
        self.window.close()
        self.bridge.shutdown()

    def pump(self, until, timeout: float = TIMEOUT_S) -> None:
        """Run the event loop (idle between events, as the app does) until `until()` holds."""
        from PySide6.QtCore import QEventLoop, QTimer

        loop, poll, deadline = QEventLoop(), QTimer(interval=2), time.perf_counter() + timeout
        poll.timeout.connect(lambda: (until() or self.failures or time.perf_counter() > deadline) and loop.quit())
        poll.start()
        if not until():
            loop.exec()
        poll.stop()
        if not until():
            sys.exit(f"painter bench: {self.failures[0] if self.failures else 'timed out waiting for a render'}")

    def import_model(self, path: Path, options: dict | None = None):
        done: list = []
        self.window.catalog.import_checkpoint(str(path), done.append, options)
        self.pump(lambda: bool(done) and self.window.catalog.get(done[0].id) is not None)
        return done[0]

    def open(self, entry, size: tuple[int, int]) -> None:
        self.page.set_model(entry)
        self.page.new_document(scene(size, len(entry.classes)))
        self.page.canvas.zoom_fit()
        self.arrivals.clear()
        self.pump(lambda: any(kind == "full" for kind, _ in self.arrivals))  # the model is loaded and warm

    def point(self, t: float):
        """A wavy path across the document, in widget coordinates."""
        from PySide6.QtCore import QPoint, QPointF

        doc, view = self.page.document, self.page.canvas
        x = doc.width * (0.1 + 0.8 * ((t * 0.4) % 1.0))
        y = doc.height * (0.5 + 0.3 * np.sin(t * 5))
        origin = view.map_to_document(QPointF(0, 0))
        return QPoint(round((x - origin.x()) * view.zoom), round((y - origin.y()) * view.zoom))

    def drag(self, t: float) -> None:
        """A mouse move with the left button held, as the window system delivers it."""
        from PySide6.QtCore import QEvent, QPointF, Qt
        from PySide6.QtGui import QMouseEvent
        from PySide6.QtWidgets import QApplication

        view = self.page.canvas
        pos = QPointF(self.point(t))
        QApplication.sendEvent(view, QMouseEvent(QEvent.Type.MouseMove, pos, QPointF(view.mapToGlobal(pos)),
                                                 Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton,
                                                 Qt.KeyboardModifier.NoModifier))

    def stroke_latency(self) -> tuple[float, float]:
        """(press -> first preview, release -> full render) in seconds."""
        from PySide6.QtCore import Qt, QTimer
        from PySide6.QtTest import QTest

        view, self.arrivals[:] = self.page.canvas, []
        start = time.perf_counter()
        QTest.mousePress(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, self.point(0))
        mover = QTimer(interval=MOVE_MS)  # keep painting while the preview renders
        mover.timeout.connect(lambda: self.drag(time.perf_counter() - start))
        mover.start()
        self.pump(lambda: any(kind == "preview" for kind, _ in self.arrivals))
        mover.stop()
        preview = next(t for kind, t in self.arrivals if kind == "preview") - start
        release = time.perf_counter()
        QTest.mouseRelease(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                           self.point(release - start))
        self.pump(lambda: any(kind == "full" and t > release for kind, t in self.arrivals))
        full = next(t for kind, t in self.arrivals if kind == "full" and t > release) - release
        return preview, full

    def longest_stall(self) -> tuple[float, int]:
        """(longest gap between 5 ms ticks in ms, previews shown) while painting for PAINT_SECONDS."""
        from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer
        from PySide6.QtTest import QTest

        view, self.arrivals[:] = self.page.canvas, []
        clock, gaps, last = QElapsedTimer(), [], [0]
        loop = QEventLoop()
        clock.start()

        def tick() -> None:
            now = clock.elapsed()
            gaps.append(now - last[0])
            last[0] = now

        ticker, mover = QTimer(interval=TICK_MS), QTimer(interval=MOVE_MS)
        ticker.timeout.connect(tick)
        mover.timeout.connect(lambda: self.drag(clock.elapsed() / 1000))
        QTest.mousePress(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, self.point(0))
        last[0] = clock.elapsed()
        ticker.start()
        mover.start()
        QTimer.singleShot(int(PAINT_SECONDS * 1000), loop.quit)
        loop.exec()
        mover.stop()
        ticker.stop()
        QTest.mouseRelease(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, self.point(PAINT_SECONDS))
        previews = sum(kind == "preview" for kind, _ in self.arrivals)
        self.pump(lambda: any(kind == "full" for kind, _ in self.arrivals))
        return float(max(gaps[1:])), previews


def official_ade20k(folder: Path) -> Path:
    import torch

    from engine.models import spade

    path = folder / "ade20k_random" / "latest_net_G.pth"
    path.parent.mkdir()
    torch.manual_seed(0)
    torch.save(spade.SPADEGenerator(ngf=64, semantic_nc=151).state_dict(), path)  # the official layout
    return path


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import torch

    from app.painter.render import valid_size
    from engine.device import pick_device

    print(f"painter: device {pick_device()}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"{STROKES} strokes per case (median), then {PAINT_SECONDS:.0f} s of continuous painting")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["I2I_STUDIO_DATA"] = tmp
        session = Session()
        models = [e for e in session.page.models() if e.id == "spade-landscape-default"]
        if not models:
            print("  (the embedded default model is not packaged yet: skipped)")
        models.append(session.import_model(official_ade20k(Path(tmp))))
        print(f"  {'model':<28} {'size':>9} {'stroke->preview':>16} {'stroke->full':>13} {'longest stall':>14} "
              f"{'previews/s':>11} {'preview size':>13}")
        for entry in models:
            for size in SIZES:
                session.open(entry, size)
                latencies = [session.stroke_latency() for _ in range(STROKES)]
                stall, previews = session.longest_stall()
                preview = statistics.median(p for p, _ in latencies)
                full = statistics.median(f for _, f in latencies)
                shown = valid_size(entry, session.page.scheduler.preview.size(size))
                print(f"  {entry.id:<28} {size[0]:>4}x{size[1]:<4} {preview * 1000:>13.0f} ms {full * 1000:>10.0f} ms "
                      f"{stall:>11.0f} ms {previews / PAINT_SECONDS:>11.1f} {shown[0]:>7}x{shown[1]:<5}", flush=True)
        session.close()


if __name__ == "__main__":
    main()
