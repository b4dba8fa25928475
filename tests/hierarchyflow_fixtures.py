"""Tiny random HierarchyFlow models in our file format, the official fixture laid out as a training run, and SSIM."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import torch

from engine.checkpoints import write_checkpoint
from engine.models import hierarchyflow as hf

TINY = {"out_channels": [6, 12]}  # two blocks (splits 2, 2): fast on a 300 px photo


def tiny_flow(*, seed: int = 0, **config) -> hf.HierarchyFlow:
    torch.manual_seed(seed)
    return hf.build(hf.config_hparams(**{**TINY, **config}))


def write_tiny_flow(path: Path, *, seed: int = 0, name: str | None = None, **config) -> Path:
    net = tiny_flow(seed=seed, **config)
    metadata = {"method": hf.METHOD, "hparams": hf.config_hparams(**{**TINY, **config}),
                "name": name or f"tiny-flow-{seed}", "license": "random weights for tests"}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_checkpoint(path, net.state_dict(), metadata)
    return path


def official_run(official: Path, tmp_path: Path) -> Path:
    """The fixture checkpoint where the official trainer writes it: <task_name>/model_save/<step>.ckpt.pth.tar."""
    target = tmp_path / "fixture_small" / "model_save" / "0.ckpt.pth.tar"
    target.parent.mkdir(parents=True)
    shutil.copy(official / "hierarchyflow" / "small" / "0.ckpt.pth.tar", target)
    return target


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004: 11 px Gaussian window, sigma 1.5, K 0.01 / 0.03, range 1) of the grey images."""
    x, y = (np.asarray(v, np.float64).mean(axis=2) for v in (a, b))

    def blur(v: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(v, (11, 11), 1.5)

    c1, c2 = 0.01**2, 0.03**2
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    return float((((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))).mean())
