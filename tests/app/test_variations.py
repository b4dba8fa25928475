"""The Variations page driven as an artist would, on the real engine with the official DeepI2I fixture (random
weights, its 1000 classes named through the import option): the grid streams in, a click shows a result large,
Keep pastes it into the crop with a feathered edge (undoable), the knobs change the result, targets are searched
and kept as favourites, a project round-trips through .ora with its recipes (which make the same result again),
a changed request cancels the old one in the engine, the composite exports at full resolution and is sent on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QApplication

from app.engine_bridge import EngineBridge
from app.main_window import MainWindow
from app.theme import apply_theme
from app.variations.grid import GRID_SLOT
from app.variations.page import VariationsPage
from app.variations.project import RESULT, Recipe, VariationsProject, feather_mask, pasted, project_document
from app.variations.state_io import PREFIX, STATE, ProjectFormatError, layers_from_members, project_members
from engine.api import Task, Variation, VaryImage
from engine.imageio import to_uint8
from tests.app.conftest import fake_message_boxes
from tests.app.swap_page_fixtures import write_photo

DEEPI2I = Path("/work/shared/fixtures/official/deepi2i/small/DeepI2I_small")
CLASSES = ("lion", "tiger", "fox", "wolf", "snow leopard", "red panda", "golden retriever", "house cat")
WAIT = 60_000


@pytest.fixture(autouse=True)
def dialogs(monkeypatch) -> dict:
    return fake_message_boxes(monkeypatch)


@pytest.fixture
def window(qtbot, qapp, monkeypatch) -> Iterator[MainWindow]:
    """The main window on Variations with the fixture imported and picked in the toolbar (Exact mode: no graphs
    built in the background)."""
    if not DEEPI2I.is_dir():
        pytest.skip(f"fixture missing: {DEEPI2I}")
    monkeypatch.setenv("I2I_MODE", "exact")
    apply_theme(qapp)
    bridge = EngineBridge()
    win = MainWindow(bridge)
    try:
        qtbot.addWidget(win)
        win.show()
        qtbot.waitExposed(win)
        page = win.show_tool("Variations")
        qtbot.waitUntil(lambda: bool(win.catalog.entries), timeout=WAIT)
        multi = [e for e in win.catalog.entries if e.task == Task.MULTI_DOMAIN]
        assert page.entry == (multi[0] if multi else None)  # the first multi-domain model, the embedded one
        assert page.notice.isVisible() == (not multi)  # with none, it says how to get one
        done: list = []
        win.catalog.import_checkpoint(str(DEEPI2I), done.append, {"classes": ",".join(CLASSES)})
        qtbot.waitUntil(lambda: bool(done) and page.model_picker.findData(done[0].id) >= 0, timeout=WAIT)
        index = page.model_picker.findData(done[0].id)
        page.model_picker.setCurrentIndex(index)
        page.model_picker.activated.emit(index)  # as a choice in the toolbar's picker
        assert page.entry.id == done[0].id and page.domains() == CLASSES and not page.notice.isVisible()
        yield win
    finally:
        win.close()
        bridge.shutdown()


def open_photo(qtbot, page: VariationsPage, path: Path, seeds: int = 2) -> None:
    page.seed_count.setValue(seeds)
    assert page.files.open_photo_file(path).wait()


def grid_done(qtbot, page: VariationsPage) -> None:
    qtbot.waitUntil(lambda: page.request is not None and page.engine.done() == len(page.request.cells()),
                    timeout=WAIT)


def click_cell(qtbot, page: VariationsPage, row: int, col: int, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    grid = page.grid
    rect = grid.visualItemRect(grid.item(row, col))
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())


def pick_shown(qtbot, page: VariationsPage) -> np.ndarray:
    qtbot.waitUntil(lambda: page.pick_image() is not None, timeout=WAIT)
    return page.pick_image()


def test_the_grid_streams_a_click_shows_it_large_and_keep_pastes_it_feathered(window, qtbot, tmp_path):
    page = window.variations
    arrivals: list[int] = []  # cells still to make when each result arrived
    page.engine.cell_ready.connect(lambda r, c, image: arrivals.append(
        len(page.request.cells()) - page.engine.done()))
    open_photo(qtbot, page, write_photo(tmp_path / "dog.png", (96, 160)))
    project = page.project
    assert page.canvas.crop == project.crop and (project.crop.x, project.crop.y, project.crop.side) == (32, 0, 96)
    assert page.grid.rowCount() == 6 and page.grid.columnCount() == 2  # six targets by two variants
    assert page.grid.verticalHeaderItem(1).text() == "tiger"
    grid_done(qtbot, page)
    assert len(arrivals) == 12 and arrivals[0] > 1  # the first thumbnail showed while the rest were on their way
    assert all(page.grid.has_result(r, c) for r in range(6) for c in range(2))

    click_cell(qtbot, page, 1, 1)
    large = pick_shown(qtbot, page)
    assert large.shape == (128, 128, 3) and not page.pick.view.pixmap().isNull()
    assert page.pick.title.text() == "tiger, variant 1"
    assert np.array_equal(large, page.engine.cache.get(page.engine.key(page.request, page.request.variation(1, 1))))

    photo = project.photo.copy()
    qtbot.mouseClick(page.pick.keep, Qt.MouseButton.LeftButton)
    assert [la.name for la in project.layers] == ["tiger, variant 1"] and page.is_modified()
    layer = project.layers[0]
    assert layer.recipe.variation.target == 1 and layer.recipe.variation.seed == 1 and layer.feather == 8
    result = project.document.layer(RESULT).data
    crop = layer.crop
    inside = (slice(crop.y, crop.y + crop.side), slice(crop.x, crop.x + crop.side))
    outside = np.ones(photo.shape[:2], bool)
    outside[inside] = False
    assert np.array_equal(result[outside], photo[outside])  # outside the square: the photo untouched
    made = pasted(layer.image, crop.side)
    middle = result[inside][crop.side // 2, crop.side // 2]
    assert np.allclose(middle, made[crop.side // 2, crop.side // 2], atol=1e-6)  # the middle: the result itself
    alpha = feather_mask(crop.side, layer.feather)
    edge = 2  # px in from the square's left edge: partly photo, partly result
    assert 0 < alpha[crop.side // 2, edge] < 0.5
    want = photo[inside][:, edge] + alpha[:, edge, None] * (made[:, edge] - photo[inside][:, edge])
    assert np.allclose(result[inside][:, edge], want, atol=1e-6)
    assert not np.allclose(result[inside][:, edge], made[:, edge], atol=0.02)

    # Undo takes the layer away (the photo back), redo pastes it again.
    page.files.undo.trigger()
    assert project.layers == () and np.array_equal(project.document.layer(RESULT).data, photo)
    page.files.redo.trigger()
    assert len(project.layers) == 1 and np.array_equal(project.document.layer(RESULT).data, result)

    # The square follows a drag inside it, and a drag of its corner: a new grid for what it covers now.
    drag(qtbot, page.canvas, (80, 48), (40, 50))
    assert project.crop.to_json() == [0, 0, 96] and page.request.source[1] == project.crop  # kept inside the photo
    drag(qtbot, page.canvas, (96, 96), (60, 70))
    assert project.crop.to_json()[:2] == [0, 0] and abs(project.crop.side - 70) <= 1  # the top left corner stays
    assert page.request.source[1] == project.crop and page.canvas.crop == project.crop
    assert project.layers[0].crop == crop  # what was kept stays where it was made
    grid_done(qtbot, page)


def drag(qtbot, view, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A left-button drag on the view between two photo pixels."""
    origin = view.map_to_document(QPointF(0, 0))
    at = [QPoint(round((x - origin.x()) * view.zoom), round((y - origin.y()) * view.zoom)) for x, y in (start, end)]
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=at[0])
    qtbot.mouseMove(view, at[1])
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=at[1])


