"""The CLI against hostile photos, paths and disks: one `error:` line each, nothing decoded past its budget,
no model run for a bad argument, batches that go on past a bad photo, phone photos upright."""

from __future__ import annotations

import os
import struct
import threading
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.handlers import Engine
from engine.imageio import read_rgb
from tests.cli.test_models_cli import _one_line_error, cli
from tests.disks import fill, folder_listing, make_read_only, small_disk
from tests.translation_fixtures import photo, write_tiny_cut


@pytest.fixture
def cut_id(tmp_path, capsys) -> str:
    code, out, err = cli(capsys, "models", "import", write_tiny_cut(tmp_path / "models" / "tiny.safetensors"))
    assert code == 0, err
    return out.split("\t")[0]


def save(path: Path, image: np.ndarray, **options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((image * 255).astype(np.uint8)).save(path, **options)
    return path


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A valid PNG header claiming width x height, with a few bytes of pixel data: tiny on disk."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def test_a_phone_photo_comes_out_upright(cut_id, tmp_path, capsys):
    stored = photo(0, (60, 100))  # landscape as the sensor stored it
    exif = Image.Exif()
    exif[0x0112] = 6  # "turn 90 degrees clockwise to show"
    source = save(tmp_path / "phone.jpg", stored, exif=exif, quality=95)
    assert read_rgb(source).shape == (100, 60, 3)
    code, _, err = cli(capsys, "translate", "--model", cut_id, "--input", source, "--out", tmp_path / "out.png")
    assert code == 0, err
    assert np.asarray(Image.open(tmp_path / "out.png")).shape == (100, 60, 3)


@pytest.mark.parametrize(("side", "words"), [(9000, "is 9000x9000 (81 megapixels): over the 64 megapixels"),
                                             (20000, "the image is too large (over 100 megapixels)")])
def test_a_huge_photo_is_refused_from_its_header_before_decoding(cut_id, tmp_path, capsys, side, words):
    bomb = png_claiming(tmp_path / "bomb.png", side, side)
    assert bomb.stat().st_size < 200
    tracemalloc.start()
    try:
        line = _one_line_error(capsys, "translate", "--model", cut_id, "--input", bomb, "--out", tmp_path / "o.png")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert line.startswith("error: bomb.png") and words in line
    assert peak < 20_000_000  # it was 2.5 GB: nothing was decoded
    assert not (tmp_path / "o.png").exists()


def test_a_bad_argument_is_refused_before_any_model_runs(cut_id, tmp_path, capsys, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the model ran before the arguments were checked")

    monkeypatch.setattr(Engine, "loaded", never)
    source = save(tmp_path / "in.png", photo(1))
    assert "unknown image type" in _one_line_error(
        capsys, "translate", "--model", cut_id, "--input", source, "--out", tmp_path / "out.bmp")
    assert "no such folder" in _one_line_error(
        capsys, "translate", "--model", cut_id, "--input", source, "--out", tmp_path / "missing" / "out.png")
    assert "unknown image type" in _one_line_error(
        capsys, "render", "spade", "--model", "spade-landscape-default", "--labels", source, "--out", tmp_path / "x.gif")
    assert "must be between 0 and 1" in _one_line_error(
        capsys, "swap", "--model", "sae-wallpapers-default", "--structure", source, "--texture", source,
        "--alpha", "2", "--out", tmp_path / "s.png")


def test_a_size_of_zero_is_an_argument_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        cli(capsys, "render", "spade", "--model", "m", "--labels", "l.png", "--size", "0x64", "--out", "o.png")
    assert exited.value.code == 2
    assert "the size must be positive" in capsys.readouterr().err


def test_a_batch_reports_each_bad_photo_and_goes_on(cut_id, tmp_path, capsys):
    folder = tmp_path / "photos"
    save(folder / "a.png", photo(2))
    (folder / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    save(folder / "c.png", photo(3))
    png_claiming(folder / "d.png", 9000, 9000)
    code, out, err = cli(capsys, "translate", "--model", cut_id, "--input", folder, "--out", tmp_path / "out")
    assert code == 2
    assert out.split() == [str(tmp_path / "out" / "a.png"), str(tmp_path / "out" / "c.png")]
    lines = err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("error: ") for line in lines)
    assert lines[0].startswith("error: b.png: ") and lines[1].startswith("error: d.png is 9000x9000")
    assert lines[2] == "error: 2 of 4 photos failed; the others were written"
    assert folder_listing(tmp_path / "out") == ["a.png", "c.png"]


def test_folders_and_pipes_are_named_as_such_and_a_pipe_never_blocks(cut_id, tmp_path, capsys):
    source = save(tmp_path / "in.png", photo(4))
    (tmp_path / "style_dir").mkdir()
    line = _one_line_error(capsys, "stylize", "--model", "hierarchyflow-default", "--content", source,
                           "--style", tmp_path / "style_dir", "--out", tmp_path / "o.png")
    assert "is a folder, not a file" in line
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(_one_line_error(
        capsys, "stylize", "--model", "hierarchyflow-default", "--content", source, "--style", fifo,
        "--out", tmp_path / "o.png")), daemon=True)
    worker.start()
    worker.join(timeout=30)
    if worker.is_alive():  # unblock the reader before failing
        with open(fifo, "wb"):
            pass
        pytest.fail("reading a FIFO blocked")
    assert "not a regular file" in result[0]


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_a_full_disk_fails_the_command_and_keeps_the_good_output(cut_id, tmp_path, capsys, suffix):
    source = save(tmp_path / "in.png", np.random.default_rng(5).random((256, 256, 3)))
    with small_disk(tmp_path / "disk", 384) as disk:
        out = disk / f"out{suffix}"
        code, _, err = cli(capsys, "translate", "--model", cut_id, "--input", source, "--out", out)
        assert code == 0, err
        good = out.read_bytes()
        fill(disk, leave_bytes=2048)
        line = _one_line_error(capsys, "translate", "--model", cut_id, "--input", source, "--out", out)
        assert line == f"error: in.png: {out.name}: cannot save (the disk is full); nothing was written"
        assert out.read_bytes() == good
        assert folder_listing(disk) == ["filler.bin", out.name]


def test_a_read_only_data_folder_refuses_an_import_in_one_line(tmp_path, capsys, monkeypatch):
    model = write_tiny_cut(tmp_path / "models" / "tiny.safetensors")
    with small_disk(tmp_path / "data", 256) as data:
        monkeypatch.setenv("I2I_STUDIO_DATA", str(data))
        make_read_only(data)
        line = _one_line_error(capsys, "models", "import", model)
        assert "the disk is read-only" in line
        assert folder_listing(data) == []
