"""Swap & Edit in an artist's words and gestures: sliders named after what they do with pictures of their two ends,
amounts in percent, sizes in the photo's pixels; the clone source by Ctrl-click or the Set Source button (Alt is the
window manager's on Linux); Region clicks that add with Shift and never silently replace the selection."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QToolBar

from app.sae.looks import MEASURES, look_name, unique_names
from app.sae.stack import RegionLayer
from tests.app.swap_page_fixtures import (  # noqa: F401 (fixtures are found by name)
    CELL,
    WAIT,
    cell_pos,
    dialogs,
    open_photo,
    page,
    stroke,
    tiny,
    write_photo,
)

NAMES = {name for _, more, less, _ in MEASURES for name in (more, less)}


def _compute_directions(page, qtbot, tmp_path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(8):
        write_photo(folder / f"p{i}.png", (64, 72), seed=30 + i)
    with qtbot.waitSignal(page.texture_panel.stats_changed, timeout=WAIT, check_params_cb=lambda s: s is not None):
        page.texture_panel.compute_from([str(folder)])


def _toolbar_action(page, text: str):
    bar = page.findChild(QToolBar)
    return next(a for a in bar.actions() if a.text() == text)


def test_a_direction_is_named_by_what_its_ends_change():
    grey = np.full((8, 8, 3), 0.5, np.float32)
    assert look_name(grey, grey + 0.2) == "Brighter" and look_name(grey + 0.2, grey) == "Darker"
    warm = grey + np.float32([0.1, 0.0, -0.1])
    assert look_name(grey, warm) == "Warmer" and look_name(warm, grey) == "Cooler"
    ramp = np.linspace(0.2, 0.8, 64, dtype=np.float32).reshape(8, 8, 1).repeat(3, -1)
    assert look_name(0.5 + 0.2 * (ramp - 0.5), ramp) == "More contrast"
    assert look_name(grey, grey + 0.001) is None  # nothing clear: the slider stays "Look n"
    assert unique_names(["Warmer", None, "Warmer"]) == ["Warmer", "Look 2", "Warmer 2"]


def test_sliders_say_what_they_do_with_pictures_of_their_ends_and_percent(page, tiny, qtbot, tmp_path):
    _compute_directions(page, qtbot, tmp_path)
    sliders = page.texture_panel.global_sliders
    assert sliders.count() > 0 and all(sliders.label(i) == f"Look {i + 1}" for i in range(sliders.count()))
    open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (96, 128), seed=6))
    qtbot.waitUntil(lambda: all(sliders.has_pictures(i) for i in range(sliders.count())), timeout=WAIT)
    labels = [sliders.label(i) for i in range(sliders.count())]
    for i, label in enumerate(labels):
        assert "σ" not in label and "PC" not in label
        assert label == f"Look {i + 1}" or label.rstrip(" 0123456789") in NAMES
    assert len(set(labels)) == len(labels)
    looks = page.binding.looks
    for i, direction in enumerate(page.binding._directions[0]):
        look = looks.look(direction.key)
        assert look.left.shape[2] == 3 and max(look.left.shape[:2]) == 48  # thumbnail size, the photo's shape
        assert (look.name is None) == labels[i].startswith("Look")
    region_labels = [page.region_panel.sliders.label(i) for i in range(page.region_panel.sliders.count())]
    assert region_labels and all("Structure" not in t and "σ" not in t for t in region_labels)

    sliders.slider(0).setValue(150)
    assert sliders._readouts[0].text() == "+50%"
    assert not page.binding.looks.waiting and not page.binding.looks.jobs.busy  # kept: a slider move asks for none
    page.grab().save(str(tmp_path / "swap_words.png"))


def test_sizes_are_in_the_photos_pixels(page, tiny, qtbot, tmp_path):
    project = open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (96, 128), seed=7))
    assert project.cell_size == (CELL, CELL)
    page.brush_size.setValue(2)
    assert page.brush_size.text() == f"{2 * CELL} px" and "cells" not in page.brush_size.text()
    page.brush_size.lineEdit().setText("40")
    page.brush_size.interpretText()
    assert page.brush_size.value() == 5  # 40 px of 8-px cells
    assert page.brush.brush_size == 5
    qtbot.keyClick(page.canvas, Qt.Key.Key_M)
    qtbot.mouseClick(page.canvas, Qt.MouseButton.LeftButton, pos=cell_pos(page.canvas, 4, 4))
    qtbot.waitUntil(lambda: page.layers_panel.list.count() == 1)
    described = page.layers_panel.list.item(0).text()
    assert "of the photo" in described and "cells" not in described and "likeness" in described
    assert page.region_panel.readout.text().endswith("%")


def test_the_clone_source_by_ctrl_click_and_by_the_set_source_button(page, tiny, qtbot, tmp_path):
    project = open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (96, 128), seed=8))
    clone = page.tools["C"]
    qtbot.keyClick(page.canvas, Qt.Key.Key_C)
    qtbot.mouseClick(page.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier,
                     cell_pos(page.canvas, 3, 4))
    assert clone.source == (3, 4) and not project.layers and "Clone source set" in page.status_label.text()

    qtbot.keyClick(page.canvas, Qt.Key.Key_V)  # another tool: the button brings the clone brush back
    assert page.canvas.tool is not clone
    _toolbar_action(page, "Set Source").trigger()
    assert page.canvas.tool is clone and clone.armed and "Click the photo" in page.status_label.text()
    qtbot.mouseClick(page.canvas, Qt.MouseButton.LeftButton, pos=cell_pos(page.canvas, 6, 9))  # a plain click
    assert clone.source == (6, 9) and not clone.armed and not project.layers
    stroke(qtbot, page.canvas, [(2, 2), (2, 3)])  # and painting copies from there
    assert project.layers and np.array_equal(project.final_codes()[0][:, 2, 2], project.embedding.structure[:, 6, 9])


def test_region_clicks_add_with_shift_and_never_silently_replace(page, tiny, qtbot, tmp_path):
    project = open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (128, 160), seed=9))
    panel = page.region_panel
    qtbot.keyClick(page.canvas, Qt.Key.Key_M)
    assert "click" in panel.hint.text() and "select" in panel.hint.text()  # the panel says what a click does
    panel.threshold.setValue(90)
    qtbot.mouseClick(page.canvas, Qt.MouseButton.LeftButton, pos=cell_pos(page.canvas, 4, 4))
    region = project.selected
    assert isinstance(region, RegionLayer)
    first = region.weights.copy()
    assert "Shift-click" in panel.hint.text() and region.name in panel.hint.text()

    far = next((y, x) for y, x in np.argwhere(first == 0) if abs(y - 4) + abs(x - 4) > 6)
    qtbot.mouseClick(page.canvas, Qt.MouseButton.LeftButton, pos=cell_pos(page.canvas, *far))  # a stray click
    assert project.selected is region and len(project.layers) == 1 and np.array_equal(region.weights, first)
    assert "Shift-click adds" in page.status_label.text()  # not silent: it says what would

    page.brush_size.setValue(1)
    qtbot.mouseClick(page.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier,
                     cell_pos(page.canvas, *far))
    added = project.selected
    assert len(project.layers) == 1 and added.weights[far] == 1 and (added.weights >= first).all()
    qtbot.mouseClick(page.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier,
                     cell_pos(page.canvas, *far))
    assert project.selected.weights[far] == 0 and np.array_equal(project.selected.weights, first)

    qtbot.mouseClick(panel.new_region, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(page.canvas, Qt.MouseButton.LeftButton, pos=cell_pos(page.canvas, *far))
    assert len(project.layers) == 2 and project.selected is not region and project.selected.seed == far
    assert np.array_equal(project.layers[0].weights, first)  # the first region is kept whole