def test_variants_blends_new_details_search_and_favourites_change_what_is_shown(window, qtbot, tmp_path):
    page = window.variations
    open_photo(qtbot, page, write_photo(tmp_path / "dog.png", (128, 128)))
    grid_done(qtbot, page)
    first = page.engine.cache.get(page.engine.key(page.request, page.request.variation(0, 0)))
    qtbot.mouseClick(page.more, Qt.MouseButton.LeftButton)  # the next variants
    assert page.request.seeds == (2, 3) and page.grid.horizontalHeaderItem(0).text() == "Variant 2"
    grid_done(qtbot, page)
    assert not np.array_equal(page.engine.cache.get(page.engine.key(page.request, page.request.variation(0, 0))),
                              first)

    click_cell(qtbot, page, 0, 0)
    lion = pick_shown(qtbot, page).copy()
    page.pick.blend_target.setCurrentIndex(CLASSES.index("fox"))
    page.pick.mix.setValue(60)  # 60 % of the way from lion to fox
    qtbot.waitUntil(lambda: page.pick_variation().mix == 0.6 and page.pick_image() is not None, timeout=WAIT)
    blended = page.pick_image().copy()
    assert not np.array_equal(blended, lion) and "60% towards fox" in page.pick.title.text()
    page.pick.seed_mix.setValue(50)
    qtbot.waitUntil(lambda: page.pick_variation().seed_mix == 0.5 and page.pick_image() is not None, timeout=WAIT)
    assert not np.array_equal(page.pick_image(), blended)
    qtbot.mouseClick(page.pick.new_details_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.pick_image() is not None, timeout=WAIT)
    detailed = page.pick_variation()
    assert detailed.chunk_seeds[0] is None and all(s is not None for s in detailed.chunk_seeds[1:])
    assert "new details" in page.pick.title.text()

    click_cell(qtbot, page, 2, 1, Qt.KeyboardModifier.ShiftModifier)  # Shift+click: blend towards fox, variant 3
    assert page.pick.blend_target.currentText() == "fox" and page.pick.blend_seed.value() == 3
    assert page.pick_variation().target == 0  # still the lion, blended

    # Search finds targets by name; a favourite joins the strip, whose button shows or hides its row.
    qtbot.keyClicks(page.targets.search, "leo")
    assert [CLASSES[t] for t in page.targets.visible_targets()] == ["snow leopard"]
    page.targets.search.clear()
    page.targets.list.setCurrentRow(CLASSES.index("house cat"))
    qtbot.mouseClick(page.targets.star, Qt.MouseButton.LeftButton)
    button = page.favourites.buttons[CLASSES.index("house cat")]
    assert button.text() == "house cat" and not button.isChecked() and "★ house cat" in [
        page.targets.list.item(i).text() for i in range(page.targets.list.count())]
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert page.request.targets[-1] == CLASSES.index("house cat") and page.grid.rowCount() == 7
    assert page.favourites.buttons[CLASSES.index("house cat")].isChecked()


