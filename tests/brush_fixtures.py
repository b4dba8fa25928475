"""Tiny random translation models in our own checkpoint format, for tests that need real ones: a CycleGAN with
both generators (AtoB and BtoA) and a one-direction CUT.

Official init leaves every bias at 0; each constant parameter gets seeded noise instead (as the official
fixtures do), and the weights are scaled up a little, so the two directions and the two models give visibly
different images. ngf 4 and one residual block keep a translation of a few hundred pixels a side fast.
"""

from __future__ import annotations

from pathlib import Path

import torch

from engine.checkpoints import write_checkpoint
from engine.models import cut, cyclegan

TINY = {"ngf": 4, "n_blocks": 1}


def _jittered(build, hparams: dict, seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    state = build(hparams).state_dict()
    jitter = torch.Generator().manual_seed(seed + 1)
    for key, value in state.items():
        if not value.is_floating_point() or key.endswith("filt"):
            continue
        if (value == value.flatten()[0]).all():
            state[key] = value + 0.2 * torch.randn(value.shape, generator=jitter)
        else:
            state[key] = value * 1.5
    return state


def write_tiny_cyclegan(path: Path, *, seed: int = 0, name: str | None = None) -> Path:
    """A CycleGAN with G_A (AtoB) and G_B (BtoA), as the CycleGAN trainer writes it."""
    hparams = cyclegan.config_hparams(**TINY, directions=("AtoB", "BtoA"))
    g_a, g_b = (_jittered(cyclegan.build, hparams, seed + i * 10) for i in range(2))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_checkpoint(path, g_a, {"method": cyclegan.METHOD, "hparams": hparams, "name": name or f"tiny-cyclegan-{seed}",
                                 "license": "random weights for tests"}, parts={cyclegan.G_B_PART: g_b})
    return path


def write_tiny_cut(path: Path, *, seed: int = 0, name: str | None = None, mode: str = "CUT") -> Path:
    """A one-direction CUT generator (anti-aliased resampling), as the CUT trainer writes it."""
    hparams = cut.config_hparams(**TINY, mode=mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_checkpoint(path, _jittered(cut.build, hparams, seed), {
        "method": cut.METHOD, "hparams": hparams, "name": name or f"tiny-cut-{seed}",
        "license": "random weights for tests"})
    return path
