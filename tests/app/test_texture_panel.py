"""Texture edits of the Swapping Autoencoder editor: direction sliders, and the panel bound to the statistics'
jobs on a real engine with a tiny random SAE (compute directions, too few photos, add / move / remove an
attribute, cancel)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import (
    QApplication,
    QDialogButtonBox,
    QFileDialog,
    QMessageBox,
    QStyle,
    QStyleOptionSlider,
)

from app.engine_bridge import EngineBridge
from app.sae import texture_panel as panel_module
from app.sae.code_stats import CodeStatsJobs, bind_panel
from app.sae.direction_sliders import DirectionSliders
from app.sae.stats_dialogs import NewAttributeDialog, PhotoList
from app.sae.texture_panel import NO_STATS, TextureEdits, TextureEditsPanel, canonical
from app.theme import apply_theme
from tests.sae_fixtures import add_to_catalog, write_tiny_sae

WAIT = 60_000


# --- helpers -----------------------------------------------------------------------------------------------


def write_photos(folder: Path, n: int, *, seed: int, tint: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> Path:
    """n distinct 64x64 photos (gradients, blobs and noise) in `folder`."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:64, 0:64] / 63.0
    for i in range(n):
        base = np.stack([a * xx + b * yy + c for a, b, c in rng.uniform(-0.5, 0.8, (3, 3))], axis=-1)
        cy, cx = rng.uniform(0, 1, 2)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.05)[..., None] * rng.uniform(-0.6, 0.6, 3)
        image = np.clip((base + blob + rng.normal(0, 0.05, base.shape)) * np.array(tint), 0, 1)
        Image.fromarray((image * 255).astype(np.uint8)).save(folder / f"photo_{i:02d}.png")
    return folder


def drag(qtbot, slider, fraction: float, *, between=None) -> None:
    """Press the handle, move it to `fraction` of the groove in a few steps, release."""
    option = QStyleOptionSlider()
    slider.initStyleOption(option)
    handle = slider.style().subControlRect(QStyle.ComplexControl.CC_Slider, option,
                                           QStyle.SubControl.SC_SliderHandle, slider)
    start = handle.center()
    end = QPoint(round(fraction * slider.width()), start.y())
    qtbot.mousePress(slider, Qt.MouseButton.LeftButton, pos=start)
    for t in (0.33, 0.66, 1.0):
        qtbot.mouseMove(slider, QPoint(round(start.x() + t * (end.x() - start.x())), start.y()))
        if between:
            between()
    qtbot.mouseRelease(slider, Qt.MouseButton.LeftButton, pos=end)


def record(signal) -> list[tuple]:
    seen: list[tuple] = []
    signal.connect(lambda *args: seen.append(args))
    return seen


@pytest.fixture
def sliders(qtbot) -> DirectionSliders:
    widget = DirectionSliders()
    widget.set_directions(["PC 1", "PC 2", "PC 3"])
    widget.resize(320, 160)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.fixture
def panel(qtbot, qapp, tmp_path) -> Iterator[tuple[TextureEditsPanel, CodeStatsJobs]]:
    """The panel bound to the statistics' jobs on a real engine whose catalog holds a tiny random SAE without
    statistics."""
    apply_theme(qapp)
    entry = add_to_catalog(write_tiny_sae(tmp_path / "tiny.safetensors", seed=0))
    bridge = EngineBridge(device="cpu")
    widget = TextureEditsPanel()
    stats = CodeStatsJobs(bridge)
    bind_panel(widget, stats)
    widget.resize(320, 640)
    qtbot.addWidget(widget)
    widget.show()
    with qtbot.waitSignal(widget.stats_changed, timeout=WAIT, check_params_cb=lambda _s: not widget._loading):
        stats.set_model(entry.id)
    yield widget, stats
    bridge.shutdown()


