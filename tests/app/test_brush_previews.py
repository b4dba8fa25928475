"""Style Brushes as a user meets a change of fidelity: the stylised photo stays on screen (no tint washes over it)
until a quick preview of the new strength replaces it, and then the full result."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.brushes.project import PHOTO, RESULT
from app.brushes.translations import READY
from engine.api import ModelEntry
from tests.app.brush_page_fixtures import (  # noqa: F401 (fixtures are found by name)
    WAIT,
    dialogs,
    import_model,
    page,
    pick,
    wait_translated,
    write_photo,
)
from tests.hierarchyflow_fixtures import write_tiny_flow


@pytest.fixture
def flow(main_window, page, qtbot, tmp_path) -> ModelEntry:
    return import_model(main_window, qtbot, write_tiny_flow(tmp_path / "models" / "tiny_flow.safetensors", seed=2))


def test_a_fidelity_change_keeps_the_stylised_photo_until_its_preview_then_the_full_result(page, flow, qtbot,
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

    qtbot.mouseClick(page.style_panel.presets["strong"], Qt.MouseButton.LeftButton)
    key = page.key(project.selected)
    assert key.strength == project.selected.strength != layer.strength and page.translation(project.selected) is None
    assert np.array_equal(doc.layer(RESULT).data, stylised)  # the last stylisation stays...
    assert layer.mask not in page.canvas.shown_layers  # ...with no tint over it
    qtbot.waitUntil(lambda: ("full", key) in events, timeout=WAIT)
    assert events.index(("preview", key)) < events.index(("full", key))
    final = page.translation(project.selected).astype(np.float32) / 255
    assert np.abs(doc.layer(RESULT).data - final).max() <= 1 / 255 + 1e-6
