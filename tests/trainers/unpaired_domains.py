"""Synthetic unpaired domains whose right translation is known, for the translation trainers' tests.

Domain B is always domain A with red and blue swapped (other photos of the same kind), so the right A -> B
translation is `swap_red_blue`. Two kinds of photos, because the networks' InstanceNorm forgets each image's
per-channel mean and contrast:

- "tinted": one smooth luminance pattern (stretched to 0..1 in every photo, mostly dark) in an orange tint.
  After the discriminator's first layers the tint survives only as a sign pattern, so the colour has to come
  from a pixel loss: CycleGAN's cycle and identity terms learn it fast.
- "textured": each channel its own pattern: big soft red blobs, medium green ones, small faint blue spots. The
  discriminator sees which channel carries which texture, and its gradient alone teaches the colours (CUT).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

TINT = np.array([1.0, 0.55, 0.2])
TEXTURES = ((1.0, (0.15, 0.3)), (0.6, (0.08, 0.15)), (0.35, (0.03, 0.06)))  # (peak, blob radii) per channel


def _blobs(rng: np.random.Generator, size: tuple[int, int], radii: tuple[float, float], count: int,
           weights: tuple[float, float]) -> np.ndarray:
    """A sum of `count` Gaussian blobs, stretched to 0..1."""
    yy, xx = np.mgrid[0:size[0], 0:size[1]] / max(size)
    field = np.zeros(size)
    for _ in range(count):
        cy, cx = rng.uniform(0, 1, 2) * np.array(size) / max(size)
        radius = rng.uniform(*radii)
        field += rng.uniform(*weights) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))
    return (field - field.min()) / (field.max() - field.min() + 1e-6)


def scene(rng: np.random.Generator, size: tuple[int, int] = (40, 40), kind: str = "tinted") -> np.ndarray:
    """One domain A photo, HxWx3 float in [0, 1]."""
    if kind == "tinted":
        return _blobs(rng, size, (0.06, 0.25), 6, (-1, 1))[..., None] ** 1.5 * TINT
    return np.stack([peak * _blobs(rng, size, radii, 6, (0.3, 1)) for peak, radii in TEXTURES], -1)


def swap_red_blue(image: np.ndarray) -> np.ndarray:
    return image[..., [2, 1, 0]]


def write_domain(folder: Path, count: int, *, seed: int, b: bool = False, size: tuple[int, int] = (40, 40),
                 kind: str = "tinted") -> Path:
    """`count` PNG photos of domain A (or B) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        image = scene(rng, size, kind)
        image = swap_red_blue(image) if b else image
        Image.fromarray((image * 255).round().astype(np.uint8)).save(folder / f"{i:03d}.png")
    return folder


def held_out(count: int = 8, *, seed: int = 123, size: tuple[int, int] = (40, 40), kind: str = "tinted") -> np.ndarray:
    """Domain A photos no run has seen, (count, H, W, 3)."""
    rng = np.random.default_rng(seed)
    return np.stack([scene(rng, size, kind) for _ in range(count)])


def translation_error(generator: torch.nn.Module, photos: np.ndarray, truth: np.ndarray) -> float:
    """Mean |G(photo) - truth| in 0..1 units (photos and truth (N, H, W, 3) in [0, 1])."""
    x = torch.from_numpy(photos).permute(0, 3, 1, 2).float() * 2 - 1
    with torch.no_grad():
        y = (generator.eval()(x).permute(0, 2, 3, 1).numpy() + 1) / 2
    return float(np.abs(y - truth).mean())


def baselines(photos: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(identity: the photos left as they are, the best constant colour: the truth's mean) errors."""
    return float(np.abs(photos - truth).mean()), float(np.abs(truth - truth.mean((0, 1, 2))).mean())