def compute_from_folder(qtbot, panel: tuple[TextureEditsPanel, CodeStatsJobs], folder: Path, monkeypatch) -> None:
    """Compute directions… > A folder of photos…, answering the folder dialog with `folder`."""
    widget, stats = panel
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    assert widget.compute.isEnabled()
    action = next(a for a in widget.compute.menu().actions() if a.text().startswith("A folder"))
    action.trigger()
    assert stats.busy  # the panel asked; the jobs run it
    qtbot.waitUntil(lambda: not stats.busy, timeout=WAIT)


def fill_attribute_dialog(name: str, group_a: Path, group_b: Path, shown: list) -> None:
    """When the New attribute dialog opens: type a name, add a folder to each group, press OK."""
    def fill() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, NewAttributeDialog)
        ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
        shown.append(ok.isEnabled())
        dialog.name.setText(name)
        dialog.group_a.add_paths([group_a])
        dialog.group_b.add_paths([group_b])
        shown.append(dialog.group_a.count_label.text())
        ok.click()
    QTimer.singleShot(0, fill)


# --- direction sliders ---------------------------------------------------------------------------------------


def test_drag_reports_as_it_goes_and_settles_on_release(sliders, qtbot):
    seen = record(sliders.values_changed)
    down_during_drag: list[bool] = []
    drag(qtbot, sliders.slider(1), 0.9, between=lambda: down_during_drag.append(sliders.slider(1).isSliderDown()))
    assert all(down_during_drag) and len(seen) >= 2
    assert all(final is False for _, final in seen[:-1])
    values, final = seen[-1]
    assert final is True and values == sliders.values()
    assert values[0] == values[2] == 0.0 and 1.0 < values[1] <= 3.0
    assert sliders.reset_button(1).isEnabled() and not sliders.reset_button(0).isEnabled()


def test_keyboard_steps_are_final_and_values_have_two_decimals(sliders, qtbot):
    seen = record(sliders.values_changed)
    sliders.slider(2).setFocus()
    qtbot.keyClick(sliders.slider(2), Qt.Key.Key_Right)
    qtbot.keyClick(sliders.slider(2), Qt.Key.Key_Right)
    assert seen == [((0.0, 0.0, 0.1), True), ((0.0, 0.0, 0.2), True)]
    qtbot.keyClick(sliders.slider(2), Qt.Key.Key_End)
    assert seen[-1] == ((0.0, 0.0, 3.0), True)
    assert sliders._readouts[2].text() == "+100%"  # the whole range, in percent


def test_reset_one_and_reset_all(sliders, qtbot):
    sliders.set_values([1.5, -0.75, 2.0])
    seen = record(sliders.values_changed)
    qtbot.mouseClick(sliders.reset_button(1), Qt.MouseButton.LeftButton)
    assert seen == [((1.5, 0.0, 2.0), True)]
    assert not sliders.reset_button(1).isEnabled() and sliders._readouts[1].text() == "+0%"
    qtbot.mouseClick(sliders.reset_all, Qt.MouseButton.LeftButton)
    assert seen[-1] == ((0.0, 0.0, 0.0), True) and len(seen) == 2
    assert not sliders.reset_all.isEnabled()


def test_set_values_is_silent_and_clamped(sliders, qtbot):
    with qtbot.assertNotEmitted(sliders.values_changed):
        sliders.set_values([0.256, -9.0])
    assert sliders.values() == (0.26, -3.0, 0.0)
    assert sliders._readouts[1].text() == "-100%"


def test_no_directions_shows_the_hint_only(qtbot):
    widget = DirectionSliders()
    qtbot.addWidget(widget)
    widget.show()
    widget.set_hint("Compute directions first.")
    assert widget.hint.isVisible() and widget.hint.text() == "Compute directions first."
    assert widget.values() == () and not widget.reset_all.isVisible()
    widget.set_directions(["a"])
    assert not widget.hint.isVisible() and widget.reset_all.isVisible()


