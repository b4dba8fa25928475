"""How long a training will take on this computer, measured before it starts: the set-up dialog runs the chosen
trainer (`python -m trainers <method>`, its own step path) on the chosen data into a temporary folder, reads the
times of its first step events, and stops it before it samples or saves anything. The first steps are left out
(start-up, cuDNN's kernel search, the loader's first batches).

One probe runs at a time, as a QProcess the GUI never waits for; results are kept for the session per trainer
and config (the step count and the reporting intervals aside: they change the length, not the speed), so
switching presets back and forth or reopening the dialog does not measure again.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, QTimer, Signal

from app.training.process import Launch, trainer_process
from trainers.events import EVENTS_FILE, EventTail

WARMUP_STEPS = 2  # step events left out: the first steps include start-up work
MEASURED_STEPS = 3  # steps timed after the warm-up (fewer when they are slow: see ENOUGH_S)
ENOUGH_S = 20.0  # a measurement of at least one step that lasted this long is enough
POLL_MS = 200
NEVER = 10**9  # sample and checkpoint intervals of a probe: it is stopped long before
# Fields that change how long a run is, not how fast its steps are.
LENGTH_FIELDS = ("total_steps", "decay_steps", "log_every", "sample_every", "checkpoint_every", "keep_checkpoints",
                 "out", "name")


def speed_key(method: str, config: dict[str, Any]) -> str:
    """What a step's speed depends on: the trainer and its config without the run's length and reporting."""
    return json.dumps([method, {k: v for k, v in config.items() if k not in LENGTH_FIELDS}], sort_keys=True,
                      default=str)


def duration(seconds: float) -> str:
    """"about 25 min", rounded as a person would say it."""
    if seconds < 60:
        return "less than a minute"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min"
    if minutes < 48 * 60:
        return f"about {minutes // 60} h {minutes % 60:02d} min"
    return f"about {round(minutes / (24 * 60))} days"


@dataclass(frozen=True)
class Measurement:
    seconds_per_step: float
    steps: int  # how many steps were timed
    device: str  # as the trainer's start event names it ("cuda:0", "cpu")

    def total(self, steps: int) -> float:
        return self.seconds_per_step * steps


_measured: dict[str, Measurement] = {}  # speed_key -> measurement, for the session


def cached(key: str) -> Measurement | None:
    return _measured.get(key)


def step_timing(events: list[dict[str, Any]]) -> tuple[Measurement | None, bool]:
    """(the speed the step events show after the warm-up, whether that is enough to stop measuring)."""
    steps = [e for e in events if e.get("type") == "step"][WARMUP_STEPS - 1:]  # timed from the warm-up's end
    device = next((str(e.get("device", "")) for e in events if e.get("type") == "start"), "")
    if len(steps) < 2:
        return None, False
    first, last = steps[0], steps[-1]
    count, seconds = int(last["step"]) - int(first["step"]), float(last["time"]) - float(first["time"])
    if count <= 0 or seconds <= 0:
        return None, False
    measurement = Measurement(seconds / count, count, device)
    return measurement, count >= MEASURED_STEPS or seconds >= ENOUGH_S


class SpeedProbe(QObject):
    """Measures a config's step time in a trainer process; `measured` or `failed` ends each measure()."""

    measured = Signal(str, object)  # speed key, Measurement
    failed = Signal(str, str)  # speed key, one-line reason
    running_changed = Signal(bool)

    def __init__(self, method: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._method = method
        self._process: QProcess | None = None
        self._folder: tempfile.TemporaryDirectory | None = None
        self._tail: EventTail | None = None
        self._events: list[dict[str, Any]] = []
        self.key = ""  # of the measurement under way ("" when none)
        self._timer = QTimer(self, interval=POLL_MS)
        self._timer.timeout.connect(self._poll)

    @property
    def running(self) -> bool:
        return self._process is not None

    def measure(self, key: str, config: dict[str, Any]) -> None:
        """Time a few steps of `config` (the dialog's, run into a temporary folder); replaces one under way."""
        self.cancel()
        self._folder = tempfile.TemporaryDirectory(prefix="i2i-speed-")
        run_dir = Path(self._folder.name) / "run"
        probe = {**config, "out": str(run_dir), "name": "speed", "log_every": 1, "sample_every": NEVER,
                 "checkpoint_every": NEVER, "total_steps": max(int(config.get("total_steps") or 0), NEVER)}
        if "decay_steps" in probe:
            probe["decay_steps"] = None
        config_file = Path(self._folder.name) / "config.json"
        config_file.write_text(json.dumps(probe), encoding="utf-8")
        process = trainer_process(Launch(self._method), ["--config", str(config_file)])
        process.setParent(self)  # the dialog closing ends it
        process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        process.finished.connect(lambda *_: self._ended(process))
        process.errorOccurred.connect(lambda error: self._ended(process, error))
        self.key, self._process, self._events = key, process, []
        self._tail = EventTail(run_dir / EVENTS_FILE)
        process.start()
        self._timer.start()
        self.running_changed.emit(True)

    def cancel(self) -> None:
        """Stop the measurement under way (nothing is reported for it)."""
        self._stop()

    def _poll(self) -> None:
        if self._tail is None:
            return
        self._events += self._tail.read_new()
        measurement, enough = step_timing(self._events)
        if enough:
            key = self.key
            _measured[key] = measurement
            self._stop()
            self.measured.emit(key, measurement)

    def _ended(self, process: QProcess, error: QProcess.ProcessError | None = None) -> None:
        """The trainer ended (or never started) before enough steps: say why, from its error event or output."""
        if process is not self._process:
            return
        self._poll()
        if self._process is not process:
            return  # the last events were enough
        key = self.key
        output = bytes(process.readAll()).decode("utf-8", "replace")
        errors = [e.get("message", "") for e in self._events if e.get("type") == "error"]
        lines = [line for line in output.splitlines() if line.startswith("error:")]
        reason = (errors or lines or [process.errorString() if error is not None else "the trainer stopped"])[-1]
        self._stop()
        self.failed.emit(key, reason.removeprefix("error:").strip())

    def _stop(self) -> None:
        self._timer.stop()
        process, self._process, self._tail, self.key = self._process, None, None, ""
        if process is not None:
            for signal in (process.finished, process.errorOccurred):
                signal.disconnect()
            process.kill()
            process.waitForFinished(2_000)  # killed: ends at once; its folder can then go
            process.deleteLater()
            self.running_changed.emit(False)
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None


def estimate_text(measurement: Measurement, steps: int) -> str:
    """"About 25 min on this computer (measured)"."""
    return f"{duration(measurement.total(steps)).capitalize()} on this computer (measured)"

