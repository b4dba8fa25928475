"""Style transfer layers on the Style Brushes page (HierarchyFlow), as a user drives them with a tiny random flow in
the real engine: a layer that stylises the whole photo after a shelf style, the fidelity presets and slider, styles
from files (RGBA, grey, too small), limiting the effect with the eraser and the mask buttons, undo, and a project
saved and reopened with its style images. The project's style state is tested without a window first."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from app.brushes.page import StyleBrushPage
from app.brushes.project import PHOTO, RESULT, BrushProject, brush_document
from app.brushes.state_io import ProjectFormatError, project_members, state_from_members
from app.brushes.style_panel import StylePanel, shelf_styles
from app.brushes.translations import Key
from engine.api import STYLE_PRESETS, ModelEntry
from tests.app.brush_page_fixtures import (  # noqa: F401 (fixtures are found by name)
    WAIT,
    brush,
    choose_file,
    dialogs,
    import_model,
    menu,
    page,
    pick,
    stroke,
    wait_translated,
    write_photo,
)
from tests.app.conftest import files_done
from tests.app.swap_page_fixtures import drop
from tests.hierarchyflow_fixtures import write_tiny_flow

# --- the project's style state, without a window ---------------------------------------------------------------


def test_style_layers_keep_their_style_and_strength_in_the_history_and_the_file() -> None:
    photo = np.random.default_rng(0).random((40, 60, 3)).astype(np.float32)
    project = BrushProject(brush_document(photo), "photo-key")
    big = (np.random.default_rng(1).random((2048, 1500, 3)) * 255).astype(np.uint8)
    style = project.add_style("Big", big)
    assert max(style.pixels.shape) == 1024 and project.add_style("Again", big) is style  # same pixels, same style
    layer = project.add_layer("flow", style=style.key, strength=0.5, filled=True)
    assert project.mask(layer.id).min() == 1.0  # a style layer shows everywhere at first
    project.set_strength(layer.id, 0.2, final=False)
    project.set_strength(layer.id, 0.3, final=False)
    project.set_strength(layer.id, 0.3)  # a slider drag: one step
    project.fill_mask(layer.id, 0.0)
    assert project.undo_text == "Clear the mask of Brush 1" and not project.mask(layer.id).any()
    project.undo()
    assert project.mask(layer.id).min() == 1.0 and project.undo_text == "Strength of Brush 1"
    project.undo()
    assert project.layer(layer.id).strength == 0.5

    translation = (np.random.default_rng(2).random((40, 60, 3)) * 255).astype(np.uint8)
    key = Key("flow", "", "photo-key", style.key, 0.5)
    members = project_members(project, {key: translation})
    state = state_from_members(members, (40, 60), "photo-key", "styled.ora")
    assert state.layers == project.layers and np.array_equal(state.translations[key], translation)
    assert [s.key for s in state.styles] == [style.key] and np.array_equal(state.styles[0].pixels, style.pixels)
    del members["i2i-studio/brushes/style1.png"]
    with pytest.raises(ProjectFormatError, match="style1.png is missing"):
        state_from_members(members, (40, 60), "photo-key", "styled.ora")


def test_the_shelf_lists_the_built_in_styles_and_keeps_added_ones(tmp_path, qtbot) -> None:
    built_in = shelf_styles(tmp_path / "none")
    assert len(built_in) >= 5 and all(e.source == "built-in" for e in built_in)
    panel = StylePanel(tmp_path / "styles")
    qtbot.addWidget(panel)
    rgba = Image.new("RGBA", (30, 20), (200, 40, 40, 0))  # transparent: white, as photos are read
    rgba.save(tmp_path / "clear.png")
    Image.new("L", (24, 24), 90).save(tmp_path / "grey.png")
    Image.new("RGB", (5, 5), (0, 0, 255)).save(tmp_path / "tiny.png")
    failures = []
    panel.failed.connect(failures.append)
    panel.add_style_files([str(tmp_path / name) for name in ("clear.png", "grey.png", "tiny.png")])
    assert failures == ["tiny.png is 5x5: style images need at least 8 px a side"]
    added = [e for e in panel.entries() if e.source == "added"]
    assert [e.style.name for e in added] == ["Clear", "Grey"]
    assert np.array_equal(added[0].style.pixels[0, 0], [255, 255, 255]) and added[1].style.pixels.shape == (24, 24, 3)
    again = StylePanel(tmp_path / "styles")  # the next start: the added styles are still there
    qtbot.addWidget(again)
    assert len(again.entries()) == len(built_in) + 2


# --- the page ----------------------------------------------------------------------------------------------------


@pytest.fixture
def flow(main_window, page, qtbot, tmp_path) -> ModelEntry:
    """A tiny random HierarchyFlow, imported through the Library like a user's checkpoint."""
    return import_model(main_window, qtbot, write_tiny_flow(tmp_path / "models" / "tiny_flow.safetensors", seed=2))


def styled_layer(qtbot, page: StyleBrushPage, path: Path, flow: ModelEntry):
    """Open a photo and turn its first layer into a style layer (the shelf's first style), stylised."""
    assert page.files.open_photo_file(path).wait()
    pick(page, flow)
    page.style_panel.shelf.itemClicked.emit(page.style_panel.shelf.item(0))
    wait_translated(qtbot, page)
    return page.project, page.project.selected


def distance(page: StyleBrushPage) -> float:
    doc = page.project.document
    return float(np.abs(doc.layer(RESULT).data - doc.layer(PHOTO).data).mean())


