"""Autosave and crash recovery: folder/<key>.ora plus folder/<key>.json naming the process that wrote it.

An autosave whose writer is still running belongs to that window (this process's or another
instance's) and is never offered; one left by a process that is gone was left by a crash or a kill.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from app.document import Document
from app.fileio.ora import Progress, save_ora
from engine.palettes import Palette
from engine.storage import atomic_write_json, pid_alive, user_data_dir

_KEY = re.compile(r"^[A-Za-z0-9_-]{1,100}$")  # a file name on every platform, no dots


@dataclass(frozen=True)
class Recovery:
    path: Path  # the .ora, readable with load_ora
    title: str
    saved_at: float  # seconds since the epoch
    source: Path | None  # the file the document came from, if any


class Autosave:
    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else user_data_dir() / "autosave"

    def save(self, doc: Document, *, key: str, title: str, palette: Palette | None = None,
             source: str | Path | None = None, progress: Progress | None = None) -> Path:
        """Write the document, then its note; both atomically, so a crash mid-save keeps the last one."""
        ora = self._path(key, ".ora")
        save_ora(ora, doc, palette=palette, progress=progress)
        atomic_write_json(ora.with_suffix(".json"), {
            "title": title, "saved_at": time.time(), "pid": os.getpid(),
            "source": str(source) if source is not None else None})
        return ora

    def pending(self) -> list[Recovery]:
        """Autosaves left by processes that are no longer alive, newest first."""
        found = []
        for note in self.folder.glob("*.json") if self.folder.is_dir() else ():
            ora = note.with_suffix(".ora")
            try:
                info = json.loads(note.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            pid = info.get("pid") if isinstance(info, dict) else None
            if not isinstance(pid, int) or pid == os.getpid() or pid_alive(pid) or not ora.is_file():
                continue
            source = info.get("source")
            saved_at = info.get("saved_at")
            found.append(Recovery(
                ora, str(info.get("title") or note.stem),
                float(saved_at) if isinstance(saved_at, int | float) else ora.stat().st_mtime,
                Path(source) if isinstance(source, str) else None))
        return sorted(found, key=lambda r: r.saved_at, reverse=True)

    def discard(self, key_or_path: str | Path) -> None:
        """Remove an autosave by key or by its .ora/.json path (after a clean close or a recovery)."""
        key = Path(key_or_path).name.split(".")[0]
        for suffix in (".ora", ".json"):
            self._path(key, suffix).unlink(missing_ok=True)

    def _path(self, key: str, suffix: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"autosave key {key!r} must be letters, digits, '-' or '_'")
        return self.folder / f"{key}{suffix}"


