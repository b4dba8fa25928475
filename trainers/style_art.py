"""Procedural style images (ours, free to ship): the style shelf's built-in entries and part of the embedded
HierarchyFlow model's style set. Each is a distinct look a style transfer can carry: palette, stroke scale,
texture. `python -m trainers.style_art OUT_DIR` writes them as JPEGs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

Painter = Callable[[np.random.Generator, tuple[int, int]], np.ndarray]


def _noise(rng: np.random.Generator, size: tuple[int, int], scale: float) -> np.ndarray:
    """Smooth noise in [0, 1]: white noise blurred at `scale` px, stretched."""
    field = cv2.GaussianBlur(rng.standard_normal(size).astype(np.float32), (0, 0), scale)
    return (field - field.min()) / (np.ptp(field) + 1e-6)


def _palette(t: np.ndarray, colours: list[tuple[int, int, int]]) -> np.ndarray:
    """Map t in [0, 1] through a piecewise-linear colour ramp."""
    stops = np.linspace(0, 1, len(colours))
    ramp = np.array(colours, np.float32) / 255
    return np.stack([np.interp(t, stops, ramp[:, c]) for c in range(3)], -1)


def ember_swirls(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Warm swirling bands, like a fiery marbled paper."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    warp = _noise(rng, size, 40) * 12
    bands = 0.5 + 0.5 * np.sin((xx + yy) / 18 + warp)
    return _palette(bands * 0.7 + 0.3 * _noise(rng, size, 6), [(40, 8, 20), (170, 30, 20), (245, 140, 30),
                                                               (255, 230, 150)])


def blue_mosaic(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Stained-glass cells in blues and teal with dark leading."""
    h, w = size
    points = rng.uniform(0, 1, (160, 2)) * (h, w)
    yy, xx = np.mgrid[0:h, 0:w]
    d = np.stack([(yy - py) ** 2 + (xx - px) ** 2 for py, px in points], -1)
    order = np.sort(d, -1)
    cell = d.argmin(-1)
    tone = rng.uniform(0, 1, len(points))[cell]
    image = _palette(tone, [(10, 30, 80), (30, 90, 170), (60, 170, 190), (200, 235, 240)])
    edge = np.sqrt(order[..., 1]) - np.sqrt(order[..., 0]) < 3
    image[edge] = (0.05, 0.05, 0.08)
    return image


def ink_wash(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Soft grey-blue ink blooms on warm paper."""
    ink = np.clip(_noise(rng, size, 25) * 1.6 - 0.5, 0, 1) ** 1.5
    paper = np.array([0.93, 0.9, 0.82], np.float32) * (0.92 + 0.08 * _noise(rng, size, 1.5))[..., None]
    colour = np.array([0.12, 0.16, 0.28], np.float32)
    return paper * (1 - ink[..., None]) + colour * ink[..., None]


def candy_stripes(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Wavy pastel stripes."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    phase = (xx * 0.6 - yy) / 14 + 3 * np.sin(xx / 45) + _noise(rng, size, 20) * 2
    t = (phase / 4) % 1
    return _palette(t, [(250, 180, 200), (255, 240, 190), (170, 220, 210), (190, 180, 240), (250, 180, 200)])


def pointillist_meadow(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Dense round dabs of greens, yellows and violet, Seurat-like."""
    h, w = size
    image = np.full((h, w, 3), 0.85, np.float32)
    colours = np.array([(60, 140, 60), (150, 190, 60), (240, 210, 80), (120, 90, 170), (70, 120, 190)],
                       np.float32) / 255
    for _ in range(h * w // 18):
        y, x = rng.integers(0, h), rng.integers(0, w)
        colour = colours[min(int(rng.exponential(1.2)), len(colours) - 1)]
        cv2.circle(image, (int(x), int(y)), int(rng.integers(2, 5)), tuple(float(c) for c in colour), -1)
    return image


STYLES: dict[str, Painter] = {
    "Ember swirls": ember_swirls,
    "Blue mosaic": blue_mosaic,
    "Ink wash": ink_wash,
    "Candy stripes": candy_stripes,
    "Pointillist meadow": pointillist_meadow,
}


def file_name(title: str) -> str:
    return title.lower().replace(" ", "_") + ".jpg"


def write_styles(folder: Path, size: tuple[int, int] = (384, 384), seed: int = 7) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (title, paint) in enumerate(STYLES.items()):
        image = np.clip(paint(np.random.default_rng((seed, i)), size), 0, 1)
        path = folder / file_name(title)
        Image.fromarray((image * 255 + 0.5).astype(np.uint8)).save(path, quality=92)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write_styles(Path(sys.argv[1] if len(sys.argv) > 1 else "resources/styles")):
        print(written)
