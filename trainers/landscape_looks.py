"""One procedural landscape layout in several looks: summer, autumn, winter, sunset, night and desert.

The data of the embedded default DeepI2I model (trainers/default_variations.py): a multi-class translator learns
to keep a photo's structure and change its class, so every look of a scene shares the layout of
trainers.landscapes (sky, clouds, ridges, shore, trees, rocks in the same places) and differs only in colour,
light and surface: autumn turns the foliage orange and red and the grass straw-coloured, winter lays snow on the
ground and freezes the water, sunset paints the sky orange to violet and the land warm and dark, night turns
everything deep blue under a starry sky with a moon, desert covers the ground with sand, bakes the mountains red
and dries the trees. Each look's textures have their own random noise, so a model cannot copy fine grain.

CLI: ``python -m trainers.landscape_looks --out DIR --count N [--size 128] [--seed 0] [--sheet FILE]`` writes
``DIR/<look>/NNNNN.jpg`` (a folder of class folders, scene N the same layout in each) and optionally a contact
sheet (rows: scenes, columns: looks).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from trainers.landscapes import (
    BUSH,
    CLOUD,
    DIRT,
    FLOWER,
    GRASS,
    HILL,
    MOUNTAIN,
    RIVER,
    ROCK,
    SAND,
    SEA,
    SKY,
    SNOW,
    TREE,
    WATER,
    field,
    layout,
    render,
)

__all__ = ["LOOKS", "contact_sheet", "render_looks", "write_dataset"]

LOOKS = ("summer", "autumn", "winter", "sunset", "night", "desert")
_WINTER_GROUND = (GRASS, HILL, FLOWER, BUSH, DIRT, SAND)  # under snow (trees keep their crowns, snowy)
_DESERT_GROUND = (GRASS, HILL, FLOWER, DIRT, SNOW)  # become sand (snow fields too: a hot look)
_WATERS = (WATER, SEA, RIVER)
_SKY = (SKY, CLOUD)


def _recolour(img: np.ndarray, mask: np.ndarray, colour: np.ndarray | tuple[float, float, float],
              strength: float = 1.0) -> None:
    """Give the pixels of `mask` a new colour while keeping their texture: each pixel's brightness relative to
    the region's mean times `colour` (per pixel (N, 3) or one RGB), blended by `strength`."""
    if not mask.any():
        return
    px = img[mask]
    lum = px.mean(1, keepdims=True)
    rel = lum / max(float(lum.mean()), 1.0)
    new = np.asarray(colour, np.float32) * rel
    img[mask] = px * (1 - strength) + new * strength


def _sky(h: int, w: int, hz: int, zenith: tuple[float, ...], horizon: tuple[float, ...]) -> np.ndarray:
    t = np.clip(np.arange(h, dtype=np.float32) / max(hz, 1), 0, 1)[:, None] ** 0.7
    col = np.asarray(zenith, np.float32) * (1 - t) + np.asarray(horizon, np.float32) * t
    return np.broadcast_to(col[:, None, :], (h, w, 3)).copy()


def _clouds(img: np.ndarray, lab: np.ndarray, base: np.ndarray, lit: tuple[float, ...], dark: tuple[float, ...],
            alpha: float) -> None:
    """Repaint the clouds over a new sky: brightness from the summer render's clouds, lit/dark colours."""
    cloud = lab == CLOUD
    if not cloud.any():
        return
    lum = base[cloud].mean(1, keepdims=True) / 255
    t = np.clip((lum - 0.55) / 0.4, 0, 1)
    col = np.asarray(dark, np.float32) * (1 - t) + np.asarray(lit, np.float32) * t
    img[cloud] = img[cloud] * (1 - alpha) + col * alpha


def _soften(img: np.ndarray, lab: np.ndarray) -> np.ndarray:
    """Blur a thin band across class edges (as trainers.landscapes does), then round to uint8."""
    k = np.ones((3, 3), np.uint8)
    edge = cv2.dilate(lab, k) != cv2.erode(lab, k)
    img[edge] = cv2.GaussianBlur(img, (5, 5), 1.0)[edge]
    return np.clip(img, 0, 255).astype(np.uint8)


def _summer(rng: np.random.Generator, lab: np.ndarray, depth: np.ndarray, light: np.ndarray, hz: int) -> np.ndarray:
    return render(rng, lab, depth, light, hz)


def _winter(rng: np.random.Generator, lab: np.ndarray, depth: np.ndarray, light: np.ndarray, hz: int) -> np.ndarray:
    snowy = np.where(np.isin(lab, _WINTER_GROUND), SNOW, lab).astype(lab.dtype)
    return render(rng, snowy, depth, light, hz, winter=True)


