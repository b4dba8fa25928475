"""Photos load upright everywhere (EXIF orientation), and sizes are judged from the header before decoding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.brushes.photos import read_photo
from app.sae.photos import file_thumbnail, open_photo
from engine.imageio import ImageFileError, image_info, read_rgb, upright_rgb


def phone_photo(path: Path, orientation: int) -> np.ndarray:
    """A 40x64 (HxW) stored picture with a red top-left corner, tagged with `orientation`; returns it upright."""
    stored = np.zeros((40, 64, 3), np.uint8)
    stored[:10, :10] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored).save(path, exif=exif)  # PNG keeps EXIF losslessly
    turns = {1: stored, 3: np.rot90(stored, 2), 6: np.rot90(stored, -1), 8: np.rot90(stored, 1)}
    return turns[orientation]


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_every_photo_reader_turns_a_phone_photo_upright(tmp_path, orientation):
    path = tmp_path / "phone.png"
    upright = phone_photo(path, orientation)
    h, w = upright.shape[:2]
    assert image_info(path)[1:] == (w, h)
    assert np.array_equal((read_rgb(path) * 255).round().astype(np.uint8), upright)
    assert np.array_equal(np.asarray(upright_rgb(path)), upright)
    assert read_photo(path).image.shape == (h, w, 3)  # Style Brushes
    assert file_thumbnail(path, 32).shape[:2] == ((32, 20) if h > w else (20, 32))  # Swap & Edit shelf
    assert open_photo(path, 16).image.shape == (h, w, 3)  # Swap & Edit


def test_a_damaged_exif_block_is_ignored_not_fatal(tmp_path):
    path = tmp_path / "odd.jpg"
    Image.new("RGB", (30, 20), "blue").save(path, exif=b"Exif\x00\x00MM\x00*garbage")
    assert read_rgb(path).shape == (20, 30, 3)


def test_the_pixel_budget_is_checked_before_decoding(tmp_path):
    path = tmp_path / "wide.png"
    Image.new("L", (3000, 2000)).save(path)
    with pytest.raises(ImageFileError, match=r"wide.png is 3000x2000 \(6 megapixels\): over the 5 megapixels"):
        read_rgb(path, max_pixels=5_000_000)
    assert read_rgb(path, max_pixels=6_000_000).shape == (2000, 3000, 3)
