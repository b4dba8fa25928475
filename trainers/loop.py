"""The loop every trainer runs. A trainer subclasses `TrainingLoop` with what is its own: the options' checks
(`check`), its data (`scan`), its networks (`build`), one iteration, its sample rows, its model file and the
parts of its training state. The base does the rest the same way for all: the run's start and resume, loss
events, sample grids, checkpoints published to the catalog, and restoring the state.

A trainer module names its subclass `LOOP` (trainers.registry imports it by that name) and offers
`train = LOOP.train` and `validate = LOOP.validate`, the plain functions tests and scripts call.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self

import numpy as np
import torch
from torch import Tensor

from engine.api import Task
from trainers.checkpointing import ResumePoint, read_state, save_checkpoint, step_stem
from trainers.common import Emit, TrainError, no_emit, now_iso, prepare_run_dir, save_grid
from trainers.configs import RUN_COUNTS, RunConfig
from trainers.datasets import PhotoFolder
from trainers.distributed import (
    Dist,
    choose_precision,
    mean_over_ranks,
    optimizer_step,
    restore_rng,
    rng_rows,
    setup_distributed,
)
from trainers.registry import spec_of
from trainers.stepping import Batches, begin_run, checkpoint_on_main, drive, epoch_batches

LICENSE = "ours (trained by the user with I2I Studio)"
SAMPLE_ROWS = 4
Summary = dict[str, Any]  # a dataset check: counts, sizes, "errors" and "warnings" (the --validate-only JSON)
ModelFile = tuple[dict[str, Tensor], dict[str, dict[str, Tensor]], dict[str, Any]]  # state dict, parts, hparams


class ModelModule(Protocol):
    """What the loop needs of the engine's module of the architecture it trains (engine.models.<method>)."""

    METHOD: str  # the catalog entry's method

    def size_rule(self, hparams: Mapping[str, Any]) -> str: ...


def check_run_options(cfg: RunConfig) -> None:
    """The checks every run's options need, whatever the trainer: one TrainError line each."""
    for name in RUN_COUNTS:
        if getattr(cfg, name) < 1:
            raise TrainError(f"{name} must be at least 1")