def test_photo_list_takes_dropped_folders_and_counts_their_photos(qtbot, tmp_path):
    folder = write_photos(tmp_path / "snow", 3, seed=1)
    write_photos(folder / "more", 2, seed=2)  # subfolders count too, as the engine gathers them
    (folder / "notes.txt").write_text("not a photo")
    group = PhotoList("Group B")
    qtbot.addWidget(group)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(folder)), QUrl.fromLocalFile(str(folder / "notes.txt"))])
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, data, Qt.MouseButton.NoButton,
                      Qt.KeyboardModifier.NoModifier)
    group.dropEvent(drop)
    assert group.paths() == (str(folder.resolve()),) and group.photo_count() == 5
    assert group.count_label.text() == "5 photos"
    group.add_paths([folder, folder / "photo_00.png"])  # the folder only once
    assert group.list.count() == 2 and group.photo_count() == 6


def test_canonical_edits_drop_trailing_zero_gains_and_zero_amounts():
    assert canonical([0.5, 0.0, 0.0], [("snow", 0.0), ("dusk", -1.0)]) == TextureEdits((0.5,), (("dusk", -1.0),))
    assert canonical([0.0], []) == TextureEdits()


# --- the panel on a real engine ------------------------------------------------------------------------------


def test_model_without_statistics_then_directions_from_a_folder(panel, qtbot, tmp_path, monkeypatch):
    widget, _ = panel
    assert widget.stats() is None and widget.global_sliders.count() == 0
    assert widget.global_sliders.hint.isVisible() and widget.global_sliders.hint.text() == NO_STATS
    assert widget.compute.property("role") == "primary"
    qtbot.wait(50)
    widget.grab().save(str(tmp_path / "no_stats.png"))

    folder = write_photos(tmp_path / "photos", 8, seed=0)
    stats_seen = record(widget.stats_changed)
    compute_from_folder(qtbot, panel, folder, monkeypatch)

    assert widget.message.text() == "Computed the directions from 8 photos.", widget.message.text()
    stats = widget.stats()
    assert stats is not None and stats.count == 8 and stats_seen == [(stats,)]
    assert widget.global_sliders.count() == min(8, len(stats.texture_std)) == 7  # 8 photos: 7 directions
    assert widget.global_sliders.isEnabled() and not widget.global_sliders.hint.isVisible()
    # 7 directions of 8 unit-length codes hold all their variance: the labelled shares add up to the whole
    shares = panel_module.variance_shares(stats)
    assert shares is not None and abs(sum(shares) - 1.0) < 0.02 and shares == sorted(shares, reverse=True)
    assert widget.global_sliders.label(0) == "Look 1"  # until its thumbnails tell what it does
    assert f"({shares[0]:.0%} of how they differ)" in widget.global_sliders._names[0].toolTip()
    assert "8 photos in" in widget.source_label.text() and widget.source_label.isVisible()
    assert widget.compute.property("role") == "" and not widget.progress.isVisible()

    seen = record(widget.edits_changed)
    widget.global_sliders.slider(1).setFocus()
    qtbot.keyClick(widget.global_sliders.slider(1), Qt.Key.Key_Left)
    assert seen == [(TextureEdits(gains=(0.0, -0.1)), True)] and widget.edits() == seen[0][0]
    qtbot.wait(50)
    widget.grab().save(str(tmp_path / "with_stats.png"))


def test_too_few_photos_show_the_engines_message(panel, qtbot, tmp_path, monkeypatch):
    widget, _ = panel
    compute_from_folder(qtbot, panel, write_photos(tmp_path / "three", 3, seed=3), monkeypatch)
    assert widget.message.isVisible() and widget.message.property("role") == "error"
    assert widget.message.text().startswith("Could not compute the directions: need at least 8 photos, found 3")
    assert widget.stats() is None and widget.global_sliders.count() == 0 and widget.compute.isEnabled()
    qtbot.wait(50)
    widget.grab().save(str(tmp_path / "too_few.png"))


