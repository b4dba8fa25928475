"""The training event stream: one JSON object per line in RUN/events.jsonl (torch-free).

The trainer process appends; the GUI (or a script) tails the file. Every event has "type" and
"time" (Unix seconds). Paths are relative to the run directory. Types:

  start       step, total_steps, method, world_size, device, config (dict), notes (list of str)
  log         level ("info" | "warning" | "error"), message
  step        step, epoch, losses {name: float}, lr {name: float}, it_s, samples_s, eta_s
  sample      step, path (a PNG grid, one row per example), caption (what the columns show; SPADE's
              grids without one are label map | generated | real)
  checkpoint  step, path (safetensors), model_id (its id in the model catalog, or null)
  done        step, reason ("finished" | "stopped")
  error       message (one line; the run stopped)

A run that was resumed appends to the same file, starting with a new "start" event whose step is
where it resumed, so curves continue.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

EVENTS_FILE = "events.jsonl"
RUN_FILE = "run.json"
STOP_FILE = "STOP"  # created by the GUI (or a user) to ask a run to checkpoint and stop
LOCK_FILE = "trainer.pid"  # the pid of the process training the run, while it runs


class EventWriter:
    """Appends events to RUN/events.jsonl, flushing each line so readers see it at once."""

    def __init__(self, run_dir: Path, *, echo: Callable[[dict[str, Any]], None] | None = None) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = open(run_dir / EVENTS_FILE, "a", encoding="utf-8")  # noqa: SIM115 (long-lived)
        self._echo = echo

    def __call__(self, type_: str, **fields: Any) -> dict[str, Any]:
        event = {"type": type_, "time": round(time.time(), 3), **fields}
        self._file.write(json.dumps(event, default=_jsonable) + "\n")
        self._file.flush()
        if self._echo:
            self._echo(event)
        return event

    def close(self) -> None:
        self._file.close()


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class EventTail:
    """Reads the events appended since the last call; a partly written last line waits for its end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = ""

    def read_new(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, encoding="utf-8") as f:
                f.seek(self._offset)
                chunk = f.read()
                self._offset = f.tell()
        except FileNotFoundError:
            return []
        lines = (self._partial + chunk).split("\n")
        self._partial = lines.pop()
        return list(_parse(lines))


def read_events(path: Path) -> list[dict[str, Any]]:
    """All complete events of a run (a torn last line, from a killed process, is skipped)."""
    return EventTail(path).read_new()


def _parse(lines: list[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line torn by a crash: the next run's events still parse
        if isinstance(event, dict) and "type" in event:
            yield event
