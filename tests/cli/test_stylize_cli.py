"""`main.py stylize ...` as a user runs it, with the official HierarchyFlow fixture and a tiny random flow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.api import OLD_PRESET_NAMES, STYLE_PRESETS, JobRef, StylizeImage
from engine.catalog import Catalog
from engine.handlers import Engine
from engine.imageio import read_rgb, to_uint8
from engine.worker import JobContext
from tests.cli.test_models_cli import _one_line_error, cli
from tests.cli.test_translate_cli import imported, save, u8
from tests.hierarchyflow_fixtures import official_run, write_tiny_flow
from tests.translation_fixtures import photo, write_tiny_cut


@pytest.fixture
def flow_id(tmp_path, capsys) -> str:
    return imported(capsys, write_tiny_flow(tmp_path / "models" / "flow.safetensors", name="tiny"))


def engine_result(model_id: str, content: Path, style: Path, strength: float = 1.0, tile: int = 0) -> np.ndarray:
    engine = Engine(Catalog(), torch.device("cpu"))
    request = StylizeImage(model_id, read_rgb(content), read_rgb(style), strength, tile=tile)
    return to_uint8(engine.stylize_image(request, JobContext(JobRef(0, "test", 0), lambda event: None)), rounded=True)


def test_the_official_fixture_imports_and_stylises(official, tmp_path, capsys):
    model_id = imported(capsys, official_run(official, tmp_path))
    assert model_id == "hierarchyflow-fixture_small"
    io = np.load(official / "hierarchyflow" / "small" / "io_seed0.npz")
    content = save(tmp_path / "content.png", u8(io["content"][0].transpose(1, 2, 0) + 0.5 / 255))
    style = save(tmp_path / "style.png", u8(io["style"][0].transpose(1, 2, 0) + 0.5 / 255))
    code, out, err = cli(capsys, "stylize", "--model", model_id, "--content", content, "--style", style,
                         "--out", tmp_path / "out.png")
    assert code == 0, err
    assert out.strip() == str(tmp_path / "out.png")
    result = np.asarray(Image.open(tmp_path / "out.png")).astype(int)
    assert np.abs(result - io["output_png_u8"]).max() <= 1  # tensor2im truncates, save_image rounds


def test_fidelity_and_presets(flow_id, tmp_path, capsys):
    content = save(tmp_path / "photo.png", u8(photo(1, (60, 90))))
    style = save(tmp_path / "style.jpg", u8(photo(2, (40, 40))))

    def stylized(*options: str) -> np.ndarray:
        target = tmp_path / f"out{len(list(tmp_path.glob('out*')))}.png"
        code, _, err = cli(capsys, "stylize", "--model", flow_id, "--content", content, "--style", style,
                           "--out", target, *options)
        assert code == 0, err
        return np.asarray(Image.open(target))

    assert np.array_equal(stylized(), engine_result(flow_id, content, style))
    assert np.array_equal(stylized("--fidelity", "0"), np.asarray(Image.open(content)))
    assert np.array_equal(stylized("--fidelity", "0.4"), engine_result(flow_id, content, style, 0.4))
    assert np.array_equal(stylized("--strength", "0.4"), engine_result(flow_id, content, style, 0.4))
    assert list(STYLE_PRESETS) == ["subtle", "balanced", "full"]  # more style from name to name
    assert list(STYLE_PRESETS.values()) == sorted(STYLE_PRESETS.values())
    for name, strength in STYLE_PRESETS.items():
        assert np.array_equal(stylized("--preset", name), engine_result(flow_id, content, style, strength))
    for old, new in OLD_PRESET_NAMES.items():  # the earlier fidelity names still work, as the same strengths
        assert np.array_equal(stylized("--preset", old), engine_result(flow_id, content, style, STYLE_PRESETS[new]))
    assert np.array_equal(stylized("--tile", "130"), engine_result(flow_id, content, style, tile=130))


def test_folders_in_and_out(flow_id, tmp_path, capsys):
    inputs = tmp_path / "in"
    save(inputs / "one.png", u8(photo(1, (40, 52))))
    save(inputs / "nested" / "two.jpg", u8(photo(2, (60, 36))))
    style = save(tmp_path / "style.png", np.concatenate(  # RGBA style: alpha over white
        [u8(photo(3, (20, 20))), np.full((20, 20, 1), 128, np.uint8)], axis=2), "RGBA")
    code, out, err = cli(capsys, "stylize", "--model", flow_id, "--content", inputs, "--style", style,
                         "--preset", "normal", "--out", tmp_path / "out")
    assert code == 0, err
    written = [Path(line) for line in out.split()]
    assert written == [tmp_path / "out" / name for name in ("two.png", "one.png")]
    assert [np.asarray(Image.open(p)).shape for p in written] == [(60, 36, 3), (40, 52, 3)]


def test_errors_are_one_line(flow_id, tmp_path, capsys):
    content = save(tmp_path / "photo.png", u8(photo(1, (200, 240))))
    style = save(tmp_path / "style.png", u8(photo(2, (30, 30))))
    out = tmp_path / "o.png"

    def error(*argv) -> str:
        return _one_line_error(capsys, "stylize", *argv, "--out", out)

    base = ("--model", flow_id, "--content", content, "--style", style)
    assert "no model with id 'nope'" in error("--model", "nope", "--content", content, "--style", style)
    cut_id = imported(capsys, write_tiny_cut(tmp_path / "cut.safetensors"))
    assert "needs a ContentStyle model" in error("--model", cut_id, "--content", content, "--style", style)
    assert "--strength must be between 0 (the photo) and 1" in error(*base, "--fidelity", "1.5")
    tiny = save(tmp_path / "tiny.png", u8(photo(3, (6, 6))))
    assert "tiny.png: the style image is 6x6 px" in error("--model", flow_id, "--content", content, "--style", tiny)
    thin = save(tmp_path / "thin.png", u8(photo(4, (10, 80))))
    assert "thin.png: the photo is 80x10 px" in error("--model", flow_id, "--content", thin, "--style", style)
    assert "photo.png: tile 60 px is too small" in error(*base, "--tile", "60")
    assert "--tile must be a size" in error(*base, "--tile", "-5")
    assert "missing.png: no such file" in error("--model", flow_id, "--content", content, "--style",
                                                tmp_path / "missing.png")
    assert not out.exists()
    with pytest.raises(SystemExit) as info:  # argparse: both ways to give the strength
        cli(capsys, "stylize", *base, "--fidelity", "0.5", "--preset", "weak", "--out", out)
    assert info.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        cli(capsys, "stylize", *base, "--preset", "loud", "--out", out)
    assert info.value.code == 2 and "unknown preset 'loud': choose subtle, balanced, full" in capsys.readouterr().err
