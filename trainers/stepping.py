"""How every trainer runs: the start of a run, the step loop, and the batch streams it consumes.

`begin_run` checks a run folder before anything is built (a resume needs a checkpoint, a new run an empty
folder) and writes run.json. A trainer's loop object does one iteration, a sample grid and a checkpoint;
`drive` runs it to total_steps or a stop request (asked of every rank, so all stop at the same step),
sampling and checkpointing on schedule and once more at the end, and emits "done"; `checkpoint_on_main`
lets every rank learn whether rank 0 wrote the checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

import torch
from torch.utils.data import DataLoader, DistributedSampler

from engine.errors import describe_os_error
from trainers.checkpointing import CHECKPOINT_DIR, ResumePoint, find_resume_point, remove_leftovers, step_stem
from trainers.common import Emit, Progress, TrainError, write_run_json
from trainers.distributed import Dist, any_rank, barrier
from trainers.events import STOP_FILE

Batches = Iterator[tuple[dict[str, Any], int]]  # (batch, epoch)


class Schedule(Protocol):
    total_steps: int
    sample_every: int
    checkpoint_every: int


class SteppedLoop(Protocol):
    cfg: Schedule
    d: Dist
    step: int
    last_logged: dict[str, float] | None
    emit: Emit

    def iteration(self, batch: dict[str, Any], epoch: int) -> None: ...
    def sample(self) -> None: ...
    def checkpoint(self) -> Path: ...


def begin_run(cfg: Any, d: Dist, run_dir: Path, *, method: str, resume: bool) -> tuple[ResumePoint | None, list[str]]:
    """The checkpoint to resume from (None for a new run) and the start notes; writes run.json (rank 0).

    Refuses to resume a run without a checkpoint, and to start afresh in a folder that holds one."""
    point = find_resume_point(run_dir)
    if resume and point is None:
        raise TrainError(f"nothing to resume: {run_dir / CHECKPOINT_DIR} has no complete checkpoint")
    if not resume and point is not None:
        raise TrainError(f"{run_dir} already holds a run (checkpoint step {point.step}): pass --resume to "
                         "continue it, or choose another run folder")
    notes: list[str] = []
    if d.is_main:
        if removed := remove_leftovers(run_dir, after_step=point.step if point else -1):
            notes.append(f"removed {len(removed)} files left by an interrupted run: {', '.join(removed[:5])}")
        write_run_json(run_dir, method=method, config=asdict(cfg), world_size=d.world_size)
        (run_dir / STOP_FILE).unlink(missing_ok=True)  # a stop request left from before would end this run at once
    barrier(d)
    return point, notes


def drive(loop: SteppedLoop, batches: Batches, *, point: ResumePoint | None,
          should_stop: Callable[[], bool]) -> Path | None:
    """Run `loop` on `batches` to total_steps or a stop request; sample and checkpoint on schedule and at
    the end. Emits "done"; returns the final model checkpoint."""
    cfg, d = loop.cfg, loop.d
    progress = Progress(total=cfg.total_steps, initial=loop.step, enabled=d.is_main)
    stopped = False
    last_saved, saved_step = (point.model, point.step) if point else (None, -1)
    try:
        if loop.step < cfg.total_steps:
            for batch, epoch in batches:
                loop.iteration(batch, epoch)
                progress.update(loop.step, loop.last_logged)
                if loop.step % cfg.sample_every == 0 and d.is_main:
                    loop.sample()
                if loop.step % cfg.checkpoint_every == 0:
                    last_saved, saved_step = loop.checkpoint(), loop.step
                stopped = any_rank(should_stop(), d)
                if stopped or loop.step >= cfg.total_steps:
                    break
        if saved_step != loop.step:  # the final state, unless the last step was just saved
            if d.is_main and loop.step % cfg.sample_every:
                loop.sample()
            last_saved = loop.checkpoint()
    finally:
        progress.close()
    loop.emit("done", step=loop.step, reason="stopped" if stopped else "finished")
    return last_saved


def checkpoint_on_main(d: Dist, run_dir: Path, step: int, write: Callable[[], Path]) -> Path:
    """Run `write` (the checkpoint pair, written by rank 0 only) and tell every rank whether it worked, so a full
    disk stops every process with the same message. Returns the model file's path (on every rank)."""
    failure, path = "", run_dir / CHECKPOINT_DIR / f"{step_stem(step)}.safetensors"
    if d.is_main:
        try:
            path = write()
        except OSError as exc:
            previous = find_resume_point(run_dir)
            kept = f"checkpoint step {previous.step} is kept" if previous else "no earlier checkpoint"
            failure = f"could not write the checkpoint of step {step} ({describe_os_error(exc)}); {kept}"
    if any_rank(bool(failure), d):
        raise TrainError(failure or "rank 0 could not write the checkpoint")
    return path


def epoch_batches(dataset: Any, *, batch_size: int, workers: int, seed: int, d: Dist, start_step: int,
                  items: str = "photos") -> Batches:
    """Batches of a dataset keyed (index, epoch), epoch after epoch, from `start_step` on.

    The order is a function of (seed, epoch) and each sample of (seed, epoch, index), so a resumed run
    sees exactly the batches the uninterrupted one would have. `items` names the examples in the error."""
    sampler = DistributedSampler(dataset, num_replicas=d.world_size, rank=d.rank, shuffle=True, seed=seed)
    steps_per_epoch = len(sampler) // batch_size
    if steps_per_epoch == 0:
        raise TrainError(f"{len(dataset)} {items} are too few for batch_size {batch_size} x {d.world_size} processes")

    def stream() -> Batches:
        step = start_step
        while True:
            epoch, offset = divmod(step, steps_per_epoch)
            sampler.set_epoch(epoch)
            indices = list(sampler)
            batches = [[(i, epoch) for i in indices[k:k + batch_size]]
                       for k in range(0, steps_per_epoch * batch_size, batch_size)]
            # its own generator: creating a loader must not draw from the global RNG the run resumes
            loader = DataLoader(dataset, batch_sampler=batches[offset:], num_workers=workers,
                                pin_memory=d.device.type == "cuda", generator=torch.Generator())
            for batch in loader:
                yield batch, epoch
                step += 1

    return stream()


def step_batches(dataset: Any, *, workers: int, d: Dist, start_step: int, total_steps: int) -> Batches:
    """Batches of a dataset keyed by the step itself (one endless stream of crops: epoch 0)."""
    loader = DataLoader(dataset, sampler=range(start_step, total_steps), batch_size=None, num_workers=workers,
                        pin_memory=d.device.type == "cuda", generator=torch.Generator())
    return ((batch, 0) for batch in loader)
