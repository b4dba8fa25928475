"""The model catalog: the models we ship (resources/models.json) plus the user's imports.

Plain JSON, torch-free, so models can be listed without loading any of them. The user file is
always replaced atomically: a crash mid-write leaves the previous catalog intact.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

from engine.api import ModelEntry
from engine.storage import RESOURCES, atomic_write_json, file_lock, user_data_dir

BUILTIN_FILE = RESOURCES / "models.json"
FORMAT_VERSION = 1


class CatalogError(ValueError):
    pass


class Catalog:
    def __init__(self, user_file: Path | None = None, builtin_file: Path = BUILTIN_FILE) -> None:
        self.user_file = user_file or user_data_dir() / "models.json"
        self.builtin_file = builtin_file
        self._thread_lock = threading.Lock()

    def entries(self) -> tuple[ModelEntry, ...]:
        """Built-in models first, then the user's in import order."""
        return self._builtin() + self._user()

    def get(self, model_id: str) -> ModelEntry:
        for entry in self.entries():
            if entry.id == model_id:
                return entry
        raise CatalogError(f"no model with id '{model_id}' in the catalog (see 'models list')")

    def find_by_sha(self, sha256: str) -> ModelEntry | None:
        return next((e for e in self.entries() if e.sha256 == sha256), None)

    def unique_id(self, wanted: str) -> str:
        taken = {e.id for e in self.entries()}
        base = slug(wanted)
        candidate, n = base, 2
        while candidate in taken:
            candidate, n = f"{base}-{n}", n + 1
        return candidate

    def add(self, entry: ModelEntry) -> None:
        with self._locked():
            if any(e.id == entry.id for e in self.entries()):
                raise CatalogError(f"a model with id '{entry.id}' already exists")
            self._write(self._user() + (entry,))

    def upsert(self, entry: ModelEntry) -> None:
        """Add the entry, or replace the user's entry with its id in place (a training run refreshing its model)."""
        with self._locked():
            if any(e.id == entry.id for e in self._builtin()):
                raise CatalogError(f"'{entry.id}' ships with the app and cannot be replaced")
            user = self._user()
            if any(e.id == entry.id for e in user):
                self._write(tuple(entry if e.id == entry.id else e for e in user))
            else:
                self._write(user + (entry,))

    def remove(self, model_id: str) -> None:
        with self._locked():
            if any(e.id == model_id for e in self._builtin()):
                raise CatalogError(f"'{model_id}' ships with the app and cannot be removed")
            user = self._user()
            if not any(e.id == model_id for e in user):
                raise CatalogError(f"no model with id '{model_id}' in the catalog")
            self._write(tuple(e for e in user if e.id != model_id))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Read-modify-write under a lock shared with other threads and processes."""
        with self._thread_lock, file_lock(self.user_file.with_name(self.user_file.name + ".lock")):
            yield

    def resolve_source(self, entry: ModelEntry) -> Path:
        """Built-in sources are relative to resources/; imported ones are absolute paths."""
        path = Path(entry.source)
        return path if path.is_absolute() else RESOURCES / path

    def _builtin(self) -> tuple[ModelEntry, ...]:
        entries = _read(self.builtin_file)
        return tuple(ModelEntry.from_json({**e.to_json(), "builtin": True}) for e in entries)

    def _user(self) -> tuple[ModelEntry, ...]:
        return _read(self.user_file)

    def _write(self, entries: tuple[ModelEntry, ...]) -> None:
        atomic_write_json(self.user_file, {"format": FORMAT_VERSION, "models": [e.to_json() for e in entries]})


def _read(path: Path) -> tuple[ModelEntry, ...]:
    if not path.exists():
        return ()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return tuple(ModelEntry.from_json(item) for item in data.get("models", []))
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise CatalogError(f"the model catalog {path} is unreadable ({exc}); fix or remove it") from exc


def slug(text: str) -> str:
    cleaned = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-.")
    return cleaned or "model"
