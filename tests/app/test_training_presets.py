"""Training set-up presets and the monitor's words: presets set the config, the advanced options are plain
words one click away, the time left comes from the run's own steps, the stop names the saved step, and a run's
model id names its method once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.training.monitor import RunMonitor, time_left
from app.training.presets import PRESETS
from app.training.setup_dialog import SetupDialog
from trainers import events
from trainers.checkpointing import run_model_id
from trainers.registry import TRAINERS

SPADE = next(t for t in TRAINERS if t.method == "spade")


def new_dialog(qtbot, trainer=SPADE) -> SetupDialog:
    dialog = SetupDialog(trainer)
    qtbot.addWidget(dialog)
    dialog.resize(1280, 800)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def button(dialog: SetupDialog, title: str):
    return next(b for b in dialog.presets.buttons() if b.text() == title)


def test_presets_set_steps_and_sizes_and_the_raw_options_wait_under_advanced(qtbot):
    dialog = new_dialog(qtbot)
    assert [b.text() for b in dialog.presets.buttons()] == ["Quick look", "Default", "The paper's"]
    assert button(dialog, "Default").isChecked() and dialog.config()["total_steps"] == 20_000
    assert "20,000 steps, 256 px pictures" in dialog.preset_note.text()
    assert not dialog.options.isVisible()  # the raw form is one click away, not the first thing shown
    assert "a few steps of the trainer on your data" in dialog.time_note.text()  # measured before the run

    qtbot.mouseClick(button(dialog, "Quick look"), Qt.MouseButton.LeftButton)
    config = dialog.config()
    assert (config["total_steps"], config["crop_size"], config["sample_every"]) == (1_000, 128, 100)
    assert button(dialog, "Quick look").isChecked() and not button(dialog, "Default").isChecked()
    qtbot.mouseClick(button(dialog, "The paper's"), Qt.MouseButton.LeftButton)
    config = dialog.config()
    assert (config["total_steps"], config["crop_size"], config["lr_G"]) == (100_000, 256, 1e-4)

    qtbot.mouseClick(dialog.advanced, Qt.MouseButton.LeftButton)
    assert dialog.options.isVisible()
    field = dialog.options._fields["lr_G"]
    assert field.label.text() == "Generator learning speed" and "Config field: lr_G" in field.label.toolTip()
    assert dialog.options._fields["lambda_feat"].label.text() == "Feature matching weight"
    dialog.options.editor("total_steps").setValue(5_000)  # by hand: no preset claims it any more
    assert dialog.preset() is None and not any(b.isChecked() for b in dialog.presets.buttons())
    assert dialog.preset_note.text().startswith("Custom")
    assert dialog.config()["total_steps"] == 5_000


@pytest.mark.parametrize("trainer", TRAINERS, ids=lambda t: t.method)
def test_every_trainer_gets_shorter_and_smaller_runs_from_the_presets(qtbot, trainer):
    dialog = new_dialog(qtbot, trainer)
    runs = {}
    for preset in PRESETS:
        dialog.apply_preset(preset.key)
        assert dialog.preset() == preset.key
        runs[preset.key] = dialog.options.values()
    quick, default, paper = runs["quick"], runs["default"], runs["paper"]
    assert quick["total_steps"] <= default["total_steps"] <= paper["total_steps"]
    assert quick["total_steps"] <= 1_000
    for side in ("crop_size", "crop_height", "crop_width"):
        if isinstance(paper.get(side), int):
            assert quick[side] <= 128 * 2 and paper[side] % quick[side] == 0  # size multiples hold
            assert default[side] == paper[side]


def write_run(run_dir: Path, monkeypatch, timeline: list[tuple[float, str, dict]], start: float) -> None:
    """Events as the trainer writes them (trainers.events.EventWriter), at the given seconds after `start`
    (recent: a run without a pid file counts as running while its events are)."""
    writer = events.EventWriter(run_dir)
    for offset, kind, fields in timeline:
        monkeypatch.setattr(events.time, "time", lambda o=offset: start + o)
        writer(kind, **fields)
    writer.close()
    monkeypatch.undo()


def test_time_left_is_measured_from_the_first_steps(qtbot, tmp_path, monkeypatch):
    run_dir, start = tmp_path / "spade-dunes-20261206-1200", round(time.time()) - 60
    write_run(run_dir, monkeypatch, [(0, "start", {"step": 0, "total_steps": 1_000, "device": "cpu"}),
                                     (20, "step", {"step": 10, "losses": {"G": 1.0}})], start)
    monitor = RunMonitor(run_dir)
    qtbot.addWidget(monitor)
    assert monitor.speed.text() == "Time left: measuring…"  # one step event: no pace yet (start-up excluded)
    write_run(run_dir, monkeypatch, [(25, "step", {"step": 20, "losses": {"G": 0.9}})], start)
    monitor.poll()
    assert monitor.speed.text() == "2.00 it/s · about 8 min left"  # 980 steps at 2 per second
    write_run(run_dir, monkeypatch, [(30, "step", {"step": 30, "losses": {"G": 0.8}})], start)
    monitor.poll()
    assert monitor.speed.text().endswith("about 8 min left")
    assert time_left(30) == "less than a minute left" and time_left(3 * 3600 + 125) == "about 3 h 02 min left"


def test_the_stop_status_names_the_saved_step(qtbot, tmp_path, monkeypatch):
    run_dir, start = tmp_path / "spade-dunes-20261206-1200", round(time.time()) - 60
    write_run(run_dir, monkeypatch, [
        (0, "start", {"step": 0, "total_steps": 1_000, "device": "cpu"}),
        (10, "step", {"step": 10, "losses": {"G": 1.0}}), (20, "step", {"step": 20, "losses": {"G": 0.9}}),
        (26, "checkpoint", {"step": 26, "model_id": "spade-dunes-20261206-1200"}),
        (26, "done", {"step": 26, "reason": "stopped"})], start)  # the last loss event was at step 20
    monitor = RunMonitor(run_dir)
    qtbot.addWidget(monitor)
    assert monitor.status.text() == "Stopped at step 26 (last saved)."
    assert monitor.progress.value() == 26 and monitor.resume_button.isEnabled()
    assert "Checkpoint at step 26 (in the Library as spade-dunes-20261206-1200)" in monitor.log.toPlainText()


def test_run_and_model_names_carry_the_method_once(qtbot):
    dialog = new_dialog(qtbot)
    name = dialog.run_name.placeholderText()
    assert name.startswith("spade-") and not name.startswith("spade-spade")
    assert run_model_id("spade", name) == name  # not "spade-spade-…"
    assert run_model_id("spade", "Dunes at dusk") == "spade-dunes-at-dusk"  # names without it get it
    assert run_model_id("fastcut", "cut-horses") == "fastcut-cut-horses"