def test_a_changed_request_cancels_the_old_one_and_leaving_the_page_pauses_it(window, qtbot, tmp_path):
    page = window.variations
    cancelled: list = []
    window.bridge.cancelled.connect(lambda job: job.slot == GRID_SLOT and cancelled.append(job))
    open_photo(qtbot, page, write_photo(tmp_path / "dog.png", (128, 160)), seeds=4)
    assert page.engine.jobs.running(GRID_SLOT)
    page.first_seed.setValue(10)  # another request while the first one's batch is made
    qtbot.waitUntil(lambda: bool(cancelled), timeout=WAIT)  # the engine dropped the old batch
    assert page.request.seeds == (10, 11, 12, 13)
    window.show_tool("Start Page")  # nobody looks: nothing more is made
    assert not page.engine.jobs.running(GRID_SLOT)
    left = page.engine.done()
    qtbot.wait(300)
    assert page.engine.done() == left < len(page.request.cells())
    window.show_tool("Variations")
    grid_done(qtbot, page)


def test_projects_round_trip_with_recipes_export_at_full_resolution_and_send_to(window, qtbot, tmp_path, monkeypatch):
    page = window.variations
    open_photo(qtbot, page, write_photo(tmp_path / "dog.png", (120, 200)))
    grid_done(qtbot, page)
    click_cell(qtbot, page, 2, 0)
    pick_shown(qtbot, page)
    page.pick.mix.setValue(30)
    qtbot.waitUntil(lambda: page.pick_variation().mix == 0.3 and page.pick_image() is not None, timeout=WAIT)
    page.keep_action.trigger()
    page.kept.feather.setValue(5)
    project = page.project
    assert project.layers[0].feather == 5
    composite = project.document.layer(RESULT).data.copy()

    path = tmp_path / "dog.ora"
    assert page.files.save_project_file(path).wait()
    assert not page.is_modified() and window.windowTitle().startswith("dog.ora — Variations")
    page.set_project(None)
    assert page.files.open_project_file(path).wait()
    reopened = page.project
    assert reopened is not project and len(reopened.layers) == 1
    before, after = project.layers[0], reopened.layers[0]
    assert (after.recipe, after.crop, after.feather, after.name) == (before.recipe, before.crop, 5, before.name)
    assert np.array_equal(after.image, before.image) and reopened.crop == project.crop
    assert np.allclose(reopened.document.layer(RESULT).data, composite, atol=1 / 255)

    # The recipe makes the same result again from the photo (reproducible from model, target, seed, knobs).
    recipe = after.recipe
    again: list = []
    window.bridge.submit(VaryImage(recipe.model_id, reopened.crop_pixels(page.model_side(), after.crop),
                                   (recipe.variation,), recipe.normalize), slot="test-remake", on_result=again.append)
    qtbot.waitUntil(lambda: bool(again), timeout=WAIT)
    assert np.array_equal(to_uint8(again[0][0], rounded=True), after.image)

    # Export writes the composite at the photo's full resolution; Export Pick the result alone.
    page.files.export(tmp_path / "out.png")
    qtbot.waitUntil(lambda: (tmp_path / "out.png").is_file() and not page.files.busy, timeout=WAIT)
    exported = np.asarray(Image.open(tmp_path / "out.png"))
    assert exported.shape == (120, 200, 3)
    assert np.array_equal(exported, to_uint8(reopened.document.layer(RESULT).data))
    click_cell(qtbot, page, 0, 1)
    single = pick_shown(qtbot, page)
    assert page.files.export_pick_to(tmp_path / "pick.png").wait()
    assert np.array_equal(np.asarray(Image.open(tmp_path / "pick.png")), single)

    # Send to: the composite becomes another tool's photo.
    assert window.send_to(window.brushes)
    assert window.current_page() is window.brushes and window.brushes.photo_name == "dog from Variations"
    sent = window.brushes.project.document.layer("photo").data
    assert np.array_equal(to_uint8(sent), to_uint8(reopened.document.layer(RESULT).data))
    QApplication.processEvents()


