"""Editing statistics of StructureTexture models: their file format, where they are kept, how they are computed.

Principal directions of the texture and structure codes (GANSpace-style) and named texture attributes.
A checkpoint may ship them as its part "stats" (tensors `stats/texture_mean`, ..., `stats/attribute.<name>`,
plus metadata["stats"] = {"source", "count"}). What the user computes is kept in
user_data_dir()/code_stats/<model id>.safetensors, in the same layout, with the sha256 of the model file it
was computed with; it overrides the shipped statistics for as long as the model file is unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.api import CodeStats, ModelEntry
from engine.checkpoints import Checkpoint, CheckpointError, read_checkpoint, write_checkpoint
from engine.codes import ATTRIBUTE_NAME_LIMIT, MIN_STATS_PHOTOS, PHOTO_SUFFIXES
from engine.imageio import read_rgb
from engine.storage import user_data_dir
from engine.tasks import Job

PART = "stats"
ARRAYS = ("texture_mean", "texture_components", "texture_std",
          "structure_mean", "structure_components", "structure_std")
ATTRIBUTE_PREFIX = "attribute."
SHIPPED = "shipped with the model"
USER_DIR = "code_stats"

MAX_SHORT_SIDE = 256  # photos are embedded at most this large: directions barely change, encoding is much faster
MAX_COMPONENTS = 16
MAX_STRUCTURE_CELLS = 200_000  # cells sampled for the structure directions (a fixed seed keeps them repeatable)

Encode = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # image HxWx3 in [0, 1] -> (structure, texture)


# --- CodeStats <-> tensors + metadata ---------------------------------------------------------------------


def to_part(stats: CodeStats) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors of part "stats" (keys without the "stats/" prefix) and metadata["stats"]."""
    tensors = {name: _tensor(getattr(stats, name)) for name in ARRAYS}
    tensors.update({ATTRIBUTE_PREFIX + name: _tensor(vector) for name, vector in stats.attributes})
    info = {"source": stats.source, "count": stats.count, "attributes": [name for name, _ in stats.attributes]}
    return tensors, info


def from_part(tensors: Mapping[str, torch.Tensor], info: Mapping[str, Any]) -> CodeStats:
    """Inverse of to_part. Attributes keep the order metadata lists; others follow by name."""
    missing = [name for name in ARRAYS if name not in tensors]
    if missing:
        raise CheckpointError(f"the editing statistics are incomplete (no {', '.join(missing)})")
    stored = {key[len(ATTRIBUTE_PREFIX):]: value for key, value in tensors.items() if key.startswith(ATTRIBUTE_PREFIX)}
    listed = [name for name in info.get("attributes", []) if name in stored]
    order = listed + sorted(set(stored) - set(listed))
    return CodeStats(
        **{name: _array(tensors[name]) for name in ARRAYS},
        attributes=tuple((name, _array(stored[name])) for name in order),
        source=str(info.get("source", "")), count=int(info.get("count", 0)))


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _array(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().float().numpy().copy()


# --- storage ----------------------------------------------------------------------------------------------


def shipped(ckpt: Checkpoint) -> CodeStats | None:
    """The statistics a checkpoint carries, or None."""
    if PART not in ckpt.parts:
        return None
    info = dict(ckpt.metadata.get("stats") or {})
    stats = from_part(ckpt.parts[PART], info)
    source = f"{SHIPPED} ({stats.source})" if stats.source else SHIPPED
    return dataclasses.replace(stats, source=source)


def user_file(model_id: str) -> Path:
    return user_data_dir() / USER_DIR / f"{model_id}.safetensors"


def load(entry: ModelEntry, shipped_stats: CodeStats | None, *, note: bool = True) -> CodeStats | None:
    """The user's statistics for this model file if there are valid ones, else the shipped ones.

    note: say in the shipped statistics' source why the user's file was ignored (off when they are
    about to be edited and saved, where the remark would no longer be true).
    """
    path = user_file(entry.id)
    if not path.is_file():
        return shipped_stats
    try:
        ckpt = read_checkpoint(path)
        if ckpt.metadata.get("model_sha256") == entry.sha256:
            return from_part(ckpt.parts.get(PART, {}), ckpt.metadata.get("stats") or {})
        why = "statistics computed earlier were for another version of the model file and were ignored"
    except CheckpointError as exc:
        why = f"the statistics computed earlier could not be read and were ignored ({exc})"
    if shipped_stats is None or not note:
        return shipped_stats
    return dataclasses.replace(shipped_stats, source=f"{shipped_stats.source}; {why}")


def save(entry: ModelEntry, stats: CodeStats) -> None:
    """Atomically replace the user's statistics for this model (tied to the model file's sha256)."""
    tensors, info = to_part(stats)
    metadata = {"kind": "code-stats", "model_id": entry.id, "model_sha256": entry.sha256, "stats": info}
    write_checkpoint(user_file(entry.id), {}, metadata, parts={PART: tensors})


# --- photos -----------------------------------------------------------------------------------------------


def gather(paths: Sequence[str | Path]) -> list[Path]:
    """Files as given, folders searched recursively for photos (sorted); each file once."""
    if not paths:
        raise ValueError("no photos or folders given")
    found: dict[Path, None] = {}
    for given in paths:
        path = Path(given).expanduser()
        if path.is_dir():
            photos = (p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
            found.update(dict.fromkeys(sorted(photos)))
        elif path.is_file():
            found[path] = None
        elif path.exists():
            raise ValueError(f"{path}: not a regular file or folder (a pipe or a device)")
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return list(found)


def resize_short_side(image: np.ndarray, short_side: int) -> np.ndarray:
    """Resize HxWx3 so its shorter side is `short_side` px (antialiased bicubic), keeping the aspect ratio."""
    h, w = image.shape[:2]
    factor = short_side / min(h, w)
    size = (max(1, round(h * factor)), max(1, round(w * factor)))
    if size == (h, w):
        return image
    x = torch.from_numpy(np.ascontiguousarray(image, np.float32)).permute(2, 0, 1)[None]
    y = torch.nn.functional.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False)
    return y[0].permute(1, 2, 0).clamp(0, 1).numpy()


def working_short_side(min_size: int) -> int:
    """Photos are shrunk to this short side for statistics (never below what the model accepts)."""
    return max(MAX_SHORT_SIDE, int(min_size))


@dataclass
class Codes:
    """The codes of the photos of one set, and the files that gave none."""

    textures: list[np.ndarray] = field(default_factory=list)
    structures: list[np.ndarray] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    too_small: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.textures)

    def skipped(self, min_size: int) -> str:
        parts = []
        if self.unreadable:
            parts.append(f"{_count(len(self.unreadable), 'unreadable file')} skipped: {_names(self.unreadable)}")
        if self.too_small:
            parts.append(f"{_count(len(self.too_small), 'photo')} under {min_size} px skipped: "
                         f"{_names(self.too_small)}")
        return "; ".join(parts)