def test_a_style_layer_stylises_the_photo_and_the_fidelity_controls_move_it(page, flow, qtbot, tmp_path):
    project, layer = styled_layer(qtbot, page, write_photo(tmp_path / "photo.png", (70, 90), seed=1), flow)
    assert page.style_panel.isVisible() and not page.layers_panel.direction_picker.isVisible()
    assert project.mask(layer.id).min() == 1.0  # the whole photo at once; erase to limit it
    stylised = page.translation(layer).astype(np.float32) / 255
    assert np.abs(project.document.layer(RESULT).data - stylised).max() <= 1 / 255 + 1e-6
    assert "Stylised with tiny-flow-2" in page.status_label.text()

    distances = {}
    assert list(page.style_panel.presets) == ["subtle", "balanced", "full"]  # left to right: more style
    assert [b.text() for b in page.style_panel.presets.values()] == ["Subtle", "Balanced", "Full"]
    for name in ("subtle", "balanced", "full"):
        qtbot.mouseClick(page.style_panel.presets[name], Qt.MouseButton.LeftButton)
        assert project.layer(layer.id).strength == STYLE_PRESETS[name]
        wait_translated(qtbot, page)
        assert page.style_panel.presets[name].isChecked()
        distances[name] = distance(page)
    assert 0 < distances["subtle"] < distances["balanced"] < distances["full"], distances

    slider = page.style_panel.slider  # a drag: previews of the number only, one stylisation on release
    submitted = len(page.translator.submitted)
    slider.setSliderDown(True)
    for value in (80, 40, 0):
        slider.setValue(value)
    assert len(page.translator.submitted) == submitted and page.style_panel.readout.text() == "0%"
    slider.setSliderDown(False)
    slider.sliderReleased.emit()
    wait_translated(qtbot, page)
    assert len(page.translator.submitted) == submitted + 1 and project.undo_text == "Strength of Brush 1"
    assert distance(page) < 1e-6  # 0 %: the photo unchanged
    project.undo()
    wait_translated(qtbot, page)  # cached: back at once
    assert abs(distance(page) - distances["full"]) < 1e-6


def test_a_dropped_style_image_and_the_eraser_limit_the_effect(page, flow, qtbot, tmp_path):
    project, layer = styled_layer(qtbot, page, write_photo(tmp_path / "photo.png", (80, 100), seed=2), flow)
    first = page.translation(layer).copy()
    Image.new("RGB", (64, 48), (30, 200, 90)).save(tmp_path / "green paper.png")
    drop(page.style_panel.shelf.viewport(), [tmp_path / "green paper.png"])  # dragged from a file manager
    wait_translated(qtbot, page)
    selected = project.selected
    assert project.styles[selected.style].name == "Green paper" and selected.style != layer.style
    assert not np.array_equal(page.translation(selected), first)

    page.tool_actions.actions()[2].trigger()  # Eraser
    brush(page, 30)
    stroke(qtbot, page.canvas, [(10, 40), (90, 40)])
    result, photo = project.document.layer(RESULT).data, project.document.layer(PHOTO).data
    assert np.abs(result[40, 20:80] - photo[40, 20:80]).max() < 1e-6  # erased: the photo shows
    assert np.abs(result[5:10] - photo[5:10]).mean() > 1e-3  # elsewhere the style still does
    qtbot.mouseClick(page.layers_panel.clear_mask, Qt.MouseButton.LeftButton)
    assert np.array_equal(result, photo)
    qtbot.mouseClick(page.layers_panel.fill_mask, Qt.MouseButton.LeftButton)
    assert project.mask(layer.id).min() == 1.0
    project.undo()
    project.undo()  # back to the erased stroke
    assert project.mask(layer.id)[40, 20:80].max() == 0 and project.mask(layer.id)[5].min() == 1


def test_a_style_project_reopens_with_its_style_images_without_stylising_again(main_window, page, flow, qtbot,
                                                                              monkeypatch, tmp_path, dialogs):
    Image.new("RGB", (40, 30), (250, 120, 20)).save(tmp_path / "orange.png")
    project, layer = styled_layer(qtbot, page, write_photo(tmp_path / "photo.png", (60, 80), seed=3), flow)
    page.style_panel.add_style_files([str(tmp_path / "orange.png")])
    qtbot.mouseClick(page.style_panel.presets["balanced"], Qt.MouseButton.LeftButton)
    wait_translated(qtbot, page)
    composite = project.document.layer(RESULT).data.copy()
    saved = tmp_path / "styled.ora"
    choose_file(monkeypatch, saved)
    menu(main_window, "File", "Save Project As").trigger()
    files_done(qtbot, page)

    assert page.files.open_photo_file(write_photo(tmp_path / "other.png", (40, 40), seed=4)).wait()
    submitted = len(page.translator.submitted)
    page.translator.cache.max_bytes = 0  # nothing left in memory: the file brings the stylisation
    page.translator.cache.pin(())
    choose_file(monkeypatch, saved)
    menu(main_window, "File", "Open Project").trigger()
    files_done(qtbot, page)
    again = page.project
    assert again.layers == project.layers and again.selected.strength == STYLE_PRESETS["balanced"]
    assert again.styles[again.selected.style].name == "Orange" and not dialogs["shown"]
    assert np.array_equal(again.document.layer(RESULT).data, composite)
    assert len(page.translator.submitted) == submitted
    qtbot.waitUntil(lambda: page.style_panel.isVisible(), timeout=WAIT)
