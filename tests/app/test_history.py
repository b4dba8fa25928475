"""The observable + undo history kernel under every page's document (app/history.py), without Qt."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from app.history import HISTORY_STEPS, LayerStack, ProjectChange, UndoHistory


@dataclass(frozen=True)
class Item:
    id: str
    name: str
    visible: bool = True
    size: int = 0


class Stack(LayerStack[tuple[Item, ...]]):
    """The smallest LayerStack: its value is the layer tuple itself."""

    def __init__(self, layers: tuple[Item, ...] = ()) -> None:
        super().__init__(layers)

    @property
    def layers(self) -> tuple[Item, ...]:
        return self._value

    def _with_layers(self, layers: tuple[Item, ...]) -> tuple[Item, ...]:
        return layers

    def add(self, item: Item) -> None:
        self._apply(self.layers + (item,), f"Add {item.name}")

    def resize(self, item_id: str, size: int, *, final: bool = True) -> None:
        self._replace(dataclasses.replace(self.layer(item_id), size=size), "Size", final=final)


@dataclass(frozen=True)
class Step:
    description: str
    nbytes: int = 0


def test_history_is_bounded_in_steps_and_bytes_and_a_new_step_clears_redo():
    history: UndoHistory[Step] = UndoHistory()
    for i in range(HISTORY_STEPS + 5):
        history.record(Step(f"step {i}"))
    assert history.depth == HISTORY_STEPS and history.text(undo=True) == f"step {HISTORY_STEPS + 4}"
    assert history.travel(lambda step, undo: step, undo=True) and history.can(undo=False)
    history.record(Step("new"))
    assert not history.can(undo=False) and history.depth == HISTORY_STEPS

    by_bytes: UndoHistory[Step] = UndoHistory(max_bytes=100, nbytes=lambda step: step.nbytes)
    for n in (60, 30, 20):
        by_bytes.record(Step(str(n), n))
    assert [by_bytes.text(undo=True), by_bytes.depth, by_bytes.nbytes()] == ["20", 2, 50]  # the oldest went
    by_bytes.record(Step("huge", 500))
    assert by_bytes.depth == 1  # the newest step stays, whatever it costs


def test_a_step_that_cannot_be_restored_is_dropped_and_changes_nothing():
    history: UndoHistory[Step] = UndoHistory()
    history.record(Step("gone"))
    assert not history.travel(lambda step, undo: None, undo=True)
    assert not history.can(undo=True) and not history.can(undo=False)
    assert not history.travel(lambda step, undo: step, undo=True)  # nothing left to move


def test_stack_undo_redo_selection_and_observers():
    stack = Stack()
    heard: list[ProjectChange] = []
    unsubscribe = stack.subscribe(heard.append)
    stack.add(Item("a", "A"))
    stack.add(Item("b", "B"))
    stack.select("b")
    stack.move_layer("b", -1)
    assert [la.id for la in stack.layers] == ["b", "a"] and stack.undo_text == "Move B down" and stack.modified
    assert heard[:2] == [ProjectChange("layers"), ProjectChange("history")]
    stack.undo()
    stack.undo()
    assert [la.id for la in stack.layers] == ["a"] and stack.selected is None  # B's removal dropped its selection
    assert stack.redo_text == "Add B"
    stack.redo()
    assert [la.id for la in stack.layers] == ["a", "b"] and stack.can_redo
    unsubscribe()
    heard.clear()
    stack.set_visible("a", False)
    assert heard == [] and not stack.can_redo and stack.undo_text == "Hide A"


def test_a_drag_is_one_step_and_undo_waits_for_it_to_settle():
    stack = Stack((Item("a", "A"),))
    heard: list[ProjectChange] = []
    stack.subscribe(heard.append)
    for size in (1, 2, 3):
        stack.resize("a", size, final=False)
    assert stack.dragging and not stack.can_undo and heard == [ProjectChange("layers", False)] * 3
    stack.undo()  # cannot cut into a drag
    assert stack.layer("a").size == 3
    stack.settle("Size")
    assert not stack.dragging and stack.history.depth == 1
    stack.undo()
    assert stack.layer("a").size == 0
    stack.redo()
    assert stack.layer("a").size == 3


def test_saving_clears_modified_and_undo_sets_it_again():
    stack = Stack()
    stack.add(Item("a", "A"))
    stack.modified = False  # as PageFiles does after a save
    stack.undo()
    assert stack.modified
