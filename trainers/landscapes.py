"""Procedural landscape scenes: label maps in the ``landscape`` palette plus photos rendered from them.

Used to train the embedded default SPADE model on a CPU, as tiny datasets in tests, and as starter scenes
for the label painter. Each class gets a recognisable texture with a consistent colour identity (so a small
GAN can learn the mapping), while per-scene lighting, haze and texture noise keep it from being a lookup.

CLI: ``python -m trainers.landscapes --out DIR --count N [--size 256] [--seed 0]`` writes the SPADE
custom-dataset layout (``images/NNNNN.jpg``, ``labels/NNNNN.png``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from engine import palettes

__all__ = ["make_scene", "starter_scene", "write_dataset"]

_IDS = {c.name: c.id for c in palettes.load("landscape").classes}
SKY, CLOUD, MOUNTAIN, ROCK, HILL = (_IDS[n] for n in ("sky", "cloud", "mountain", "rock", "hill"))
SNOW, WATER, SEA, RIVER, GRASS = (_IDS[n] for n in ("snow", "water", "sea", "river", "grass"))
TREE, BUSH, FLOWER, SAND, DIRT = (_IDS[n] for n in ("tree", "bush", "flower", "sand", "dirt"))

_STARTER_SEED = 62  # picked by eye: snowy mountains, a lake, firs and flowers on grass

# photo base colours (RGB); jittered per scene
_BASE = {
    MOUNTAIN: (118, 100, 84), ROCK: (136, 136, 134), HILL: (128, 146, 76), SNOW: (238, 243, 252),
    WATER: (52, 100, 150), SEA: (28, 64, 122), RIVER: (78, 140, 190), GRASS: (98, 160, 58),
    TREE: (36, 80, 36), BUSH: (88, 122, 46), FLOWER: (80, 132, 50), SAND: (226, 206, 152),
    DIRT: (128, 88, 54),
}
_ICE = (196, 214, 226)
_WINTER_GROUND = (GRASS, HILL, FLOWER, BUSH, DIRT, SAND)  # under snow in a winter scene
_PETALS = np.array([(238, 80, 150), (250, 214, 60), (246, 246, 240), (206, 52, 60), (160, 96, 214),
                    (250, 140, 44)], np.float32)


def field(rng: np.random.Generator, h: int, w: int, cy: int, cx: int) -> np.ndarray:
    """Smooth noise in ~0..1 with cy x cx features: a random low-res grid upsampled (cheap value noise)."""
    low = rng.random((max(cy, 2), max(cx, 2)), dtype=np.float32)
    return cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)


def _curve(rng: np.random.Generator, w: int, points: int) -> np.ndarray:
    """Smooth 1-D profile over the width, normalised to 0..1."""
    low = rng.random((1, max(points, 2)), dtype=np.float32)
    c = cv2.resize(low, (w, 1), interpolation=cv2.INTER_CUBIC)[0]
    return (c - c.min()) / max(float(c.max() - c.min()), 1e-6)


def _jagged(rng: np.random.Generator, w: int) -> np.ndarray:
    """Fractal 1-D profile with linear segments (rocky ridges), normalised to 0..1."""
    x = np.arange(w, dtype=np.float32)
    out = np.zeros(w, np.float32)
    for k in range(5):
        n = 3 * 2**k
        out += np.interp(x, np.linspace(0, w - 1, n), rng.random(n)).astype(np.float32) * 0.45**k
    return (out - out.min()) / max(float(out.max() - out.min()), 1e-6)


def _winding(rng: np.random.Generator, h: int, w: int, top: int, width: float) -> np.ndarray:
    """Mask of a band winding from ``top`` to the bottom edge, widening with nearness (perspective)."""
    y = np.arange(h, dtype=np.float32)[:, None]
    x = np.arange(w, dtype=np.float32)[None, :]
    t = np.clip((y - top) / max(h - top, 1), 0, 1)
    x0, x1 = rng.uniform(0.25, 0.75) * w, rng.uniform(0.0, 1.0) * w
    sway = rng.uniform(0.1, 0.3) * w * t * np.sin(rng.uniform(2, 9) * t + rng.uniform(0, 6.3))
    centre = x0 + (x1 - x0) * t + sway
    half = (1.5 + width * t**1.3) / 2
    return (y >= top) & (np.abs(x - centre) < half)


def layout(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Label map, per-pixel ground-contact row (drives haze), mountain side-lighting and the horizon row."""
    y = np.arange(h, dtype=np.float32)[:, None]
    x = np.arange(w, dtype=np.float32)[None, :]
    hz = int(h * rng.uniform(0.36, 0.55))
    lab = np.full((h, w), SKY, np.uint8)
    depth = np.zeros((h, w), np.float32)
    light = np.zeros((h, w), np.float32)

    if rng.random() < 0.85:  # horizontally stretched puffs, thinning towards the horizon
        n = field(rng, h, w, 9, 3) + 0.5 * field(rng, h, w, 20, 7) + 0.2 * field(rng, h, w, 48, 24)
        lab[(n * np.clip(1.25 - y / hz, 0, 1) > rng.uniform(0.85, 1.1)) & (y < hz)] = CLOUD

    if rng.random() < 0.65:
        profile = 0.15 + 0.6 * _curve(rng, w, rng.integers(3, 6)) + 0.25 * _jagged(rng, w)
        ridge = hz - h * rng.uniform(0.12, 0.34) * profile
        m = (y >= ridge) & (y < hz + 6)
        lab[m], depth[m] = MOUNTAIN, hz - 0.4 * (h - hz)
        # faces lit on the side where the ridge descends towards the sun, fading down the slope
        slope = np.gradient(cv2.GaussianBlur(ridge.reshape(1, -1).astype(np.float32), (0, 0), 2)[0])
        fall = np.exp(-(y - ridge) / (0.25 * h))
        light[m] = (np.tanh(rng.choice((-1, 1)) * slope * 1.5) * fall)[m]
        if rng.random() < 0.6:
            line = ridge.min() + rng.uniform(0.25, 0.6) * (hz - ridge.min())
            # tall narrow cells: snow tongues reaching down the gullies
            wobble = (field(rng, h, w, 6, 36) - 0.5) * 0.5 * (hz - ridge.min())
            lab[m & (y < line + wobble)] = SNOW
        if rng.random() < 0.35:
            lab[(lab == MOUNTAIN) & (field(rng, h, w, 10, 18) > 0.68)] = ROCK

    if rng.random() < 0.55:
        top = hz - 2 - h * rng.uniform(0.03, 0.12) * _curve(rng, w, rng.integers(3, 6))
        m = (y >= top) & (y < hz + 6)
        lab[m], depth[m] = HILL, hz - 0.15 * (h - hz)

    water = rng.choice(4, p=(0.25, 0.25, 0.3, 0.2))  # sea, lake, river, none
    gtop = hz + (_curve(rng, w, 4) - 0.5) * (0.0 if water == 0 else 0.03 * h)  # the sea keeps a flat horizon
    ground = y >= gtop
    r = rng.random()
    base = GRASS if r < 0.72 else DIRT if r < 0.86 else SAND
    lab[ground] = base
    depth[ground] = np.broadcast_to(y, (h, w))[ground]
    if rng.random() < 0.5:  # patches of another soil type, wide and flat like ground seen at a low angle
        other = DIRT if base == GRASS else GRASS
        lab[ground & (field(rng, h, w, 14, 5) > rng.uniform(0.68, 0.8))] = other
    if base == GRASS and rng.random() < 0.25:
        lab[_winding(rng, h, w, int(gtop.max()) + 1, w * rng.uniform(0.08, 0.2))] = DIRT

    if water == 0:
        shore = hz + h * rng.uniform(0.06, 0.22) + (_curve(rng, w, 5) - 0.5) * 0.04 * h
        lab[(y >= hz) & (y < shore)] = SEA
        if rng.random() < 0.7:
            lab[(y >= shore) & (y < shore + h * rng.uniform(0.03, 0.1) * (0.5 + _curve(rng, w, 4)))] = SAND
    elif water == 1:
        y0 = int(gtop.max()) + rng.integers(0, int(0.05 * h) + 1)
        a, cx = w * rng.uniform(0.2, 0.5), w * rng.uniform(0.2, 0.8)
        b = min(a * rng.uniform(0.12, 0.3), 0.2 * h)  # seen at a grazing angle: flat ellipse
        lake = ((x - cx) / a) ** 2 + ((y - y0 - b) / b) ** 2 < 0.85 + 0.3 * field(rng, h, w, 6, 8)
        if rng.random() < 0.5:
            lab[cv2.dilate(lake.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool) & ground] = SAND
        lab[lake] = WATER
    elif water == 2:
        river = _winding(rng, h, w, int(gtop.max()) + 1, w * rng.uniform(0.1, 0.3))
        if rng.random() < 0.4:
            lab[cv2.dilate(river.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool) & ground] = SAND
        lab[river] = RIVER

    if rng.random() < 0.5:  # flower meadows in the nearer grass
        near = y > hz + rng.uniform(0.15, 0.5) * (h - hz)
        lab[near & (lab == GRASS) & (field(rng, h, w, 12, 6) > rng.uniform(0.6, 0.72))] = FLOWER

    _objects(rng, lab, depth, hz)
    return lab, depth, light, hz


