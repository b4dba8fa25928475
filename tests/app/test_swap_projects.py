"""Swap & Edit projects as a user meets them: save and reopen (.ora) without embedding again, export, bad and
oversized photos, autosaved work offered after a crash, and a model switch that asks before dropping edits."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import zipfile

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.sae.decoder import RESULT, reach_cells
from app.sae.session import PHOTO
from engine import codes, detail
from engine.api import EncodeImage
from tests.app.conftest import files_done
from tests.app.swap_page_fixtures import (  # noqa: F401 (fixtures are found by name)
    CELL,
    WAIT,
    cell_pos,
    choose_file,
    dialogs,
    drop,
    menu,
    open_photo,
    page,
    screen,
    stroke,
    tiny,
    wait_decoded,
    wait_idle,
    write_photo,
)
from tests.app.test_swapper import full_decode
from tests.engine.test_detail import reads
from tests.sae_fixtures import write_tiny_sae


def test_save_and_reopen_restores_the_layers_and_the_result_without_embedding(main_window, page, tiny, qtbot,
                                                                              monkeypatch, tmp_path, dialogs):
    project = open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (128, 160), seed=5))
    with qtbot.waitSignal(page.scheduler.decoded, timeout=WAIT, check_params_cb=lambda k: k == "full"):
        drop(page.canvas, [write_photo(tmp_path / "ref.png", (96, 96), seed=6)])
    page.swap_panel.blend.slider.setValue(70)
    wait_decoded(qtbot, page)
    qtbot.keyClick(page.canvas, Qt.Key.Key_C)
    qtbot.mouseClick(page.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.AltModifier, cell_pos(page.canvas, 2, 2))
    with qtbot.waitSignal(page.scheduler.decoded, timeout=WAIT):
        stroke(qtbot, page.canvas, [(10, 14), (11, 15)])
    wait_idle(qtbot, page)
    result = page.document.layer(RESULT).data.copy()
    codes_before = project.final_codes()
    layers = [(la.kind, la.name, la.visible) for la in project.layers]

    saved = tmp_path / "edit.ora"
    choose_file(monkeypatch, saved)
    menu(main_window, "File", "Save Project As").trigger()
    files_done(qtbot, page)
    assert saved.is_file() and not project.modified
    with zipfile.ZipFile(saved) as zf:
        assert "i2i-studio/sae/state.json" in zf.namelist()
        merged = np.asarray(Image.open(zf.open("mergedimage.png")).convert("RGB"), np.float32) / 255
    assert np.abs(merged - result).max() <= 1 / 255 + 1e-6  # other programs show the result

    open_photo(qtbot, page, write_photo(tmp_path / "other.png", (64, 64), seed=7))
    requests: list = []
    real = main_window.bridge.submit
    monkeypatch.setattr(main_window.bridge, "submit", lambda r, **k: requests.append(r) or real(r, **k))
    choose_file(monkeypatch, saved)
    with qtbot.waitSignal(page.scheduler.decoded, timeout=WAIT, check_params_cb=lambda k: k == "full"):
        menu(main_window, "File", "Open Project").trigger()
    again = page.project
    assert again is not project and [(la.kind, la.name, la.visible) for la in again.layers] == layers
    for a, b in zip(again.final_codes(), codes_before):
        assert np.array_equal(a, b)
    assert not any(isinstance(r, EncodeImage) for r in requests)  # never re-embedded
    assert np.abs(page.document.layer(RESULT).data - result).max() < 1e-4
    assert page.swap_panel.blend.value() == 0.7 and not dialogs["shown"]
    assert page.files.export(tmp_path / "result.jpg").wait()
    assert Image.open(tmp_path / "result.jpg").size == (160, 128)


def test_bad_photos_and_references_give_clear_messages(page, tiny, qtbot, monkeypatch, tmp_path, dialogs):
    small = write_photo(tmp_path / "small.png", (40, 90))
    assert not page.files.open_photo_file(small).wait()
    assert dialogs["shown"][-1][0] == "warning" and "at least 56 px" in dialogs["shown"][-1][2]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff not a real jpeg")
    assert not page.files.open_photo_file(broken).wait()
    assert "broken.jpg" in dialogs["shown"][-1][2] and page.project is None

    project = open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (96, 96)))
    textures = []
    for mode in ("RGBA", "L", "I;16"):
        path = write_photo(tmp_path / f"ref_{mode.replace(';', '')}.png", (50, 300), seed=len(textures) + 20, mode=mode)
        with qtbot.waitSignal(page.scheduler.decoded, timeout=WAIT, check_params_cb=lambda k: k == "full"):
            page.use_reference(path)  # odd sizes and modes, even below the minimum side: only the look is used
        textures.append(project.final_codes()[1].copy())
        assert page.status_label.property("role") != "error", page.status_label.text()
    assert all(np.abs(a - b).max() > 1e-4 for a, b in itertools.pairwise(textures))
    page.use_reference(broken)
    assert page.status_label.property("role") == "error" and "broken.jpg" in page.status_label.text()
    assert len(dialogs["shown"]) == 2  # references say so in the status line, never in a dialog


def test_a_large_photo_is_edited_at_the_working_size_and_kept_and_exported_at_its_own(main_window, page, tiny, qtbot,
                                                                                      monkeypatch, tmp_path):
    requests: list = []
    real = main_window.bridge.submit
    monkeypatch.setattr(main_window.bridge, "submit", lambda r, **k: requests.append(r) or real(r, **k))
    source = write_photo(tmp_path / "wide.png", (1100, 2100), seed=8)
    project = open_photo(qtbot, page, source)
    photo = page.document.layer(PHOTO).data
    assert photo.shape == (1100, 2100, 3) and project.photo_size == (1100, 2100)
    assert project.embedding.size == (536, 1024) == next(r for r in requests if isinstance(r, EncodeImage)).image.shape[:2]
    assert "2100x1100, edited at 1024x536, exported at 2100x1100" in page.photo_label.text()
    assert np.array_equal(page.document.layer(RESULT).data, photo)  # no edit: the photo, bit for bit
    assert page.files.export(tmp_path / "untouched.png").wait()
    assert np.array_equal(np.asarray(Image.open(tmp_path / "untouched.png")), np.asarray(Image.open(source)))

    ch, cw = project.cell_size  # a clone stroke: cells are cell_size photo pixels
    assert (ch, cw) == (CELL * 1100 / 536, CELL * 2100 / 1024)
    view = page.canvas
    qtbot.keyClick(view, Qt.Key.Key_C)
    page.brush_size.setValue(2)
    at = [screen(view, (x + 0.5) * cw, (y + 0.5) * ch) for y, x in ((10, 20), (40, 80), (40, 83))]
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.AltModifier, at[0])
    with qtbot.waitSignal(page.scheduler.decoded, timeout=WAIT, check_params_cb=lambda k: k == "region"):
        qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=at[1])
        qtbot.mouseMove(view, at[2])
        qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=at[2])
    wait_idle(qtbot, page)
    emb, result = project.embedding, page.document.layer(RESULT).data
    structure, texture = project.final_codes()
    base = full_decode(tiny, emb.structure, emb.texture, emb.size)
    edited = full_decode(tiny, structure, texture, emb.size)
    assert np.abs(result - detail.carry_detail(photo, base, edited)).max() < 1e-4  # regions = the whole carried
    top, left, bottom, right = codes.changed_cells(emb.structure, structure)
    reach = reach_cells(tiny)
    box = ((top - reach) * CELL, (left - reach) * CELL, (bottom + reach) * CELL, (right + reach) * CELL)
    outside = ~reads(box, emb.size, (1100, 2100))  # photo pixels that read no pixel the edit can reach
    assert np.array_equal(result[outside], photo[outside]) and np.abs(result - photo).max() > 0.01
    assert page.files.export(tmp_path / "edited.png").wait()
    assert Image.open(tmp_path / "edited.png").size == (2100, 1100)


def test_autosaved_work_is_offered_after_a_crash(page, tiny, qtbot, tmp_path, dialogs):
    project = open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (96, 128), seed=9))
    with qtbot.waitSignal(page.scheduler.decoded, timeout=WAIT, check_params_cb=lambda k: k == "full"):
        page.use_reference(write_photo(tmp_path / "ref.png", (96, 96), seed=10))
    codes_before = project.final_codes()
    assert page.files.autosave_now().wait()
    note = next(page.files.autosave.folder.glob("*.json"))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    note.write_text(note.read_text().replace(f'"pid": {os.getpid()}', f'"pid": {int(gone.stdout)}'))
    page.session.set_project(None, None)  # as a fresh start would find it

    dialogs["answer"] = QMessageBox.StandardButton.Yes
    with qtbot.waitSignal(page.scheduler.decoded, timeout=WAIT, check_params_cb=lambda k: k == "full"):
        page.files.offer_recovery()
    assert dialogs["shown"][-1][1] == "Recover unsaved work"
    recovered = page.project
    assert recovered.modified and [la.kind for la in recovered.layers] == ["swap"]
    for a, b in zip(recovered.final_codes(), codes_before):
        assert np.array_equal(a, b)
    assert page.files.autosave.pending() == []  # ours now: not offered again


def test_switching_the_model_embeds_the_photo_again_after_asking(main_window, page, tiny, qtbot, tmp_path, dialogs):
    project = open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (96, 128), seed=11))
    with qtbot.waitSignal(page.scheduler.decoded, timeout=WAIT, check_params_cb=lambda k: k == "full"):
        page.use_reference(write_photo(tmp_path / "ref.png", (96, 96), seed=12))
    done: list = []
    main_window.catalog.import_checkpoint(str(write_tiny_sae(tmp_path / "models" / "other.safetensors", seed=1,
                                                             name="other-sae")), done.append)
    qtbot.waitUntil(lambda: bool(done) and page.model_picker.findData(done[0].id) >= 0, timeout=WAIT)
    assert page.session.entry == tiny and page.project is project  # a new model in the Library changes nothing

    def pick(entry) -> None:
        index = page.model_picker.findData(entry.id)
        page.model_picker.setCurrentIndex(index)
        page.model_picker.activated.emit(index)

    dialogs["answer"] = QMessageBox.StandardButton.Cancel
    pick(done[0])
    assert dialogs["shown"][-1][1] == "Unsaved changes" and page.project is project
    assert page.model_picker.currentData() == tiny.id
    dialogs["answer"] = QMessageBox.StandardButton.Discard
    with qtbot.waitSignal(page.scheduler.decoded, timeout=WAIT, check_params_cb=lambda k: k == "full"):
        pick(done[0])
    again = page.project
    assert again.model_id == done[0].id and not again.layers and again.embedding.size == (96, 128)
    assert np.abs(again.embedding.texture - project.embedding.texture).max() > 1e-3
