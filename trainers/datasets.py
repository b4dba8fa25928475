"""The trainers' datasets. Paired folders (the official SPADE custom layout): photos and label maps matched
by file stem; one folder of photos (the Swapping Autoencoder, and the pieces of the unpaired translation
trainers' data in trainers.unpaired_datasets).

The scan functions check the data before training (headers of photos, full label maps for their ids) and
return a JSON-able summary (`--validate-only`); the dataset classes serve augmented training samples.
Torch is imported by the dataset classes only, so `--validate-only` starts fast.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from engine.imageio import upright_rgb
from engine.models.spade import DONTCARE, encode_labels
from engine.palettes import Palette

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
LABEL_EXTS = {".png", ".bmp", ".tif", ".tiff"}  # lossless only: a JPEG would blur the class ids
LABEL_MODES = {"L", "P", "I", "I;16"}
LOAD_RATIO = 286 / 256  # the official defaults resize to 286 before a random 256 crop


@dataclass(frozen=True)
class Pair:
    stem: str
    image: Path
    label: Path
    instance: Path | None = None


def _files(folder: Path, exts: set[str]) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() in exts
            and not p.name.startswith(".")}


def allowed_ids(palette: Palette, label_nc: int, contain_dontcare_label: bool) -> set[int]:
    """Label values a model with this layout accepts: palette classes below label_nc, and dontcare."""
    ids = {i for i in palette.ids() if i < label_nc}
    if contain_dontcare_label:
        ids |= {label_nc, DONTCARE}
    return ids


def read_label(path: Path) -> np.ndarray:
    """A single-channel label map of class ids (PNG mode L, P, I or I;16) as an integer array."""
    with Image.open(path) as im:
        if im.mode not in LABEL_MODES:
            raise ValueError(f"label map is {im.mode}; expected one channel of class ids (mode L, P or I)")
        return np.asarray(im)


def _ids_in(labels: np.ndarray) -> np.ndarray:
    if labels.dtype == np.uint8:
        return np.flatnonzero(np.bincount(labels.ravel(), minlength=256))
    return np.unique(labels)


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnidentifiedImageError):
        return "not an image, or corrupt"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def scan_pairs(images: Path, labels: Path, instances: Path | None, *, palette: Palette, label_nc: int,
               contain_dontcare_label: bool, max_images: int | None = None,
               ignore_unknown_ids: bool = False) -> tuple[list[Pair], dict[str, Any]]:
    """(usable pairs, summary): the pairs training can use, and the JSON-able summary of paired folders: pairs,
    unmatched_images, unmatched_labels, unreadable ("file: reason"), sizes ({"WxH": count}), label_ids_found,
    ids_outside_palette, errors, warnings."""
    summary: dict[str, Any] = {"pairs": 0, "unmatched_images": [], "unmatched_labels": [], "unreadable": [],
                               "sizes": {}, "label_ids_found": [], "ids_outside_palette": [],
                               "palette": palette.name, "label_nc": label_nc, "errors": [], "warnings": []}
    errors, warnings = summary["errors"], summary["warnings"]
    folders = [("photo", images), ("label", labels)] + ([("instance", instances)] if instances else [])
    for what, folder in folders:
        if not folder.is_dir():
            errors.append(f"the {what} folder {folder} does not exist")
    if errors:
        return [], summary
    photos, maps = _files(images, IMAGE_EXTS), _files(labels, LABEL_EXTS)
    insts = _files(instances, LABEL_EXTS) if instances else {}
    if not photos:
        errors.append(f"no images ({', '.join(sorted(IMAGE_EXTS))}) in {images}")
    if not maps:
        errors.append(f"no label maps ({', '.join(sorted(LABEL_EXTS))}) in {labels}")
    if errors:
        return [], summary
    summary["unmatched_images"] = [photos[s].name for s in photos if s not in maps]
    summary["unmatched_labels"] = [maps[s].name for s in maps if s not in photos]
    stems = [s for s in photos if s in maps]
    if not stems:
        errors.append(f"no photo in {images} has a label map of the same name in {labels} "
                      f"(e.g. {next(iter(photos.values())).name} vs {next(iter(maps.values())).name})")
        return [], summary
    if max_images is not None:
        stems = stems[:max_images]
    missing_inst = [s for s in stems if instances and s not in insts]
    if missing_inst:
        errors.append(f"{len(missing_inst)} pairs have no instance map in {instances} (e.g. {missing_inst[0]})")
        return [], summary

    allowed = allowed_ids(palette, label_nc, contain_dontcare_label)
    found: set[int] = set()
    outside_in: list[str] = []
    sizes: Counter[str] = Counter()
    size_mismatch: list[str] = []
    pairs: list[Pair] = []

    def check(stem: str) -> tuple[str, Any]:
        try:
            with Image.open(photos[stem]) as im:  # the header only: fast for any size
                size = im.size
        except Exception as exc:  # noqa: BLE001 (Pillow raises many kinds for broken files)
            return stem, (photos[stem].name, _reason(exc))
        try:
            lab = read_label(maps[stem])
            if instances:
                with Image.open(insts[stem]) as im:
                    if im.size != (lab.shape[1], lab.shape[0]):
                        raise ValueError(f"instance map is {im.size[0]}x{im.size[1]}, label map "
                                         f"{lab.shape[1]}x{lab.shape[0]}")
        except Exception as exc:  # noqa: BLE001
            return stem, (maps[stem].name, _reason(exc))
        return stem, (size, (lab.shape[1], lab.shape[0]), _ids_in(lab))

    with ThreadPoolExecutor(max_workers=4) as pool:  # decoding PNGs releases the GIL
        for stem, result in pool.map(check, stems):
            if isinstance(result[0], str):
                summary["unreadable"].append(f"{result[0]}: {result[1]}")
                continue
            size, label_size, ids = result
            sizes[f"{size[0]}x{size[1]}"] += 1
            if label_size != size:
                size_mismatch.append(stem)
            ids = {int(i) for i in ids}
            found |= ids
            if ids - allowed:
                outside_in.append(maps[stem].name)
            pairs.append(Pair(stem, photos[stem], maps[stem], insts.get(stem)))

    summary.update(pairs=len(pairs), sizes=dict(sizes.most_common()), label_ids_found=sorted(found),
                   ids_outside_palette=sorted(found - allowed))
    if summary["ids_outside_palette"]:
        text = (f"label ids {_short(summary['ids_outside_palette'])} are not classes of palette '{palette.name}' "
                f"with label_nc {label_nc} ({len(outside_in)} label maps, e.g. {outside_in[0]})")
        if ignore_unknown_ids:
            warnings.append(text + ": they become dontcare")
        else:
            errors.append(text)
    if not pairs:
        errors.append("none of the pairs can be read")
    if summary["unmatched_images"]:
        warnings.append(f"{len(summary['unmatched_images'])} photos have no label map and are left out")
    if summary["unmatched_labels"]:
        warnings.append(f"{len(summary['unmatched_labels'])} label maps have no photo and are left out")
    if summary["unreadable"]:
        warnings.append(f"{len(summary['unreadable'])} unreadable files are skipped "
                        f"(e.g. {summary['unreadable'][0]})")
    if size_mismatch:
        warnings.append(f"{len(size_mismatch)} label maps differ in size from their photo and are resized "
                        f"to it (nearest), e.g. {size_mismatch[0]}")
    return pairs, summary


def _short(ids: list[int]) -> str:
    return ", ".join(map(str, ids[:10])) + (" ..." if len(ids) > 10 else "")


# --- training samples -----------------------------------------------------------------------------------


def crop_box(crop_size: int, aspect_ratio: float, factor: int) -> tuple[int, int]:
    """(H, W) of the training crop: width crop_size, height width / aspect, both multiples of `factor`
    (the generator's total upsampling), as the generator's latent grid implies."""
    sw = crop_size // factor
    sh = round(sw / aspect_ratio)
    return sh * factor, sw * factor


class PairedFolder:
    """Training samples from paired folders: dict(image (3,H,W) in [-1, 1], seg (semantic_nc,H,W) one-hot
    [+ instance edges], label (H,W) ids, index, skipped).

    Augmentation (SPADE's): scale so the crop box times 286/256 fits, random crop, random horizontal flip;
    label and instance maps resized NEAREST. Keys are `index` or `(index, epoch)`: the random choices come
    from (seed, epoch, index) alone, so any sample is reproducible (exact resume, any worker count).
    A file that fails to load is replaced by the next readable pair, and `skipped` names it.
    """

    def __init__(self, images: Path | None = None, labels: Path | None = None, instances: Path | None = None, *,
                 palette: Palette, label_nc: int, size: tuple[int, int], contain_dontcare_label: bool = False,
                 no_instance: bool = True, pairs: list[Pair] | None = None, augment: bool = True, seed: int = 0,
                 ignore_unknown_ids: bool = False) -> None:
        if pairs is None:
            if images is None or labels is None:
                raise ValueError("PairedFolder needs the images and labels folders, or validated pairs")
            pairs, summary = scan_pairs(Path(images), Path(labels), Path(instances) if instances else None,
                                        palette=palette, label_nc=label_nc,
                                        contain_dontcare_label=contain_dontcare_label,
                                        ignore_unknown_ids=ignore_unknown_ids)
            if summary["errors"]:
                raise ValueError(summary["errors"][0])
        self.pairs = pairs
        self.size = (int(size[0]), int(size[1]))
        self.label_nc, self.dontcare, self.no_instance = label_nc, contain_dontcare_label, no_instance
        self.augment, self.seed = augment, seed
        self.palette = palette
        allowed = np.array(sorted(allowed_ids(palette, label_nc, contain_dontcare_label)))
        # ids outside the palette become dontcare when the user chose to ignore them
        self._remap = (lambda ids: np.where(np.isin(ids, allowed), ids, DONTCARE)) if ignore_unknown_ids else None

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        index, epoch = (key, 0) if isinstance(key, int) else (int(key[0]), int(key[1]))
        skipped = []
        for k in range(len(self.pairs)):
            pair = self.pairs[(index + k) % len(self.pairs)]
            try:
                sample = self.load(pair, np.random.default_rng([self.seed, epoch, index]))
            except (OSError, ValueError, SyntaxError) as exc:  # Pillow raises SyntaxError for broken PNGs
                skipped.append(f"{pair.image.name}: {_reason(exc)}")
                continue
            return {**sample, "index": index, "skipped": "; ".join(skipped)}
        raise ValueError("no pair of the dataset can be read: " + "; ".join(skipped[:3]))

    def load(self, pair: Pair, rng: np.random.Generator) -> dict[str, Any]:
        import torch

        with Image.open(pair.image) as im:
            image = im.convert("RGB")
        labels = Image.fromarray(read_label(pair.label))
        if labels.size != image.size:
            labels = labels.resize(image.size, Image.NEAREST)
        inst = None
        if pair.instance is not None and not self.no_instance:
            with Image.open(pair.instance) as im:
                inst = Image.fromarray(np.asarray(im).astype(np.int32))
        h, w = self.size
        ratio = LOAD_RATIO if self.augment else 1.0
        scale = max(h * ratio / image.height, w * ratio / image.width)
        new = (max(w, round(image.width * scale)), max(h, round(image.height * scale)))
        x = int(rng.integers(0, new[0] - w + 1)) if self.augment else (new[0] - w) // 2
        y = int(rng.integers(0, new[1] - h + 1)) if self.augment else (new[1] - h) // 2
        flip = self.augment and bool(rng.random() < 0.5)

        def geometry(im: Image.Image, resample: Image.Resampling) -> np.ndarray:
            im = im.resize(new, resample).crop((x, y, x + w, y + h))
            return np.asarray(im.transpose(Image.FLIP_LEFT_RIGHT) if flip else im)

        rgb = geometry(image, Image.BICUBIC)
        ids = geometry(labels, Image.NEAREST)
        if self._remap is not None:
            ids = self._remap(ids)
        seg = encode_labels(ids, label_nc=self.label_nc, contain_dontcare_label=self.dontcare,
                            no_instance=self.no_instance,
                            instances=None if inst is None else geometry(inst, Image.NEAREST))[0]
        image_t = torch.from_numpy(rgb.copy()).permute(2, 0, 1).float().div_(127.5).sub_(1.0)
        return {"image": image_t, "seg": seg, "label": torch.from_numpy(ids.astype(np.int64))}


# --- one folder of photos (unpaired: the Swapping Autoencoder) ------------------------------------------


def scan_images(folder: Path, *, crop_size: int, max_images: int | None = None) -> tuple[list[Path], dict[str, Any]]:
    """(usable photos, summary) of one folder: photos whose headers read and whose short side is at least
    `crop_size` (they are never upscaled to reach the crop). The summary is JSON-able: images, unreadable
    ("file: reason"), too_small ("file: WxH"), sizes ({"WxH": count}), crop_size, errors, warnings."""
    summary: dict[str, Any] = {"images": 0, "unreadable": [], "too_small": [], "sizes": {}, "crop_size": crop_size,
                               "errors": [], "warnings": []}
    errors, warnings = summary["errors"], summary["warnings"]
    if not folder.is_dir():
        errors.append(f"the photo folder {folder} does not exist")
        return [], summary
    files = list(_files(folder, IMAGE_EXTS).values())
    if not files:
        errors.append(f"no images ({', '.join(sorted(IMAGE_EXTS))}) in {folder}")
        return [], summary
    if max_images is not None:
        files = files[:max_images]

    def header(path: Path) -> tuple[int, int] | str:
        try:
            with Image.open(path) as im:
                return im.size
        except Exception as exc:  # noqa: BLE001 (Pillow raises many kinds for broken files)
            return _reason(exc)

    sizes: Counter[str] = Counter()
    usable: list[Path] = []
    with ThreadPoolExecutor(max_workers=4) as pool:
        for path, result in zip(files, pool.map(header, files), strict=True):
            if isinstance(result, str):
                summary["unreadable"].append(f"{path.name}: {result}")
                continue
            w, h = result
            sizes[f"{w}x{h}"] += 1
            if min(w, h) < crop_size:
                summary["too_small"].append(f"{path.name}: {w}x{h}")
            else:
                usable.append(path)
    summary.update(images=len(usable), sizes=dict(sizes.most_common()))
    unreadable, small = summary["unreadable"], summary["too_small"]
    if not usable:
        reasons = []
        if small:
            reasons.append(f"{len(small)} are smaller than the {crop_size}x{crop_size} training crop "
                           f"(e.g. {small[0]}): use larger photos or a smaller crop_size")
        if unreadable:
            reasons.append(f"{len(unreadable)} cannot be read (e.g. {unreadable[0]})")
        errors.append(f"none of the {len(files)} images in {folder} can be used: " + "; ".join(reasons))
        return [], summary
    if small:
        warnings.append(f"{_are(len(small), 'photo')} smaller than the {crop_size}x{crop_size} crop and left out "
                        f"(e.g. {small[0]})")
    if unreadable:
        warnings.append(f"{_are(len(unreadable), 'unreadable file')} skipped (e.g. {unreadable[0]})")
    return usable, summary


def _are(count: int, noun: str) -> str:
    """"1 photo is", "3 photos are"."""
    return f"{count} {noun} is" if count == 1 else f"{count} {noun}s are"


class PhotoFolder:
    """Training samples from one folder of photos: dict(image (3, S, S) in [-1, 1], index, skipped).

    Augmentation (the Swapping Autoencoder's): scale the short side to `load_size` (bicubic), a random
    `crop_size` square, a random horizontal flip; without augmentation, the short side scaled to the crop
    and the centre square. Keys are `index` or `(index, epoch)`: the random choices come from
    (seed, epoch, index) alone, so any sample is reproducible (exact resume, any worker count). A file
    that fails to load is replaced by the next readable photo, and `skipped` names it.
    """

    def __init__(self, paths: list[Path], *, crop_size: int, load_size: int | None = None, augment: bool = True,
                 seed: int = 0) -> None:
        if not paths:
            raise ValueError("PhotoFolder needs at least one photo")
        self.paths = paths
        self.crop_size = crop_size
        self.load_size = max(load_size or crop_size, crop_size)
        self.augment, self.seed = augment, seed

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        index, epoch = (key, 0) if isinstance(key, int) else (int(key[0]), int(key[1]))
        skipped = []
        for k in range(len(self.paths)):
            path = self.paths[(index + k) % len(self.paths)]
            try:
                image = self.load(path, np.random.default_rng([self.seed, epoch, index]))
            except (OSError, ValueError, SyntaxError) as exc:  # Pillow raises SyntaxError for broken PNGs
                skipped.append(f"{path.name}: {_reason(exc)}")
                continue
            return {"image": image, "index": index, "skipped": "; ".join(skipped)}
        raise ValueError("no photo of the dataset can be read: " + "; ".join(skipped[:3]))

    def load(self, path: Path, rng: np.random.Generator) -> Any:
        import torch

        image = upright_rgb(path)
        s = self.crop_size
        short = self.load_size if self.augment else s
        scale = short / min(image.size)
        new = (max(s, round(image.width * scale)), max(s, round(image.height * scale)))
        if new != image.size:
            image = image.resize(new, Image.BICUBIC)
        x = int(rng.integers(0, new[0] - s + 1)) if self.augment else (new[0] - s) // 2
        y = int(rng.integers(0, new[1] - s + 1)) if self.augment else (new[1] - s) // 2
        image = image.crop((x, y, x + s, y + s))
        if self.augment and rng.random() < 0.5:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).float().div_(127.5).sub_(1.0)