def _objects(rng: np.random.Generator, lab: np.ndarray, depth: np.ndarray, hz: int) -> None:
    """Trees, bushes and boulders standing on suitable ground, drawn far to near so nearer ones occlude."""
    h, w = lab.shape
    items: list[tuple[int, int, int, float]] = []  # (base row, column, class, size 0..1 by nearness)
    conifer = rng.random() < 0.4
    if rng.random() < 0.65:  # a tree line a little below the horizon
        y0, xa = hz + int(rng.uniform(0.01, 0.12) * (h - hz)), rng.uniform(-0.2, 0.6) * w
        for bx in np.arange(xa, xa + rng.uniform(0.3, 1.0) * w, rng.uniform(3, 7) * w / 256):
            items.append((y0 + int(rng.integers(-2, 3)), int(bx), TREE, rng.uniform(0.0, 0.06)))
    for cls, n, lo in ((TREE, 6, 0.08), (BUSH, 9, 0.05), (ROCK, 4, 0.1)):
        for _ in range(rng.integers(0, n) if rng.random() < 0.75 else 0):
            by = int(hz + rng.uniform(lo, 1.05) * (h - hz))
            items.append((by, int(rng.uniform(0, w)), cls, (by - hz) / (h - hz)))
    ok = {TREE: (GRASS, HILL), BUSH: (GRASS, HILL, FLOWER, DIRT), ROCK: (GRASS, SAND, DIRT, FLOWER)}
    scratch = np.zeros((h, w), np.uint8)
    for by, bx, cls, s in sorted(items):
        if lab[min(by, h - 1), min(max(bx, 0), w - 1)] not in ok[cls]:
            continue
        reach = _draw(scratch, rng, cls, conifer, bx, by, s)
        # apply and clear only the object's bounding box: whole-frame masking per object would be slow
        box = slice(max(by - reach, 0), min(by + 2, h)), slice(max(bx - reach, 0), min(bx + reach + 1, w))
        hit = scratch[box] > 0
        lab[box][hit], depth[box][hit] = cls, by
        scratch[box] = 0


