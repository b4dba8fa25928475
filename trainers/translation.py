"""What the unpaired translation trainers (CycleGAN, CUT / FastCUT, SinCUT; thesis ch. 3) share besides the
loop (trainers.loop): their option checks, the domains' folders, the image pool and the load size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from trainers.common import TrainError
from trainers.datasets import LOAD_RATIO
from trainers.distributed import Dist, gather_rows
from trainers.loop import Summary
from trainers.unpaired_datasets import scan_unpaired

POSITIVE = ("crop_size", "ngf", "n_blocks")


def check_options(cfg: Any) -> None:
    """The checks every translation config needs; each problem is one TrainError line."""
    for name in POSITIVE:
        if getattr(cfg, name) < 1:
            raise TrainError(f"{name} must be at least 1")
    if cfg.crop_size % 4:
        raise TrainError(f"crop_size must be a multiple of 4 (the generator downsamples twice), got {cfg.crop_size}")
    if cfg.decay_steps is not None and not 0 <= cfg.decay_steps <= cfg.total_steps:
        raise TrainError(f"decay_steps must be between 0 and total_steps ({cfg.total_steps}), got {cfg.decay_steps}")
    if cfg.lr <= 0:
        raise TrainError("lr must be positive")


def scan_domains(cfg: Any, folders: tuple[Path, Path]) -> tuple[tuple[list[Path], list[Path]], Summary]:
    """((domain A's usable photos, domain B's), the summary) of the two folders."""
    paths_a, paths_b, summary = scan_unpaired(*folders, crop_size=cfg.crop_size, max_images=cfg.max_images)
    return (paths_a, paths_b), summary


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


def translation_load_size(cfg: Any) -> int:
    """The short side photos are scaled to before the random crop: load_size, or the official 286 / 256 of it."""
    return cfg.load_size or round(cfg.crop_size * LOAD_RATIO)


def parse_layers(text: str) -> list[int]:
    """"0,4,8,12,16" -> [0, 4, 8, 12, 16]; TrainError for anything else."""
    try:
        layers = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise TrainError(f"nce_layers must be comma-separated layer numbers such as 0,4,8,12,16, got {text!r}") from None
    if not layers or any(i < 0 for i in layers) or len(set(layers)) != len(layers):
        raise TrainError(f"nce_layers must name distinct layers (0 or more), got {text!r}")
    return layers
