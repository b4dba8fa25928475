"""One list of trainers: it drives `python -m trainers` (list, --help, each method's flags and loop), and adding a
trainer is one module plus one entry: a test-only toy trainer added to the list by its TrainerSpec alone trains,
logs, checkpoints into the catalog, validates its data and resumes through the command line."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.catalog import Catalog
from tests.cli.test_models_cli import cli as engine_cli
from tests.toy_arch import toy_registered  # noqa: F401 (a fixture)
from tests.trainers.toy_config import SPEC as TOY
from trainers import __main__ as cli
from trainers import registry
from trainers.configs import RUN_COUNTS, RunConfig
from trainers.events import EVENTS_FILE, RUN_FILE, read_events
from trainers.loop import TrainingLoop


def test_the_list_drives_the_command_line(capsys):
    assert cli.main(["list"]) == 0
    listed = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert listed == [[s.method, s.title, s.description] for s in registry.TRAINERS]
    assert cli.main(["--help"]) == 0
    usage = capsys.readouterr().out
    assert all(s.method in usage for s in registry.TRAINERS)
    assert cli.main(["pix3pix"]) == 2 and capsys.readouterr().err.startswith("error: unknown training method")
    for spec in registry.TRAINERS:
        with pytest.raises(SystemExit) as done:
            cli.main([spec.method, "--help"])
        out = capsys.readouterr().out
        assert done.value.code == 0 and f"python -m trainers {spec.method}" in out
        names = {f.name for f in fields(spec.config)}
        assert all(f"--{name}" in out for name in names), spec.method
        assert issubclass(spec.load(), TrainingLoop)


def test_every_config_shares_the_run_options():
    shared = [f.name for f in fields(RunConfig)]
    for spec in registry.TRAINERS:
        assert issubclass(spec.config, RunConfig) and [f.name for f in fields(spec.config)][:len(shared)] == shared


@pytest.mark.parametrize("option", RUN_COUNTS)
def test_the_run_options_are_checked_the_same_for_every_trainer(option, tmp_path, capsys):
    for spec in registry.TRAINERS:
        argv = [spec.method, "--out", str(tmp_path / spec.method), "--device", "cpu", f"--{option}", "0"]
        assert cli.main(argv) == 2 and capsys.readouterr().err == f"error: {option} must be at least 1\n"


@pytest.fixture
def toy_listed(monkeypatch, toy_registered) -> None:
    """The toy trainer listed, and the architecture it trains known to the engine."""
    monkeypatch.setattr(registry, "TRAINERS", (*registry.TRAINERS, TOY))


def write_photos(folder: Path, count: int) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def test_a_trainer_is_one_module_and_one_entry(toy_listed, tmp_path, capsys):
    photos = write_photos(tmp_path / "photos", 4)
    out = tmp_path / "toy run"
    assert cli.main(["toy", "--images", str(photos), "--validate-only"]) == 0
    assert json.loads(capsys.readouterr().out)["images"] == 4
    argv = ["toy", "--images", str(photos), "--out", str(out), "--device", "cpu", "--batch_size", "2", "--total_steps",
            "2", "--log_every", "1", "--sample_every", "1", "--checkpoint_every", "1", "--keep_checkpoints", "1"]
    assert cli.main(argv) == 0, capsys.readouterr().err
    events = read_events(out / EVENTS_FILE)
    assert [e["type"] for e in events] == ["start", "step", "sample", "checkpoint", "step", "sample", "checkpoint",
                                           "done"]
    assert events[0]["method"] == "toy" and events[0]["notes"] == ["precision: float32", "photos: 4"]
    assert set(events[1]["losses"]) == {"L1"} and events[2]["caption"] == "photo | copy"
    assert events[3]["model_id"] == "toy-run" and Catalog().get("toy-run").task == "ImageToImage"
    assert json.loads((out / RUN_FILE).read_text())["method"] == "toy"
    translated = tmp_path / "translated.png"
    assert engine_cli(capsys, "translate", "--model", "toy-run", "--input", photos / "0.png", "--out",
                      translated)[0] == 0
    assert Image.open(translated).size == (24, 20)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "latest.json", "step_0000002.safetensors", "step_0000002.state.safetensors"]

    assert cli.main(["toy", "--out", str(out), "--resume", "--width", "8"]) == 2
    assert "width 4 -> 8" in capsys.readouterr().err
    assert cli.main(["toy", "--out", str(out), "--resume", "--total_steps", "3"]) == 0
    resumed = read_events(out / EVENTS_FILE)[len(events):]
    assert resumed[0]["step"] == 2 and "resumed from step 2" in resumed[0]["notes"]
    assert resumed[-1] == {**resumed[-1], "type": "done", "step": 3, "reason": "finished"}