def encode_photos(files: Sequence[Path], encode: Encode, ctx: Job, *, min_size: int,
                  span: tuple[float, float] = (0.0, 1.0), label: str = "photo") -> Codes:
    """Read, shrink and embed each photo; unreadable and too small ones are listed, not fatal."""
    codes = Codes()
    short_side = working_short_side(min_size)
    for i, path in enumerate(files):
        ctx.check()
        ctx.progress(span[0] + (span[1] - span[0]) * i / max(len(files), 1),
                     f"{label} {i + 1}/{len(files)}: {path.name}")
        try:
            image = read_rgb(path)
        except ValueError:
            codes.unreadable.append(path.name)
            continue
        if min(image.shape[:2]) < min_size:
            codes.too_small.append(path.name)
            continue
        if min(image.shape[:2]) > short_side:
            image = resize_short_side(image, short_side)
        structure, texture = encode(image)
        codes.structures.append(structure)
        codes.textures.append(texture)
    return codes


# --- computation ------------------------------------------------------------------------------------------


def principal_directions(samples: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean (d,), components (k, d) orthonormal, std (k,)) of samples (n, d) by SVD of the centred samples.

    Each component's sign is fixed (largest entry positive) so recomputing gives the same sliders.
    """
    data = samples.astype(np.float64)
    mean = data.mean(axis=0)
    _, singular, vt = np.linalg.svd(data - mean, full_matrices=False)
    components = vt[:k]
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    components = components * np.where(signs == 0, 1.0, signs)[:, None]
    std = singular[:k] / np.sqrt(max(len(data) - 1, 1))
    return mean.astype(np.float32), components.astype(np.float32), std.astype(np.float32)


def structure_cells(structures: Sequence[np.ndarray], *, limit: int = MAX_STRUCTURE_CELLS,
                    seed: int = 0) -> np.ndarray:
    """Every cell's code as rows (n_cells, C); at most `limit` rows, drawn with a fixed seed."""
    cells = np.concatenate([s.reshape(s.shape[0], -1).T for s in structures], axis=0)
    if len(cells) > limit:
        keep = np.sort(np.random.default_rng(seed).choice(len(cells), size=limit, replace=False))
        cells = cells[keep]
    return cells


