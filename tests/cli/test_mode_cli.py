"""`--mode` and $I2I_MODE as the commands pass them to the engine, and `models export ID --onnx`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from engine import commands
from engine.api import Mode
from engine.cli import run
from tests.translation_fixtures import tiny_generator, write_tiny_cut


class Recorded(Exception):
    """Stops the command once the engine is made."""


@pytest.fixture
def engine_modes(monkeypatch) -> list[Mode]:
    made: list[Mode] = []

    def engine(catalog, device, *, mode, wait_for_sessions):
        assert wait_for_sessions  # a command serves one request: a background build would end with the process
        made.append(mode)
        raise Recorded

    monkeypatch.setattr(commands, "Engine", engine)
    return made


def translate(*flags: str) -> list[str]:
    return [*flags, "translate", "--model", "m", "--input", "in.png", "--out", "out.png"]


@pytest.mark.parametrize(("flags", "env", "expected"), [
    ((), None, Mode.FAST),
    (("--mode", "fast"), None, Mode.FAST),
    (("--mode", "exact"), None, Mode.EXACT),
    (("--mode", "EXACT"), "fast", Mode.EXACT),
    ((), "exact", Mode.EXACT),
])
def test_the_mode_reaches_the_engine(monkeypatch, engine_modes, flags, env, expected):
    if env is None:
        monkeypatch.delenv("I2I_MODE", raising=False)
    else:
        monkeypatch.setenv("I2I_MODE", env)
    with pytest.raises(Recorded):
        run(translate(*flags))
    assert engine_modes == [expected]


def test_a_mode_that_is_neither_is_refused(monkeypatch, capsys, engine_modes):
    with pytest.raises(SystemExit) as exit_:
        run(translate("--mode", "quick"))
    assert exit_.value.code == 2 and "invalid choice: 'quick'" in capsys.readouterr().err
    monkeypatch.setenv("I2I_MODE", "quick")
    assert run(translate()) == 2
    assert capsys.readouterr().err.strip() == "error: mode 'quick' is not one of exact, fast"
    assert engine_modes == []


def test_export_writes_a_model_onnxruntime_runs_to_the_same_output(tmp_path, capsys):
    assert run(["models", "import", str(write_tiny_cut(tmp_path / "tiny.safetensors", seed=3))]) == 0
    model_id = capsys.readouterr().out.split("\t")[0]
    target = tmp_path / "tiny.onnx"
    assert run(["models", "export", model_id, "--onnx", str(target)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == str(target) and out[1].startswith("image: (1, 3, H, W) float32 in [-1, 1]")

    x = torch.rand(1, 3, 36, 52) * 2 - 1
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"image": x.numpy()})
    with torch.inference_mode():
        expected = tiny_generator("cut", seed=3)(x).numpy()
    assert y.shape == expected.shape and np.abs(y - expected).max() < 1e-5


def test_export_refuses_a_file_that_is_not_onnx(tmp_path, capsys):
    assert run(["models", "export", "cut-summer2winter-default", "--onnx", str(tmp_path / "g.pth")]) == 2
    assert "must end in .onnx" in capsys.readouterr().err
    assert not Path(tmp_path / "g.pth").exists()