def _draw(img: np.ndarray, rng: np.random.Generator, cls: int, conifer: bool, bx: int, by: int,
          s: float) -> int:
    """Fill one object's silhouette into ``img`` (value 1); returns how far it can reach from (bx, by)."""
    h = img.shape[0]
    u = rng.random(16)
    size = h * ((0.05 + 0.3 * s) if cls == TREE else (0.02 + 0.12 * s)) * (0.7 + 0.6 * u[0])
    size = max(size, 4.0)
    if cls == TREE and conifer:
        for k in range(3):  # overlapping tiers, wider towards the ground, give the jagged fir outline
            top, half = by - size * (1 - 0.25 * k), size * (0.12 + 0.06 * k) * (0.8 + 0.4 * u[1 + k])
            low = top + size * 0.5
            pts = np.array([(bx, top), (bx - half, low), (bx + half, low)], np.int32)
            cv2.fillPoly(img, [pts], 1)
    elif cls == TREE:  # leafy crown: overlapping discs over a narrower base reaching the ground
        rad = size * 0.32
        for k in range(6):
            c = (int(bx + (u[k + 1] - 0.5) * rad * 1.2), int(by - size + rad + (u[k + 7] - 0.3) * rad * 1.3))
            cv2.circle(img, c, max(1, int(rad * (0.55 + 0.35 * u[k + 4]))), 1, -1)
        trunk = (max(1, int(rad * 0.6)), int(size * 0.3))
        cv2.ellipse(img, (bx, int(by - size * 0.3)), trunk, 0, 0, 360, 1, -1)
    elif cls == BUSH:  # a few overlapping domes
        for k in range(3):
            axes = (max(1, int(size * (0.35 + 0.2 * u[k + 4]))), max(1, int(size * (0.3 + 0.2 * u[k + 7]))))
            cv2.ellipse(img, (int(bx + (u[k + 1] - 0.5) * size), by), axes, 0, 180, 360, 1, -1)
    else:  # boulder: jittered half-polygon sitting on its flat base
        ang = np.linspace(np.pi, 2 * np.pi, 7)
        rad = size * (0.7 + 0.3 * u[1:8])
        pts = np.stack([bx + rad * np.cos(ang), by + 0.8 * rad * np.sin(ang)], 1).astype(np.int32)
        cv2.fillPoly(img, [pts], 1)
    return int(size) + 2


