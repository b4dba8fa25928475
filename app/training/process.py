"""Trainer processes: start, stop, resume and check on a run folder (QProcess only, no threads).

A run folder holds config.json (what the GUI asked for), run.json and events.jsonl (written by the
trainer), log.txt (the processes' stdout and stderr) and launch.json (how the GUI last started it:
pid, process count, GPUs), so Resume and liveness still work after the app restarts. Runs are
started detached: the app may quit at any time, and the run only stops through RUN/STOP.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QProcess, QProcessEnvironment

from app.engine_bridge import EngineBridge
from engine.storage import atomic_write_json, pid_alive
from trainers.events import RUN_FILE, STOP_FILE

REPO_ROOT = Path(__file__).resolve().parents[2]  # `-m trainers` must import from here
CONFIG_FILE = "config.json"
LOG_FILE = "log.txt"
LAUNCH_FILE = "launch.json"


@dataclass(frozen=True)
class Launch:
    """How to start a run's processes; kept in RUN/launch.json so Resume starts it the same way."""

    method: str
    processes: int = 1  # > 1: one process per GPU through torch.distributed.run
    gpus: str = ""  # CUDA_VISIBLE_DEVICES for the run, e.g. "0,1"; "" inherits the app's


def runs_dir() -> Path:
    """Default parent of run folders: <user data>/runs."""
    return EngineBridge.data_dir() / "runs"


def trainer_command(launch: Launch, args: list[str]) -> list[str]:
    """The full command line (python first) for `python -m trainers <method> ARGS`."""
    module = ["-m", "trainers", launch.method, *args]
    if launch.processes > 1:
        # --standalone: a private rendezvous on a free port, so two runs on one machine never collide.
        return [sys.executable, "-m", "torch.distributed.run", "--standalone",
                f"--nproc_per_node={launch.processes}", *module]
    return [sys.executable, *module]


def trainer_process(launch: Launch, args: list[str]) -> QProcess:
    """A QProcess set up to run the trainer CLI from the repository, not yet started."""
    command = trainer_command(launch, args)
    process = QProcess()
    process.setProgram(command[0])
    process.setArguments(command[1:])
    process.setWorkingDirectory(str(REPO_ROOT))
    env = QProcessEnvironment.systemEnvironment()
    for name, value in _environment(launch).items():
        env.insert(name, value)
    process.setProcessEnvironment(env)
    return process


def _environment(launch: Launch) -> dict[str, str]:
    """What a trainer process needs on top of the app's environment."""
    env = {"PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p),
           "PYTHONUNBUFFERED": "1"}  # log.txt follows the run line by line
    if launch.gpus:
        env["CUDA_VISIBLE_DEVICES"] = launch.gpus
    return env


def start_run(run_dir: Path, config: dict[str, Any], launch: Launch) -> int:
    """Write RUN/config.json and start the trainer on it, detached; returns its pid. Raises OSError."""
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(run_dir / CONFIG_FILE, config)
    return _start_detached(run_dir, launch, ["--config", str(run_dir / CONFIG_FILE)])


def resume_run(run_dir: Path) -> int:
    """Continue a run from its last checkpoint, started the way it was last started. Raises OSError."""
    launch = read_launch(run_dir) or _launch_from_run_json(run_dir)
    (run_dir / STOP_FILE).unlink(missing_ok=True)  # a stop request left over would end it at once
    return _start_detached(run_dir, launch, ["--out", str(run_dir), "--resume"])


def request_stop(run_dir: Path) -> None:
    """Ask the run to save a checkpoint and stop (the trainer polls for RUN/STOP)."""
    (run_dir / STOP_FILE).touch()


def stop_requested(run_dir: Path) -> bool:
    return (run_dir / STOP_FILE).exists()


def read_launch(run_dir: Path) -> Launch | None:
    data = _read_json(run_dir / LAUNCH_FILE)
    if not data or "method" not in data:
        return None
    return Launch(str(data["method"]), int(data.get("processes", 1)), str(data.get("gpus", "")))


def _launch_from_run_json(run_dir: Path) -> Launch:
    """How to resume a run the GUI never started (from a shell): its method and process count."""
    data = _read_json(run_dir / RUN_FILE) or {}
    method = data.get("method")
    if not isinstance(method, str) or not method:
        raise OSError(f"{run_dir / RUN_FILE} does not say which trainer made this run")
    return Launch(method, int(data.get("world_size") or 1))


def run_alive(run_dir: Path) -> bool | None:
    """Whether the process the GUI last started for this run still lives; None if the GUI never
    started one (a run started from a shell: only its events can tell)."""
    pid = (_read_json(run_dir / LAUNCH_FILE) or {}).get("pid")
    return pid_alive(pid) if isinstance(pid, int) and pid > 0 else None




# The detached process's first lines (`python -u -c`): output to RUN/log.txt, the environment, then
# `python -m MODULE ARGS` in this same process (so the pid we keep is the trainer's). Needed because
# PySide6 6.12's QProcess.startDetached() method drops the pid; the static one returns it but cannot
# redirect output or set the environment, so the child does both itself.
_BOOTSTRAP = """\
import json, os, runpy, sys
log, env, module, *args = sys.argv[1:]
out = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
os.dup2(out, 1)
os.dup2(out, 2)
os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
os.environ.update(json.loads(env))
sys.argv = [module, *args]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def _start_detached(run_dir: Path, launch: Launch, args: list[str]) -> int:
    python, _, module, *module_args = trainer_command(launch, args)  # python -m MODULE ARGS
    command = shlex.join([python, "-m", module, *module_args])
    log = run_dir / LOG_FILE
    with open(log, "a", encoding="utf-8") as f:
        f.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')}  {command}\n")
    started, pid = QProcess.startDetached(
        python, ["-u", "-c", _BOOTSTRAP, str(log), json.dumps(_environment(launch)), module, *module_args],
        str(REPO_ROOT))
    if not started:
        raise OSError(f"could not start the trainer: {command}")
    data = {**asdict(launch), "pid": pid, "started": time.time(), "command": command}
    atomic_write_json(run_dir / LAUNCH_FILE, data)
    return pid


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