def _autumn(rng: np.random.Generator, lab: np.ndarray, depth: np.ndarray, light: np.ndarray, hz: int) -> np.ndarray:
    img = render(rng, lab, depth, light, hz).astype(np.float32)
    h, w = lab.shape
    # foliage in patches of orange, red and yellow, one hue mix per scene
    hues = np.array([(206, 96, 28), (184, 46, 26), (222, 164, 40), (150, 70, 30)], np.float32)
    hues = hues[rng.permutation(len(hues))[:3]]
    pick = (np.clip(field(rng, h, w, 6, 6), 0, 1) * 2.99).astype(int)
    for cls, strength in ((TREE, 0.95), (BUSH, 0.9)):
        m = lab == cls
        _recolour(img, m, hues[pick[m]], strength)
    _recolour(img, lab == GRASS, (176, 150, 80), 0.85)  # straw
    _recolour(img, lab == FLOWER, (168, 120, 60), 0.85)  # faded meadows
    _recolour(img, lab == HILL, (164, 118, 58), 0.8)
    _recolour(img, lab == DIRT, (120, 76, 44), 0.5)
    img *= np.array((1.04, 0.98, 0.88), np.float32)  # low, golden light
    return _soften(img, lab)


def _sunset(rng: np.random.Generator, lab: np.ndarray, depth: np.ndarray, light: np.ndarray, hz: int) -> np.ndarray:
    base = render(rng, lab, depth, light, hz).astype(np.float32)
    h, w = lab.shape
    lum = base.mean(2, keepdims=True)  # warm, dim land: mostly the light's colour, a little of its own
    img = (0.6 * lum * np.array((1.0, 0.6, 0.36), np.float32) + 0.4 * base * np.array((0.9, 0.6, 0.45), np.float32)) \
        * rng.uniform(0.6, 0.75)
    sky = _sky(h, w, hz, (64, 46, 112), (252, 148, 64))
    sun_x, sun_y = rng.uniform(0.2, 0.8) * w, hz - rng.uniform(0.02, 0.12) * h
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    glow = np.exp(-(((xx - sun_x) / (0.35 * w)) ** 2 + ((yy - sun_y) / (0.25 * h)) ** 2))[..., None]
    sky += glow * np.array((40, 50, 20), np.float32)
    sun = (((xx - sun_x) ** 2 + (yy - sun_y) ** 2) < (0.045 * w) ** 2)[..., None]
    sky = np.where(sun, np.array((255, 238, 190), np.float32), sky)
    in_sky = np.isin(lab, _SKY)
    img[in_sky] = sky[in_sky]
    _clouds(img, lab, base, (255, 170, 120), (120, 60, 90), 0.9)
    water = np.isin(lab, _WATERS)  # the sky's orange mirrored on the water
    if water.any():
        img[water] = 0.5 * img[water] + 0.5 * np.array((236, 128, 70), np.float32) * (
            base[water].mean(1, keepdims=True) / max(float(base[water].mean()), 1.0))
    return _soften(img, lab)


def _night(rng: np.random.Generator, lab: np.ndarray, depth: np.ndarray, light: np.ndarray, hz: int) -> np.ndarray:
    base = render(rng, lab, depth, light, hz).astype(np.float32)
    h, w = lab.shape
    lum = base.mean(2, keepdims=True)
    img = lum * np.array((0.16, 0.2, 0.34), np.float32) + base * 0.04  # moonlit blue, nearly no colour
    sky = _sky(h, w, hz, (6, 10, 28), (26, 38, 76))
    stars = (rng.random((h, w)) > 0.992) * rng.uniform(120, 255, (h, w))
    sky += stars[..., None].astype(np.float32)
    mx, my, r = rng.uniform(0.15, 0.85) * w, rng.uniform(0.08, 0.3) * max(hz, 1), 0.05 * w
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d2 = (xx - mx) ** 2 + (yy - my) ** 2
    sky += (np.exp(-d2 / (3 * r) ** 2) * 40)[..., None] * np.array((0.8, 0.9, 1.0), np.float32)
    sky = np.where((d2 < r**2)[..., None], np.array((238, 236, 214), np.float32), sky)
    in_sky = np.isin(lab, _SKY)
    img[in_sky] = sky[in_sky]
    _clouds(img, lab, base, (70, 80, 110), (22, 26, 44), 0.85)
    water = np.isin(lab, _WATERS)  # a cold shimmer on water
    img[water] += np.clip((base[water].mean(1, keepdims=True) - 150) * 0.4, 0, 40) * np.array((0.8, 0.9, 1.0))
    return _soften(img, lab)


