"""Costs on the way to the first preview (issue 15): loading the painter's model must not pull in torch._dynamo
(about a second), and Style Brushes reads photos straight to 8 bits, pixel for pixel as the float reader."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.brushes.photos import read_photo
from engine.imageio import ImageFileError, read_rgb, read_rgb8, to_uint8

ROOT = Path(__file__).resolve().parents[2]

_LOAD_PAINTER = """
import sys, torch
from engine.catalog import Catalog
from engine.model_store import ModelStore
ModelStore(Catalog(), torch.device("cpu")).load("spade-landscape-default")
print("torch._dynamo" in sys.modules)
"""


def test_loading_the_painter_model_does_not_import_torch_dynamo():
    # a fresh interpreter: this test process may have imported torch._dynamo already
    done = subprocess.run([sys.executable, "-c", _LOAD_PAINTER], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"


def _phone_photo(path: Path, orientation: int, mode: str) -> np.ndarray:
    """A 40x64 stored picture (red top-left corner, soft gradient) tagged with `orientation`; returns it upright,
    as read_rgb reads it."""
    stored = np.zeros((40, 64, 4), np.uint8)
    stored[..., 1] = np.arange(64, dtype=np.uint8)[None, :] * 4
    stored[:10, :10, 0] = 255
    stored[..., 3] = np.arange(40, dtype=np.uint8)[:, None] * 6  # partly transparent rows in RGBA/LA
    exif = Image.Exif()
    exif[0x0112] = orientation
    image = Image.fromarray(stored, "RGBA").convert(mode)
    image.save(path, exif=exif)
    return to_uint8(read_rgb(path))


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "I;16"])
@pytest.mark.parametrize("orientation", [1, 6])
def test_the_8_bit_reader_gives_the_float_readers_pixels_upright(tmp_path, orientation, mode):
    path = tmp_path / "phone.png"
    upright = _phone_photo(path, orientation, mode)
    assert upright.shape == ((64, 40, 3) if orientation == 6 else (40, 64, 3))
    pixels = read_rgb8(path)
    assert pixels.dtype == np.uint8
    assert np.array_equal(pixels, upright)
    photo = read_photo(path)  # Style Brushes: the same pixels, as floats on the 8-bit grid
    assert np.array_equal(photo.image, upright.astype(np.float32) / 255.0)


def test_the_8_bit_reader_keeps_the_header_budget(tmp_path):
    path = tmp_path / "big.png"
    Image.new("RGB", (200, 100)).save(path)
    with pytest.raises(ImageFileError, match=r"big.png is 200x100 \(0 megapixels\): over the 0 megapixels"):
        read_rgb8(path, max_pixels=10_000)
