"""Swapping Autoencoder editing speed: embed time, slider-to-result latency, dirty-region speed-up.

Two models: the embedded default (if present) and the official 256-px release configuration
(church/bedroom/mountain: 30.6 M encoder + 25.1 M generator parameters) with random weights; the
architecture, not the weights, sets the cost. Photos are a real wallpaper cut to 512 and 1024 px.
The baselines are in the same run: a slider move is compared with a full embed + decode (what an
editor without cached codes would do), a clone stroke's region decode with a full decode.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from engine import codes
from engine.catalog import Catalog
from engine.checkpoints import read_checkpoint
from engine.device import pick_device
from engine.imageio import read_rgb
from engine.models import sae

DEFAULT_MODEL = "sae-wallpapers-default"
PHOTO_GLOBS = ("/usr/share/wallpapers/*/contents/images/*.jpg", "/usr/share/backgrounds/*/*.jpg")
SIZES = (512, 1024)
STROKE_CELLS = 4  # a clone stroke that touched 4x4 structure-code cells


def median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up (noise maps drawn and cached, allocator warmed)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def photo(side: int) -> np.ndarray:
    """A real photo, centre-cropped square and resized to side x side (a noise image if none is installed)."""
    import glob

    import cv2

    files = sorted(f for pattern in PHOTO_GLOBS for f in glob.glob(pattern))
    if not files:
        print("  (no wallpapers installed: apt install plasma-workspace-wallpapers; using noise)")
        return np.random.default_rng(0).random((side, side, 3), dtype=np.float32)
    image = read_rgb(files[0])
    h, w = image.shape[:2]
    s = min(h, w)
    crop = image[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)


def models() -> list[tuple[str, dict, dict]]:
    found = []
    catalog = Catalog()
    try:
        entry = catalog.get(DEFAULT_MODEL)
        nets = sae.load(read_checkpoint(catalog.resolve_source(entry)).state_dict, entry.hparams)
        found.append(("embedded default", entry.hparams, nets))
    except (KeyError, ValueError, OSError):
        print(f"  ({DEFAULT_MODEL} not in the catalog: only the release configuration is measured)")
    hparams = sae.config_hparams()
    encoder, generator = sae.build(hparams)
    found.append(("release config (random weights)", hparams, {"netE": encoder.eval(), "netG": generator.eval()}))
    return found


def measure(name: str, hparams: dict, nets: dict, side: int, device: torch.device) -> None:
    encoder, generator = nets["netE"].to(device), nets["netG"].to(device)
    image = photo(side)
    repeats = 3 if side <= 512 else 1
    structure, texture = sae.encode(encoder, image, device=device)
    shifted = codes.blend_texture(texture, np.roll(texture, 1), 0.5)

    def full(tex: np.ndarray = shifted) -> None:
        sae.decode(generator, hparams, structure, tex, (side, side), device=device)

    t_embed = median_time(lambda: sae.encode(encoder, image, device=device), repeats)
    t_full = median_time(full, repeats)
    t_preview = median_time(lambda: sae.decode(generator, hparams, structure, shifted, (side, side), scale=0.5,
                                               device=device), repeats)
    mid = structure.shape[1] // 2, structure.shape[2] // 2
    region = (mid[0], mid[1], mid[0] + STROKE_CELLS, mid[1] + STROKE_CELLS)
    t_region = median_time(lambda: sae.decode(generator, hparams, structure, shifted, (side, side), region=region,
                                              device=device), repeats)
    print(f"  {name}, {side}x{side} (code {structure.shape[1]}x{structure.shape[2]} cells):")
    print(f"    embed (encoder, once per photo)            {t_embed * 1000:9.0f} ms")
    print(f"    slider -> result (generator only, full)    {t_full * 1000:9.0f} ms   "
          f"vs embed + decode {(t_embed + t_full) * 1000:.0f} ms: ratio {t_full / (t_embed + t_full):.2f}")
    print(f"    slider drag preview (scale 0.5)            {t_preview * 1000:9.0f} ms   "
          f"ratio to full {t_preview / t_full:.2f}")
    print(f"    clone stroke, {STROKE_CELLS}x{STROKE_CELLS} cells + margin           "
          f"{t_region * 1000:9.0f} ms   speed-up over full {t_full / t_region:.1f}x")


def main() -> None:
    device = pick_device()
    print(f"Swapping Autoencoder editing, device {device}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    for name, hparams, nets in models():
        for side in SIZES:
            measure(name, hparams, nets, side, device)


if __name__ == "__main__":
    main()
