"""`--full-res tiled|detail` of `main.py translate` and `main.py stylize`: how photos larger than the working size
reach full resolution."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from engine.api import JobRef, StylizeImage, TranslateImage
from engine.catalog import Catalog
from engine.handlers import Engine
from engine.imageio import read_rgb, to_uint8
from engine.worker import JobContext
from tests.cli.test_models_cli import cli
from tests.cli.test_translate_cli import imported, save, u8
from tests.hierarchyflow_fixtures import write_tiny_flow
from tests.translation_fixtures import photo, write_tiny_cut

SIZE = (1030, 1200)  # over the working size (1024)


def same_as_engine(written: np.ndarray, request: TranslateImage | StylizeImage) -> bool:
    """The file holds the engine's result for `request` (within the 8-bit rounding of the writer)."""
    engine = Engine(Catalog(), torch.device("cpu"))
    job = JobContext(JobRef(0, "test", 0), lambda event: None)
    run = engine.translate_image if isinstance(request, TranslateImage) else engine.stylize_image
    return np.abs(written.astype(int) - to_uint8(run(request, job))).max() <= 1


def test_translate_full_res_tiled_by_default_or_detail(tmp_path, capsys):
    model_id = imported(capsys, write_tiny_cut(tmp_path / "models" / "cut.safetensors"))
    source = save(tmp_path / "photo.png", u8(photo(1, SIZE)))
    written = {}
    for how in ("", "detail", "TILED"):
        out = tmp_path / f"out-{how or 'default'}.png"
        code, _, err = cli(capsys, "translate", "--model", model_id, "--input", source, "--out", out,
                           *(["--full-res", how] if how else []))
        assert code == 0, err
        written[how] = np.asarray(Image.open(out))
    assert np.array_equal(written[""], written["TILED"])
    assert same_as_engine(written[""], TranslateImage(model_id, read_rgb(source)))
    assert same_as_engine(written["detail"], TranslateImage(model_id, read_rgb(source), full_res="detail"))
    assert written["detail"].shape == (*SIZE, 3) and not same_as_engine(written["detail"],
                                                                        TranslateImage(model_id, read_rgb(source)))

    with pytest.raises(SystemExit) as info:
        cli(capsys, "translate", "--model", model_id, "--input", source, "--out", tmp_path / "x.png",
            "--full-res", "fast")
    assert info.value.code == 2 and "invalid choice: 'fast'" in capsys.readouterr().err


def test_stylize_full_res_detail_keeps_the_photo_where_nothing_changes(tmp_path, capsys):
    flow_id = imported(capsys, write_tiny_flow(tmp_path / "models" / "flow.safetensors"))
    content = save(tmp_path / "photo.png", u8(photo(2, SIZE)))
    style = save(tmp_path / "style.png", u8(photo(3, (64, 64))))
    out = tmp_path / "styled.png"
    base = ("stylize", "--model", flow_id, "--content", content, "--style", style, "--full-res", "detail")
    code, _, err = cli(capsys, *base, "--fidelity", "0", "--out", out)
    assert code == 0, err
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(content)))
    code, _, err = cli(capsys, *base, "--fidelity", "0.5", "--out", out)
    assert code == 0, err
    assert same_as_engine(np.asarray(Image.open(out)),
                          StylizeImage(flow_id, read_rgb(content), read_rgb(style), 0.5, full_res="detail"))
