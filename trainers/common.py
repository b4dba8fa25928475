"""The trainer framework's run bookkeeping: run folder, run.json, stop requests, progress bar, config
<-> command line, learning-rate decay and sample grids.

A method is a plain function `train(cfg, *, emit, should_stop, resume=False) -> Path` over a dataclass
config, made by its TrainingLoop (loop.py); the pieces here (and in distributed.py, checkpointing.py,
datasets.py) are what every method shares.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import platform
import signal
import sys
import threading
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, fields
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
from PIL import Image

from engine.errors import describe_os_error
from engine.storage import atomic_write_bytes, atomic_write_json, lock_owner, try_lock
from trainers.events import LOCK_FILE, RUN_FILE, STOP_FILE


class TrainError(Exception):
    """A problem the user can fix (bad data, bad option, unwritable folder): one line, no traceback."""


Emit = Callable[..., Any]  # emit(type, **fields), as trainers.events.EventWriter
RUN_FORMAT = 1


def no_emit(type_: str, **fields: Any) -> None:
    """The event sink of ranks other than 0: only rank 0 writes events.jsonl."""


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# --- the run folder -----------------------------------------------------------------------------------------


def prepare_run_dir(path: Path) -> Path:
    """Create RUN (with parents) and prove it is writable by writing a file, so a bad folder fails at once."""
    probe = path / f".write-test-{os.getpid()}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise TrainError(f"cannot write to the run folder {path}: {exc.strerror or exc}") from None
    return path


def write_run_json(run_dir: Path, *, method: str, config: Mapping[str, Any], world_size: int) -> None:
    """RUN/run.json: the config as JSON, the method, versions, and when the run was created / last started."""
    try:
        previous = read_run_json(run_dir)
    except TrainError:  # none yet, or unreadable: this start begins the record
        previous = {}
    same_run = previous.get("method") == method
    atomic_write_json(run_dir / RUN_FILE, {
        "format": RUN_FORMAT,
        "method": method,
        "config": dict(config),
        "world_size": world_size,
        "versions": _versions(),
        "created": previous.get("created", now_iso()) if same_run else now_iso(),
        "started": now_iso(),
    })


def read_run_json(run_dir: Path) -> dict[str, Any]:
    path = run_dir / RUN_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrainError(f"{run_dir} has no {RUN_FILE}: it is not a run folder") from None
    except (OSError, ValueError) as exc:
        raise TrainError(f"{path} is unreadable ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise TrainError(f"{path} is not a run description (no 'config' object)")
    return data


def check_resumable(saved: Mapping[str, Any], *, method: str, config: Mapping[str, Any],
                    fixed: Iterable[str]) -> None:
    """Refuse to resume with a different method or with changed fields that shape the saved state."""
    if saved.get("method") != method:
        raise TrainError(f"the run was trained with '{saved.get('method')}', not '{method}'")
    old = saved["config"]
    changed = [f"{k} {old.get(k)!r} -> {config.get(k)!r}" for k in fixed if k in old and old[k] != config.get(k)]
    if changed:
        raise TrainError("cannot resume with changed options (they shape the saved networks): " + ", ".join(changed))


def _versions() -> dict[str, str]:
    import torch  # the bookkeeping above stays importable without torch

    try:
        ours = metadata.version("i2i-studio")
    except metadata.PackageNotFoundError:
        ours = "source tree"
    return {"i2i_studio": ours, "torch": torch.__version__, "python": platform.python_version()}


# --- stopping ---------------------------------------------------------------------------------------------


class StopFlag:
    """`should_stop()`: RUN/STOP exists (the GUI creates it) or SIGINT/SIGTERM arrived.

    The first signal only sets the flag, so the run checkpoints and stops cleanly; a second one
    interrupts at once. Use as a context manager: the previous handlers come back on exit.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, run_dir: Path) -> None:
        self.stop_file = run_dir / STOP_FILE
        self.signalled = False
        self._previous: dict[int, Any] = {}

    def __call__(self) -> bool:
        return self.signalled or self.stop_file.exists()

    def __enter__(self) -> Self:
        if threading.current_thread() is threading.main_thread():  # handlers can only be set there
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: types.FrameType | None) -> None:
        if self.signalled:
            raise KeyboardInterrupt
        self.signalled = True


