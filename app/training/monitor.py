"""A training run's monitor: loss curves, speed and the time left (measured from the run's own steps), progress,
the latest sample grid and the log, with Stop and Resume; its status names the last saved step. It only reads the run folder (polling events.jsonl and log.txt), so it works the same
for runs started by this app, by an earlier session of it, or from a shell."""

from __future__ import annotations

import html
import json
import time
from bisect import bisect_right
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QCloseEvent, QDesktopServices, QFontDatabase, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.training.estimate import duration
from app.training.process import CONFIG_FILE, LOG_FILE, request_stop, resume_run, run_alive, stop_requested
from trainers.events import EVENTS_FILE, RUN_FILE, EventTail

POLL_MS = 500
QUIET_S = 300  # a run started outside the app counts as running while it wrote an event this recently
LOG_LINES = 5000
LOG_TAIL_BYTES = 256 * 1024  # of an old log.txt, only the end is worth showing
PLOT_BACKGROUND = "#19232D"  # qdarkstyle's window colour
# Distinct hues, legible on the dark plot (neighbouring hues of a wheel look alike for 4+ curves).
CURVE_COLOURS = ("#4E9BF5", "#F28E2B", "#59C26B", "#E15759", "#B07AA1", "#EDC948", "#76B7B2", "#FF9DA7",
                 "#C9A27E", "#BAB0AC")
LEVEL_COLOURS = {"warning": "#E8B14A", "error": "#FF6B6B"}


