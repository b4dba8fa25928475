"""The set-up dialog's time estimate: a few real steps of the chosen trainer on the chosen data, timed in the
background before the run starts, shown as "About … on this computer (measured)", rescaled when the step count
changes, kept per config, and stoppable."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.training import estimate
from app.training.estimate import Measurement, duration, speed_key, step_timing
from app.training.setup_dialog import SetupDialog
from trainers.registry import TRAINERS

CYCLEGAN = next(t for t in TRAINERS if t.method == "cyclegan")
TINY = {"ngf": 4, "n_blocks": 1, "ndf": 4, "crop_size": 32, "total_steps": 6_000}
PROBE_S = 90  # the probe imports torch and builds the networks before its first step


@pytest.fixture(scope="module")
def unpaired(tmp_path_factory) -> Path:
    from tests.trainers.unpaired_domains import write_domain

    root = tmp_path_factory.mktemp("horse2zebra")
    write_domain(root / "trainA", 4, seed=0)
    write_domain(root / "trainB", 3, seed=1, b=True)
    return root


def test_step_timing_leaves_out_the_warm_up_and_the_length_fields_do_not_change_the_speed_key():
    events = [{"type": "start", "device": "cpu", "time": 0.0}, {"type": "step", "step": 1, "time": 10.0},
              {"type": "step", "step": 2, "time": 10.5}, {"type": "step", "step": 3, "time": 11.0}]
    assert step_timing(events) == (Measurement(0.5, 1, "cpu"), False)  # step 1 (start-up) is not timed
    events.append({"type": "step", "step": 5, "time": 12.0})
    assert step_timing(events) == (Measurement(0.5, 3, "cpu"), True)
    assert speed_key("spade", {"crop_size": 256, "total_steps": 10}) == speed_key(
        "spade", {"crop_size": 256, "total_steps": 20, "sample_every": 5})
    assert speed_key("spade", {"crop_size": 256}) != speed_key("spade", {"crop_size": 128})
    assert (duration(20), duration(25 * 60), duration(3 * 3600 + 125), duration(5 * 86400)) == (
        "less than a minute", "about 25 min", "about 3 h 02 min", "about 5 days")


def test_the_dialog_measures_real_steps_before_the_run_and_rescales_with_the_steps(qtbot, unpaired, isolated_data,
                                                                                 monkeypatch):
    monkeypatch.setattr(estimate, "_measured", {})  # nothing measured yet this session
    dialog = SetupDialog(CYCLEGAN)
    qtbot.addWidget(dialog)
    dialog.resize(1280, 800)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert "once the data check passes" in dialog.time_note.text()
    dialog.device.setCurrentText("cpu")
    dialog.options.set_values(TINY)
    dialog.dataroot.line.setText(str(unpaired))
    qtbot.waitUntil(lambda: dialog.speed.running, timeout=30_000)
    assert dialog.stop_measuring.isVisible() and "Measuring the speed" in dialog.time_note.text()
    qtbot.mouseMove(dialog.start)  # the dialog answers while the trainer runs
    qtbot.waitUntil(lambda: "(measured)" in dialog.time_note.text(), timeout=PROBE_S * 1000)

    key = speed_key("cyclegan", dialog.config())
    found = estimate.cached(key)
    assert found is not None and found.seconds_per_step > 0 and found.steps >= 1 and found.device == "cpu"
    total = found.total(6_000)
    assert dialog.time_note.text().startswith(f"{duration(total).capitalize()} on this computer (measured): "
                                              "6,000 steps")
    dialog.options.set_values({"total_steps": 12_000})  # twice the steps: twice the time, from the same steps
    assert dialog.time_note.text().startswith(f"{duration(2 * total).capitalize()} on this computer (measured)")
    assert estimate.cached(key) is found

    # then the presets' configs (the paper's sizes) are timed in turn; the user may stop that
    qtbot.waitUntil(lambda: "measuring…" in [label.text() for label in dialog.preset_times.values()],
                    timeout=10_000)
    process = dialog.speed._process
    qtbot.mouseClick(dialog.stop_measuring, Qt.MouseButton.LeftButton)
    assert not dialog.speed.running and process is not None
    assert "measuring…" not in [label.text() for label in dialog.preset_times.values()]
    assert not dialog.stop_measuring.isVisible()
    dialog.reject()


def test_a_config_the_trainer_refuses_says_why_instead_of_a_time(qtbot, unpaired, isolated_data, monkeypatch):
    monkeypatch.setattr(estimate, "_measured", {})
    probe = estimate.SpeedProbe("cyclegan")
    with qtbot.waitSignal(probe.failed, timeout=PROBE_S * 1000) as failed:
        probe.measure("k", {"dataroot": str(unpaired / "missing"), "device": "cpu", **TINY})
    assert failed.args[0] == "k" and "missing" in failed.args[1] and not probe.running
