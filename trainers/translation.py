"""What the unpaired translation trainers (CycleGAN, CUT / FastCUT, SinCUT; thesis ch. 3) share: starting or
resuming a run, the image pool, logging, sample grids, and checkpoints of ImageToImage models registered in
the catalog.

A method subclasses `TranslationLoop` (its networks, one iteration, its sample rows, its model file and
training state) and hands it to trainers.stepping.drive with a stream of batches.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from engine.api import Task
from trainers.checkpointing import save_checkpoint, step_stem
from trainers.common import (
    Emit,
    TrainError,
    no_emit,
    now_iso,
    save_grid,
)
from trainers.datasets import LOAD_RATIO, PhotoFolder
from trainers.distributed import Dist, Precision, gather_rows, mean_over_ranks, restore_rng, rng_rows
from trainers.stepping import checkpoint_on_main

TASK = Task.IMAGE_TO_IMAGE.value
LICENSE = "ours (trained by the user with I2I Studio)"
SAMPLE_ROWS = 4
COMMON_POSITIVE = ("crop_size", "total_steps", "batch_size", "ngf", "n_blocks", "log_every", "sample_every",
                   "checkpoint_every", "keep_checkpoints")


def check_options(cfg: Any, positive: tuple[str, ...] = COMMON_POSITIVE) -> None:
    """The checks every translation config needs; each problem is one TrainError line."""
    for name in positive:
        if getattr(cfg, name) < 1:
            raise TrainError(f"{name} must be at least 1")
    if cfg.crop_size % 4:
        raise TrainError(f"crop_size must be a multiple of 4 (the generator downsamples twice), got {cfg.crop_size}")
    if cfg.decay_steps is not None and not 0 <= cfg.decay_steps <= cfg.total_steps:
        raise TrainError(f"decay_steps must be between 0 and total_steps ({cfg.total_steps}), got {cfg.decay_steps}")
    if cfg.lr <= 0:
        raise TrainError("lr must be positive")


# --- the image pool -----------------------------------------------------------------------------------


class ImagePool:
    """Shrivastava et al.'s history of translations (thesis ch. 3.2.4): the discriminator sees, per image,
    either the newest translation or, with probability 1/2 once the pool is full, a stored one that the
    newest replaces. Draws come from torch's CPU generator, which checkpoints save, so resuming is exact."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.images: list[Tensor] = []

    def query(self, batch: Tensor) -> Tensor:
        if self.size == 0:
            return batch
        out = []
        for image in batch.detach().float():
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand(()) < 0.5:
                i = int(torch.randint(self.size, ()))
                out.append(self.images[i])
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

    def gathered(self, d: Dist) -> Tensor | None:
        """Every rank's pool as (world_size, n, C, H, W) on the CPU (a collective: call it on every rank)."""
        if not self.images:
            return None
        stacked = torch.stack(self.images)
        return gather_rows(stacked.flatten(), d).view(-1, *stacked.shape)

    def restore(self, rows: Tensor | None, d: Dist) -> bool:
        """This rank's saved images; False when the run was saved with fewer processes (the pool starts empty)."""
        if rows is None:
            return True
        if d.rank >= rows.shape[0]:
            return False
        self.images = [image.to(d.device) for image in rows[d.rank]]
        return True


# --- the loop -----------------------------------------------------------------------------------------


