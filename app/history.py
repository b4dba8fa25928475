"""The one observable model with a bounded undo history, under every page's document: the painter's Document,
the Swap & Edit project and the Style Brushes project. Plain Python (no Qt, no torch).

- Observable: observers subscribe to a model and are told of each change, synchronously.
- UndoHistory: bounded undo and redo stacks of steps; what a step holds and how it is restored is the model's.
- Undoable: an Observable with one UndoHistory and `modified` (unsaved work), the History that a page's
  PageFiles drives (Undo/Redo, Save, autosave, the question before closing).
- LayerStack: an Undoable whose history is snapshots of one frozen value holding a layer list (layers are frozen
  values that share their arrays, so a snapshot costs no copies), with a selection that is not part of the
  history, and drags (changes with final=False) that become one step when they settle.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

HISTORY_STEPS = 200  # every page keeps at least this many steps (the painter's pixels may keep fewer by memory)

C = TypeVar("C")  # a model's change
S = TypeVar("S")  # a step of its history
T = TypeVar("T")  # a LayerStack's frozen value


class Observable(Generic[C]):
    def __init__(self) -> None:
        self._observers: list[Callable[[C], None]] = []

    def subscribe(self, observer: Callable[[C], None]) -> Callable[[], None]:
        """Register `observer`; returns a function that unsubscribes it."""
        self._observers.append(observer)
        return lambda: self._observers.remove(observer) if observer in self._observers else None

    def _notify(self, change: C) -> None:
        for observer in list(self._observers):
            observer(change)


class UndoHistory(Generic[S]):
    """Undo and redo stacks of steps (each with a `description`), newest last. Beyond `max_steps` the oldest
    steps go, and beyond `max_bytes` as `nbytes` counts them (the newest step always stays)."""

    def __init__(self, *, max_steps: int = HISTORY_STEPS, max_bytes: int | None = None,
                 nbytes: Callable[[S], int] | None = None) -> None:
        self.max_steps = max_steps
        self._max_bytes, self._nbytes = max_bytes, nbytes
        self._undo: list[S] = []
        self._redo: list[S] = []

    @property
    def depth(self) -> int:
        """How many steps can be undone."""
        return len(self._undo)

    def can(self, *, undo: bool) -> bool:
        return bool(self._undo if undo else self._redo)

    def text(self, *, undo: bool) -> str:
        """The description of the step that undo (or redo) would take back."""
        steps = self._undo if undo else self._redo
        return steps[-1].description if steps else ""  # type: ignore[attr-defined]

    def descriptions(self, *, undo: bool) -> list[str]:
        """The undo steps oldest first, or the redo steps in the order redo takes them (the undo history panel)."""
        steps = self._undo if undo else self._redo[::-1]
        return [step.description for step in steps]  # type: ignore[attr-defined]

    def nbytes(self) -> int:
        return sum(map(self._nbytes, self._undo + self._redo)) if self._nbytes else 0

    def record(self, step: S) -> None:
        """A new step: it can be undone; what could be redone cannot any more."""
        self._undo.append(step)
        self._redo.clear()
        del self._undo[:-self.max_steps]
        while self._max_bytes is not None and len(self._undo) > 1 and self.nbytes() > self._max_bytes:
            self._undo.pop(0)

    def travel(self, restore: Callable[[S, bool], S | None], *, undo: bool) -> bool:
        """Take back the newest undo (or redo) step: `restore(step, undo)` puts the model back and returns the step
        that leads the other way, or None when it cannot (the step is then dropped). False when nothing moved."""
        source, target = (self._undo, self._redo) if undo else (self._redo, self._undo)
        if not source:
            return False
        back = restore(source.pop(), undo)
        if back is not None:
            target.append(back)
        return back is not None

    def discard(self, drop: Callable[[S], bool]) -> None:
        """Forget the steps `drop` picks (e.g. those of a layer that is gone)."""
        self._undo = [s for s in self._undo if not drop(s)]
        self._redo = [s for s in self._redo if not drop(s)]

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()


class Undoable(Observable[C], Generic[C, S]):
    """An observable model with one undo history. `modified` says there is unsaved work: every recorded step, undo
    and redo sets it; whoever saves or opens the model clears it. `revision` counts the times it was set, so a save
    that ends after later edits knows the work is still unsaved. Subclasses record steps with `_record` and put
    them back in `_restore`; `history_change` is what observers hear when undo availability changes."""

    def __init__(self, history_change: C, history: UndoHistory[S] | None = None) -> None:
        super().__init__()
        self.history: UndoHistory[S] = history if history is not None else UndoHistory()
        self.revision = 0
        self._modified = False
        self._history_change = history_change

    @property
    def modified(self) -> bool:
        return self._modified

    @modified.setter
    def modified(self, value: bool) -> None:
        if value:
            self.revision += 1
        self._modified = value

    @property
    def can_undo(self) -> bool:
        return self.history.can(undo=True)

    @property
    def can_redo(self) -> bool:
        return self.history.can(undo=False)

    @property
    def undo_text(self) -> str:
        return self.history.text(undo=True)

    @property
    def redo_text(self) -> str:
        return self.history.text(undo=False)

    def undo(self) -> None:
        self._travel(undo=True)

    def redo(self) -> None:
        self._travel(undo=False)

    def go_to(self, depth: int) -> None:
        """Undo or redo until `depth` steps can be undone (a click in the undo history panel); stops early where a
        step cannot be taken."""
        while self.history.depth != depth:
            before = (self.history.depth, self.history.can(undo=False))
            self._travel(undo=self.history.depth > depth)
            if (self.history.depth, self.history.can(undo=False)) == before:
                return

    def _travel(self, *, undo: bool) -> None:
        if not self.history.can(undo=undo) or not self._may_travel():
            return
        if self.history.travel(self._restore, undo=undo):
            self.modified = True
        self._notify(self._history_change)

    def _record(self, step: S) -> None:
        self.history.record(step)
        self.modified = True
        self._notify(self._history_change)

    def _restore(self, step: S, undo: bool) -> S | None:
        """Put the model back to the other side of `step`; return the step that leads back (None: cannot)."""
        raise NotImplementedError

    def _may_travel(self) -> bool:
        """False while a change is under way that undo must not cut into."""
        return True


@dataclass(frozen=True)
class ProjectChange:
    """What a LayerStack's observers are told: "layers" (its value; `final` False while a drag or stroke goes on),
    "selection", or "history" (undo availability, after every final change)."""

    what: str
    final: bool = True


class StackLayer(Protocol):
    """What a LayerStack needs of its layers: frozen dataclasses with these fields."""

    id: str
    name: str
    visible: bool


@dataclass(frozen=True)
class Snapshot(Generic[T]):
    description: str
    value: T  # the value on the other side of the step


class LayerStack(Undoable[ProjectChange, Any], Generic[T]):
    """A project whose undoable part is one frozen value `T` that holds its layers, bottom to top. Subclasses say
    where the layers are in the value (`layers`, `_with_layers`); they may record other steps than snapshots and
    restore them in `_restore` (handing snapshots to this one)."""

    def __init__(self, value: T) -> None:
        super().__init__(ProjectChange("history"))
        self._value = value
        self._drag_base: T | None = None  # the value before the current drag, recorded when it settles
        self._selected: str | None = None

    @property
    def layers(self) -> tuple[Any, ...]:
        """Bottom to top."""
        raise NotImplementedError

    def _with_layers(self, layers: tuple[Any, ...]) -> T:
        """The current value with `layers` instead of its own."""
        raise NotImplementedError

    # --- reading -------------------------------------------------------------------------------------

    def layer(self, layer_id: str) -> Any:
        for layer in self.layers:
            if layer.id == layer_id:
                return layer
        raise KeyError(f"the project has no layer '{layer_id}'")

    def index(self, layer_id: str) -> int:
        return [la.id for la in self.layers].index(layer_id)

    def free_name(self, title: str) -> str:
        """"`title` n" with the first n no layer is named."""
        names = {la.name for la in self.layers}
        n = 1
        while f"{title} {n}" in names:
            n += 1
        return f"{title} {n}"

    # --- selection (not part of the history) -------------------------------------------------------------

    @property
    def selected(self) -> Any:
        return next((la for la in self.layers if la.id == self._selected), None)

    def select(self, layer_id: str | None) -> None:
        if layer_id != self._selected:
            self._selected = layer_id
            self._notify(ProjectChange("selection"))

    def _reselect(self) -> None:
        """After undo or redo: a selection whose layer is gone is dropped."""
        if self.selected is None and self._selected is not None:
            self.select(None)

    # --- edits -------------------------------------------------------------------------------------------

    @property
    def dragging(self) -> bool:
        return self._drag_base is not None

    def settle(self, description: str) -> None:
        """End a drag with the value as it is (a stroke whose last move was already applied)."""
        if self._drag_base is not None:
            self._apply(self._value, description)

    def move_layer(self, layer_id: str, delta: int) -> None:
        """Move up (delta > 0, towards the top) or down the stack."""
        i = self.index(layer_id)
        j = min(max(i + delta, 0), len(self.layers) - 1)
        if i == j:
            return
        layers = list(self.layers)
        layers.insert(j, layers.pop(i))
        self._apply(self._with_layers(tuple(layers)), f"Move {layers[j].name} {'up' if j > i else 'down'}")

    def set_visible(self, layer_id: str, visible: bool) -> None:
        layer = self.layer(layer_id)
        if layer.visible != visible:
            self._replace(dataclasses.replace(layer, visible=visible), f"{'Show' if visible else 'Hide'} {layer.name}")

    def _replace(self, layer: StackLayer, description: str, *, final: bool = True) -> None:
        """The layer with layer.id becomes `layer`."""
        i = self.index(layer.id)
        self._apply(self._with_layers(self.layers[:i] + (layer,) + self.layers[i + 1:]), description, final=final)

    def _apply(self, value: T, description: str, *, final: bool = True) -> None:
        """The value becomes `value`. final False: part of a drag, one step when a final change (or `settle`)
        ends it."""
        if not final:
            if self._drag_base is None:
                self._drag_base = self._value
        else:
            before = self._drag_base if self._drag_base is not None else self._value
            self._drag_base = None
            self.history.record(Snapshot(description, before))
        self._value = value
        self.modified = True
        self._notify(ProjectChange("layers", final))
        if final:
            self._notify(self._history_change)

    # --- history -------------------------------------------------------------------------------------

    def _restore(self, step: Any, undo: bool) -> Any:
        back = Snapshot(step.description, self._value)
        self._value = step.value
        self._notify(ProjectChange("layers"))
        self._reselect()
        return back

    def _may_travel(self) -> bool:
        return self._drag_base is None