def compute(paths: Sequence[str], encode: Encode, ctx: Job, *, min_size: int,
            attributes: tuple[tuple[str, np.ndarray], ...] = ()) -> CodeStats:
    """Principal directions of the photos under `paths`; `attributes` are carried over unchanged."""
    files = gather(paths)
    codes = encode_photos(files, encode, ctx, min_size=min_size, span=(0.0, 0.95))
    where = _where(paths)
    if codes.count < MIN_STATS_PHOTOS:
        skipped = codes.skipped(min_size)
        raise ValueError(f"need at least {MIN_STATS_PHOTOS} photos, found {codes.count} readable in {where}"
                         + (f" ({skipped})" if skipped else ""))
    ctx.check()
    ctx.progress(0.95, "principal directions")
    textures = np.stack(codes.textures)
    texture_mean, texture_components, texture_std = principal_directions(
        textures, min(MAX_COMPONENTS, codes.count - 1))
    cells = structure_cells(codes.structures)
    structure_mean, structure_components, structure_std = principal_directions(
        cells, min(MAX_COMPONENTS, cells.shape[1], len(cells) - 1))
    notes = [f"short side shrunk to at most {working_short_side(min_size)} px for speed"]
    if skipped := codes.skipped(min_size):
        notes.append(skipped)
    return CodeStats(texture_mean, texture_components, texture_std,
                     structure_mean, structure_components, structure_std,
                     attributes=attributes, source=f"{codes.count} photos in {where} ({'; '.join(notes)})",
                     count=codes.count)


def check_attribute_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValueError("an attribute needs a name")
    if not name.isprintable():
        raise ValueError("an attribute name must be printable text (no control characters or line breaks)")
    if len(name) > ATTRIBUTE_NAME_LIMIT:
        raise ValueError(f"an attribute name may have at most {ATTRIBUTE_NAME_LIMIT} characters ('{name[:ATTRIBUTE_NAME_LIMIT]}...')")
    return name


def attribute_direction(group_a: Sequence[str], group_b: Sequence[str], encode: Encode, ctx: Job, *,
                        min_size: int) -> tuple[np.ndarray, Codes]:
    """mean(texture codes of B) - mean(texture codes of A), and all codes seen (for a first set of statistics)."""
    found = []
    for label, paths, span in (("A", group_a, (0.0, 0.5)), ("B", group_b, (0.5, 1.0))):
        if not paths:
            raise ValueError(f"group {label} has no photos or folders")
        codes = encode_photos(gather(paths), encode, ctx, min_size=min_size, span=span, label=f"group {label}")
        if codes.count == 0:
            skipped = codes.skipped(min_size)
            raise ValueError(f"group {label} has no readable photos in {_where(paths)}"
                             + (f" ({skipped})" if skipped else ""))
        found.append(codes)
    a, b = found
    direction = np.mean(b.textures, axis=0) - np.mean(a.textures, axis=0)
    return direction.astype(np.float32), Codes(a.textures + b.textures, a.structures + b.structures)


def without_directions(codes: Codes) -> CodeStats:
    """Statistics holding only attributes, for a model nobody computed directions for yet: the means of the
    photos seen and no components (k = 0)."""
    cells = structure_cells(codes.structures)
    texture_dim, structure_dim = codes.textures[0].shape[0], cells.shape[1]
    return CodeStats(
        np.mean(codes.textures, axis=0).astype(np.float32), np.zeros((0, texture_dim), np.float32),
        np.zeros(0, np.float32), cells.mean(axis=0).astype(np.float32), np.zeros((0, structure_dim), np.float32),
        np.zeros(0, np.float32), source="no principal directions yet (attributes only)", count=0)


def with_attribute(stats: CodeStats, name: str, direction: np.ndarray) -> CodeStats:
    """Add or replace (in place in the order) the attribute `name`."""
    names = [n for n, _ in stats.attributes]
    if name in names:
        attributes = tuple((n, direction if n == name else v) for n, v in stats.attributes)
    else:
        attributes = (*stats.attributes, (name, direction))
    return dataclasses.replace(stats, attributes=attributes)


def without_attribute(stats: CodeStats, name: str) -> CodeStats:
    names = [n for n, _ in stats.attributes]
    if name not in names:
        known = ", ".join(names) or "none"
        raise ValueError(f"this model has no attribute '{name}' (it has: {known})")
    return dataclasses.replace(stats, attributes=tuple((n, v) for n, v in stats.attributes if n != name))


def _where(paths: Sequence[str | Path]) -> str:
    shown = [str(p) for p in paths[:3]]
    more = f" and {len(paths) - 3} more" if len(paths) > 3 else ""
    return ", ".join(shown) + more


def _names(names: Sequence[str], limit: int = 5) -> str:
    more = f", +{len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
