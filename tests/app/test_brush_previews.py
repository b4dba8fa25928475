"""Style Brushes as a user meets a new translation or a change of style strength: the last result stays on screen (no tint
washes over it) until a quick preview, made on a small copy of the photo, replaces it, and then the full result."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.brushes.project import PHOTO, RESULT
from app.brushes.translations import PREVIEW_SUFFIX, READY
from engine.api import ModelEntry
from tests.app.brush_page_fixtures import (  # noqa: F401 (fixtures are found by name)
    WAIT,
    brush,
    cyclegan,
    dialogs,
    import_model,
    open_photo,
    page,
    pick,
    stroke,
    wait_translated,
    write_photo,
)
from tests.hierarchyflow_fixtures import write_tiny_flow


@pytest.fixture
def flow(main_window, page, qtbot, tmp_path) -> ModelEntry:
    return import_model(main_window, qtbot, write_tiny_flow(tmp_path / "models" / "tiny_flow.safetensors", seed=2))


def test_a_strength_change_keeps_the_stylised_photo_until_its_preview_then_the_full_result(page, flow, qtbot,
                                                                                          tmp_path):
    assert page.files.open_photo_file(write_photo(tmp_path / "photo.png", (96, 128), seed=1)).wait()
    pick(page, flow)
    page.style_panel.shelf.itemClicked.emit(page.style_panel.shelf.item(0))
    wait_translated(qtbot, page)
    project, layer = page.project, page.project.selected
    doc = project.document
    stylised = doc.layer(RESULT).data.copy()
    assert np.abs(stylised - doc.layer(PHOTO).data).max() > 0.02
    events: list[tuple[str, object]] = []
    page.translator.previewed.connect(lambda key: events.append(("preview", key)))
    page.translator.changed.connect(lambda key: getattr(page.translator.state(key), "status", None) == READY
                                    and events.append(("full", key)))

    composited = page.compositor.composited_pixels
    assert page.compositor.painted(layer.id)  # a change of what it paints would recomposite its strokes

    qtbot.mouseClick(page.style_panel.presets["subtle"], Qt.MouseButton.LeftButton)
    key = page.key(project.selected)
    assert key.strength == project.selected.strength != layer.strength and page.translation(project.selected) is None
    assert np.array_equal(doc.layer(RESULT).data, stylised)  # the last stylisation stays...
    assert page.compositor.composited_pixels == composited  # (not even recomposited: it paints the same image)
    assert layer.mask not in page.canvas.shown_layers  # ...with no tint over it
    qtbot.waitUntil(lambda: ("full", key) in events, timeout=WAIT)
    assert events.index(("preview", key)) < events.index(("full", key))
    final = page.translation(project.selected).astype(np.float32) / 255
    assert np.abs(doc.layer(RESULT).data - final).max() <= 1 / 255 + 1e-6


def test_a_new_translation_keeps_the_last_one_until_its_preview_then_the_full_result(page, cyclegan, qtbot, tmp_path,
                                                                                     monkeypatch):
    project = open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (96, 128), seed=2), cyclegan)
    layer = project.selected
    brush(page, 400)
    stroke(qtbot, page.canvas, [(20, 20), (100, 70)])  # one dab covers the photo: the result is the translation
    painted = project.mask(layer.id) == 1
    assert painted.mean() > 0.5
    doc = project.document
    translated = doc.layer(RESULT).data.copy()
    assert np.abs(translated - doc.layer(PHOTO).data).max() > 0.02
    events: list[tuple[str, object, np.ndarray]] = []  # what the result layer showed when each image came
    page.translator.previewed.connect(lambda key: events.append(("preview", key, doc.layer(RESULT).data.copy())))
    page.translator.changed.connect(lambda key: getattr(page.translator.state(key), "status", None) == READY
                                    and events.append(("full", key, doc.layer(RESULT).data.copy())))
    sent: list[tuple[str, tuple[int, ...]]] = []  # the jobs as they go to the engine: slot, photo's shape
    send = page.translator.jobs.send
    monkeypatch.setattr(page.translator.jobs, "send",
                        lambda slot, job: (sent.append((slot, job.request.image.shape)), send(slot, job))[-1])

    pick(page, cyclegan, "BtoA")  # the other network: a new translation of the whole photo
    key = page.key(project.selected)
    assert key.direction == "BtoA" and page.translation(project.selected) is None
    assert np.array_equal(doc.layer(RESULT).data, translated)  # the last translation stays...
    assert layer.mask not in page.canvas.shown_layers  # ...with no tint over it
    qtbot.waitUntil(lambda: ("full", key) in [(kind, k) for kind, k, _ in events], timeout=WAIT)
    mine = [(kind, shown) for kind, k, shown in events if k == key]
    assert mine[0][0] == "preview"  # the preview first
    previewed, finished = mine[0][1], next(shown for kind, shown in mine if kind == "full")
    (preview_slot, small), (full_slot, whole) = sent
    assert preview_slot == full_slot + PREVIEW_SUFFIX and small[0] * small[1] * 4 <= whole[0] * whole[1] == 96 * 128
    final = page.translation(project.selected).astype(np.float32) / 255
    assert np.abs(previewed[painted] - translated[painted]).max() > 0.02  # a small copy's, shown in place...
    assert np.abs(previewed[painted] - final[painted]).max() > 2 / 255  # ...and not yet the full result
    assert np.abs(finished[painted] - final[painted]).max() <= 1 / 255 + 1e-6  # which then replaces it
