"""Shared steps of the embedded default models' recipes (trainers/default_*.py): find a run's newest
checkpoint, store a model in resources/ and list it in resources/models.json."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from engine.api import ModelEntry
from engine.architecture import Architecture
from engine.checkpoints import write_checkpoint
from engine.storage import atomic_write_json, sha256_file


def latest_checkpoint(run: Path) -> Path:
    """The model file the run's checkpoints/latest.json names."""
    latest = json.loads((run / "checkpoints" / "latest.json").read_text())
    return run / "checkpoints" / latest["model"]


def list_builtin(entry: ModelEntry, resources: Path, *, first: bool = False) -> None:
    """Put `entry` in resources/models.json, replacing one with its id; `first` lists it before the others
    (the painter's default), else after them."""
    catalog = resources / "models.json"
    models = [m for m in json.loads(catalog.read_text())["models"] if m["id"] != entry.id] if catalog.exists() else []
    ordered = [entry.to_json(), *models] if first else [*models, entry.to_json()]
    atomic_write_json(catalog, {"format": 1, "models": ordered})


def package_builtin(resources: Path, model_file: Path, *, model_id: str, arch: Architecture,
                    state: Mapping[str, torch.Tensor], hparams: dict[str, Any], metadata: Mapping[str, Any],
                    parts: Mapping[str, Mapping[str, torch.Tensor]] | None = None, first: bool = False,
                    **listing: Any) -> ModelEntry:
    """Write `state` to resources/`model_file` and list it, as `arch` describes it, under `model_id`; the name,
    licence and notes come from `metadata`, `listing` adds entry fields (classes, palette)."""
    dest = resources / model_file
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_checkpoint(dest, dict(state), metadata, parts={k: dict(v) for k, v in (parts or {}).items()})
    entry = ModelEntry(
        id=model_id, method=arch.method, task=arch.task, size_rule=arch.size_rule(hparams),
        capabilities=arch.capabilities(hparams), license=metadata["license"], source=model_file.as_posix(),
        sha256=sha256_file(dest), name=metadata["name"], hparams=hparams, added=dt.date.today().isoformat(),
        notes=metadata["notes"], **listing)
    list_builtin(entry, resources, first=first)
    return entry
