"""The StructureTexture task: photos embedded as structure and texture codes, codes generated back into photos
(a region, or a quick preview), and the editing statistics of the codes (engine.code_stats)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, cast

import numpy as np
import torch

from engine import code_stats
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
from engine.tasks import Job

if TYPE_CHECKING:  # the store imports the registry, whose architectures import this module
    from engine.model_store import LoadedModel, ModelStore

NEEDS = "structure and texture codes need a StructureTexture model such as a Swapping Autoencoder"
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
        job.check()
        job.progress(0.5, "generating")
        # the architecture checks the codes' shapes against its hparams, the size and the region
        arch = cast(StructureTextureArchitecture, model.arch)
        image, top, left = arch.decode(model.nets, model.hparams, request, self.models.device)
        return DecodedPatch(image, int(top), int(left))

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


def _image_size(image: np.ndarray) -> tuple[int, int]:
    shape = np.shape(image)
    if len(shape) != 3 or shape[2] != 3:
        raise ValueError(f"a photo must be an HxWx3 RGB array, got shape {shape}")
    return int(shape[0]), int(shape[1])
