"""Style Brushes projects as a user meets them: save and reopen (.ora) without translating again, export,
bad and odd photos, and autosaved work offered after a crash."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QMessageBox

from app.brushes.photos import read_photo
from app.brushes.project import RESULT
from engine.api import MAX_TRANSLATE_PIXELS
from tests.app.brush_page_fixtures import (  # noqa: F401 (fixtures are found by name)
    brush,
    choose_file,
    cut,
    cyclegan,
    dialogs,
    menu,
    open_photo,
    page,
    pick,
    stroke,
    wait_translated,
    write_photo,
)
from tests.app.conftest import files_done


def huge_header_png(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims width x height but whose data is a few bytes: refused before decoding."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
                     + chunk(b"IEND", b""))
    return path


def test_save_and_reopen_gives_the_same_composite_without_translating_again(main_window, page, cyclegan, cut, qtbot,
                                                                            monkeypatch, tmp_path, dialogs):
    project = open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (90, 130), seed=4), cyclegan)
    brush(page, 26, hardness=30, strength=80)
    stroke(qtbot, page.canvas, [(20, 40), (110, 50)])
    page.add_layer()
    pick(page, cut)
    wait_translated(qtbot, page)
    stroke(qtbot, page.canvas, [(60, 20), (60, 80)])
    page.layers_panel.opacity.setValue(70)
    composite = project.document.layer(RESULT).data.copy()
    layers = project.layers
    masks = [project.mask(la.id).copy() for la in layers]

    saved = tmp_path / "brushed.ora"
    choose_file(monkeypatch, saved)
    menu(main_window, "File", "Save Project As").trigger()
    files_done(qtbot, page)
    assert saved.is_file() and not project.modified
    with zipfile.ZipFile(saved) as zf:
        merged = np.asarray(Image.open(zf.open("mergedimage.png")).convert("RGB"), np.float32) / 255
    assert np.abs(merged - composite).max() <= 1 / 255 + 1e-6  # other programs show the composite

    open_photo(qtbot, page, write_photo(tmp_path / "other.png", (64, 64), seed=5), cut)  # the last model used
    submitted = len(page.translator.submitted)
    page.translator.cache.max_bytes = 0  # nothing left over in memory: the file must bring the translations
    page.translator.cache.pin(())
    choose_file(monkeypatch, saved)
    menu(main_window, "File", "Open Project").trigger()
    files_done(qtbot, page)
    again = page.project
    assert again is not project and again.layers == layers and not dialogs["shown"]
    for layer, mask in zip(again.layers, masks, strict=True):
        assert np.array_equal(again.mask(layer.id), mask)
    assert np.array_equal(again.document.layer(RESULT).data, composite)  # exactly, at once
    assert len(page.translator.submitted) == submitted
    assert page.files.export(tmp_path / "out.jpg").wait()
    assert Image.open(tmp_path / "out.jpg").size == (130, 90)


def test_bad_photos_give_a_message_and_keep_the_work(page, cyclegan, qtbot, tmp_path, dialogs):
    project = open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (64, 80), seed=9), cyclegan)
    brush(page, 16)
    stroke(qtbot, page.canvas, [(30, 30)])
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"plain text")
    narrow = write_photo(tmp_path / "narrow.png", (300, 1))
    huge = huge_header_png(tmp_path / "huge.png", 20000, 20000)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(write_photo(tmp_path / "whole.png", (200, 200)).read_bytes()[:400])
    for path, words in ((corrupt, "corrupt.jpg: the image is truncated or corrupt"),
                        (junk, "junk.png: not an image file"), (narrow, "1x300"), (huge, "too large"),
                        (truncated, "truncated.png")):
        assert not page.files.open_photo_file(path).wait()
        kind, title, text = dialogs["shown"][-1]
        assert (kind, title) == ("warning", "Open Photo") and words in text and "\n" not in text, text
        assert page.project is project and project.mask(project.layers[0].id)[30, 30] == 1
    assert not any(kind == "question" for kind, *_ in dialogs["shown"])  # never asked to drop the work first
    big = huge_header_png(tmp_path / "big.png", 9000, 8000)  # 72 megapixels: under Pillow's limit, over ours
    assert not page.files.open_photo_file(big).wait()
    assert f"{MAX_TRANSLATE_PIXELS // 1_000_000} megapixels" in dialogs["shown"][-1][2]


@pytest.mark.parametrize("mode, note", [("L", "greyscale"), ("RGBA", "transparent areas on white"),
                                        ("I;16", "16-bit, edited in 8 bits")])
def test_grey_transparent_and_16_bit_photos_are_converted(tmp_path, mode, note):
    photo = read_photo(write_photo(tmp_path / "photo.png", (40, 50), mode=mode))
    image = photo.image
    assert image.shape == (40, 50, 3) and image.dtype == np.float32 and note in photo.note
    assert np.array_equal(np.rint(image * 255).astype(np.float32) / 255.0, image)  # on the 8-bit grid
    if mode != "RGBA":
        assert np.array_equal(image[..., 0], image[..., 2])


def test_autosaved_work_is_offered_after_a_crash(page, cyclegan, qtbot, tmp_path, dialogs):
    project = open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (80, 90), seed=10), cyclegan)
    brush(page, 20)
    stroke(qtbot, page.canvas, [(20, 20), (70, 60)])
    composite = project.document.layer(RESULT).data.copy()
    assert page.files.autosave_now().wait()
    note = next(page.files.autosave.folder.glob("*.json"))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    note.write_text(note.read_text().replace(f'"pid": {os.getpid()}', f'"pid": {int(gone.stdout)}'))
    page.set_project(None)  # as a fresh start would find it

    dialogs["answer"] = QMessageBox.StandardButton.Yes
    page.files.offer_recovery()
    assert dialogs["shown"][-1][1] == "Recover unsaved work"
    recovered = page.project
    assert recovered.modified and recovered.layers == project.layers
    assert np.array_equal(recovered.document.layer(RESULT).data, composite)
    assert page.files.autosave.pending() == []
