"""The unpaired translation trainers' datasets: two folders of photos, one per domain (CycleGAN, CUT), or one
source and one target photo (SinCUT). As trainers.datasets: the scan functions check the data and return a
JSON-able summary (`--validate-only`); the dataset classes serve augmented training samples.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from engine.imageio import upright_rgb
from trainers.datasets import PhotoFolder, _reason, scan_images

# --- two folders of photos (unpaired translation: CycleGAN, CUT) ------------------------------------------

DOMAINS = ("A", "B")


def domain_folders(dataroot: str, a: str, b: str) -> tuple[Path, Path]:
    """The A and B photo folders: dataroot/trainA and dataroot/trainB (the official layout), or a and b.
    ValueError (one line) when neither or both ways are given."""
    if dataroot and (a or b):
        raise ValueError("give either dataroot (with trainA and trainB) or the folders a and b, not both")
    if dataroot:
        return Path(dataroot) / "trainA", Path(dataroot) / "trainB"
    if not (a and b):
        raise ValueError("choose the photo folders: a and b, or a dataroot holding trainA and trainB")
    return Path(a), Path(b)


def scan_unpaired(folder_a: Path, folder_b: Path, *, crop_size: int,
                  max_images: int | None = None) -> tuple[list[Path], list[Path], dict[str, Any]]:
    """(usable A photos, usable B photos, summary): `scan_images` of each folder, merged into one JSON-able
    summary: images_A, images_B, folder_A, folder_B, sizes, too_small and unreadable (names prefixed "A/"
    or "B/"), crop_size, errors and warnings (prefixed "domain A: ")."""
    summary: dict[str, Any] = {"images_A": 0, "images_B": 0, "folder_A": str(folder_a), "folder_B": str(folder_b),
                               "sizes": {}, "too_small": [], "unreadable": [], "crop_size": crop_size,
                               "errors": [], "warnings": []}
    found: list[list[Path]] = []
    sizes: Counter[str] = Counter()
    for domain, folder in zip(DOMAINS, (folder_a, folder_b), strict=True):
        paths, part = scan_images(folder, crop_size=crop_size, max_images=max_images)
        found.append(paths)
        summary[f"images_{domain}"] = part["images"]
        sizes.update(part["sizes"])
        for key in ("too_small", "unreadable"):
            summary[key] += [f"{domain}/{item}" for item in part[key]]
        for key in ("errors", "warnings"):
            summary[key] += [f"domain {domain}: {item}" for item in part[key]]
    summary["sizes"] = dict(sizes.most_common())
    return found[0], found[1], summary


class UnpairedFolders:
    """Training samples dict(A, B (3, S, S) in [-1, 1], index, skipped) from two photo folders.

    As the official unaligned dataset: an epoch has max(|A|, |B|) samples; sample i takes A photo i mod |A|
    and a random B photo, so every B photo meets changing partners. Keys are `(index, epoch)`; every random
    choice (the B photo, each crop and flip: `PhotoFolder`'s augmentation) comes from (seed, epoch, index),
    so any sample is reproducible. A file that fails to load is replaced by the next readable one of its
    domain, and `skipped` names it.
    """

    def __init__(self, paths_a: list[Path], paths_b: list[Path], *, crop_size: int, load_size: int | None,
                 seed: int = 0) -> None:
        self.a = PhotoFolder(paths_a, crop_size=crop_size, load_size=load_size, seed=seed)
        self.b = PhotoFolder(paths_b, crop_size=crop_size, load_size=load_size, seed=seed)
        self.seed = seed

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Any]:
        index, epoch = int(key[0]), int(key[1])
        rng = np.random.default_rng([self.seed, epoch, index])
        skipped: list[str] = []
        image_a = _first_readable(self.a, index % len(self.a), rng, skipped)
        image_b = _first_readable(self.b, int(rng.integers(len(self.b))), rng, skipped)
        return {"A": image_a, "B": image_b, "index": index, "skipped": "; ".join(skipped)}


def _first_readable(folder: PhotoFolder, start: int, rng: np.random.Generator, skipped: list[str]) -> Any:
    for k in range(len(folder)):
        path = folder.paths[(start + k) % len(folder)]
        try:
            return folder.load(path, rng)
        except (OSError, ValueError, SyntaxError) as exc:  # Pillow raises SyntaxError for broken PNGs
            skipped.append(f"{path.name}: {_reason(exc)}")
    raise ValueError("no photo of the dataset can be read: " + "; ".join(skipped[:3]))


# --- one photo per domain (SinCUT) --------------------------------------------------------------------


def scan_single_images(source: Path, target: Path, *, crop_size: int) -> dict[str, Any]:
    """The summary of SinCUT's two photos: images (readable ones), sizes ({"source": "WxH", ...}),
    unreadable, too_small, crop_size, errors, warnings. A photo must be at least crop_size on each side."""
    summary: dict[str, Any] = {"images": 0, "sizes": {}, "unreadable": [], "too_small": [], "crop_size": crop_size,
                               "errors": [], "warnings": []}
    for role, path in (("source", source), ("target", target)):
        if not path.is_file():
            summary["errors"].append(f"the {role} photo {path} does not exist" if str(path) not in ("", ".")
                                     else f"choose the {role} photo")
            continue
        try:
            with Image.open(path) as im:
                w, h = im.size
        except Exception as exc:  # noqa: BLE001 (Pillow raises many kinds for broken files)
            summary["unreadable"].append(f"{path.name}: {_reason(exc)}")
            summary["errors"].append(f"the {role} photo {path.name} cannot be read: {_reason(exc)}")
            continue
        summary["sizes"][role] = f"{w}x{h}"
        if min(w, h) < crop_size:
            summary["too_small"].append(f"{path.name}: {w}x{h}")
            summary["errors"].append(f"the {role} photo {path.name} is {w}x{h}, smaller than the {crop_size}x"
                                     f"{crop_size} training crop: use a larger photo or a smaller crop_size")
            continue
        summary["images"] += 1
    return summary


class SingleImageCrops:
    """SinCUT's data (thesis ch. 3.3.2): step -> dict(A, B (count, 3, S, S) in [-1, 1], skipped).

    Each step scales the source and the target photo, independently, to a random width between min_width
    and max_width (bilinear; never so small that a side falls below the crop), then cuts `count` random
    S x S crops from each, each flipped horizontally at random. The choices come from (seed, rank, step)
    alone, so a resumed run draws the same crops. The photos are decoded once.
    """

    def __init__(self, source: Path, target: Path, *, crop_size: int, count: int, min_width: int, max_width: int,
                 seed: int = 0, rank: int = 0) -> None:
        self.images = []
        for path in (source, target):
            self.images.append(upright_rgb(path))
        self.crop_size, self.count = crop_size, count
        self.min_width, self.max_width = min_width, max(max_width, min_width)
        self.seed, self.rank = seed, rank

    def __getitem__(self, step: int) -> dict[str, Any]:
        rng = np.random.default_rng([self.seed, self.rank, int(step)])
        a, b = (self._crops(image, rng) for image in self.images)
        return {"A": a, "B": b, "skipped": ""}

    def _crops(self, image: Image.Image, rng: np.random.Generator) -> Any:
        import torch

        s = self.crop_size
        smallest = s * image.width / min(image.size)  # the width at which the short side is one crop
        lo = max(self.min_width, smallest)
        width = rng.uniform(lo, max(self.max_width, lo))
        size = (max(s, round(width)), max(s, round(image.height * width / image.width)))
        scaled = np.asarray(image.resize(size, Image.BILINEAR) if size != image.size else image)
        crops = np.empty((self.count, s, s, 3), np.uint8)
        for k in range(self.count):
            y, x = int(rng.integers(0, size[1] - s + 1)), int(rng.integers(0, size[0] - s + 1))
            crop = scaled[y:y + s, x:x + s]
            crops[k] = crop[:, ::-1] if rng.random() < 0.5 else crop
        return torch.from_numpy(crops).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
