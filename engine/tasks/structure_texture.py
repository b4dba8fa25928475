"""The StructureTexture task: photos embedded as structure and texture codes, codes generated back into photos
(a region, or a quick preview), and the editing statistics of the codes (engine.code_stats).

A photo larger than its codes' working size is edited as the photo plus the change the edited codes make against
the codes it was embedded as (engine.detail): with no edit the result is the photo, and it is always at the
photo's own resolution."""

from __future__ import annotations

import contextlib
import dataclasses
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, cast

import numpy as np
import torch

from engine import code_stats, codes, detail
from engine.api import (
    AddAttribute,
    CodeStats,
    ComputeCodeStats,
    DecodeCodes,
    DecodedPatch,
    Embedding,
    EncodeImage,
    ModelEntry,
    RemoveAttribute,
    Task,
)
from engine.architecture import Architecture, Hparams, Nets
from engine.checkpoints import Checkpoint, CheckpointError, read_checkpoint
from engine.stylize import fingerprint
from engine.tasks import Job
from engine.tiling import check_photo

if TYPE_CHECKING:  # the store imports the registry, whose architectures import this module
    from engine.model_store import LoadedModel, ModelStore

NEEDS = "structure and texture codes need a StructureTexture model such as a Swapping Autoencoder"
BASES_KEPT = 8  # images of embedded codes kept, per photo and scale (a few MB each at the working size)
Codes = tuple[np.ndarray, np.ndarray]  # structure (C, h, w), texture (D,), float32


@dataclass(frozen=True, kw_only=True)
class StructureTextureArchitecture(Architecture):
    task: ClassVar[Task] = Task.STRUCTURE_TEXTURE
    # (networks, photo HxWx3 in [0, 1] or uint8, device) -> its codes, one structure cell per size_multiple px;
    # only models whose capabilities say `encoder`
    encode: Callable[[Nets, np.ndarray, torch.device], Codes]
    # (networks, hparams, request, device) -> (image, top, left): the request's region in pixels of the photo
    decode: Callable[[Nets, Hparams, DecodeCodes, torch.device], tuple[np.ndarray, int, int]]