class TrainingLoop:
    """A run's state from step to step. `build` sets the networks, `optimizers` (name -> optimizer: the lr in
    step events, `update(name, loss)`), their `schedulers`, `dataset`, `notes` for the start event and
    `warnings` to log after it."""

    arch: ClassVar[ModelModule]
    task: ClassVar[Task]  # the catalog entry's task
    fixed_on_resume: ClassVar[tuple[str, ...]] = ()  # options that shape the saved state: a resume keeps them
    export: ClassVar[Callable[[Path, Path], list[Path]] | None] = None  # (run or checkpoint, folder) -> files
    export_help = ""  # what `python -m trainers <method> export` writes
    items = "photos"  # what the dataset holds, for "N photos are too few"
    recipe = ""
    sample_caption = ""  # what the columns of a sample grid show (none: SPADE's label map | generated | real)
    lost_on_fewer_processes = "new random streams"  # what a resume with more processes than saved starts afresh

    def __init__(self, cfg: Any, d: Dist, run_dir: Path, *, point: ResumePoint | None,
                 state: Mapping[str, Any] | None) -> None:
        """Call after the networks are made from cfg.seed (the same on every rank)."""
        self.cfg, self.d, self.run_dir = cfg, d, run_dir
        self.name = cfg.name or run_dir.name
        self.precision = choose_precision(d.device, cfg.amp)
        if d.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # a fixed crop size: let cuDNN pick its fastest kernels
        torch.manual_seed(cfg.seed + d.rank)  # per-rank noise, crops and draws from here on
        self.step = int(state["step"]) if state else 0
        self.model_id: str | None = point.info.get("model_id") if point else None  # the run's catalog entry
        self.default_id: str | None = None  # the id asked for at the first checkpoint (None: <method>-<run>)
        self.emit: Emit = no_emit
        self.notes: list[str] = []
        self.warnings: list[str] = []
        self.last_logged: dict[str, float] | None = None
        self.optimizers: dict[str, torch.optim.Optimizer | None] = {}
        self.schedulers: list[torch.optim.lr_scheduler.LRScheduler] = []
        self.scalers: dict[str, torch.amp.GradScaler | None] = {}
        self.dataset: Any = None
        self._sums: dict[str, Tensor] = {}
        self._counts: dict[str, int] = {}
        self._clock = (time.perf_counter(), self.step)
        self._reported: set[str] = set()

    # --- what a trainer supplies ------------------------------------------------------------------------

    @staticmethod
    def check(cfg: Any) -> Any:
        """Check the trainer's options against each other (one TrainError line each); returns what they make of
        a run, its plan."""
        raise NotImplementedError

    @staticmethod
    def scan(cfg: Any, plan: Any) -> tuple[Any, Summary]:
        """(what training reads, the dataset check's summary) for the config's data."""
        raise NotImplementedError

    @classmethod
    def build(cls, cfg: Any, plan: Any, data: Any, d: Dist, run_dir: Path, point: ResumePoint | None,
              state: Mapping[str, Any] | None) -> Self:
        """Networks (the model file's weights from `point`), optimisers and the dataset. The training state,
        when resuming, is restored after, from `state_parts`."""
        raise NotImplementedError

    def iteration(self, batch: dict[str, Any], epoch: int) -> None:
        """One training step, ending with `finish_step`."""
        raise NotImplementedError

    def sample_rows(self) -> list[list[np.ndarray]]:
        raise NotImplementedError

    def model_file(self) -> ModelFile:
        raise NotImplementedError

    def data_description(self) -> str:
        """The data, for the catalog entry's notes and the provenance."""
        raise NotImplementedError

    def state_parts(self) -> dict[str, Any]:
        """What resuming restores besides the model file and the RNG, by its key in the state file: objects with
        state_dict / load_state_dict, or None. By default each optimiser, its scheduler and its grad scaler as
        optimizer_<name>, scheduler_<name>, scaler_<name>."""
        names = list(self.optimizers)
        schedulers = zip(names, self.schedulers, strict=True) if self.schedulers else ()
        return {**{f"optimizer_{n}": self.optimizers[n] for n in names},
                **{f"scheduler_{n}": scheduler for n, scheduler in schedulers},
                **{f"scaler_{n}": self.scalers.get(n) for n in names}}

    def batches(self) -> Batches:
        return epoch_batches(self.dataset, batch_size=self.cfg.batch_size, workers=self.cfg.workers,
                             seed=self.cfg.seed, d=self.d, start_step=self.step, items=self.items)

    def data_provenance(self) -> dict[str, Any]:
        """What the model file's provenance says of the data."""
        return {"data": self.data_description()}

    def labels(self) -> dict[str, Any]:
        """A label-map model's "palette" and "classes" (metadata and catalog entry)."""
        return {}

    # --- running a trainer --------------------------------------------------------------------------------

    @classmethod
    def plan_of(cls, cfg: Any) -> Any:
        """The run options' checks, then the trainer's: the plan."""
        check_run_options(cfg)
        return cls.check(cfg)

    @classmethod
    def validate(cls, cfg: Any) -> Summary:
        """The `--validate-only` summary of the config's data."""
        return cls.scan(cfg, cls.plan_of(cfg))[1]

    @classmethod
    def train(cls, cfg: Any, *, emit: Emit, should_stop: Callable[[], bool], resume: bool = False) -> Path:
        """Train (or continue, with resume) the run in cfg.out; returns the final model checkpoint."""
        d = setup_distributed(cfg.device)
        run_dir = prepare_run_dir(Path(cfg.out))
        plan = cls.plan_of(cfg)
        data, summary = cls.scan(cfg, plan)
        if summary["errors"]:
            raise TrainError("; ".join(summary["errors"]))
        method = spec_of(cfg).method
        point, notes = begin_run(cfg, d, run_dir, method=method, resume=resume)
        state = read_state(point.state) if point is not None else None
        loop = cls.build(cfg, plan, data, d, run_dir, point, state)
        notes[:0] = [f"precision: {loop.precision.name}", *loop.notes]
        if state is not None:
            same = loop.restore(state)
            notes.append(f"resumed from step {state['step']}" + (
                "" if same else f" ({loop.lost_on_fewer_processes}: the run was saved with fewer processes)"))
        emit("start", step=loop.step, total_steps=cfg.total_steps, method=method, world_size=d.world_size,
             device=str(d.device), config=asdict(cfg), notes=notes)
        loop.emit = emit
        for warning in (*loop.warnings, *summary["warnings"]):
            emit("log", level="warning", message=warning)
        return drive(loop, loop.batches(), point=point, should_stop=should_stop)

    # --- shared by every step -----------------------------------------------------------------------------

    def update(self, name: str, loss: Tensor) -> None:
        """Backward and step optimiser `name`, through its grad scaler when fp16 needs one."""
        optimizer_step(loss, self.optimizers[name], self.scalers.get(name))

    def finish_step(self, losses: Mapping[str, Tensor], epoch: int) -> None:
        """After the optimiser steps: advance the schedules and the step, add the losses, log when due."""
        with warnings.catch_warnings():  # fp16's GradScaler skips steps with inf gradients: the schedule
            warnings.simplefilter("ignore", UserWarning)  # still follows the iterations, as intended
            for scheduler in self.schedulers:
                scheduler.step()
        self.step += 1
        for key, value in losses.items():
            self._sums[key] = self._sums.get(key, 0) + value.detach().float()
            self._counts[key] = self._counts.get(key, 0) + 1
        if self.step % self.cfg.log_every == 0 or self.step == self.cfg.total_steps:
            self._log(epoch)

    def _log(self, epoch: int) -> None:
        names = list(self._sums)
        means = torch.stack([self._sums[k] / self._counts[k] for k in names])
        values = mean_over_ranks(means, self.d).tolist()
        now = time.perf_counter()
        it_s = (self.step - self._clock[1]) / max(now - self._clock[0], 1e-9)
        self._clock, self._sums, self._counts = (now, self.step), {}, {}
        self.last_logged = dict(zip(names, values, strict=True))
        lr = {name: opt.param_groups[0]["lr"] for name, opt in self.optimizers.items() if opt is not None}
        self.emit("step", step=self.step, epoch=epoch, losses=self.last_logged, lr=lr, it_s=round(it_s, 4),
                  samples_s=round(it_s * self.cfg.batch_size * self.d.world_size, 4),
                  eta_s=round((self.cfg.total_steps - self.step) / it_s, 1) if it_s > 0 else None)

    def report_skipped(self, skipped: list[str] | str) -> None:
        """Warn once per unreadable file a batch skipped."""
        for text in [skipped] if isinstance(skipped, str) else skipped:
            for item in filter(None, text.split("; ")):
                if item not in self._reported:
                    self._reported.add(item)
                    self.emit("log", level="warning", message=f"skipped an unreadable file: {item}")

    def sample(self) -> None:
        """RUN/samples/step_N.png, one row per example, the columns as `sample_caption` says."""
        rel = f"samples/{step_stem(self.step)}.png"
        with torch.no_grad():
            save_grid(self.run_dir / rel, self.sample_rows())
        caption = {"caption": self.sample_caption} if self.sample_caption else {}
        self.emit("sample", step=self.step, path=rel, **caption)

    # --- checkpoints and resuming --------------------------------------------------------------------------

    def training_state(self) -> dict[str, Any]:
        """What resuming needs besides the model file and the RNG (a collective: called on every rank)."""
        return {key: part.state_dict() if part is not None else None for key, part in self.state_parts().items()}

    def restore(self, state: Mapping[str, Any]) -> bool:
        """Load `state_parts` and the random streams from a state file; False when the streams are new (the run
        was saved with fewer processes)."""
        for key, part in self.state_parts().items():
            if part is not None and state.get(key):
                part.load_state_dict(state[key])
        return restore_rng(state["rng"], self.d)

    def checkpoint(self) -> Path:
        """Write the pair (rank 0; every rank contributes its RNG state) and refresh the catalog entry. All ranks
        learn whether it worked, so a full disk stops every process with the same message."""
        shared = {**self.training_state(), "rng": rng_rows(self.d)}
        return checkpoint_on_main(self.d, self.run_dir, self.step, lambda: self._write(shared))

    def _write(self, state: dict[str, Any]) -> Path:
        date, method, labels = now_iso(), self.arch.METHOD, self.labels()
        model, parts, hparams = self.model_file()
        provenance = {"run": str(self.run_dir.resolve()), "step": self.step, **self.data_provenance(), "date": date,
                      "recipe": self.recipe, "config": asdict(self.cfg)}
        metadata = {"method": method, "name": self.name, "hparams": hparams, **labels, "license": LICENSE,
                    "provenance": provenance}
        notes = f"step {self.step} of run {self.name}, {self.data_description()}, {date[:10]}"
        path, model_id = save_checkpoint(
            self.run_dir, step=self.step, model=model, metadata=metadata, parts=parts,
            state={"step": self.step, **state}, model_id=self.model_id, default_id=self.default_id,
            keep=self.cfg.keep_checkpoints, emit=self.emit,
            listing={"run_name": self.name, "method": method, "task": self.task.value,
                     "size_rule": self.arch.size_rule(hparams), "license": LICENSE, "hparams": hparams,
                     "classes": labels.get("classes", []), "palette": labels.get("palette", ""), "added": date,
                     "notes": notes})
        self.model_id = model_id or self.model_id  # later checkpoints refresh this entry
        return path


# --- sample helpers --------------------------------------------------------------------------------------


def spread(items: list[Any], count: int = SAMPLE_ROWS) -> list[Any]:
    """Up to `count` items spread over a (sorted) list, for samples: neighbours often look alike."""
    return [items[i * len(items) // count] for i in range(min(count, len(items)))]


def fixed_photos(paths: list[Path], crop_size: int) -> Tensor:
    """Centre crops of SAMPLE_ROWS photos spread over the folder, for samples."""
    fixed = PhotoFolder(spread(paths), crop_size=crop_size, augment=False)
    return torch.stack([fixed[i]["image"] for i in range(len(fixed))])


def to_uint8(image: Tensor) -> np.ndarray:
    """(3, H, W) in [-1, 1] -> HxWx3 uint8."""
    return ((image.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()
