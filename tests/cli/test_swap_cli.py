"""`main.py swap ...` and `main.py stats ...` as a user runs them, with a tiny random Swapping Autoencoder."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from engine.api import DecodeCodes, EncodeImage, JobRef
from engine.catalog import Catalog
from engine.handlers import Engine
from engine.imageio import read_rgb, to_uint8
from engine.worker import JobContext
from tests.cli.test_models_cli import _one_line_error, cli
from tests.engine.test_sae_service import photo, save_photos
from tests.sae_fixtures import write_tiny_sae


@pytest.fixture
def model_id(tmp_path, capsys) -> str:
    code, out, err = cli(capsys, "models", "import", write_tiny_sae(tmp_path / "tiny.safetensors"))
    assert code == 0, err
    return out.split("\t")[0]


def save(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    Image.fromarray(array, mode).save(path)
    return path


def u8(image: np.ndarray) -> np.ndarray:
    return (image * 255).astype(np.uint8)


def test_swap_writes_the_structure_photo_with_the_other_texture(model_id, tmp_path, capsys):
    structure = save(tmp_path / "structure.png", u8(photo(1, (70, 90))))
    texture = save(tmp_path / "texture.jpg", u8(photo(2, (120, 100), tint=(1, 0.3, 0.2))))
    base = ["swap", "--model", model_id, "--structure", structure, "--texture", texture]
    code, out, err = cli(capsys, *base, "--out", tmp_path / "swapped.png")
    assert code == 0, err
    assert out.strip() == str(tmp_path / "swapped.png")
    swapped = np.asarray(Image.open(tmp_path / "swapped.png"))
    assert swapped.shape == (70, 90, 3)

    # alpha 0 keeps the photo's own texture: exactly the engine's reconstruction with the same noise seed
    code, _, err = cli(capsys, *base, "--alpha", "0", "--seed", "3", "--out", tmp_path / "own.png")
    assert code == 0, err
    engine = Engine(Catalog(), torch.device("cpu"))
    ctx = JobContext(JobRef(0, "test", 0), lambda event: None)
    own = engine.encode_image(EncodeImage(model_id, read_rgb(structure)), ctx)
    expected = engine.decode_codes(DecodeCodes(model_id, own.structure, own.texture, own.size, noise_seed=3), ctx)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "own.png")), to_uint8(expected.image))
    assert np.abs(swapped.astype(int) - to_uint8(expected.image).astype(int)).mean() > 1  # the texture moved


def write_png16_rgb(path: Path, rgb16: np.ndarray) -> Path:
    cv2.imwrite(str(path), np.ascontiguousarray(rgb16[..., ::-1]))  # OpenCV writes BGR
    return path


def test_textures_of_any_mode_and_size(model_id, tmp_path, capsys):
    structure = save(tmp_path / "structure.png", u8(photo(1, (64, 80))))
    rng = np.random.default_rng(0)
    rgba = np.concatenate([u8(photo(2, (90, 60))), rng.integers(0, 256, (90, 60, 1), dtype=np.uint8)], axis=2)
    textures = {
        "rgba.png": save(tmp_path / "rgba.png", rgba, "RGBA"),
        "grey.png": save(tmp_path / "grey.png", u8(photo(3, (200, 150)))[..., 0], "L"),
        "grey16.png": save(tmp_path / "grey16.png", (photo(4)[..., 0] * 65535).astype(np.uint16)),
        "rgb16.png": write_png16_rgb(tmp_path / "rgb16.png", (photo(5) * 65535).astype(np.uint16)),
        "tiny.png": save(tmp_path / "tiny.png", u8(photo(6, (20, 24)))),  # below the minimum: resized up
    }
    assert Image.open(textures["grey16.png"]).mode == "I;16"
    outputs = []
    for name, texture in textures.items():
        out = tmp_path / f"out_{name}"
        code, _, err = cli(capsys, "swap", "--model", model_id, "--structure", structure, "--texture", texture,
                           "--out", out)
        assert code == 0, (name, err)
        outputs.append(np.asarray(Image.open(out)))
        assert outputs[-1].shape == (64, 80, 3), name
    assert len({o.tobytes() for o in outputs}) == len(outputs)  # each texture changed the result


def test_swap_errors_are_one_line(model_id, tmp_path, capsys):
    structure = save(tmp_path / "structure.png", u8(photo(1)))
    small = save(tmp_path / "small.png", u8(photo(1, (40, 90))))
    base = ["swap", "--model", model_id, "--texture", structure, "--out", tmp_path / "o.png"]
    message = _one_line_error(capsys, *base, "--structure", small)
    assert "small.png" in message and "56" in message
    assert "between 0 and 1" in _one_line_error(capsys, *base, "--structure", structure, "--alpha", "1.5")
    assert "missing.png" in _one_line_error(capsys, *base, "--structure", tmp_path / "missing.png")
    assert "LabelToImage model" in _one_line_error(
        capsys, "swap", "--model", "spade-landscape-default", "--structure", structure, "--texture", structure,
        "--out", tmp_path / "o.png")
    assert not (tmp_path / "o.png").exists()


def test_batch_swap_into_a_folder(model_id, tmp_path, capsys):
    photos = save_photos(tmp_path / "in", [1, 2])
    photos.append(save(tmp_path / "in" / "wide.jpg", u8(photo(3, (64, 120)))))
    texture = save(tmp_path / "texture.png", u8(photo(9, (80, 64))))
    out = tmp_path / "out"
    code, stdout, err = cli(capsys, "swap", "--model", model_id, "--structure", *photos, "--texture", texture,
                            "--out", out)
    assert code == 0, err
    written = [Path(line) for line in stdout.split()]
    assert written == [out / "photo_01.png", out / "photo_02.png", out / "wide.png"]
    assert [np.asarray(Image.open(p)).shape for p in written] == [(64, 80, 3), (64, 80, 3), (64, 120, 3)]

    clash = save(tmp_path / "photo_01.jpg", u8(photo(4)))
    message = _one_line_error(capsys, "swap", "--model", model_id, "--structure", photos[0], clash,
                              "--texture", texture, "--out", out)
    assert "photo_01.png" in message
    message = _one_line_error(capsys, "swap", "--model", model_id, "--structure", *photos[:2],
                              "--texture", texture, "--out", texture)
    assert "must be a folder" in message


def test_stats_command(model_id, tmp_path, capsys):
    code, out, _ = cli(capsys, "stats", "--model", model_id)
    assert code == 0 and "no editing statistics yet" in out
    save_photos(tmp_path / "photos", range(8))
    code, out, err = cli(capsys, "stats", "--model", model_id, tmp_path / "photos")
    assert code == 0, err
    assert "8 photos in" in out and "texture:    7 (std" in out and "attributes: none" in out

    summer = save_photos(tmp_path / "summer", [1, 2], tint=(0.4, 0.9, 0.3))
    code, out, err = cli(capsys, "stats", "--model", model_id, "--attribute", "snow", "--group-a", *summer,
                         "--group-b", tmp_path / "photos")
    assert code == 0, err
    assert "attributes: snow" in out
    code, out, _ = cli(capsys, "stats", "--model", model_id)
    assert "attributes: snow" in out and "8 photos in" in out
    code, out, _ = cli(capsys, "stats", "--model", model_id, "--remove-attribute", "snow")
    assert code == 0 and "attributes: none" in out

    save_photos(tmp_path / "few", range(3))
    assert "need at least 8 photos, found 3" in _one_line_error(capsys, "stats", "--model", model_id,
                                                                 tmp_path / "few")
    assert "--group-a and --group-b" in _one_line_error(capsys, "stats", "--model", model_id, "--attribute", "x",
                                                        "--group-a", *summer)
    assert "give one of" in _one_line_error(capsys, "stats", "--model", model_id, tmp_path / "photos",
                                            "--remove-attribute", "snow")
