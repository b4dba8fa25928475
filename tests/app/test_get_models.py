"""Models > Get Models… driven like a user, against a local HTTP server on 127.0.0.1 (I2I_OFFICIAL_MODELS points
the real list's links at it): the list, the licence first, download with a dropped connection, import into the
library, a file that is not a checkpoint, a dead link, cancel and resume, a release without weights."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.get_models_dialog import COLUMNS, GetModelsDialog
from engine.downloads import LIST_ENV, OFFICIAL_MODELS, load_official_models
from tests.engine.test_downloads import FixtureServer, official_checkpoint, point_at

H2Z = "/cyclegan/pretrained_models/horse2zebra.pth"


@pytest.fixture
def server():
    s = FixtureServer()
    yield s
    s.stop()


@pytest.fixture
def open_dialog(main_window, menu_action, qtbot):
    def open_() -> GetModelsDialog:
        menu_action(main_window, "Models", "Get Models…").trigger()
        dialog = main_window.findChild(GetModelsDialog)
        qtbot.waitExposed(dialog)
        return dialog

    return open_


@pytest.fixture
def served(server, tmp_path, monkeypatch):
    """The real list with its links on the local server."""
    monkeypatch.setenv(LIST_ENV, str(point_at(server, tmp_path)))
    return server


def row(dialog: GetModelsDialog, model_id: str) -> int:
    ids = [dialog.table.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) for i in range(dialog.table.topLevelItemCount())]
    return ids.index(model_id)


def cell(dialog: GetModelsDialog, model_id: str, column: str) -> str:
    return dialog.table.topLevelItem(row(dialog, model_id)).text(COLUMNS.index(column))


def accept_and_download(dialog: GetModelsDialog, qtbot, model_id: str) -> None:
    dialog.select(model_id)
    if not dialog.accept_licence.isChecked():
        qtbot.mouseClick(dialog.accept_licence, Qt.MouseButton.LeftButton)
    assert dialog.download_button.isEnabled()
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)


def test_the_list_shows_every_release_with_what_it_does_size_and_licence(open_dialog, monkeypatch):
    monkeypatch.delenv(LIST_ENV, raising=False)
    dialog = open_dialog()
    assert dialog.table.topLevelItemCount() == len(load_official_models(OFFICIAL_MODELS))
    assert cell(dialog, "cyclegan-horse2zebra", "Model") == "Horse → zebra (CycleGAN)"
    assert cell(dialog, "cyclegan-horse2zebra", "What it does") == "Paints zebra stripes on horses."
    assert cell(dialog, "cyclegan-horse2zebra", "Size") == "about 45.6 MB"
    assert cell(dialog, "sae-pretrained", "Licence") == "Adobe Research License"
    assert cell(dialog, "spade-pretrained", "Licence") == "CC BY-NC-SA 4.0"
    assert cell(dialog, "hierarchyflow", "Status") == "no weights published"
    dialog.select("sae-pretrained")
    assert "Non-commercial research" in dialog.details.text() and "LICENSE.txt" in dialog.details.text()


def test_licence_first_then_download_resumes_a_dropped_connection_and_imports(
        open_dialog, served, main_window, qtbot):
    data = official_checkpoint()
    served.files[H2Z] = data
    served.drops[H2Z], served.drop_at[H2Z] = 1, len(data) // 2
    dialog = open_dialog()
    dialog.select("cyclegan-horse2zebra")
    assert not dialog.accept_licence.isChecked() and not dialog.download_button.isEnabled()
    assert "BSD 2-Clause" in dialog.accept_licence.text()
    dialog.download_selected()  # not accepted: nothing happens
    assert served.requests == [] and not dialog.busy

    accept_and_download(dialog, qtbot, "cyclegan-horse2zebra")
    qtbot.waitUntil(lambda: main_window.catalog.get("cyclegan-horse2zebra") is not None, timeout=30_000)
    qtbot.waitUntil(lambda: not dialog.busy and cell(dialog, "cyclegan-horse2zebra", "Status") == "imported",
                    timeout=10_000)
    assert served.requests == [(H2Z, None), (H2Z, f"bytes={len(data) // 2}-")]
    assert dialog.message.text().startswith("Imported cyclegan-horse2zebra")
    entry = main_window.catalog.get("cyclegan-horse2zebra")
    assert entry.source.endswith(os.path.join("cyclegan-horse2zebra", "horse2zebra_pretrained", "latest_net_G.pth"))
    assert not dialog.manual.isVisible()


def test_a_file_that_is_not_a_checkpoint_is_not_imported_nor_kept(open_dialog, served, main_window, qtbot,
                                                                   isolated_data):
    served.files[H2Z] = b"PK\x03\x04 this is no checkpoint" * 100
    dialog = open_dialog()
    accept_and_download(dialog, qtbot, "cyclegan-horse2zebra")
    qtbot.waitUntil(lambda: not dialog.busy and dialog.manual.isVisible(), timeout=30_000)
    assert "downloaded but not imported" in dialog.message.text()
    assert "horse2zebra_pretrained/latest_net_G.pth" in dialog.message.text()
    assert "\n" not in dialog.message.text()
    assert "Models &gt; Import Checkpoint" in dialog.manual.text() or "Models > Import" in dialog.manual.text()
    assert main_window.catalog.get("cyclegan-horse2zebra") is None
    folder = isolated_data / "downloads" / "cyclegan-horse2zebra"
    assert not folder.exists() or not any(p.is_file() for p in folder.rglob("*"))


def test_a_dead_link_says_why_in_one_line_and_how_to_do_it_by_hand(open_dialog, served, qtbot):
    dialog = open_dialog()  # nothing served: every link answers 404
    accept_and_download(dialog, qtbot, "spade-pretrained")
    qtbot.waitUntil(lambda: not dialog.busy and dialog.manual.isVisible(), timeout=30_000)
    assert "answered 404" in dialog.message.text() and dialog.message.property("role") == "error"
    manual = dialog.manual.text()
    assert "drive.google.com/file/d/12gvlTbMvUcJewQlSEaZdeb2CdOB-b8kQ" in manual and "<a href=" in manual
    assert "ade20k_pretrained/latest_net_G.pth" in manual
    assert dialog.download_button.isEnabled()  # try again


def test_cancel_keeps_what_came_and_the_next_download_continues(open_dialog, served, main_window, qtbot):
    data = official_checkpoint() * 50  # 3 MB: about 2.5 s at the server's pace
    served.files[H2Z] = data
    served.delay = 0.05
    dialog = open_dialog()
    accept_and_download(dialog, qtbot, "cyclegan-horse2zebra")
    assert dialog.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.message.text().startswith("Downloading: ") and " of " in dialog.message.text(),
                    timeout=10_000)
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=10_000)
    assert dialog.message.text().startswith("Stopped downloading Horse → zebra (CycleGAN).")
    assert "Download continues from there" in dialog.message.text()
    assert cell(dialog, "cyclegan-horse2zebra", "Status") == "partly downloaded"
    served.delay = 0
    accept_and_download(dialog, qtbot, "cyclegan-horse2zebra")  # the licence stays accepted
    qtbot.waitUntil(lambda: not dialog.busy and not dialog.progress.isVisible(), timeout=30_000)
    assert served.requests[-1][1] is not None and served.requests[-1][1].startswith("bytes=")
    assert dialog.message.text().startswith("Imported cyclegan-horse2zebra")  # torch reads the zip's last copy
    # the window's model list is refreshed after the import's own result: wait for it
    qtbot.waitUntil(lambda: main_window.catalog.get("cyclegan-horse2zebra") is not None, timeout=30_000)
    assert Path(main_window.catalog.get("cyclegan-horse2zebra").source).read_bytes() == data  # whole, in order


def test_closing_the_dialog_keeps_the_download_going(open_dialog, served, main_window, qtbot):
    served.files[H2Z] = official_checkpoint()
    served.delay = 0.02
    dialog = open_dialog()
    accept_and_download(dialog, qtbot, "cyclegan-horse2zebra")
    dialog.close()
    qtbot.waitUntil(lambda: main_window.catalog.get("cyclegan-horse2zebra") is not None, timeout=30_000)
    assert open_dialog() is dialog  # the one dialog, its outcome shown
    qtbot.waitUntil(lambda: dialog.message.text().startswith("Imported"), timeout=10_000)


def test_a_release_without_weights_says_what_to_do(open_dialog, served):
    dialog = open_dialog()
    dialog.select("hierarchyflow")
    assert not dialog.download_button.isEnabled() and not dialog.accept_licence.isEnabled()
    assert dialog.manual.isVisible() and "link no trained weights" in dialog.manual.text()
