"""The GUI's copy of the model catalog: listed and edited through the engine, observed by widgets; and how a
model is presented to an artist (what it does in words, its sample picture, whether it is a demo model)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.engine_bridge import EngineBridge
from app.jobs import Job, Jobs
from engine.api import ImportModel, ListModels, ModelEntry, RemoveModel, Task
from engine.storage import RESOURCES

SAMPLES = RESOURCES / "samples"
# What each task does, in an artist's words, and the tool (page) that drives it.
TASK_WORDS = {
    Task.LABEL_TO_IMAGE: ("Paints a photo from a label map: draw regions of sky, water, rock… and it renders them.",
                          "Painter"),
    Task.STRUCTURE_TEXTURE: ("Splits a photo into its layout and its look, so you can swap or edit either one.",
                             "Swap & Edit"),
    Task.IMAGE_TO_IMAGE: ("Turns a photo into another kind of photo (e.g. summer into winter), with brushes.",
                          "Style Brushes"),
    Task.CONTENT_STYLE: ("Restyles a photo after any style image (a painting, a texture), painted on with brushes.",
                         "Style Brushes"),
    Task.MULTI_DOMAIN: ("Translates a photo into one of several kinds of image.", "Variations"),
}
METHOD_TITLES = {"spade": "SPADE", "sae": "Swapping Autoencoder", "cut": "CUT", "fastcut": "FastCUT",
                 "sincut": "SinCUT", "cyclegan": "CycleGAN", "hierarchyflow": "HierarchyFlow",
                 "deepi2i": "DeepI2I"}
# The embedded default models' own samples (made by their recipes in trainers/default_*.py).
MODEL_SAMPLES = {"spade-landscape-default": "default_model_starter_scene.png",
                 "sae-wallpapers-default": "default_sae_swap.jpg",
                 "cut-summer2winter-default": "default_brush_summer2winter.jpg",
                 "hierarchyflow-default": "default_stylize.jpg",
                 "deepi2i-looks-default": "default_variations.jpg"}
# A picture of the tool, for models without their own sample: what the tool takes or makes.
TOOL_PICTURES = {Task.LABEL_TO_IMAGE: RESOURCES / "scenes" / "starter_landscape.png",
                 Task.STRUCTURE_TEXTURE: SAMPLES / "default_sae_swap.jpg",
                 Task.IMAGE_TO_IMAGE: SAMPLES / "default_brush_summer2winter.jpg",
                 Task.CONTENT_STYLE: SAMPLES / "default_stylize.jpg",
                 Task.MULTI_DOMAIN: SAMPLES / "default_variations.jpg"}
DEMO_BADGE = "Demo model"  # short: it sits in a page's toolbar beside the model picker, at 1280 px
DEMO_TIP = ("Demo model — import the official weights for full quality (Models > Library).\nA small model trained "
            "by I2I Studio so every tool works out of the box; far from the paper's quality.")


def is_demo(entry: ModelEntry | None) -> bool:
    """The embedded default models (small ones we trained ourselves) are the ones shipped with the app."""
    return entry is not None and entry.builtin


def what_it_does(entry: ModelEntry) -> str:
    words, tool = TASK_WORDS.get(entry.task, ("", ""))
    return f"{words} Used in {tool}." if tool else words


def method_title(method: str) -> str:
    return METHOD_TITLES.get(method, method.upper())


def sample_picture(entry: ModelEntry) -> tuple[Path | None, bool]:
    """(the picture to show for `entry`, whether it is the model's own sample rather than the tool's)."""
    own = MODEL_SAMPLES.get(entry.id)
    if own and (SAMPLES / own).is_file():
        return SAMPLES / own, True
    tool = TOOL_PICTURES.get(entry.task)
    return (tool, False) if tool and tool.is_file() else (None, False)


@dataclass(frozen=True)
class _Edit:
    request: ImportModel | RemoveModel
    verb: str  # "Import"
    doing: str  # "Importing x.pth…"
    subject: str  # what the user knows it by: a file name or a model id
    done_text: Callable[[Any], str]
    on_done: Callable[[Any], None] | None = None

    def failed_text(self, message: str) -> str:
        # Engine messages usually name the file already; don't say it twice.
        if self.subject in message:
            return f"{self.verb} failed: {message}"
        return f"{self.verb} of {self.subject} failed: {message}"


class CatalogModel(QObject):
    """Entries as last listed by the engine. Edits run one at a time, in the order asked,
    because a slot keeps only its latest request and an import must never replace another."""

    changed = Signal()  # entries were re-listed
    list_failed = Signal(str)  # the catalog could not be read; one-line message
    busy_changed = Signal(str)  # what the running edit does ("Importing x.pth…"), or "" when idle
    edit_finished = Signal(str, bool)  # one-line outcome for the user, succeeded

    def __init__(self, bridge: EngineBridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs = Jobs(bridge, self)
        self._entries: tuple[ModelEntry, ...] = ()
        self._edits: deque[_Edit] = deque()
        self._running: _Edit | None = None

    @property
    def entries(self) -> tuple[ModelEntry, ...]:
        return self._entries

    def get(self, model_id: str) -> ModelEntry | None:
        return next((e for e in self._entries if e.id == model_id), None)

    def refresh(self) -> None:
        self._jobs.send("catalog", Job(ListModels(), self._set_entries, self.list_failed.emit))

    def import_checkpoint(self, path: str, on_done: Callable[[ModelEntry], None] | None = None,
                          options: dict[str, Any] | None = None) -> None:
        name = Path(path).name
        self._queue(_Edit(ImportModel(path, options or None), "Import", f"Importing {name}…", name,
                          lambda entry: f"Imported {entry.id} ({entry.method}, {entry.task}).", on_done))

    def remove(self, model_id: str) -> None:
        self._queue(_Edit(RemoveModel(model_id), "Remove", f"Removing {model_id}…", model_id,
                          lambda removed: f"Removed {removed}."))

    def _set_entries(self, entries: tuple[ModelEntry, ...]) -> None:
        self._entries = tuple(entries)
        self.changed.emit()

    def _queue(self, edit: _Edit) -> None:
        self._edits.append(edit)
        if self._running is None:
            self._start_next()

    def _start_next(self) -> None:
        self._running = self._edits.popleft() if self._edits else None
        if self._running is None:
            self.busy_changed.emit("")
            return
        self.busy_changed.emit(self._running.doing)
        self._jobs.send("catalog-edit", Job(self._running.request, self._edit_done, self._edit_failed))

    def _edit_done(self, value: Any) -> None:
        edit = self._running
        self.refresh()
        if edit:
            if edit.on_done:
                edit.on_done(value)
            self.edit_finished.emit(edit.done_text(value), True)
        self._start_next()

    def _edit_failed(self, message: str) -> None:
        if self._running:
            self.edit_finished.emit(self._running.failed_text(message), False)
        self._start_next()
