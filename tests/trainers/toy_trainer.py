"""A test-only trainer: the toy architecture of tests/toy_arch.py learning to copy photos. Its loop says only what is
its own (networks, one iteration, samples, the model file); the command line, events, checkpoints, the catalog entry
and resuming come from trainers.loop. With the toy architecture registered, what it publishes loads in the engine."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from engine.api import Task
from engine.checkpoints import read_checkpoint
from tests.toy_arch import ARCHITECTURE, METHOD, ToyNet
from tests.trainers.toy_config import ToyConfig
from trainers.checkpointing import ResumePoint
from trainers.common import TrainError
from trainers.datasets import PhotoFolder, scan_images
from trainers.distributed import Dist, seed_everything, wrap_ddp
from trainers.loop import ModelFile, Summary, TrainingLoop, fixed_photos, to_uint8


def check(cfg: ToyConfig) -> None:
    if cfg.width < 1 or cfg.crop_size < 1:
        raise TrainError("width and crop_size must be at least 1")


def scan(cfg: ToyConfig, plan: None) -> tuple[list[Path], Summary]:
    return scan_images(Path(cfg.images), crop_size=cfg.crop_size, max_images=None)


class ToyLoop(TrainingLoop):
    arch = SimpleNamespace(METHOD=METHOD, size_rule=ARCHITECTURE.size_rule)
    task = Task.IMAGE_TO_IMAGE
    fixed_on_resume = ("width", "crop_size", "seed", "batch_size")
    sample_caption = "photo | copy"
    check = staticmethod(check)
    scan = staticmethod(scan)

    @classmethod
    def build(cls, cfg: ToyConfig, plan: None, data: list[Path], d: Dist, run_dir: Path, point: ResumePoint | None,
              state: Mapping[str, Any] | None) -> ToyLoop:
        seed_everything(cfg.seed)
        net = ToyNet(cfg.width)
        if point is not None:
            net.load_state_dict(read_checkpoint(point.model).state_dict)
        net.to(d.device)
        loop = cls(cfg, d, run_dir, point=point, state=state)
        loop.net, loop.model = net, wrap_ddp(net, d)
        loop.optimizers = {"G": torch.optim.Adam(net.parameters(), lr=cfg.lr)}
        loop.scalers = {"G": loop.precision.scaler()}
        loop.dataset = PhotoFolder(data, crop_size=cfg.crop_size, seed=cfg.seed)
        loop.notes = [f"photos: {len(data)}"]
        return loop

    def iteration(self, batch: dict[str, Any], epoch: int) -> None:
        self.report_skipped(batch["skipped"])
        photos = (batch["image"].to(self.d.device) + 1) / 2  # the toy network works in [0, 1]
        loss = F.l1_loss(self.model(photos), photos)
        self.update("G", loss)
        self.finish_step({"L1": loss}, epoch)

    def sample_rows(self) -> list[list[np.ndarray]]:
        photos = fixed_photos(self.dataset.paths, self.cfg.crop_size)
        copies = self.net((photos.to(self.d.device) + 1) / 2).cpu() * 2 - 1
        return [[to_uint8(photo), to_uint8(copy)] for photo, copy in zip(photos, copies, strict=True)]

    def model_file(self) -> ModelFile:
        return self.net.state_dict(), {}, {"width": self.cfg.width}

    def data_description(self) -> str:
        return f"photos {self.cfg.images}"


LOOP = ToyLoop
