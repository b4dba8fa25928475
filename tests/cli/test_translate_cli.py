"""`main.py translate ...` as a user runs it, with tiny random CycleGAN / CUT models in the catalog."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from engine.api import JobRef, TranslateImage
from engine.catalog import Catalog
from engine.handlers import Engine
from engine.imageio import read_rgb, to_uint8
from engine.worker import JobContext
from tests.cli.test_models_cli import _one_line_error, cli
from tests.translation_fixtures import photo, write_tiny_cut, write_tiny_cyclegan


def imported(capsys, path: Path) -> str:
    code, out, err = cli(capsys, "models", "import", path)
    assert code == 0, err
    return out.split("\t")[0]


@pytest.fixture
def pair_id(tmp_path, capsys) -> str:
    return imported(capsys, write_tiny_cyclegan(tmp_path / "models" / "pair.safetensors", name="apple2orange"))


def save(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path)
    return path


def u8(image: np.ndarray) -> np.ndarray:
    return (image * 255).astype(np.uint8)


def engine_result(model_id: str, path: Path, **kw) -> np.ndarray:
    engine = Engine(Catalog(), torch.device("cpu"))
    request = TranslateImage(model_id, read_rgb(path), **kw)
    return to_uint8(engine.translate_image(request, JobContext(JobRef(0, "test", 0), lambda event: None)))


def test_translate_writes_the_whole_photo_in_either_direction(pair_id, tmp_path, capsys):
    assert pair_id == "cyclegan-apple2orange"
    source = save(tmp_path / "apple.png", u8(photo(1, (90, 130))))
    code, out, err = cli(capsys, "translate", "--model", pair_id, "--input", source, "--out", tmp_path / "a.png")
    assert code == 0, err
    assert out.strip() == str(tmp_path / "a.png")
    result = np.asarray(Image.open(tmp_path / "a.png"))
    assert result.shape == (90, 130, 3)
    assert np.array_equal(result, engine_result(pair_id, source))

    code, _, err = cli(capsys, "translate", "--model", pair_id, "--direction", "BtoA", "--input", source,
                       "--out", tmp_path / "b.jpg")
    assert code == 0, err
    back = np.asarray(Image.open(tmp_path / "b.jpg"))
    assert back.shape == (90, 130, 3) and np.abs(back.astype(int) - result.astype(int)).mean() > 5


def test_a_large_photo_in_tiles(pair_id, tmp_path, capsys):
    source = save(tmp_path / "big.png", u8(photo(2, (330, 470))))
    code, _, err = cli(capsys, "translate", "--model", pair_id, "--input", source, "--out", tmp_path / "t.png",
                       "--tile", "160")
    assert code == 0, err
    tiled = np.asarray(Image.open(tmp_path / "t.png"))
    assert tiled.shape == (330, 470, 3) and np.array_equal(tiled, engine_result(pair_id, source, tile=160))


def write_png16_rgb(path: Path, rgb16: np.ndarray) -> Path:
    cv2.imwrite(str(path), np.ascontiguousarray(rgb16[..., ::-1]))  # OpenCV writes BGR
    return path


def test_photos_of_any_mode_and_size(pair_id, tmp_path, capsys):
    rng = np.random.default_rng(0)
    rgba = np.concatenate([u8(photo(3, (40, 60))), rng.integers(0, 256, (40, 60, 1), dtype=np.uint8)], axis=2)
    photos = {
        "rgba.png": (save(tmp_path / "rgba.png", rgba, "RGBA"), (40, 60)),
        "grey.png": (save(tmp_path / "grey.png", u8(photo(4, (50, 30)))[..., 0], "L"), (50, 30)),
        "grey16.png": (save(tmp_path / "grey16.png", (photo(5, (33, 47))[..., 0] * 65535).astype(np.uint16)),
                       (33, 47)),
        "rgb16.png": (write_png16_rgb(tmp_path / "rgb16.png", (photo(6, (21, 38)) * 65535).astype(np.uint16)),
                      (21, 38)),
        "line.png": (save(tmp_path / "line.png", u8(photo(7, (2, 64)))[:1]), (1, 64)),
        "column.png": (save(tmp_path / "column.png", u8(photo(8, (64, 2)))[:, :1]), (64, 1)),
        "dot.png": (save(tmp_path / "dot.png", np.full((1, 1, 3), 200, np.uint8)), (1, 1)),
    }
    assert Image.open(photos["grey16.png"][0]).mode == "I;16"
    for name, (path, size) in photos.items():
        out = tmp_path / "out" / name
        out.parent.mkdir(exist_ok=True)
        code, _, err = cli(capsys, "translate", "--model", pair_id, "--input", path, "--out", out)
        assert code == 0, (name, err)
        assert np.asarray(Image.open(out)).shape == (*size, 3), name


def test_folders_in_and_out(tmp_path, capsys):
    model_id = imported(capsys, write_tiny_cut(tmp_path / "fast.safetensors", mode="FastCUT"))
    inputs = tmp_path / "in"
    save(inputs / "one.png", u8(photo(1, (40, 52))))
    save(inputs / "two.jpg", u8(photo(2, (60, 36))))
    save(inputs / "nested" / "three.webp", u8(photo(3, (24, 24))))
    (inputs / "notes.txt").write_text("not a photo")
    code, out, err = cli(capsys, "translate", "--model", model_id, "--input", inputs, "--out", tmp_path / "out")
    assert code == 0, err
    written = [Path(line) for line in out.split()]
    assert written == [tmp_path / "out" / name for name in ("three.png", "one.png", "two.png")]
    assert [np.asarray(Image.open(p)).shape for p in written] == [(24, 24, 3), (40, 52, 3), (60, 36, 3)]

    message = _one_line_error(capsys, "translate", "--model", model_id, "--input", inputs / "one.png",
                              inputs / "two.jpg", "--out", inputs / "one.png")
    assert "must be a folder" in message


def png_header(path: Path, width: int, height: int) -> Path:
    """A PNG that claims a size but holds no pixels: enough to be refused before anything is decoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def test_errors_are_one_line(pair_id, tmp_path, capsys):
    source = save(tmp_path / "photo.png", u8(photo(1, (300, 420))))
    out = tmp_path / "o.png"

    def error(*argv) -> str:
        return _one_line_error(capsys, "translate", *argv, "--out", out)

    assert "no model with id 'nope'" in error("--model", "nope", "--input", source)
    assert "is a LabelToImage model" in error("--model", "spade-landscape-default", "--input", source)
    assert "direction 'sideways' is not available" in error("--model", pair_id, "--direction", "sideways",
                                                            "--input", source)
    cut_id = imported(capsys, write_tiny_cut(tmp_path / "cut.safetensors"))
    assert "translates AtoB only" in error("--model", cut_id, "--direction", "BtoA", "--input", source)
    assert "missing.png: no such file" in error("--model", pair_id, "--input", tmp_path / "missing.png")
    (tmp_path / "text.png").write_text("hello")
    assert "text.png: not an image file" in error("--model", pair_id, "--input", tmp_path / "text.png")
    huge = png_header(tmp_path / "huge.png", 20_000, 20_000)
    assert "huge.png: the image is too large" in error("--model", pair_id, "--input", huge)
    assert "photo.png: tile 100 px is too small" in error("--model", pair_id, "--input", source, "--tile", "100")
    assert "--tile must be a size" in error("--model", pair_id, "--input", source, "--tile", "-5")
    assert "no photos found" in error("--model", pair_id, "--input", tmp_path / "models")
    assert not out.exists()
