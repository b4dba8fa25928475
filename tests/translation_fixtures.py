"""Tiny random CycleGAN / CUT generators and photos, for tests that need real ones.

PyTorch's default init gives non-constant weights and biases, so different photos (and the two generators
of a CycleGAN pair) give visibly different outputs. 4 filters and 2 blocks keep a 300 px photo fast.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engine.checkpoints import write_checkpoint
from engine.models import cut, cyclegan

TINY = {"ngf": 4, "n_blocks": 2}


def tiny_generator(method: str, *, seed: int = 0, **config) -> torch.nn.Module:
    module = {"cyclegan": cyclegan, "cut": cut}[method]
    torch.manual_seed(seed)
    return module.build(module.config_hparams(**{**TINY, **config}))


def write_tiny_cyclegan(path: Path, *, seed: int = 0, name: str | None = None) -> Path:
    """Our format: G_A as the main state dict, G_B as the part "G_B", both directions."""
    g_a, g_b = tiny_generator("cyclegan", seed=seed), tiny_generator("cyclegan", seed=seed + 1)
    hparams = cyclegan.config_hparams(**TINY, directions=("AtoB", "BtoA"))
    metadata = {"method": cyclegan.METHOD, "hparams": hparams, "name": name or f"tiny-cyclegan-{seed}",
                "license": "random weights for tests"}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_checkpoint(path, g_a.state_dict(), metadata, parts={"G_B": g_b.state_dict()})
    return path


def write_tiny_cut(path: Path, *, seed: int = 0, mode: str = "CUT", name: str | None = None) -> Path:
    net = tiny_generator("cut", seed=seed)
    metadata = {"method": cut.METHOD, "hparams": cut.config_hparams(**TINY, mode=mode),
                "name": name or f"tiny-{mode.lower()}-{seed}", "license": "random weights for tests"}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_checkpoint(path, net.state_dict(), metadata)
    return path


def photo(seed: int, size: tuple[int, int] = (64, 80)) -> np.ndarray:
    """A smooth random colour field with a little grain, HxWx3 float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    coarse = (rng.random((5, 6, 3)) * 255).astype(np.uint8)
    smooth = np.asarray(Image.fromarray(coarse).resize(size[::-1], Image.BICUBIC), np.float32) / 255
    return np.clip(smooth + 0.03 * rng.standard_normal(smooth.shape).astype(np.float32), 0, 1)