def test_attribute_added_moved_kept_on_refresh_and_removed(panel, qtbot, tmp_path, monkeypatch):
    widget, _ = panel
    summer = write_photos(tmp_path / "summer", 3, seed=4, tint=(1.0, 0.9, 0.6))
    snow = write_photos(tmp_path / "snow", 3, seed=5, tint=(0.8, 0.9, 1.2))
    assert widget.new_attribute.isEnabled()  # a model without directions takes attributes too
    shown: list = []
    fill_attribute_dialog("snow", summer, snow, shown)
    with qtbot.waitSignal(widget.stats_changed, timeout=WAIT):
        qtbot.mouseClick(widget.new_attribute, Qt.MouseButton.LeftButton)
    assert shown == [False, "3 photos"]  # OK waits for a name and photos
    assert widget.attribute_names() == ["snow"] and widget.message.text() == "Added the attribute 'snow'."
    assert widget.attribute_sliders.count() == 1 and widget.global_sliders.count() == 0

    seen = record(widget.edits_changed)
    drag(qtbot, widget.attribute_sliders.slider(0), 0.8)
    amount = widget.attribute_sliders.values()[0]
    assert 0.5 < amount <= 2.0
    assert seen[0][1] is False and seen[-1] == (TextureEdits(attributes=(("snow", amount),)), True)

    # new directions keep the attribute and its amount, without announcing a change
    seen.clear()
    compute_from_folder(qtbot, panel, write_photos(tmp_path / "photos", 8, seed=6), monkeypatch)
    assert widget.global_sliders.count() > 0 and widget.attribute_names() == ["snow"]
    assert widget.edits() == TextureEdits(attributes=(("snow", amount),)) and seen == []
    assert widget.attribute_sliders.values() == (amount,)

    # edits set by the page: unknown names are dropped, gains beyond the sliders too
    widget.set_edits(TextureEdits(gains=(0.5,) * 20, attributes=(("rain", 1.0), ("snow", -0.5))))
    assert widget.edits() == TextureEdits((0.5,) * widget.global_sliders.count(), (("snow", -0.5),)) and seen == []
    qtbot.wait(50)  # let the layout settle before the picture
    widget.grab().save(str(tmp_path / "attribute.png"))

    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda parent, title, text, *a: asked.append(text) or QMessageBox.StandardButton.Yes)
    remove = widget.attribute_sliders._rows.findChildren(type(widget.attribute_sliders.reset_button(0)))[-1]
    assert remove.text() == "✕"
    with qtbot.waitSignal(widget.stats_changed, timeout=WAIT):
        qtbot.mouseClick(remove, Qt.MouseButton.LeftButton)
    assert "'snow'" in asked[0]
    assert widget.attribute_names() == [] and widget.attribute_sliders.hint.isVisible()
    assert seen[-1] == (TextureEdits(gains=(0.5,) * widget.global_sliders.count()), True)
    assert widget.message.text() == "Removed the attribute 'snow'."


def test_cancel_stops_waiting_for_the_job(panel, qtbot, tmp_path):
    widget, _ = panel
    widget.compute_from([str(write_photos(tmp_path / "photos", 12, seed=7))])
    assert widget.progress.isVisible() and widget.cancel.isVisible() and not widget.compute.isEnabled()
    with qtbot.assertNotEmitted(widget.stats_changed, wait=300):
        qtbot.mouseClick(widget.cancel, Qt.MouseButton.LeftButton)
    assert not widget.progress.isVisible() and widget.compute.isEnabled() and widget.stats() is None
    assert widget.message.text() == "Cancelled: computing the directions…"


def test_no_model_disables_everything(panel, qtbot):
    widget, stats = panel
    with qtbot.waitSignal(widget.stats_changed):
        stats.set_model(None)
    assert not widget.compute.isEnabled() and not widget.new_attribute.isEnabled()
    assert widget.global_sliders.hint.text() == panel_module.NO_MODEL