class _TextTail:
    """Complete lines appended to a text file since the last call (starting near its end)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset: int | None = None
        self._partial = b""

    def read_new(self) -> list[str]:
        try:
            with open(self.path, "rb") as f:
                if self._offset is None:
                    self._offset = max(0, f.seek(0, 2) - LOG_TAIL_BYTES)
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        return [line.decode("utf-8", "replace").rstrip("\r") for line in lines]


class _ScaledImage(QLabel):
    """Shows a pixmap as large as fits, keeping its aspect ratio."""

    def __init__(self) -> None:
        super().__init__(alignment=Qt.AlignmentFlag.AlignCenter)
        self.original = QPixmap()
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setMinimumSize(160, 160)

    def show_pixmap(self, pixmap: QPixmap) -> None:
        self.original = pixmap
        self._rescale()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if not self.original.isNull():
            self.setPixmap(self.original.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                                Qt.TransformationMode.SmoothTransformation))


class RunMonitor(QWidget):
    checkpoint_saved = Signal(int, str)  # step, model id in the catalog ("" if the trainer could not add it)

    def __init__(self, run_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_dir = run_dir.resolve()
        self.title = _run_name(self.run_dir)
        self._events = EventTail(self.run_dir / EVENTS_FILE)
        self._output = _TextTail(self.run_dir / LOG_FILE)
        self._points: dict[str, tuple[list[int], list[float]]] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.step, self.total = 0, 0
        self.terminal: dict[str, Any] | None = None  # the last "done" or "error" event of the current process
        self.started = False  # a "start" event came from the current process
        self.where = ""  # "cpu, 1 process", from the last start event
        self._last_output = ""  # the last line of log.txt: why a trainer ended without an event
        self.has_checkpoint = any((self.run_dir / "checkpoints").glob("*"))
        self.saved_step: int | None = None  # the step of the last checkpoint event
        self._pace: tuple[float, int] | None = None  # (time, step) of this process's first step event
        self.sample_path: Path | None = None
        self._sample_pending = False  # a new grid to load (retried while the file is incomplete)
        self._last_event_time = 0.0
        self._live = False  # checkpoints replayed when attaching to a run are not news

        self.heading = QLabel(self.title)
        self.heading.setObjectName("heading")
        self.status = QLabel()
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # long errors clip
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m steps")
        self.progress.setMinimumWidth(200)
        self.speed = QLabel()
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Save a checkpoint, then stop (resume later from it)")
        self.stop_button.clicked.connect(self.stop)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue from the last checkpoint")
        self.resume_button.clicked.connect(self.resume)
        folder = QPushButton("Open Folder")
        folder.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.run_dir))))

        self.plot = pg.PlotWidget(background=PLOT_BACKGROUND)
        self.plot.addLegend(offset=(-10, 10))
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setLabel("bottom", "step")
        self.plot.setLabel("left", "loss")
        self.sample = _ScaledImage()
        self.sample_caption = QLabel("No samples yet.")
        self.sample_caption.setProperty("role", "muted")
        sample_box = QWidget()
        sample_layout = QVBoxLayout(sample_box)
        sample_layout.setContentsMargins(0, 0, 0, 0)
        sample_layout.addWidget(self.sample, 1)
        sample_layout.addWidget(self.sample_caption)

        self.log = _log_view()
        self.output = _log_view()
        logs = QTabWidget()
        logs.addTab(self.log, "Log")
        logs.addTab(self.output, "Process output")

        header = QHBoxLayout()
        header.addWidget(self.heading)
        header.addWidget(self.status, 1)
        header.addWidget(self.speed)
        header.addWidget(self.progress)
        for button in (self.stop_button, self.resume_button, folder):
            header.addWidget(button)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.plot)
        top.addWidget(sample_box)
        top.setSizes([600, 400])
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(top)
        body.addWidget(logs)
        body.setSizes([420, 160])
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(body, 1)

        self._timer = QTimer(self, interval=POLL_MS)
        self._timer.timeout.connect(self.poll)
        self._timer.start()
        self.poll()
        self._live = True

    # --- intents ------------------------------------------------------------------------------

    def stop(self) -> None:
        request_stop(self.run_dir)
        self._log_line("Stop requested: the trainer saves a checkpoint, then stops.")
        self._show_state()

    def resume(self) -> None:
        try:
            resume_run(self.run_dir)
        except OSError as exc:
            self._log_line(str(exc), "error")
            return
        self.terminal, self.started, self._last_output = None, False, ""
        self._log_line("Resuming from the last checkpoint…")
        self._show_state()

    # --- reading the run ----------------------------------------------------------------------

    def poll(self) -> None:
        """Take in what the run wrote since the last poll."""
        events = self._events.read_new()
        # The trainer repeats some start notes as warnings (VGG-19 missing): show those once, as warnings.
        warned = {e.get("message") for e in events if e["type"] == "log"}
        for event in events:
            self._apply(event, warned)
        if any(e["type"] in ("step", "start") for e in events):
            self._draw_curves()
        for line in self._output.read_new():
            self.output.appendPlainText(line)
            if line.strip() and not line.startswith("--- "):
                self._last_output = line.strip()
        if self._sample_pending:
            self._load_sample()
        self._show_state()

    def _apply(self, event: dict[str, Any], warned: set[Any]) -> None:
        kind = event["type"]
        self._last_event_time = float(event.get("time", 0))
        step = int(event.get("step", self.step) or 0)
        if kind == "start":
            self.started, self.terminal, self._pace = True, None, None
            self.step, self.total = step, int(event.get("total_steps") or self.total)
            for steps, values in self._points.values():  # steps after the checkpoint are redone
                keep = bisect_right(steps, step)
                del steps[keep:], values[keep:]
            processes = int(event.get("world_size") or 1)
            self.where = f"{event.get('device', '?')}, {processes} process{'es' * (processes > 1)}"
            self._log_line(f"Started at step {step} of {self.total} on {self.where}.", time_=event.get("time"))
            for note in event.get("notes") or ():
                if note not in warned:
                    self._log_line(f"  {note}", time_=event.get("time"))
        elif kind == "log":
            self._log_line(str(event.get("message", "")), str(event.get("level", "info")), event.get("time"))
        elif kind == "step":
            self.step = step
            for name, value in (event.get("losses") or {}).items():
                steps, values = self._points.setdefault(name, ([], []))
                steps.append(step)
                values.append(float(value))
            self._show_pace(float(event.get("time") or 0), step)
        elif kind == "sample":
            self.sample_path = self.run_dir / str(event.get("path", ""))
            self._sample_pending = True
            caption = event.get("caption") or "label map | generated | real"
            self.sample_caption.setText(f"Step {step}: {caption}, one row per example")
        elif kind == "checkpoint":
            self.has_checkpoint, self.saved_step = True, step
            model_id = event.get("model_id") or ""
            where = f"in the Library as {model_id}" if model_id else "not added to the Library"
            self._log_line(f"Checkpoint at step {step} ({where}).", time_=event.get("time"))
            if self._live:
                self.checkpoint_saved.emit(step, model_id)
        elif kind in ("done", "error"):
            self.terminal = event
            self.step = step  # the steps after the last loss event count too
            text = f"Failed: {event.get('message', '')}" if kind == "error" else self._ended_text()
            self._log_line(text, "error" if kind == "error" else "info", event.get("time"))

    def _load_sample(self) -> None:
        pixmap = QPixmap(str(self.sample_path))
        if not pixmap.isNull():  # a grid still being written is retried on the next poll
            self.sample.show_pixmap(pixmap)
            self._sample_pending = False

    def _draw_curves(self) -> None:
        for name, (steps, values) in self._points.items():
            if name not in self.curves:
                pen = pg.mkPen(CURVE_COLOURS[len(self.curves) % len(CURVE_COLOURS)], width=1.5)
                self.curves[name] = self.plot.plot(name=name, pen=pen)
            self.curves[name].setData(steps, values)

    # --- state --------------------------------------------------------------------------------

    def running(self) -> bool:
        alive = run_alive(self.run_dir)
        if alive is None:  # started outside the app: only recent events tell it is alive
            return self.terminal is None and time.time() - self._last_event_time < QUIET_S
        return alive

    def _show_state(self) -> None:
        running = self.running()
        stopping = running and stop_requested(self.run_dir)
        if self.terminal is not None and self.terminal["type"] == "error":
            text, role = f"Failed: {self.terminal.get('message', '')}", "error"
        elif self.terminal is not None:
            text, role = self._ended_text(), "muted"
        elif stopping:
            text, role = "Stopping: saving a checkpoint…", "muted"
        elif running:
            text, role = (f"Running on {self.where}." if self.started else "Starting…"), "muted"
        elif self.started or self._last_output:
            text, role = f"The trainer ended without finishing: {self._last_output or 'see Process output'}", "error"
        else:
            text, role = "Not running.", "muted"
        self.status.setText(text)
        self.status.setToolTip(text)
        if self.status.property("role") != role:
            self.status.setProperty("role", role)
            self.status.style().unpolish(self.status)  # re-read the stylesheet for the new role
            self.status.style().polish(self.status)
        self.progress.setRange(0, max(self.total, 1))
        self.progress.setValue(min(self.step, max(self.total, 1)))
        if not running:
            self.speed.setText("")
        finished = self.terminal is not None and self.terminal.get("reason") == "finished"
        self.stop_button.setEnabled(running and not stopping and self.terminal is None)
        self.resume_button.setEnabled(not running and self.has_checkpoint and not finished)

    def _ended_text(self) -> str:
        """"Stopped at step 26 (last saved)." — the step the run reached and whether that is what was saved."""
        reason = str((self.terminal or {}).get("reason", "finished")).capitalize()
        if self.saved_step == self.step:
            return f"{reason} at step {self.step} (last saved)."
        saved = f"last saved at step {self.saved_step}" if self.saved_step is not None else "not saved"
        return f"{reason} at step {self.step} ({saved})."

    def _show_pace(self, now: float, step: int) -> None:
        """Speed and time left, measured from this process's first step event (its start-up is left out)."""
        if self._pace is None or step <= self._pace[1] or now <= self._pace[0]:
            self._pace = self._pace if self._pace and step > self._pace[1] else (now, step)
            self.speed.setText("Time left: measuring…")
            return
        rate = (step - self._pace[1]) / (now - self._pace[0])
        self.speed.setText(f"{rate:.2f} it/s · {time_left(max(self.total - step, 0) / rate)}")

    def _log_line(self, text: str, level: str = "info", time_: float | None = None) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(time_ or time.time()))
        line = html.escape(f"{stamp}  {text}")
        colour = LEVEL_COLOURS.get(level)
        self.log.appendHtml(f'<span style="color:{colour}">{line}</span>' if colour else line)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._timer.stop()  # the run goes on; only watching it ends
        super().closeEvent(event)


def _log_view() -> QPlainTextEdit:
    view = QPlainTextEdit(readOnly=True)
    view.setMaximumBlockCount(LOG_LINES)
    view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    return view


def _run_name(run_dir: Path) -> str:
    for name in (RUN_FILE, CONFIG_FILE):
        try:
            data = json.loads((run_dir / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        config = data.get("config", data) if isinstance(data, dict) else {}
        if isinstance(config, dict) and config.get("name"):
            return str(config["name"])
    return run_dir.name


def time_left(seconds: float) -> str:
    """"about 12 min left", rounded as a person would say it."""
    return f"{duration(seconds)} left"