class StructureTexture:
    def __init__(self, models: ModelStore) -> None:
        self.models = models
        # model id -> (sha256 of its file, the statistics that file ships or None): read once per file
        self._shipped: dict[str, tuple[str, CodeStats | None]] = {}
        self._bases: OrderedDict[tuple, np.ndarray] = OrderedDict()  # images of photos' embedded codes (_base)
        models.on_load.append(self._keep_shipped_stats)

    def entry(self, model_id: str) -> ModelEntry:
        """The catalog entry, refused unless the model works on structure and texture codes."""
        return self.models.entry(model_id, Task.STRUCTURE_TEXTURE, NEEDS)

    def encode(self, request: EncodeImage, job: Job) -> Embedding:
        model, encode = self._encoder(request.model_id, job)
        size = _image_size(request.image)
        job.check()
        job.progress(0.5, "embedding the photo")
        structure, texture = encode(request.image)
        return Embedding(structure, texture, size=size, cell=model.capabilities.size_multiple)

    def decode(self, request: DecodeCodes, job: Job) -> DecodedPatch:
        self.entry(request.model_id)
        model = self.models.load(request.model_id, job)
        if not (np.isfinite(request.structure).all() and np.isfinite(request.texture).all()):
            raise ValueError("the codes contain NaN or infinite values")
        if request.thumbnail and request.scale >= 1:
            raise ValueError("a thumbnail is a preview: it needs a scale below 1")
        job.check()
        job.progress(0.5, "generating")
        if request.photo is not None:
            return self._on_photo(model, request, job)
        # the architecture checks the codes' shapes against its hparams, the size and the region
        image, top, left = self._generate(model, request)
        if request.thumbnail:
            image = detail.downscale(image, _thumbnail_size(image.shape[:2], request.thumbnail))
        return DecodedPatch(image, int(top), int(left))

    def _generate(self, model: LoadedModel, request: DecodeCodes) -> tuple[np.ndarray, int, int]:
        arch = cast(StructureTextureArchitecture, model.arch)
        return arch.decode(model.nets, model.hparams, request, self.models.device)

    def _on_photo(self, model: LoadedModel, request: DecodeCodes, job: Job) -> DecodedPatch:
        """The photo plus the change the codes make against the codes it was embedded as (DecodeCodes.photo)."""
        photo = check_photo(request.photo)
        if request.base_codes is None:
            raise ValueError("decoding onto a photo needs the codes it was embedded as (base_codes)")
        size = tuple(request.size)
        if photo.shape[0] < size[0] or photo.shape[1] < size[1]:
            raise ValueError(f"the photo ({photo.shape[1]}x{photo.shape[0]}) is smaller than the size its codes "
                             f"were made at ({size[1]}x{size[0]})")
        soft = _soft_parts(request)
        base = self._image_of(model, request, request.base_codes)
        if request.thumbnail:
            return self._thumbnail(model, request, photo, base)
        if _same(request.structure, request.texture, request.base_codes) and soft is None:
            return DecodedPatch(photo.copy(), 0, 0)  # no edit: the photo itself
        job.check()
        if request.region is None or request.scale < 1:
            image = self._generate(model, request)[0]
            out = detail.carry_detail(photo, base, image)
            if soft is not None:
                out = self._soften(model, request, soft, photo, base, out, (0, 0), None)
            return DecodedPatch(out, 0, 0)
        # the photo pixels the region's pixels reach also read a pixel around it: decoded with one cell more,
        # which lies beyond the edit's reach
        top, left, bottom, right = request.region
        h, w = request.structure.shape[1:]
        grown = dataclasses.replace(request, region=(max(0, top - 1), max(0, left - 1), min(h, bottom + 1),
                                                     min(w, right + 1)))
        image, y, x = self._generate(model, grown)
        m = model.capabilities.size_multiple
        changed = (top * m, left * m, min(bottom * m, size[0]), min(right * m, size[1]))
        out, y0, x0 = detail.carry_patch(photo, base, image, (y, x), changed)
        if soft is not None:
            out = self._soften(model, request, soft, photo, base, out, (y0, x0), (image.shape[:2], (y, x), changed))
        return DecodedPatch(out, y0, x0)

    def _soften(self, model: LoadedModel, request: DecodeCodes, soft: tuple[np.ndarray, Codes], photo: np.ndarray,
                base: np.ndarray, out: np.ndarray, at: tuple[int, int],
                patch: tuple[tuple[int, int], tuple[int, int], tuple[int, int, int, int]] | None) -> np.ndarray:
        """`out` (the codes' result, the photo's pixels from `at` on) inside the soft mask, blended into the result of
        the codes outside it. patch: how `out` was made from a decoded patch (its size, where it lies, the changed
        pixels), so the outside's pixels are made alike; None: `out` is the whole photo."""
        weights, outside = soft
        if _same(*outside, request.base_codes):
            image = base  # nothing else is edited: outside the mask is the photo itself
        else:
            image = self._image_of(model, request, outside)
        if patch is None:
            rest = detail.carry_detail(photo, base, image)
        else:
            (ph, pw), (y, x), changed = patch
            rest = detail.carry_patch(photo, base, image[y:y + ph, x:x + pw], (y, x), changed)[0]
        small = self._mask(model, request, weights, photo)
        window = (at[0], at[1], at[0] + out.shape[0], at[1] + out.shape[1])
        mask = detail.upsample(small[..., None], photo.shape[:2], whole=small.shape[:2], window=window)
        out = rest + np.atleast_3d(mask) * (out - rest)
        return np.clip(out, 0.0, 1.0, out=out)

    @staticmethod
    def _mask(model: LoadedModel, request: DecodeCodes, weights: np.ndarray, photo: np.ndarray) -> np.ndarray:
        """The soft mask at the codes' working size, its edges following the photo's (brought to that size)."""
        if np.shape(weights) != request.structure.shape[1:]:
            raise ValueError(f"the soft mask has {np.shape(weights)} cells, the codes {request.structure.shape[1:]}")
        guide = detail.downscale(photo, tuple(request.size))
        return codes.soft_mask(np.clip(weights, 0.0, 1.0), guide, model.capabilities.size_multiple)

    def _thumbnail(self, model: LoadedModel, request: DecodeCodes, photo: np.ndarray, base: np.ndarray) -> DecodedPatch:
        """The photo's small copy plus the change the codes make at preview scale, at thumbnail size."""
        image = self._generate(model, request)[0]
        size = _thumbnail_size(photo.shape[:2], request.thumbnail)
        small = detail.downscale(photo, size)
        out = small + detail.downscale(image, size) - detail.downscale(base, size)
        return DecodedPatch(np.clip(out, 0.0, 1.0, out=out), 0, 0)

    def _image_of(self, model: LoadedModel, request: DecodeCodes, of: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """The whole image of the codes `of` at the request's scale: the photo's base codes, what edits are measured
        against, or the codes outside a soft mask (cached: every edit of a photo needs them)."""
        structure, texture = (np.asarray(c, np.float32) for c in of)
        key = (model.entry.id, model.entry.sha256, request.noise_seed, request.scale, tuple(request.size),
               fingerprint(structure), fingerprint(texture))
        if (image := self._bases.get(key)) is None:
            base_request = dataclasses.replace(request, structure=structure, texture=texture, region=None,
                                               photo=None, base_codes=None, soft_mask=None, unmasked_codes=None,
                                               thumbnail=0)
            image = self._bases[key] = self._generate(model, base_request)[0]
            while len(self._bases) > BASES_KEPT:  # previews' first (cheap to make again; their scale adapts)
                previews = [k for k in self._bases if k[3] < 1]
                del self._bases[previews[0] if previews else next(iter(self._bases))]
        self._bases.move_to_end(key)
        return image

    def code_stats(self, model_id: str) -> CodeStats | None:
        """The model's editing statistics: the user's if valid for its file, else those it ships, else None."""
        entry = self.entry(model_id)
        return code_stats.load(entry, self._shipped_stats_of(entry))

    def compute_code_stats(self, request: ComputeCodeStats, job: Job) -> CodeStats:
        model, encode = self._encoder(request.model_id, job)
        current = code_stats.load(model.entry, self._shipped_stats_of(model.entry), note=False)
        stats = code_stats.compute(request.paths, encode, job, min_size=model.capabilities.min_size,
                                   attributes=current.attributes if current else ())
        code_stats.save(model.entry, stats)
        return stats

    def add_attribute(self, request: AddAttribute, job: Job) -> CodeStats:
        name = code_stats.check_attribute_name(request.name)
        model, encode = self._encoder(request.model_id, job)
        direction, codes = code_stats.attribute_direction(request.group_a, request.group_b, encode, job,
                                                          min_size=model.capabilities.min_size)
        current = code_stats.load(model.entry, self._shipped_stats_of(model.entry), note=False)
        stats = code_stats.with_attribute(current or code_stats.without_directions(codes), name, direction)
        code_stats.save(model.entry, stats)
        return stats

    def remove_attribute(self, request: RemoveAttribute, job: Job) -> CodeStats:
        entry = self.entry(request.model_id)
        current = code_stats.load(entry, self._shipped_stats_of(entry), note=False)
        if current is None:
            raise ValueError(f"model '{entry.id}' has no attributes")
        stats = code_stats.without_attribute(current, request.name.strip())
        code_stats.save(entry, stats)
        return stats

    def forget(self, model_id: str) -> None:
        self._shipped.pop(model_id, None)
        for key in [k for k in self._bases if k[0] == model_id]:
            del self._bases[key]

    def _encoder(self, model_id: str, job: Job) -> tuple[LoadedModel, code_stats.Encode]:
        """The loaded model and its photo encoder; refused for a model without one."""
        self.entry(model_id)
        model = self.models.load(model_id, job)
        if not model.capabilities.encoder:
            raise ValueError(f"model '{model_id}' has no encoder (a generator-only file), so it cannot embed photos")
        arch, device = cast(StructureTextureArchitecture, model.arch), self.models.device
        return model, lambda image: arch.encode(model.nets, image, device)

    def _shipped_stats_of(self, entry: ModelEntry) -> CodeStats | None:
        cached = self._shipped.get(entry.id)
        if cached is None or cached[0] != entry.sha256:
            cached = (entry.sha256, code_stats.shipped(read_checkpoint(self.models.file_of(entry))))
            self._shipped[entry.id] = cached
        return cached[1]

    def _keep_shipped_stats(self, entry: ModelEntry, ckpt: Checkpoint) -> None:
        """A model's file is read to load it anyway: keep the statistics it ships too."""
        if entry.task is Task.STRUCTURE_TEXTURE:
            with contextlib.suppress(CheckpointError):  # broken statistics must not stop decoding; GetCodeStats says why
                self._shipped[entry.id] = (entry.sha256, code_stats.shipped(ckpt))


def _same(structure: np.ndarray, texture: np.ndarray, other: Codes | None) -> bool:
    return other is not None and all(np.array_equal(a, b) for a, b in zip((structure, texture), other, strict=True))


def _soft_parts(request: DecodeCodes) -> tuple[np.ndarray, Codes] | None:
    """(cell weights, the codes outside them) of a request with a soft mask that is not empty, else None."""
    if request.soft_mask is None:
        return None
    if request.unmasked_codes is None:
        raise ValueError("a soft mask needs the codes that apply outside it (unmasked_codes)")
    weights = np.asarray(request.soft_mask, np.float32)
    if not np.isfinite(weights).all():
        raise ValueError("the soft mask contains NaN or infinite values")
    return (weights, request.unmasked_codes) if weights.any() else None


def _thumbnail_size(size: tuple[int, int], side: int) -> tuple[int, int]:
    return detail.working_size(size, max(1, int(side)))


def _image_size(image: np.ndarray) -> tuple[int, int]:
    shape = np.shape(image)
    if len(shape) != 3 or shape[2] != 3:
        raise ValueError(f"a photo must be an HxWx3 RGB array, got shape {shape}")
    return int(shape[0]), int(shape[1])