class TranslationLoop:
    """A run's state from step to step: losses to log, samples, checkpoints. Subclasses set the networks,
    `optimizers` (name -> optimizer, for the lr in step events), `schedulers`, and implement
    `iteration`, `sample_rows`, `model_file` and `training_state`."""

    recipe = ""
    sample_caption = ""
    arch_method = ""  # the engine architecture of the model files (the catalog entry's method)
    task = TASK  # the catalog entry's task

    def __init__(self, cfg: Any, d: Dist, run_dir: Path, *, precision: Precision, step: int,
                 model_id: str | None, default_id: str) -> None:
        self.cfg, self.d, self.run_dir = cfg, d, run_dir
        self.name = cfg.name or run_dir.name
        self.precision = precision
        self.step = step
        self.model_id = model_id  # the run's catalog entry, once it has one
        self.default_id = default_id  # the id asked for at the first checkpoint
        self.emit: Emit = no_emit
        self.last_logged: dict[str, float] | None = None
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: list[torch.optim.lr_scheduler.LRScheduler] = []
        self._sums: dict[str, Tensor] = {}
        self._counts: dict[str, int] = {}
        self._clock = (time.perf_counter(), step)
        self._reported: set[str] = set()

    def restore_gan_state(self, state: Mapping[str, Any]) -> bool:
        """Load what a G/D trainer (one with scaler_G / scaler_D) saved: both optimisers, their schedulers, the
        grad scalers and the random streams. False when the streams are new (saved with fewer processes)."""
        self.optimizers["G"].load_state_dict(state["optimizer_G"])
        self.optimizers["D"].load_state_dict(state["optimizer_D"])
        for scheduler, key in zip(self.schedulers, ("scheduler_G", "scheduler_D"), strict=True):
            scheduler.load_state_dict(state[key])
        for scaler, key in ((self.scaler_G, "scaler_G"), (self.scaler_D, "scaler_D")):
            if scaler is not None and state.get(key):
                scaler.load_state_dict(state[key])
        return restore_rng(state["rng"], self.d)

    # --- what a method supplies ------------------------------------------------------------------------

    def iteration(self, batch: dict[str, Any], epoch: int) -> None:
        raise NotImplementedError

    def sample_rows(self) -> list[list[np.ndarray]]:
        raise NotImplementedError

    def model_file(self) -> tuple[dict[str, Tensor], dict[str, dict[str, Tensor]], dict[str, Any]]:
        """(the main state dict, companion parts, hparams) of the model file."""
        raise NotImplementedError

    def training_state(self) -> dict[str, Any]:
        """What resuming needs besides the model file and the RNG (a collective: called on every rank)."""
        raise NotImplementedError

    def size_rule(self, hparams: Mapping[str, Any]) -> str:
        raise NotImplementedError

    def data_description(self) -> str:
        raise NotImplementedError

    # --- shared --------------------------------------------------------------------------------------

    def finish_step(self, losses: Mapping[str, Tensor], epoch: int) -> None:
        """After the optimiser steps: advance the schedules and the step, add the losses, log when due."""
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
        lr = {name: opt.param_groups[0]["lr"] for name, opt in self.optimizers.items()}
        self.emit("step", step=self.step, epoch=epoch, losses=self.last_logged, lr=lr, it_s=round(it_s, 4),
                  samples_s=round(it_s * self.cfg.batch_size * self.d.world_size, 4),
                  eta_s=round((self.cfg.total_steps - self.step) / it_s, 1) if it_s > 0 else None)

    def report_skipped(self, skipped: list[str] | str) -> None:
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
        self.emit("sample", step=self.step, path=rel, caption=self.sample_caption)

    def checkpoint(self) -> Path:
        """Write the pair (rank 0; every rank contributes its RNG state and pools) and refresh the catalog
        entry. All ranks learn whether it worked, so a full disk stops every process with the same message."""
        shared = {**self.training_state(), "rng": rng_rows(self.d)}
        return checkpoint_on_main(self.d, self.run_dir, self.step, lambda: self._write(shared))

    def _write(self, state: dict[str, Any]) -> Path:
        cfg, date = self.cfg, now_iso()
        model, parts, hparams = self.model_file()
        data = self.data_description()
        provenance = {"run": str(self.run_dir.resolve()), "step": self.step, "data": data, "date": date,
                      "recipe": self.recipe, "config": asdict(cfg)}
        metadata = {"method": self.arch_method, "name": self.name, "hparams": hparams, "license": LICENSE,
                    "provenance": provenance}
        path, model_id = save_checkpoint(
            self.run_dir, step=self.step, model=model, metadata=metadata, parts=parts,
            state={"step": self.step, **state}, model_id=self.model_id, default_id=self.default_id,
            keep=cfg.keep_checkpoints, emit=self.emit,
            listing={"run_name": self.name, "method": self.arch_method, "task": self.task,
                     "size_rule": self.size_rule(hparams), "license": LICENSE, "hparams": hparams, "classes": [],
                     "palette": "", "added": date, "notes": f"step {self.step} of run {self.name}, {data}, {date[:10]}"})
        self.model_id = model_id or self.model_id  # later checkpoints refresh this entry
        return path


def translation_load_size(cfg: Any) -> int:
    """The short side photos are scaled to before the random crop: load_size, or the official 286 / 256 of it."""
    return cfg.load_size or round(cfg.crop_size * LOAD_RATIO)


def fixed_photos(paths: list[Path], crop_size: int) -> Tensor:
    """Centre crops of SAMPLE_ROWS photos spread over the (sorted) folder, for samples: neighbours often
    look alike."""
    picked = [paths[i * len(paths) // SAMPLE_ROWS] for i in range(min(SAMPLE_ROWS, len(paths)))]
    fixed = PhotoFolder(picked, crop_size=crop_size, augment=False)
    return torch.stack([fixed[i]["image"] for i in range(len(fixed))])


def to_uint8(image: Tensor) -> np.ndarray:
    """(3, H, W) in [-1, 1] -> HxWx3 uint8."""
    return ((image.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()


def parse_layers(text: str) -> list[int]:
    """"0,4,8,12,16" -> [0, 4, 8, 12, 16]; TrainError for anything else."""
    try:
        layers = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise TrainError(f"nce_layers must be comma-separated layer numbers such as 0,4,8,12,16, got {text!r}") from None
    if not layers or any(i < 0 for i in layers) or len(set(layers)) != len(layers):
        raise TrainError(f"nce_layers must name distinct layers (0 or more), got {text!r}")
    return layers