class RunLock:
    """One trainer per run folder: RUN/trainer.pid names the live process (engine.storage.try_lock: it appears
    whole, and a dead owner's lock is taken over at once). Stops a second Resume, from the GUI or a shell,
    from writing into a running run."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LOCK_FILE

    def acquire(self) -> None:
        if lock_owner(self.path) == os.getpid():
            return
        try:
            holder = try_lock(self.path)
        except OSError as exc:
            raise TrainError(f"cannot lock the run folder: {describe_os_error(exc)}") from None
        if holder is not None:
            raise TrainError(f"{self.path.parent} is being trained by process {holder}: stop it first")

    def release(self) -> None:
        self.path.unlink(missing_ok=True)


# --- progress on a terminal -------------------------------------------------------------------------------


class Progress:
    """A tqdm bar on rank 0 when stderr is a terminal; otherwise nothing (the events say it all)."""

    def __init__(self, *, total: int, initial: int, enabled: bool) -> None:
        self._bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=initial, unit="it", dynamic_ncols=True)

    def update(self, step: int, losses: Mapping[str, float] | None = None) -> None:
        if self._bar is None:
            return
        self._bar.update(step - self._bar.n)
        if losses:
            self._bar.set_postfix({k: f"{v:.3g}" for k, v in losses.items()}, refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


# --- config dataclasses <-> command line / JSON ---------------------------------------------------------


def add_config_arguments(parser: argparse.ArgumentParser, config_type: type) -> None:
    """One option per dataclass field (`--crop_size` and `--crop-size`); only flags given on the command
    line appear in the namespace (default SUPPRESS), so they can override a config file."""
    hints = typing.get_type_hints(config_type)
    for f in fields(config_type):
        base, optional = _field_type(hints[f.name])
        names = [f"--{f.name}"] + ([f"--{f.name.replace('_', '-')}"] if "_" in f.name else [])
        help_text = f.metadata.get("help", "")
        if f.default is not MISSING:
            help_text += f" (default: {f.default})"
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": help_text}
        if base is bool:
            parser.add_argument(*names, action=argparse.BooleanOptionalAction, **kwargs)
            continue
        if choices := f.metadata.get("choices"):
            kwargs["choices"] = list(choices) + (["none"] if optional else [])
        parser.add_argument(*names, type=_parse_value(base, optional, f.name), **kwargs)


def config_from_dict(config_type: type, data: Mapping[str, Any], *, where: str) -> Any:
    """A config from JSON-like data; unknown names and wrong types are one-line errors."""
    known = {f.name for f in fields(config_type)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise TrainError(f"{where}: unknown option{'s' * (len(unknown) > 1)} {', '.join(unknown)}")
    hints = typing.get_type_hints(config_type)
    values = {}
    for name, value in data.items():
        base, optional = _field_type(hints[name])
        if value is None and optional:
            values[name] = None
        elif base is float and isinstance(value, int) and not isinstance(value, bool):
            values[name] = float(value)
        elif isinstance(value, base) and not (base is int and isinstance(value, bool)):
            values[name] = value
        else:
            raise TrainError(f"{where}: option {name} must be {base.__name__}, got {value!r}")
    return config_type(**values)


def load_config_file(path: Path) -> dict[str, Any]:
    """A config as JSON: a plain object of options, or a run.json (its "config")."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TrainError(f"cannot read the config {path}: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("config"), dict) and "method" in data:
        data = data["config"]
    if not isinstance(data, dict):
        raise TrainError(f"{path}: a config must be a JSON object of options")
    return data


def _field_type(hint: Any) -> tuple[type, bool]:
    """(base type, None allowed) for int, `int | None`, `Literal[...]`."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        return _field_type(rest[0])[0], True
    if typing.get_origin(hint) is Literal:
        return type(args[0]), False
    return hint, False


def _parse_value(base: type, optional: bool, name: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        if optional and text.strip().lower() in ("none", ""):
            return None
        try:
            return base(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be {base.__name__}, got {text!r}") from None
    return parse


# --- schedules and pictures ---------------------------------------------------------------------------


def linear_decay(total_steps: int, decay_steps: int | None = None) -> Callable[[int], float]:
    """LR factor: 1, then linearly down to 0 at total_steps over the last `decay_steps` (default: the second
    half, the papers' schedule)."""
    start = total_steps - decay_steps if decay_steps is not None else total_steps // 2
    span = max(total_steps - start, 1)
    return lambda step: 1.0 if step < start else max(0.0, (total_steps - step) / span)


def save_grid(path: Path, rows: list[list[np.ndarray]], *, gap: int = 2) -> None:
    """HxWx3 uint8 tiles, one list per row, as a PNG (written atomically, so a viewer never sees half)."""
    th = max(t.shape[0] for row in rows for t in row)
    tw = max(t.shape[1] for row in rows for t in row)
    cols = max(len(row) for row in rows)
    canvas = np.full((len(rows) * (th + gap) - gap, cols * (tw + gap) - gap, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            y, x = r * (th + gap), c * (tw + gap)
            canvas[y:y + tile.shape[0], x:x + tile.shape[1]] = tile
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())
