"""Shared steps of the embedded default models' recipes (trainers/default_*.py): find a run's newest
checkpoint, and list a packaged model in resources/models.json."""

from __future__ import annotations

import json
from pathlib import Path

from engine.api import ModelEntry
from engine.storage import atomic_write_json


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
