"""SPADE trainer speed: iterations/s of the small config in one process, and samples/s with 1 vs 2
DDP processes (torchrun; gloo on the CPU, NCCL on GPUs) at the same per-process batch.

The numbers come from the trainer's own "step" events (it_s, samples_s), median over the steps after
a warm-up, so they measure exactly what a user's run reports. The perceptual term is off unless the
VGG-19 weights are installed (as in a user's run on this machine).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from engine.device import pick_device
from trainers.events import EVENTS_FILE, read_events
from trainers.landscapes import write_dataset
from trainers.spade import SpadeConfig, train

REPO = Path(__file__).resolve().parent.parent
WARMUP, STEPS = 3, 12
SMALL = {"ngf": 16, "crop_size": 128, "batch_size": 1, "nhidden": 128}


def _median_rate(events: list[dict], key: str) -> float:
    rates = [e[key] for e in events if e["type"] == "step" and e["step"] > WARMUP]
    return statistics.median(rates)


def one_process(data: Path, out: Path) -> float:
    cfg = SpadeConfig(images=str(data / "images"), labels=str(data / "labels"), out=str(out),
                      total_steps=WARMUP + STEPS, log_every=1, sample_every=10**6, checkpoint_every=10**6, **SMALL)
    events: list[dict] = []
    train(cfg, emit=lambda type_, **f: events.append({"type": type_, **f}), should_stop=lambda: False)
    return _median_rate(events, "it_s")


def ddp(data: Path, out: Path, processes: int) -> float:
    args = [f"--{k}={v}" for k, v in SMALL.items()]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               "-m", "trainers", "spade", "--images", str(data / "images"), "--labels", str(data / "labels"),
               "--out", str(out), "--total_steps", str(WARMUP + STEPS), "--log_every", "1",
               "--sample_every", str(10**6), "--checkpoint_every", str(10**6), *args]
    # the same cores in both runs: one process gets them all, two share them
    threads = max(1, (os.cpu_count() or 1) // processes)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"DDP run with {processes} processes failed: {done.stderr.strip()[-500:]}")
    return _median_rate(read_events(out / EVENTS_FILE), "samples_s")


def main() -> None:
    device = pick_device()
    print(f"device: {device}, torch {torch.__version__}, {os.cpu_count()} CPU cores")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["I2I_STUDIO_DATA"] = tmp  # the runs' catalog entries go to a throw-away catalog
        data = Path(tmp) / "data"
        write_dataset(data, 8, size=(128, 128))
        it_s = one_process(data, Path(tmp) / "single")
        print(f"SPADE trainer, ngf 16, 128x128, batch 1, median of {STEPS} steps after {WARMUP} warm-up:")
        print(f"  one process              {it_s:8.2f} it/s  ({1 / it_s:.2f} s/it)")
        s1 = ddp(data, Path(tmp) / "ddp1", 1)
        s2 = ddp(data, Path(tmp) / "ddp2", 2)
        backend = "nccl" if device.type == "cuda" else "gloo"
        print(f"  torchrun, 1 process      {s1:8.2f} samples/s")
        print(f"  torchrun, 2 processes    {s2:8.2f} samples/s   ratio {s2 / s1:.2f} ({backend}, batch 1 each)")


if __name__ == "__main__":
    main()
