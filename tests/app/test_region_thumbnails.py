"""Swap & Edit as an artist meets it: the region's Reshape sliders show the selected region at both their ends
(inside the region's mask, cropped around it, made only while the page is shown and idle); and a photo opened
before the engine has listed the models waits for the list instead of asking for a model."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from app.engine_bridge import EngineBridge
from app.main_window import MainWindow
from app.sae.looks import region_picture
from app.sae.stack import RegionLayer
from tests.app.swap_page_fixtures import (  # noqa: F401 (fixtures are found by name)
    WAIT,
    cell_pos,
    dialogs,
    open_photo,
    page,
    tiny,
    write_photo,
)
from tests.app.test_swap_words import _compute_directions


def test_a_region_picture_shows_the_change_only_inside_the_region_and_crops_around_it():
    small = np.full((80, 160, 3), 0.5, np.float32)
    changed = small + 0.3
    weights = np.zeros((10, 20), np.float32)
    weights[4:6, 12:15] = 1  # pixels 32..48 x 96..120
    picture = region_picture(changed, small, weights)
    assert picture.shape[:2] == (40, 80)  # cropped around the region, with as much of the photo around it
    assert np.allclose(picture.max(), 0.8) and np.allclose(picture.min(), 0.5)  # changed inside, photo outside
    assert np.allclose(picture[20, 40], 0.8) and np.allclose(picture[0, 0], 0.5)
    assert np.array_equal(region_picture(changed, small, np.zeros((10, 20), np.float32)), small)  # no region


def test_reshape_sliders_show_the_region_at_both_ends(main_window, page, tiny, qtbot, tmp_path):
    _compute_directions(page, qtbot, tmp_path)
    open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (96, 128), seed=6))
    sliders = page.region_panel.sliders
    assert sliders.count() > 0 and not any(sliders.has_pictures(i) for i in range(sliders.count()))

    qtbot.keyClick(page.canvas, Qt.Key.Key_M)
    page.region_panel.threshold.setValue(95)
    qtbot.mouseClick(page.canvas, Qt.MouseButton.LeftButton, pos=cell_pos(page.canvas, 4, 5))
    region = page.project.selected
    assert isinstance(region, RegionLayer) and 0 < region.weights.sum() < region.weights.size, region.weights
    rows, cols = np.nonzero(region.weights)
    qtbot.waitUntil(lambda: all(sliders.has_pictures(i) for i in range(sliders.count())), timeout=WAIT)
    looks = [page.binding.looks.look(d.key) for d in page.binding._directions[2]]
    assert len(looks) == sliders.count()
    for look in looks:
        assert look.left.shape == look.right.shape and look.left.shape[2] == 3
        if cols.max() - cols.min() < 6:  # a region narrower than half the photo: cropped around it
            assert look.left.shape[1] < 128, (rows, cols)
        assert np.abs(look.left.astype(int) - look.right.astype(int)).max() > 0  # the ends differ
    assert "right end" in sliders._ends[0][1].toolTip()

    qtbot.waitUntil(lambda: page.binding.looks.waiting == 0, timeout=WAIT)  # then the texture sliders' pictures
    made = len(page.binding.looks._ends[page.binding.looks._target.key])
    page.region_panel.sliders.slider(0).setValue(120)  # moving a slider asks for no new pictures
    qtbot.waitUntil(lambda: not page.scheduler.busy, timeout=WAIT)
    assert page.binding.looks.waiting == 0
    assert len(page.binding.looks._ends[page.binding.looks._target.key]) == made

    qtbot.keyClick(page.canvas, Qt.Key.Key_Escape)  # nothing selected: no region to show
    page.project.select(None)
    qtbot.waitUntil(lambda: not any(sliders.has_pictures(i) for i in range(sliders.count())), timeout=WAIT)


def test_a_photo_opened_before_the_model_list_arrives_waits_for_it(qtbot, qapp, tmp_path, dialogs):
    bridge = EngineBridge()
    window = MainWindow(bridge)  # the model list is asked for, not yet arrived
    qtbot.addWidget(window)
    try:
        swap = window.swap
        window.show_tool("Swap & Edit")
        assert swap.session.entry is None and not swap.models_listed
        opened = swap.files.open_photo_file(write_photo(tmp_path / "early.png", (128, 160), seed=3))
        assert opened.ok is None and "Waiting for the model list" in swap.status_label.text()
        assert opened.wait(WAIT)
        assert not dialogs["shown"]  # no "Choose a Swapping Autoencoder model first"
        qtbot.waitUntil(lambda: swap.project is not None, timeout=WAIT)
        assert swap.session.photo_name == "early.png" and swap.session.entry is not None
    finally:
        window.close()
        bridge.shutdown()
