"""A first look at every edit, and a GUI that never waits on files: measured on the real pages, offscreen.

Per tool and photo size (1024x1024 and 4000x2500; the shipped sample photos cut and resized), with the embedded
default models: the time from a user's change to the first (reduced-resolution) preview on screen and to the full
result. The changes: a painter stroke (made while the new canvas' full render is under way, which it supersedes),
opening a photo in Swap & Edit (to its project on screen, and to the embedded codes' image every edit starts from), a
Swap & Edit slider released after a texture swap, a Style Brushes translation of a newly opened photo (reading the
file included), and a style layer's strength changed (a preset clicked). Then the longest stall of the GUI's event
loop (a 20 ms timer) while a 4000x2500 project of each page is saved, and how long the save took; and
`python main.py` from its start to the window's first paint and to the painter's first photo. One run each; numbers are printed, never asserted. Before this work the first
look at an edit was its full result, and a save ran on the GUI thread (its duration was the stall).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from bench import painter

REPO = Path(__file__).resolve().parent.parent
SIZES = ((1024, 1024), (2500, 4000))
TIMEOUT_S = 900.0
TICK_MS = 20
SAMPLES = tuple(REPO / "resources" / "samples" / name for name in
                ("default_brush_summer2winter.jpg", "default_stylize.jpg", "default_sae_swap.jpg"))
STARTUP_PROBE = r"""
import os, sys, time
started = float(sys.argv[1])
os.environ["QT_QPA_PLATFORM"] = "offscreen"
sys.argv = ["main.py"]
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication
import app.app as gui

marks = {}
window_class = gui.MainWindow


class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and type(obj).__name__ == "MainWindow":
            marks.setdefault("window", time.time() - started)
        return False


def window(bridge, **options):
    made = window_class(bridge, **{**options, "show_start": False})  # a returning user's start: the Painter
    def rendered(kind, image):
        marks.setdefault(kind, time.time() - started)
        if kind == "full":
            QTimer.singleShot(0, QApplication.instance().quit)
    made.painter.scheduler.rendered.connect(rendered)
    QApplication.instance().installEventFilter(spy)
    return made


