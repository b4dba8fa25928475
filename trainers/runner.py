"""The command line every method shares: `python -m trainers <method> [options] [--config F] [--resume]
[--validate-only]` and, where the trainer has one, `python -m trainers <method> export RUN --out DIR`; exit 0
on success or stop, 2 with one `error: ...` line on bad input.

The method's line in trainers.registry gives its config dataclass (the flags) and its TrainingLoop (train,
validation, the options that may not change on resume, the export); this module owns the process life:
torchrun set-up, the event stream (rank 0 only), the stop flag, and turning failures into one line plus an
"error" event.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, NoReturn

from engine.errors import describe_os_error
from engine.storage import atomic_write_bytes, pid_alive
from trainers.common import (
    RunLock,
    StopFlag,
    TrainError,
    add_config_arguments,
    check_resumable,
    config_from_dict,
    load_config_file,
    no_emit,
    prepare_run_dir,
    read_run_json,
)
from trainers.distributed import setup_distributed, teardown_distributed
from trainers.events import EventWriter
from trainers.loop import TrainingLoop
from trainers.registry import TrainerSpec

TRACEBACK_FILE = "traceback.txt"
# A process id the trainer watches: when that process is gone, the run stops (checkpoint, exit), and if it
# has not within WATCH_GRACE s, exits anyway. The test session sets it (tests/conftest.py) so that runs the
# GUI tests start detached never outlive a killed pytest; the app itself leaves it unset (a run outlives it).
WATCH_ENV = "I2I_TRAINER_WATCH_PID"
WATCH_POLL = 1.0
WATCH_GRACE = 5.0
WATCH_EXIT = 130


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage block
        self.exit(2, f"error: {message}\n")


def run(spec: TrainerSpec, argv: list[str]) -> int:
    """`python -m trainers <spec.method> ARGV`: train, validate or export; the exit code."""
    loop: type[TrainingLoop] = spec.load()
    if argv[:1] == ["export"] and loop.export is not None:
        return _export(spec, loop, argv[1:])
    watch_parent()
    parser = OneLineParser(prog=f"python -m trainers {spec.method}",
                           description=f"Train {spec.title}: {spec.description} Options map 1:1 to the config "
                                       "fields." + (" Or: export RUN --out DIR." if loop.export else ""))
    add_config_arguments(parser, spec.config)
    parser.add_argument("--config", type=Path, help="a JSON config (or a run.json); flags given here override it")
    parser.add_argument("--resume", action="store_true", help="continue --out from its last complete checkpoint")
    parser.add_argument("--validate-only", action="store_true",
                        help="check the dataset folders, print the summary as JSON and exit")
    ns = parser.parse_args(argv)
    given = {f.name: getattr(ns, f.name) for f in fields(spec.config) if hasattr(ns, f.name)}
    try:
        cfg = _config(spec, loop.fixed_on_resume, ns, given)
        if ns.validate_only:
            summary = loop.validate(cfg)
            print(json.dumps(summary, indent=1))
            return 2 if summary["errors"] else 0
        if not cfg.out:
            raise TrainError("--out RUN is required (the run folder)")
        return _train(loop, cfg, resume=ns.resume)
    except TrainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _export(spec: TrainerSpec, loop: type[TrainingLoop], argv: list[str]) -> int:
    parser = OneLineParser(prog=f"python -m trainers {spec.method} export", description=loop.export_help)
    parser.add_argument("source", type=Path, help="a run folder (its latest checkpoint) or a .safetensors checkpoint")
    parser.add_argument("--out", type=Path, required=True, help="folder to write")
    ns = parser.parse_args(argv)
    try:
        for path in loop.export(ns.source, ns.out):
            print(path)
    except TrainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _config(spec: TrainerSpec, fixed_on_resume: tuple[str, ...], ns: argparse.Namespace,
            given: dict[str, Any]) -> Any:
    base = load_config_file(ns.config) if ns.config else {}
    where = str(ns.config or "the command line")
    if not ns.resume:
        return config_from_dict(spec.config, {**base, **given}, where=where)
    out = given.get("out") or base.get("out")
    if not out:
        raise TrainError("--resume needs --out RUN (the run folder to continue)")
    saved = read_run_json(Path(out))
    cfg = config_from_dict(spec.config, {**saved["config"], **base, **given, "out": str(out)}, where=where)
    check_resumable(saved, method=spec.method, config=asdict(cfg), fixed=fixed_on_resume)
    return cfg


def _train(loop: type[TrainingLoop], cfg: Any, *, resume: bool) -> int:
    d = setup_distributed(cfg.device)
    run_dir = prepare_run_dir(Path(cfg.out))
    lock = RunLock(run_dir)
    if d.is_main:
        try:  # before the event writer: a refused second trainer must not write into the live run's stream
            lock.acquire()
        except TrainError as exc:
            teardown_distributed()
            print(f"error: {exc}", file=sys.stderr)
            return 2
    writer = EventWriter(run_dir, echo=_echo) if d.is_main else None
    emit = writer or no_emit
    code, message = 0, ""
    try:
        with StopFlag(run_dir) as stop:
            loop.train(cfg, emit=emit, should_stop=stop, resume=resume)
    except TrainError as exc:
        code, message = 2, str(exc)
    except KeyboardInterrupt:
        code, message = 130, "interrupted (a second signal): the last complete checkpoint is kept"
    except OSError as exc:
        code, message = 2, describe_os_error(exc)
    except Exception as exc:  # noqa: BLE001 (a bug or a device failure: one line here, the details in a file)
        code, message = 1, _internal(exc, run_dir, d.rank)
    finally:
        teardown_distributed(synchronize=code == 0)
    if code:
        if d.is_main or code == 1:
            print(f"error: {message}", file=sys.stderr)
        emit("error", message=message)
    if writer is not None:
        writer.close()
        lock.release()
    return code


def _internal(exc: Exception, run_dir: Path, rank: int) -> str:
    text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    if "out of memory" in text.lower():
        return f"out of device memory: lower batch_size or crop_size ({text})"
    name = TRACEBACK_FILE if rank == 0 else f"traceback.rank{rank}.txt"
    try:
        atomic_write_bytes(run_dir / name, traceback.format_exc().encode("utf-8"))
        where = f" (details in {run_dir / name})"
    except OSError:
        where = ""
    return f"{type(exc).__name__}: {text}{where}"


def _echo(event: dict[str, Any]) -> None:
    """Events worth a line on the terminal (and in the GUI's log.txt)."""
    kind = event["type"]
    if kind == "log":
        line = f"{event['level']}: {event['message']}"
    elif kind == "checkpoint":
        line = f"checkpoint step {event['step']}: {event['path']}"
    elif kind == "done":
        line = f"done at step {event['step']} ({event['reason']})"
    else:
        return
    from tqdm import tqdm

    tqdm.write(line, file=sys.stderr)


_watcher: threading.Thread | None = None


def watch_parent() -> threading.Thread | None:
    """Start the watchdog of $I2I_TRAINER_WATCH_PID (once per process; not when it names this process)."""
    global _watcher
    text = os.environ.get(WATCH_ENV, "").strip()
    if _watcher is not None or not text.isdigit() or int(text) in (0, os.getpid()):
        return _watcher
    _watcher = threading.Thread(target=_watch, args=(int(text),), name="watch-parent", daemon=True)
    _watcher.start()
    return _watcher


def _watch(pid: int) -> None:
    while pid_alive(pid):
        time.sleep(WATCH_POLL)
    print(f"stopping: process {pid} that this run depends on ({WATCH_ENV}) is gone", file=sys.stderr, flush=True)
    try:  # the StopFlag's clean stop (checkpoint, "done"); before it is installed, SIGTERM ends the process
        os.kill(os.getpid(), signal.SIGTERM)
    finally:
        time.sleep(WATCH_GRACE)
        os._exit(WATCH_EXIT)
