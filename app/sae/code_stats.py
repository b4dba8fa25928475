"""A Swapping Autoencoder's editing statistics through the engine: read for the current model, computed from
photos, attributes added and removed (one change at a time, with progress and cancel).

The texture panel only shows what this says and asks through its intents; `bind_panel` wires the two.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from app.engine_bridge import EngineBridge
from app.jobs import Job, Jobs
from app.sae.texture_panel import TextureEditsPanel
from engine.api import AddAttribute, CodeStats, ComputeCodeStats, GetCodeStats, RemoveAttribute, Request

STATS_SLOT = "sae-stats"  # reading a model's statistics
EDIT_SLOT = "sae-stats-edit"  # computing or changing them (one at a time: the panel's buttons wait)


@dataclass(frozen=True)
class _Change:
    model: str
    doing: str  # "Computing the directions…"
    fail: str  # "Could not compute the directions"
    done: Callable[[CodeStats], str]


class CodeStatsJobs(QObject):
    model_changed = Signal(object)  # model id or None: its statistics are read anew
    stats_read = Signal(object)  # CodeStats | None: the current model's statistics
    change_running = Signal(str)  # what the running change does; "" when none runs
    change_progress = Signal(float, str)  # fraction in [0, 1], the engine's words
    message = Signal(str, bool)  # one line for the user ("" clears it), is it an error

    def __init__(self, bridge: EngineBridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = Jobs(bridge, self)
        self.jobs.progress.connect(self._progress)
        self.model_id: str | None = None
        self._change: _Change | None = None

    @property
    def busy(self) -> bool:
        """A change of the statistics is running."""
        return self._change is not None

    def set_model(self, model_id: str | None) -> None:
        changed = model_id != self.model_id
        self.model_id = model_id
        if changed:
            self.message.emit("", False)
        self.model_changed.emit(model_id)
        if model_id is None:
            self.jobs.cancel(STATS_SLOT)
            self.stats_read.emit(None)
            return
        self.jobs.send(STATS_SLOT, Job(GetCodeStats(model_id), lambda stats: self._read(model_id, stats),
                                       lambda text: self._unreadable(model_id, text)))

    def compute(self, paths: Sequence[str]) -> None:
        """The model's principal directions from photo files and folders."""
        if self.model_id and paths:
            self._start(ComputeCodeStats(self.model_id, tuple(str(p) for p in paths)),
                        "Computing the directions…", "Could not compute the directions",
                        lambda stats: f"Computed the directions from {stats.count} photos.")

    def add_attribute(self, name: str, group_a: Sequence[str], group_b: Sequence[str]) -> None:
        if self.model_id:
            self._start(AddAttribute(self.model_id, name, tuple(map(str, group_a)), tuple(map(str, group_b))),
                        f"Adding the attribute '{name}'…", f"Could not add the attribute '{name}'",
                        lambda _stats: f"Added the attribute '{name}'.")

    def remove_attribute(self, name: str) -> None:
        if self.model_id:
            self._start(RemoveAttribute(self.model_id, name), f"Removing the attribute '{name}'…",
                        f"Could not remove the attribute '{name}'",
                        lambda _stats: f"Removed the attribute '{name}'.")

    def cancel(self) -> None:
        """Stop the running change (what it did so far is dropped by the engine)."""
        self.jobs.cancel(EDIT_SLOT)
        doing = self._end().doing if self._change else ""
        self.message.emit(f"Cancelled: {doing[:1].lower()}{doing[1:]}", False)

    # --- reading -------------------------------------------------------------------------------------

    def _read(self, model_id: str, stats: CodeStats | None) -> None:
        if model_id == self.model_id:
            self.stats_read.emit(stats)

    def _unreadable(self, model_id: str, text: str) -> None:
        if model_id == self.model_id:
            self.stats_read.emit(None)
            self.message.emit(f"Could not read the model's directions: {text}", True)

    # --- changes -------------------------------------------------------------------------------------

    def _start(self, request: Request, doing: str, fail: str, done: Callable[[CodeStats], str]) -> None:
        self._change = _Change(self.model_id or "", doing, fail, done)
        self.jobs.send(EDIT_SLOT, Job(request, self._changed, self._failed))
        self.message.emit("", False)
        self.change_running.emit(doing)

    def _changed(self, stats: CodeStats) -> None:
        change = self._end()
        if change.model == self.model_id:
            self.stats_read.emit(stats)
            self.message.emit(change.done(stats), False)
        else:  # the user moved on to another model meanwhile
            self.message.emit(f"{change.model}: {change.done(stats)}", False)

    def _failed(self, text: str) -> None:
        self.message.emit(f"{self._end().fail}: {text}", True)

    def _end(self) -> _Change:
        change, self._change = self._change, None
        self.change_running.emit("")
        return change

    def _progress(self, slot: str, fraction: float, text: str) -> None:
        if slot == EDIT_SLOT:
            self.change_progress.emit(fraction, text)


def bind_panel(panel: TextureEditsPanel, stats: CodeStatsJobs) -> None:
    """The panel shows the statistics' state; its intents become changes."""
    stats.model_changed.connect(panel.show_model)
    stats.stats_read.connect(panel.apply_stats)
    stats.change_running.connect(panel.show_change)
    stats.change_progress.connect(panel.show_progress)
    stats.message.connect(lambda text, error: panel.show_message(text, error=error))
    panel.compute_requested.connect(stats.compute)
    panel.attribute_requested.connect(stats.add_attribute)
    panel.remove_requested.connect(stats.remove_attribute)
    panel.cancel_requested.connect(stats.cancel)
