"""The catalog's models as the task services use them: entries with their capabilities, and a cache of the few
most recently used models loaded on the engine's device, on the path of the engine's mode (engine.api.Mode). In
Fast mode a loaded model's ONNX Runtime sessions are made by an engine.inference.SessionBuilder: off the worker
thread, from the disk cache when it holds them, while the model's PyTorch networks serve requests."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from engine import inference, registry
from engine.api import DEFAULT_MODE, Capabilities, Mode, ModelEntry, Task
from engine.architecture import Architecture, Nets
from engine.catalog import Catalog, CatalogError
from engine.checkpoints import Checkpoint, read_checkpoint
from engine.tasks import Job


@dataclass(frozen=True)
class LoadedModel:
    """A catalog entry with its architecture, capabilities and eval-mode networks on the engine's device."""

    entry: ModelEntry
    arch: Architecture
    capabilities: Capabilities
    nets: Nets

    @property
    def hparams(self) -> dict[str, Any]:
        return self.entry.hparams


class ModelStore:
    """Catalog entries and loaded models, touched only by the worker thread."""

    def __init__(self, catalog: Catalog, device: torch.device, *, mode: Mode = DEFAULT_MODE,
                 cache_size: int = 2, sessions: inference.SessionBuilder | None = None) -> None:
        """sessions: who makes Fast mode's sessions (default: in the background, cached in the user data folder)."""
        self.catalog = catalog
        self.device = device
        self.mode = mode
        self.sessions = sessions or inference.SessionBuilder(inference.cache_dir())
        self._cache: OrderedDict[str, LoadedModel] = OrderedDict()
        self._cache_size = cache_size
        # called with every checkpoint read to load a model, so services can keep what else it holds
        self.on_load: list[Callable[[ModelEntry, Checkpoint], None]] = []

    def entries(self) -> tuple[ModelEntry, ...]:
        return tuple(self._complete(e) for e in self.catalog.entries())

    def get(self, model_id: str) -> ModelEntry:
        return self._complete(self.catalog.get(model_id))

    @staticmethod
    def capabilities(entry: ModelEntry) -> Capabilities:
        """The entry's capabilities; from its architecture when the catalog that held it predates them. An
        architecture this version lacks, or hparams it cannot read, state none: listing goes on, and loading such
        a model says what is wrong."""
        if entry.capabilities is not None:
            return entry.capabilities
        arch = registry.find(entry.method)
        try:
            return arch.capabilities(entry.hparams) if arch else Capabilities()
        except (KeyError, IndexError, TypeError, ValueError):
            return Capabilities()

    def _complete(self, entry: ModelEntry) -> ModelEntry:
        if entry.capabilities is not None:
            return entry
        return dataclasses.replace(entry, capabilities=self.capabilities(entry))

    def entry(self, model_id: str, task: Task, needs: str) -> ModelEntry:
        """The catalog entry, refused unless the model serves `task`; `needs` says what the caller needs."""
        entry = self.get(model_id)
        if entry.task is not task:
            raise ValueError(f"model '{model_id}' is a {entry.task} model ({entry.method}); {needs}")
        return entry

    def file_of(self, entry: ModelEntry) -> Path:
        source = self.catalog.resolve_source(entry)
        if not source.is_file():
            raise FileNotFoundError(f"the file of model '{entry.id}' is gone ({source}); import it again")
        return source

    def load(self, model_id: str, job: Job | None = None) -> LoadedModel:
        """The model loaded on the device, on the mode's path (cached while its file is unchanged)."""
        entry = self.get(model_id)
        cached = self._cache.get(model_id)
        if cached is not None and cached.entry.sha256 == entry.sha256:  # a training run may have refreshed the file
            self._cache.move_to_end(model_id)
            return cached
        source = self.file_of(entry)
        if job:
            job.progress(0.0, f"loading {entry.name or entry.id}")
        arch = registry.by_method(entry.method)
        if arch.task is not entry.task:  # a hand-edited catalog: no task service could drive it
            raise CatalogError(f"the catalog lists model '{model_id}' as a {entry.task} model, but {arch.method} "
                               f"models are {arch.task} models; import it again")
        ckpt = read_checkpoint(source)
        nets = {role: net.to(self.device) for role, net in arch.load(ckpt, entry.hparams).items()}
        if self.mode is Mode.FAST and arch.fast is not None:
            nets = arch.fast(nets, entry.hparams, self.device)
            self._start_sessions(entry, nets)
        for listener in self.on_load:
            listener(entry, ckpt)
        self._unload(model_id)
        loaded = self._cache[model_id] = LoadedModel(entry, arch, self.capabilities(entry), nets)
        self._cache.move_to_end(model_id)
        while len(self._cache) > self._cache_size:
            self._unload(next(iter(self._cache)))
        return loaded

    def _start_sessions(self, entry: ModelEntry, nets: Nets) -> None:
        """Have every graph of the Fast networks made; cached on disk under the file's sha256, the hparams (which
        decide the network built from it), the network's role and the graph's kind."""
        for role, net in nets.items():
            for kind, session in inference.graph_sessions(net).items():
                key = {"sha256": entry.sha256, "method": entry.method, "hparams": entry.hparams, "role": role,
                       "kind": kind, "device": self.device.type}
                self.sessions.start(session, key if entry.sha256 else None)

    def _unload(self, model_id: str) -> None:
        """Drop the model; its sessions still being made are thrown away."""
        if (loaded := self._cache.pop(model_id, None)) is not None:
            for net in loaded.nets.values():
                for session in inference.graph_sessions(net).values():
                    session.close()

    def forget(self, model_id: str) -> None:
        self._unload(model_id)

    def close(self) -> None:
        """The engine ends: no more sessions are made."""
        self.sessions.close()
