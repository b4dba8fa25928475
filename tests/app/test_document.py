"""The document model without Qt: layers, region undo, observers, derived layers."""

from __future__ import annotations

import numpy as np
import pytest

from app.document import TILE, Change, Document, Layer
from app.history import HISTORY_STEPS


def labels_doc(h: int = 300, w: int = 400) -> Document:
    doc = Document(h, w, settings={"model_id": "m"})
    doc.add_layer(Layer("labels", "labels", np.zeros((h, w), np.uint8)))
    return doc


def paint(doc: Document, rect, value: int, text: str = "paint") -> None:
    edit = doc.edit("labels", text)
    edit.region(rect)[...] = value
    edit.changed(rect)
    edit.commit()


def test_undo_redo_restore_exact_pixels():
    doc = labels_doc()
    rng = np.random.default_rng(0)
    states = [doc.layer("labels").data.copy()]
    for i in range(20):
        x, y = int(rng.integers(0, 380)), int(rng.integers(0, 280))
        paint(doc, (x, y, int(rng.integers(1, 90)), int(rng.integers(1, 90))), i + 1)
        states.append(doc.layer("labels").data.copy())
    for state in reversed(states[:-1]):
        doc.undo()
        assert np.array_equal(doc.layer("labels").data, state)
    assert not doc.can_undo
    for state in states[1:]:
        doc.redo()
        assert np.array_equal(doc.layer("labels").data, state)


def test_history_stores_touched_tiles_not_whole_images():
    doc = labels_doc(2048, 2048)
    paint(doc, (10, 10, 5, 5), 3)
    assert doc.history_bytes() == 2 * TILE * TILE  # one tile before + after, not 4 MiB
    paint(doc, (100, 100, 0, 0), 3)  # empty edits leave no step
    paint(doc, (10, 10, 5, 5), 3)  # nor do edits that change nothing
    assert doc.undo_text == "paint" and doc.history.depth == 1


def test_history_keeps_at_least_200_steps_and_a_new_edit_clears_redo():
    doc = labels_doc()
    for i in range(HISTORY_STEPS + 5):
        paint(doc, (i % 300, 0, 1, 1), (i % 200) + 1)
    assert doc.history.depth == HISTORY_STEPS
    doc.undo()
    assert doc.can_redo
    paint(doc, (0, 0, 1, 1), 250)
    assert not doc.can_redo


def test_observers_hear_dirty_rects_and_history():
    doc = labels_doc()
    heard: list[Change] = []
    unsubscribe = doc.subscribe(heard.append)
    paint(doc, (-5, -5, 20, 20), 7)
    assert Change("pixels", "labels", (0, 0, 15, 15)) in heard and Change("history") in heard
    heard.clear()
    doc.undo()
    assert heard[0] == Change("pixels", "labels", (0, 0, TILE, TILE))
    unsubscribe()
    heard.clear()
    doc.redo()
    assert heard == []


def test_layer_rules():
    doc = labels_doc(10, 20)
    with pytest.raises(ValueError, match="already has"):
        doc.add_layer(Layer("labels", "labels", np.zeros((10, 20), np.uint8)))
    with pytest.raises(ValueError, match="20x10"):
        doc.add_layer(Layer("photo", "rgb", np.zeros((5, 5, 3), np.float32)))
    doc.add_layer(Layer("photo", "rgb", np.zeros((10, 20, 3), np.float32), editable=False))
    with pytest.raises(ValueError, match="not editable"):
        doc.edit("photo", "x")
    doc.replace_pixels("photo", np.ones((10, 20, 3), np.float32))
    assert [layer.name for layer in doc.layers] == ["labels", "photo"]
    doc.set_layer_property("photo", opacity=0.5)
    assert doc.layer("photo").opacity == 0.5
    with pytest.raises(ValueError):
        Document(0, 5)


def test_derived_layers_are_no_edits_and_what_a_document_is_made_with_neither():
    photo = Layer("photo", "rgb", np.zeros((10, 20, 3), np.float32), editable=False, derived=True)
    doc = Document(10, 20, layers=[Layer("labels", "labels", np.zeros((10, 20), np.uint8)), photo])
    assert [layer.name for layer in doc.layers] == ["labels", "photo"] and not doc.modified
    heard: list[Change] = []
    doc.subscribe(heard.append)
    doc.replace_pixels("photo", np.ones((10, 20, 3), np.float32), (0, 0, 5, 5))
    doc.set_layer_property("photo", visible=False)
    doc.add_layer(Layer("overlay", "mask", np.zeros((10, 20), np.float32), derived=True))
    assert not doc.modified and heard == [Change("pixels", "photo", (0, 0, 5, 5)), Change("layer", "photo"),
                                          Change("layers", "overlay")]
    doc.set_setting("model_id", "followed", edit=False)  # the program following the Library: no edit either
    assert not doc.modified and doc.settings["model_id"] == "followed"
    paint(doc, (0, 0, 2, 2), 1)
    assert doc.modified
    doc.modified = False
    doc.set_setting("seed", 3)
    assert doc.modified
