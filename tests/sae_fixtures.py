"""A tiny random Swapping Autoencoder in our own checkpoint format, for tests that need a real one.

Official init leaves biases at 0, modulation biases at 1 and noise strengths at 0, which would make the
outputs nearly constant; every constant parameter gets seeded noise instead (as the official fixtures
do), so different codes give visibly different images. 8-pixel cells (3 downsamplings) keep photos of
64-128 px meaningful: the minimum side is 56 px.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from engine.api import ModelEntry
from engine.catalog import Catalog
from engine.checkpoints import write_checkpoint
from engine.handlers import Engine
from engine.models import sae

TINY_OPTIONS: dict[str, Any] = {
    "spatial_code_ch": 8, "global_code_ch": 32, "netE_scale_capacity": 0.125, "netG_scale_capacity": 0.0625,
    "netE_num_downsampling_sp": 3, "netE_num_downsampling_gl": 2,
}


def write_tiny_sae(path: Path, *, seed: int = 0, name: str | None = None) -> Path:
    """Write a tiny random SAE (E.* and G.* in the official layout, our metadata) to `path`."""
    torch.manual_seed(seed)
    encoder, generator = sae.build(sae.config_hparams(**TINY_OPTIONS))
    state = {f"E.{k}": v for k, v in encoder.state_dict().items()}
    state.update({f"G.{k}": v for k, v in generator.state_dict().items()})
    jitter = torch.Generator().manual_seed(seed + 1)
    for key, value in state.items():
        if value.is_floating_point() and value.numel() > 0 and not key.endswith("kernel") and (value == value.flatten()[0]).all():
            state[key] = value + 0.1 * torch.randn(value.shape, generator=jitter)
    hparams = sae.resolve_hparams(state, {})
    metadata = {"method": sae.METHOD, "hparams": hparams, "name": name or f"tiny-sae-{seed}",
                "license": "random weights for tests"}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_checkpoint(path, state, metadata)
    return path


def add_to_catalog(path: Path, catalog: Catalog | None = None) -> ModelEntry:
    """Import the file into `catalog` (default: the user catalog of $I2I_STUDIO_DATA) the way the app does."""
    return Engine(catalog or Catalog(), torch.device("cpu")).import_model(str(path), None)
