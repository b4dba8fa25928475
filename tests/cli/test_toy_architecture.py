"""The README's "Adding an architecture", proved: the toy architecture of tests/toy_arch.py, registered by its one
descriptor, is detected, imported with `models import` and translated with `translate`."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from engine import registry
from engine.api import Task
from engine.catalog import Catalog
from engine.checkpoints import read_checkpoint
from engine.imageio import to_uint8
from tests.cli.test_models_cli import cli
from tests.toy_arch import ARCHITECTURE, capabilities, toy_registered, write_toy  # noqa: F401 (a fixture)
from tests.translation_fixtures import photo


@pytest.mark.usefixtures("toy_registered")
def test_the_toy_is_detected_imported_and_translated(tmp_path, capsys):
    path = tmp_path / "toy_painter" / "latest_net_G.pth"
    net = write_toy(path, seed=3)
    assert registry.detect(read_checkpoint(path).state_dict) is ARCHITECTURE

    code, out, err = cli(capsys, "models", "import", path)
    assert code == 0, err
    model_id = out.split("\t")[0]
    entry = Catalog().get(model_id)
    assert (model_id, entry.method, entry.task, entry.hparams) == ("toy-toy_painter", "toy", Task.IMAGE_TO_IMAGE,
                                                                   {"width": 4})
    assert entry.capabilities == capabilities(entry.hparams)
    code, _, err = cli(capsys, "models", "import", path, "-o", "width=5")
    assert code == 2 and "width 5" in err  # its own option, checked against its weights

    source = tmp_path / "photo.png"
    Image.fromarray(to_uint8(photo(1, (150, 230)))).save(source)
    code, out, err = cli(capsys, "translate", "--model", model_id, "--input", source, "--out", tmp_path / "out.png")
    assert code == 0, err
    image = torch.from_numpy(np.asarray(Image.open(source), np.float32) / 255).permute(2, 0, 1)[None]
    with torch.inference_mode():
        expected = to_uint8(net(image)[0].permute(1, 2, 0).numpy())
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png")), expected)

    code, _, err = cli(capsys, "translate", "--model", model_id, "--tile", "108", "--input", source,
                       "--out", tmp_path / "tiled.png")
    assert code == 0, err  # in tiles that read its receptive margin around what they keep: the same image
    tiled = np.asarray(Image.open(tmp_path / "tiled.png")).astype(int)
    assert np.abs(tiled - expected).max() <= 1