def _desert(rng: np.random.Generator, lab: np.ndarray, depth: np.ndarray, light: np.ndarray, hz: int) -> np.ndarray:
    sandy = np.where(np.isin(lab, _DESERT_GROUND), SAND, lab).astype(lab.dtype)
    base = render(rng, sandy, depth, light, hz).astype(np.float32)
    h, w = lab.shape
    img = base.copy()
    ground = sandy == SAND  # dunes: long soft ripples shading the sand
    ripple = 0.88 + 0.2 * field(rng, h, w, 5, 3) + 0.06 * np.sin(np.arange(h, dtype=np.float32) * 0.9)[:, None]
    img[ground] = img[ground] * ripple[ground][:, None] * np.array((1.02, 0.95, 0.82), np.float32)
    _recolour(img, (lab == MOUNTAIN) | (lab == SNOW) & (sandy != SAND), (190, 112, 70), 0.9)  # red rock
    _recolour(img, lab == ROCK, (170, 120, 84), 0.8)
    _recolour(img, lab == TREE, (146, 126, 72), 0.9)  # dry, olive-brown scrub
    _recolour(img, lab == BUSH, (128, 110, 64), 0.85)
    sky = _sky(h, w, hz, (96, 150, 206), (236, 222, 190))  # hazy, pale to the horizon
    in_sky = np.isin(lab, _SKY)
    img[in_sky] = sky[in_sky] * (0.94 + 0.06 * base[in_sky].mean(1, keepdims=True) / 255)
    _clouds(img, lab, base, (246, 240, 228), (200, 188, 170), 0.5)
    img *= np.array((1.06, 1.0, 0.9), np.float32)  # hot light
    return _soften(img, lab)


_PAINT: dict[str, Callable[..., np.ndarray]] = {"summer": _summer, "autumn": _autumn, "winter": _winter,
                                                "sunset": _sunset, "night": _night, "desert": _desert}


def render_looks(seed: tuple[int, ...] | int, size: tuple[int, int] = (128, 128),
                 looks: tuple[str, ...] = LOOKS) -> dict[str, np.ndarray]:
    """{look: HxWx3 uint8} of one random layout of `size` (height, width), the same layout in every look.

    The layout comes from `seed` alone and each look's textures from (seed, look), so scene `seed` is the same
    whatever the other looks or scenes."""
    key = tuple(seed) if isinstance(seed, tuple) else (seed,)
    lab, depth, light, hz = layout(np.random.default_rng(key), *size)
    return {look: _PAINT[look](np.random.default_rng((*key, 1 + LOOKS.index(look))), lab, depth, light, hz)
            for look in looks}


def write_dataset(out: Path, count: int, *, size: tuple[int, int] = (128, 128), seed: int = 0,
                  looks: tuple[str, ...] = LOOKS) -> None:
    """`count` scenes as a folder of class folders: out/<look>/NNNNN.jpg (ImageFolder order: sorted looks)."""
    out = Path(out)
    for look in looks:
        (out / look).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        for look, img in render_looks((seed, i), size, looks).items():
            Image.fromarray(img, "RGB").save(out / look / f"{i:05d}.jpg", quality=94)


def contact_sheet(path: Path, scenes: int = 4, *, size: tuple[int, int] = (128, 128), seed: int = 0) -> None:
    """A PNG of `scenes` rows (layouts) by the looks (columns), to check the looks by eye."""
    rows = [np.concatenate(list(render_looks((seed, i), size).values()), 1) for i in range(scenes)]
    Image.fromarray(np.concatenate(rows, 0)).save(path)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m trainers.landscape_looks", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="dataset folder to write (one subfolder per look)")
    ap.add_argument("--count", type=int, default=0, help="number of layouts (each written in every look)")
    ap.add_argument("--size", type=int, default=128, help="square side in pixels")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sheet", type=Path, help="also write a contact sheet PNG here")
    args = ap.parse_args(argv)
    size = (args.size, args.size)
    if args.out and args.count:
        write_dataset(args.out, args.count, size=size, seed=args.seed)
        print(f"wrote {args.count} layouts x {len(LOOKS)} looks to {args.out}")
    if args.sheet:
        contact_sheet(args.sheet, size=size, seed=args.seed)
        print(f"contact sheet: {args.sheet}")


if __name__ == "__main__":
    main()