def render(rng: np.random.Generator, lab: np.ndarray, depth: np.ndarray, light: np.ndarray,
            hz: int, *, winter: bool = False) -> np.ndarray:
    """Photo for a label map: per-class textures, aerial haze, per-scene lighting, soft class boundaries.
    Winter: an overcast sky, frozen water and snow on the tree crowns (the ground is snow in the labels)."""
    h, w = lab.shape
    rows = np.arange(h, dtype=np.float32)
    grain = rng.standard_normal((h, w), dtype=np.float32)
    f4, f16 = field(rng, h, w, h // 4, w // 4), field(rng, h, w, h // 16, w // 16)
    f64 = field(rng, h, w, 5, 5)
    streak = field(rng, h, w, h // 3, 5)  # long thin horizontal ripples
    # erosion ridges running down each mountain face: a vertical ridged field sheared either way
    gully = 1 - np.abs(2 * field(rng, h, w, h // 24, w // 6) - 1)
    shear = [cv2.warpAffine(gully, np.float32([[1, k, -k * h / 2], [0, 1, 0]]), (w, h),
                            borderMode=cv2.BORDER_REFLECT) for k in (0.6, -0.6)]
    gully = np.where(light >= 0, shear[0], shear[1])
    leaf = field(rng, h, w, h // 3, w // 3)  # ~3 px leaf clumps
    dots = field(rng, h, w, h // 2, w // 2)  # ~2 px petals

    def jitter(c: tuple[int, int, int], sd: float = 0.04) -> np.ndarray:
        return np.asarray(c, np.float32) * (1 + rng.normal(0, sd, 3).astype(np.float32))

    # sky: deep blue overhead, paler towards the horizon; the horizon colour also tints haze and reflections
    zenith, horizon = (jitter((128, 144, 168)), jitter((206, 214, 224))) if winter else (
        jitter((58, 118, 200)), jitter((182, 212, 238)))
    t = np.clip(rows / max(hz, 1), 0, 1)[:, None] ** 0.8
    img = np.broadcast_to((zenith * (1 - t) + horizon * t)[:, None, :], (h, w, 3)).copy()
    img += (f64[..., None] - 0.5) * 8

    cloud = lab == CLOUD
    if cloud.any():  # soft-edged puffs: opacity grows with distance inside the cloud
        inside = cv2.distanceTransform(cloud.astype(np.uint8), cv2.DIST_L2, 3)[cloud]
        alpha = 0.35 + 0.65 * np.clip(inside / 6, 0, 1)
        # grey undersides and bright tops: compare cloud cover a few pixels above and below
        soft = cv2.GaussianBlur(cloud.astype(np.float32), (0, 0), 3)
        pad = np.pad(soft, ((5, 5), (0, 0)), mode="edge")
        under = (pad[:-10] - pad[10:])[cloud]  # cover 5 px above minus 5 px below
        shade = 0.74 + 0.16 * f16[cloud] + 0.1 * f64[cloud] - 0.22 * np.clip(under, 0, 1)
        shade += 0.1 * np.clip(-under, 0, 1)
        col = jitter((240, 242, 247), 0.015) * shade[:, None]
        img[cloud] = img[cloud] * (1 - alpha[:, None]) + col * alpha[:, None]

    flat = img.reshape(-1, 3)
    for cls, base in _BASE.items():
        idx = np.flatnonzero(lab == cls)  # flat indices: gathering with take beats boolean masks per field
        if not idx.size:
            continue

        def at(a: np.ndarray, idx: np.ndarray = idx) -> np.ndarray:
            return a.reshape(-1).take(idx)

        c = jitter(base, 0.015 if cls == SNOW else 0.04)  # white must stay neutral
        g, a4, a16, a64 = at(grain), at(f4), at(f16), at(f64)
        if cls == MOUNTAIN:
            mul, add = 0.68 + 0.22 * at(gully) + 0.3 * at(light) + 0.12 * a16, 4 * g
        elif cls == SNOW:  # shadowed faces go blue-grey
            mul, add = 0.92 + 0.08 * a16 + 0.05 * at(light), 3 * g
            c = c - np.outer(np.clip(-at(light), 0, 1), (60, 45, 15))
        elif cls == ROCK:  # speckled grey with darker cracks
            mul, add = 0.68 + 0.3 * a4 + 0.15 * a16 + 0.15 * at(light), 14 * g
        elif cls == HILL:
            mul, add = 0.85 + 0.2 * a64 + 0.08 * a16, 3 * g
        elif cls in (WATER, SEA, RIVER):  # ripple streaks, sky reflection stronger far away, glints
            st = at(streak)
            if winter:  # ice: pale, with the ripples frozen into faint cracks
                c = np.asarray(_ICE, np.float32) * (1 + 0.03 * (c / base - 1))
            near = np.clip((idx // w - hz) / (0.4 * (h - hz)), 0, 1)
            refl = (0.12 + 0.25 * (1 - near))[:, None]
            c = c * (1 - refl) + horizon * refl
            mul = 0.82 + 0.3 * st + 0.05 * a16
            add = np.clip((st + 0.5 * a4 - 1.1) * 6, 0, 1) * 70 + 2 * g
        elif cls == GRASS:
            mul, add = 0.78 + 0.25 * a16 + 0.15 * a4, 8 * g
            c = c + np.outer(a64 - 0.5, (30, 14, -10))  # dry / lush swathes
        elif cls in (TREE, BUSH):  # leaf clumps; crowns lit from above, shadowed where they meet the ground
            lit = np.clip((at(depth) - idx // w) / (0.06 * h), 0, 1)
            mul, add = (0.45 if cls == TREE else 0.55) + 0.6 * at(leaf) + 0.1 * a16 + 0.2 * lit, 5 * g
            if winter:  # snow caught on the upper sides of the leaf clumps
                snowy = np.clip((at(leaf) + 0.4 * lit - 0.75) * 4, 0, 1)[:, None]
                c = c * (1 - snowy) + np.asarray(_BASE[SNOW], np.float32) / (0.45 + 0.6) * snowy
        elif cls == FLOWER:  # coloured petals on green, each patch favouring a few hues
            mul, add = 0.75 + 0.3 * at(leaf), 6 * g
            hue = _PETALS[rng.permutation(len(_PETALS))[:3]][(a16 * 2.99 + 0.5 * a4).astype(int) % 3]
            petal = np.clip((at(dots) - 0.48) * 6, 0, 1)[:, None]
            c = c * (1 - petal) + hue * petal
        elif cls == SAND:
            mul, add = 0.9 + 0.1 * a16 + 0.04 * a4, 7 * g
        else:  # dirt
            mul, add = 0.78 + 0.22 * a16 + 0.15 * a4, 8 * g
        flat[idx] = c * np.asarray(mul, np.float32)[:, None] + np.asarray(add, np.float32)[:, None]

    # aerial perspective: far terrain fades towards the horizon colour (mountains, placed further, fade most)
    far = np.clip(1 - (depth - hz) / (0.5 * (h - hz)), 0, 1.2) * ((lab != SKY) & (lab != CLOUD))
    img += (horizon - img) * (rng.uniform(0.1, 0.22) * far)[..., None]

    # per-scene lighting: brightness, warm/cool tint, saturation
    gain = rng.uniform(0.86, 1.12) * (1 + rng.uniform(-0.05, 0.05) * np.array((1, 0, -1), np.float32))
    if winter:
        gain = gain * np.array((0.96, 0.99, 1.04), np.float32)  # cold light
    img *= gain.astype(np.float32)
    grey = img.mean(2, keepdims=True)
    img = grey + rng.uniform(0.85, 1.15) * (img - grey)

    # photo-like boundaries: blur only a thin band across class edges
    k = np.ones((3, 3), np.uint8)
    edge = cv2.dilate(lab, k) != cv2.erode(lab, k)
    img[edge] = cv2.GaussianBlur(img, (5, 5), 1.0)[edge]
    return np.clip(img, 0, 255).astype(np.uint8)


def make_scene(rng: np.random.Generator, size: tuple[int, int] = (256, 256), *,
               winter: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """One random scene of ``size`` (height, width): (HxW uint8 label ids, HxWx3 uint8 RGB photo).

    winter: the same kind of scene under snow (the ground classes become snow, water freezes, an overcast
    sky): the second domain of the summer -> winter translation the default style brush learns."""
    h, w = size
    lab, depth, light, hz = layout(rng, h, w)
    if winter:
        lab = np.where(np.isin(lab, _WINTER_GROUND), SNOW, lab).astype(lab.dtype)
    return lab, render(rng, lab, depth, light, hz, winter=winter)


def starter_scene(size: tuple[int, int] = (256, 384)) -> np.ndarray:
    """A fixed, pleasant label map (height, width) for the painter's first document."""
    return make_scene(np.random.default_rng(_STARTER_SEED), size)[0]


def write_dataset(out: Path, count: int, *, size: tuple[int, int] = (256, 256), seed: int = 0) -> None:
    """``count`` pairs in SPADE's custom layout: out/images/NNNNN.jpg, out/labels/NNNNN.png (ids, 'L')."""
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        # one generator per index: scene i is the same whatever the count
        lab, img = make_scene(np.random.default_rng((seed, i)), size)
        Image.fromarray(img, "RGB").save(out / "images" / f"{i:05d}.jpg", quality=95)
        Image.fromarray(lab, "L").save(out / "labels" / f"{i:05d}.png")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m trainers.landscapes", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="dataset folder to write")
    ap.add_argument("--count", type=int, required=True, help="number of image/label pairs")
    ap.add_argument("--size", type=int, default=256, help="square side in pixels")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    write_dataset(args.out, args.count, size=(args.size, args.size), seed=args.seed)
    print(f"wrote {args.count} pairs to {args.out}")


if __name__ == "__main__":
    main()