spy = FirstPaint()
gui.MainWindow = window
gui.run(sys.argv)
print(marks.get("window", -1), marks.get("preview", -1), marks.get("full", -1))
"""


def photo(size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A real photo of `size` (H, W), HxWx3 uint8: one of the shipped samples (`seed` picks it) cropped to the shape
    and resized (upscaled for the large sizes, as a camera photo of that size would be to a model: detail everywhere)."""
    source = SAMPLES[seed % len(SAMPLES)]
    image = np.asarray(Image.open(source).convert("RGB"))
    h, w = image.shape[:2]
    aspect = size[1] / size[0]
    ch, cw = (h, min(w, round(h * aspect))) if w / h >= aspect else (min(h, round(w / aspect)), w)
    crop = Image.fromarray(image[(h - ch) // 2:(h - ch) // 2 + ch, (w - cw) // 2:(w - cw) // 2 + cw])
    return np.asarray(crop.resize((size[1], size[0]), Image.Resampling.BICUBIC))


def scene(size: tuple[int, int], classes: int) -> np.ndarray:
    """Horizontal bands of a few classes, like a landscape."""
    rows = np.linspace(0, min(classes, 6) - 0.01, size[0]).astype(np.uint8)
    return np.repeat(rows[:, None], size[1], axis=1)


class Session(painter.Session):
    """The main window, offscreen (bench/painter.py's), its pages driven as a user would."""

    def __init__(self, folder: Path) -> None:
        from app.brushes.translations import FAILED

        super().__init__()  # collects the painter's failures in self.failures
        self.folder = folder
        self.window.swap.scheduler.failed.connect(self.failures.append)
        translator = self.window.brushes.translator
        translator.changed.connect(lambda key: getattr(translator.state(key), "status", None) == FAILED
                                   and self.failures.append(translator.state(key).message))

    def close(self) -> None:
        for page in (self.window.painter, self.window.swap, self.window.brushes):
            self.discard(page)
        self.window.close()
        self.bridge.shutdown()

    @staticmethod
    def discard(page) -> None:
        """The page's work may be replaced without the question about unsaved changes (a dialog would wait)."""
        history = page.files.history()
        if history is not None:
            history.modified = False

    def pump(self, until: Callable[[], bool], timeout: float = TIMEOUT_S) -> bool:
        """Run the event loop until `until()` holds (False, not an exit: it did not within `timeout`)."""
        from PySide6.QtCore import QEventLoop, QTimer

        loop, poll, deadline = QEventLoop(), QTimer(interval=5), time.perf_counter() + timeout
        poll.timeout.connect(lambda: (until() or self.failures or time.perf_counter() > deadline) and loop.quit())
        poll.start()
        if not until():
            loop.exec()
        poll.stop()
        return until()

    def image_file(self, size: tuple[int, int], seed: int) -> Path:
        path = self.folder / f"photo_{size[1]}x{size[0]}_{seed}.png"
        Image.fromarray(photo(size, seed)).save(path, compress_level=1)
        return path

    def timed(self, change: Callable[[], None], preview: Callable[[], bool], full: Callable[[], bool]
              ) -> tuple[float | None, float | None]:
        """(change -> preview on screen, change -> full result) in seconds; None: not within the timeout, or it
        failed (the failure is printed)."""
        self.failures.clear()
        start = time.perf_counter()
        change()
        first = self.pump(preview)
        seen = time.perf_counter() - start if first else None
        done = self.pump(full)
        if self.failures:
            print(f"  failed: {self.failures[0]}", flush=True)
        return seen, (time.perf_counter() - start if done else None)

    # --- the tools ---------------------------------------------------------------------------------------

    def painter(self, size: tuple[int, int]) -> tuple[float | None, float | None]:
        """A stroke while the new canvas' full render is under way: it stops at its next block."""
        page = self.window.painter
        arrived: list[str] = []
        page.scheduler.rendered.connect(lambda kind, _: arrived.append(kind))
        self.window.tools.setCurrentWidget(page)
        page.new_document(scene(size, len(page.entry.classes)))
        self.pump(lambda: "preview" in arrived)  # the model is loaded and warm; its full render, cut short below
        arrived.clear()

        def stroke() -> None:  # what the canvas does for a stroke: pixels in one edit, then the stroke's end
            page.scheduler.stroke_started()
            h, w = size
            edit = page.document.edit("labels", "Brush")
            edit.region((w // 4, h // 3, w // 2, h // 8))[...] = 3
            edit.changed((w // 4, h // 3, w // 2, h // 8))
            edit.commit()
            page.scheduler.stroke_finished()

        return self.timed(stroke, lambda: "preview" in arrived, lambda: "full" in arrived)

    def swap(self, size: tuple[int, int]) -> tuple[tuple[float | None, float | None], ...]:
        """(opening a photo: its project on screen, the embedded codes' image made), (a slider released)."""
        page = self.window.swap
        self.window.tools.setCurrentWidget(page)
        decoded: list[str] = []
        page.scheduler.decoded.connect(decoded.append)
        self.discard(page)
        path, before = self.image_file(size, 1), page.project
        opening = self.timed(lambda: page.files.open_photo_file(path),
                             lambda: page.project is not before and page.project is not None,
                             lambda: "full" in decoded)
        decoded.clear()
        page.use_reference(str(self.image_file((512, 512), 2)))
        self.pump(lambda: "full" in decoded)
        decoded.clear()
        return opening, self.timed(lambda: page.swap_panel.blend.slider.setValue(40), lambda: "preview" in decoded,
                                   lambda: "full" in decoded)

    def brushes(self, size: tuple[int, int]) -> tuple[tuple[float | None, float | None], ...]:
        """(opening a photo: its translation), (a style layer's strength changed)."""
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        from app.brushes.translations import READY

        page = self.window.brushes
        self.window.tools.setCurrentWidget(page)
        events: list[str] = []
        page.translator.previewed.connect(lambda key: events.append("preview"))
        page.translator.changed.connect(
            lambda key: getattr(page.translator.state(key), "status", None) == READY and events.append("full"))
        path = self.image_file(size, 3)
        self.discard(page)
        translation = self.timed(lambda: page.files.open_photo_file(path), lambda: "preview" in events,
                                 lambda: "full" in events)
        project = page.project
        assert page.catalog.get(project.layers[0].model_id).method == "cut"  # what was measured
        flow = next(e for e in page.models() if e.method == "hierarchyflow")
        layer = page.add_layer()
        project.set_model(layer.id, flow.id, "")
        events.clear()
        self.pump(lambda: page.translation(project.selected) is not None)  # stylised at full strength
        events.clear()
        subtle = page.style_panel.presets["subtle"]
        strength = self.timed(lambda: QTest.mouseClick(subtle, Qt.MouseButton.LeftButton),
                              lambda: "preview" in events, lambda: "full" in events)
        project.remove_layer(layer.id)  # the next photo's first layer takes the selected layer's model: CUT again
        return translation, strength

    # --- saving ------------------------------------------------------------------------------------------

    def save_stall(self, page, name: str) -> tuple[float, float]:
        """(longest event-loop stall in s, the save's duration in s) while `page` saves its project."""
        from PySide6.QtCore import QTimer

        ticks: list[float] = []
        timer = QTimer(interval=TICK_MS)
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
        timer.start()
        start = time.perf_counter()
        outcome = page.files.save_project_file(self.folder / name)
        self.pump(lambda: outcome.ok is not None)
        took = time.perf_counter() - start
        timer.stop()
        return float(np.diff([start, *ticks, time.perf_counter()]).max()), took


def startup() -> tuple[float, float, float]:
    """`python main.py` (offscreen) start -> (window's first paint, painter's first preview, its full photo), in s."""
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "I2I_STUDIO_DATA": data, "XDG_CONFIG_HOME": data, "QT_QPA_PLATFORM": "offscreen"}
        run = subprocess.run([sys.executable, "-c", STARTUP_PROBE, repr(time.time())], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=TIMEOUT_S, check=True)
    window, preview, full = (float(v) for v in run.stdout.split()[-3:])
    return window, preview, full


def seconds(value: float | None) -> str:
    return "timed out" if value is None else (f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s")


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import torch

    window, preview, full = startup()
    print(f"previews: torch {torch.__version__}, {torch.get_num_threads()} threads; embedded default models")
    print(f"  start (python main.py): window painted {seconds(window)}, painter's first photo "
          f"{seconds(preview)} (preview), {seconds(full)} (full)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["I2I_STUDIO_DATA"] = str(Path(tmp) / "data")
        session = Session(Path(tmp))
        print(f"  {'tool':<34} {'photo':>10} {'first preview':>14} {'full result':>12}", flush=True)
        for size in SIZES:
            stroke = session.painter(size)
            opening, slider = session.swap(size)
            rows = [("painter stroke (SPADE)", stroke),
                    ("Swap & Edit open a photo (SAE)", opening),
                    ("Swap & Edit slider (SAE)", slider)]
            translation, strength = session.brushes(size)
            rows += [("Style Brushes translation (CUT)", translation),
                     ("Style Brushes style strength (HF)", strength)]
            for name, (first, whole) in rows:
                print(f"  {name:<34} {size[1]:>5}x{size[0]:<4} {seconds(first):>14} {seconds(whole):>12}", flush=True)
        print(f"  saving a {SIZES[-1][1]}x{SIZES[-1][0]} project with a {TICK_MS} ms timer ticking:", flush=True)
        for page, name in ((session.window.painter, "painter.ora"), (session.window.swap, "swap.ora"),
                           (session.window.brushes, "brushes.ora")):
            stall, took = session.save_stall(page, name)
            size = (session.folder / name).stat().st_size / 2**20
            print(f"    {name:<12} save {seconds(took):>8} ({size:.0f} MiB), longest GUI stall {seconds(stall)}",
                  flush=True)
        session.close()


if __name__ == "__main__":
    main()
