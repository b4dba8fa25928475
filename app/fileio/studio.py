"""A studio project: the work of every tool together (File > Save Studio Project), opened again in one step.

It is a folder named after the project: NAME.i2i (a small JSON file: which tool's work is in which file, and the
tool that was shown) and one OpenRaster project per tool that had work, written by that tool's own Save
(app/fileio/page_files.py), so each .ora still opens alone in its tool, in Krita or in GIMP. A tool's file is
named after its work ("valley from Painter.ora"): opened again, the tool shows the same name, so where a photo
came from (File > Send to) is kept. A tool without work has no file, and keeps what it shows when the project is
opened.

Saving asks every tool to save into the folder and writes NAME.i2i last, once all of them succeeded; opening opens
each tool's file in turn (each asks about its own unsaved work) and shows the tool that was shown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from app.fileio.labels import FileError
from app.jobs import Outcome
from app.widgets.files import PROJECT, add_recent, display_path, open_file_name, save_file_name
from engine.codes import PHOTO_SUFFIXES
from engine.storage import atomic_write_json

if TYPE_CHECKING:
    from app.widgets.page import Page

SUFFIX = ".i2i"
FILTER = f"I2I Studio projects (*{SUFFIX})"
FORMAT = "i2i-studio-project"
VERSION = 1
RECENT_TOOL = "All tools"  # the recent files' tool of a studio project
MAX_MANIFEST_BYTES = 1 << 20


@dataclass(frozen=True)
class ToolWork:
    tool: str  # the tool's title in the window ("Swap & Edit")
    file: str  # its .ora, a name inside the project's folder


@dataclass(frozen=True)
class Manifest:
    tools: tuple[ToolWork, ...]
    current: str  # the tool shown when it was saved ("" none)


def project_folder(chosen: Path) -> Path:
    """Where a project saved as `chosen` (…/valley.i2i) lives: a folder of its name, unless it is in one already."""
    return chosen.parent if chosen.parent.name == chosen.stem else chosen.parent / chosen.stem


def work_file_name(title: str, tool: str, taken: set[str]) -> str:
    """A tool's file in the project: its work's name (the page's title without .ora or a photo's suffix) made safe for
    any file system, with the tool's name added where two tools' work have the same name."""
    named = Path(title).stem if Path(title).suffix.lower() in {".ora", *PHOTO_SUFFIXES} else title
    stem = re.sub(r'[\\/:*?"<>|\x00-\x1f]+', " ", named).strip()
    stem = stem.strip(". ") or tool
    name = f"{stem}.ora"
    if name.lower() in {t.lower() for t in taken}:
        name = f"{stem} ({re.sub(r'[^A-Za-z0-9 ]+', '', tool).strip()}).ora"
    return name


def write_manifest(path: Path, manifest: Manifest) -> None:
    atomic_write_json(path, {"format": FORMAT, "version": VERSION, "current": manifest.current,
                             "tools": [{"tool": w.tool, "file": w.file} for w in manifest.tools]})


def read_manifest(path: Path) -> Manifest:
    """The project file at `path`; FileError (one line naming it) when it is none."""
    name = path.name
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise FileError(f"{name} is too large to be an I2I Studio project")
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FileError(f"{name}: cannot read it ({exc.strerror or exc})") from exc
    except ValueError as exc:
        raise FileError(f"{name} is not an I2I Studio project (not JSON)") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise FileError(f"{name} is not an I2I Studio project")
    if not isinstance(data.get("version"), int) or data["version"] > VERSION:
        raise FileError(f"{name} was saved by a newer I2I Studio (project version {data.get('version')})")
    tools = []
    for entry in data.get("tools") or []:
        file = entry.get("file") if isinstance(entry, dict) else None
        tool = entry.get("tool") if isinstance(entry, dict) else None
        if not isinstance(file, str) or not isinstance(tool, str) or Path(file).name != file or not file:
            raise FileError(f"{name}: a tool's entry is damaged")
        tools.append(ToolWork(tool, file))
    current = data.get("current")
    return Manifest(tuple(tools), current if isinstance(current, str) else "")


class StudioProjects(QObject):
    """File > Open / Save / Save As Studio Project over the window's tool pages (by title, in the window's order)."""

    message = Signal(str)  # a confirmation for the status bar
    opened = Signal(str)  # the tool to show after opening a project

    def __init__(self, window: QWidget, pages: Callable[[], dict[str, Page]], current: Callable[[], str]) -> None:
        super().__init__(window)
        self._window, self._pages, self._current = window, pages, current
        self.path: Path | None = None  # the project file last saved or opened

    # --- saving --------------------------------------------------------------------------------------

    def save(self) -> Outcome:
        return self.save_to(self.path) if self.path else self.save_as()

    def save_as(self) -> Outcome:
        proposed = self.path or f"project{SUFFIX}"
        chosen, _ = save_file_name(self._window, "Save Studio Project", proposed, FILTER, PROJECT)
        if not chosen:
            return Outcome.settled(False)
        chosen_path = Path(chosen)
        chosen_path = chosen_path if chosen_path.suffix == SUFFIX else chosen_path.with_name(chosen_path.name + SUFFIX)
        folder = project_folder(chosen_path)
        return self.save_to(folder / chosen_path.name)

    def save_to(self, path: Path) -> Outcome:
        """Every tool with work saves its .ora into the project's folder; then the project file is written."""
        folder = path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return self._failed("Save Studio Project", f"cannot make the folder {folder} ({exc.strerror or exc})")
        works, outcomes, taken = [], [], set()
        for tool, page in self._pages().items():
            files = page.project_files()
            if files is None or files.history() is None:
                continue
            own = files.project_path
            name = own.name if own is not None and own.parent == folder else work_file_name(
                page.document_title(), tool, taken)
            taken.add(name)
            works.append(ToolWork(tool, name))
            outcomes.append(files.save_project_file(folder / name))
        if not works:
            return self._failed("Save Studio Project", "no tool has work to save yet")
        done = Outcome(self)

        def all_saved() -> None:
            if not all(o.ok for o in outcomes):
                self.message.emit(f"Project not saved: a tool's work could not be saved into {folder.name}")
                done.settle(False)
                return
            try:
                write_manifest(path, Manifest(tuple(works), self._current()))
            except OSError as exc:
                self._failed("Save Studio Project", f"{path.name}: cannot write it ({exc.strerror or exc})")
                done.settle(False)
                return
            self.path = path
            add_recent(PROJECT, path, RECENT_TOOL)
            self.message.emit(f"Saved the project {display_path(path)} ({', '.join(w.tool for w in works)})")
            done.settle(True)

        _when_all(outcomes, all_saved)
        return done

    # --- opening -------------------------------------------------------------------------------------

    def choose(self) -> None:
        chosen = open_file_name(self._window, "Open Studio Project", FILTER, PROJECT)
        if chosen:
            self.open_file(Path(chosen))

    def open_file(self, path: Path) -> Outcome:
        """Open each tool's work in turn (each asks about its own unsaved work), then show the tool that was shown."""
        try:
            manifest = read_manifest(path)
        except FileError as exc:
            return self._failed("Open Studio Project", str(exc))
        pages, missing = self._pages(), []
        todo = []
        for work in manifest.tools:
            page = pages.get(work.tool)
            file = path.parent / work.file
            if page is None or page.project_files() is None:
                missing.append(f"the {work.tool} work ({work.file}): this version has no such tool")
            elif not file.is_file():
                missing.append(f"the {work.tool} work ({work.file}) is not in {path.parent.name}")
            else:
                todo.append((page, file))
        done = Outcome(self)
        opened: list[bool] = []

        def next_one() -> None:
            if len(opened) < len(todo):
                page, file = todo[len(opened)]
                outcome = page.project_files().open_project_file(file)
                _when_all([outcome], lambda: (opened.append(bool(outcome.ok)), next_one()))
                return
            self.path = path
            add_recent(PROJECT, path, RECENT_TOOL)
            if manifest.current in pages:
                self.opened.emit(manifest.current)
            if missing:
                self._warn("Open Studio Project", f"{path.name}: " + "; ".join(missing) + ".")
            kept = sum(not ok for ok in opened)
            self.message.emit(f"Opened the project {display_path(path)}"
                              + (f" ({kept} tool(s) kept their own unsaved work)" if kept else ""))
            done.settle(any(opened))

        next_one()
        return done

    def _failed(self, title: str, text: str) -> Outcome:
        self._warn(title, text)
        return Outcome.settled(False)

    def _warn(self, title: str, text: str) -> None:
        QMessageBox.warning(self._window, title, text)


def _when_all(outcomes: list[Outcome], then: Callable[[], object]) -> None:
    """Call `then` once every outcome has ended (at once when they all have)."""
    left = [o for o in outcomes if o.ok is None]
    if not left:
        then()
        return
    pending = set(map(id, left))

    def ended(outcome: Outcome) -> None:
        pending.discard(id(outcome))
        if not pending:
            then()

    for outcome in left:
        outcome.done.connect(lambda _ok, o=outcome: ended(o))