def test_a_damaged_or_hostile_project_state_is_refused_in_one_line():
    """The kept layers' state is read as hostile: each damage is one ProjectFormatError naming the file."""
    photo = np.full((64, 80, 3), 0.5, np.float32)
    project = VariationsProject(project_document(photo))
    project.keep(Recipe("m", Variation(2, 7, target_b=1, mix=0.25, chunk_seeds=(None, 5))),
                 np.zeros((32, 32, 3), np.uint8), "fox")
    members = project_members(project)
    layers, crop = layers_from_members(members, (64, 80), "p.ora")
    assert layers[0].recipe == project.layers[0].recipe and crop == project.crop and layers[0].feather == 5
    state = json.loads(members[STATE])

    def refused(change, size=(64, 80)) -> str:
        damaged = dict(members)
        bad = json.loads(json.dumps(state))
        change(bad, damaged)
        damaged[STATE] = json.dumps(bad).encode()
        with pytest.raises(ProjectFormatError) as caught:
            layers_from_members(damaged, size, "p.ora")
        text = str(caught.value)
        assert text.startswith("p.ora: ") and "\n" not in text
        return text

    assert "do not fit" in refused(lambda s, m: None, size=(64, 81))
    assert "newer" in refused(lambda s, m: s.update(version=99))
    assert "outside the photo" in refused(lambda s, m: s["layers"][0].update(crop=[70, 0, 64]))
    assert "over the" in refused(lambda s, m: s.update(layers=s["layers"] * 65))
    assert "damaged" in refused(lambda s, m: s["layers"][0]["recipe"]["variation"].update(mix="nan"))
    assert "missing" in refused(lambda s, m: m.pop(PREFIX + "k1.png"))
    assert "damaged" in refused(lambda s, m: m.update({PREFIX + "k1.png": b"not a png"}))
    big = BytesIO()
    Image.new("RGB", (4096, 8)).save(big, "PNG")
    assert "not a result" in refused(lambda s, m: m.update({PREFIX + "k1.png": big.getvalue()}))
