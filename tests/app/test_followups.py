"""Follow-ups an artist meets: the Swap & Edit slider thumbnails are made once per photo, only while the page
is shown and idle (never ahead of its previews); Send to and Export take only a full-resolution result; the
Swap & Edit cursor readout is in the photo's pixels; file dialogs start in the folder last used."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtWidgets import QFileDialog

from app.widgets.page import RESULT_PENDING
from tests.app.swap_page_fixtures import (  # noqa: F401 (fixtures are found by name)
    WAIT,
    dialogs,
    open_photo,
    page,
    tiny,
    write_photo,
)
from tests.app.test_swap_words import _compute_directions


def test_slider_thumbnails_are_made_once_only_while_the_page_is_shown_and_idle(main_window, page, tiny, qtbot,
                                                                                  tmp_path):
    bridge, sent = page.session.bridge, []
    submit = bridge.submit

    def recording(request, *, slot, **kwargs):
        if slot == "sae-looks":
            sent.append((page.isVisible(), page.scheduler.busy))
        return submit(request, slot=slot, **kwargs)

    bridge.submit = recording
    _compute_directions(page, qtbot, tmp_path)
    open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (96, 128), seed=6))
    sliders = page.texture_panel.global_sliders
    qtbot.waitUntil(lambda: all(sliders.has_pictures(i) for i in range(sliders.count())), timeout=WAIT)
    ends = 2 * len(page.binding._directions[0] + page.binding._directions[1])
    assert len(sent) == ends  # each end once

    page.canvas.cursor_moved.emit(40, 30)
    assert page.cursor_label.text() == "40, 30 px"  # the photo's pixels, no cells

    main_window.show_tool("Painter")
    page.binding.project_changed()  # whatever asks again finds them made
    assert page.files.open_photo_file(write_photo(tmp_path / "other.png", (96, 128), seed=9)).wait()
    qtbot.waitUntil(lambda: not page.session.busy and not page.scheduler.busy, timeout=WAIT)
    qtbot.wait(300)
    assert len(sent) == ends and page.binding.looks.waiting == ends  # nothing made behind the user's back

    main_window.show_tool("Swap & Edit")
    qtbot.waitUntil(lambda: page.binding.looks.waiting == 0, timeout=WAIT)
    assert len(sent) == 2 * ends
    assert all(shown and not busy for shown, busy in sent)  # never while hidden, never ahead of a decode


def test_send_to_and_export_take_only_a_full_resolution_result(main_window, qtbot, tmp_path):
    painter, window = main_window.painter, main_window
    qtbot.waitUntil(lambda: painter.scheduler.full_shown, timeout=WAIT)
    assert painter.has_result()
    doc = painter.document
    seen: list[tuple[str, bool]] = []
    painter.scheduler.rendered.connect(lambda kind, _image: seen.append((kind, painter.has_result())))

    painter.new_document(np.zeros((doc.height, doc.width), np.uint8))  # File > New: nothing rendered yet
    assert not painter.has_result() and painter.result_image() is None
    assert not window.send_to(window.swap)
    assert window.current_page() is painter and RESULT_PENDING in window.statusBar().currentMessage()
    window.send_menu.aboutToShow.emit()
    assert not any(a.isEnabled() for a in window.send_menu.actions() if not a.isSeparator())
    path = tmp_path / "early.png"
    exported = painter.files.export(path)  # waits for the full-resolution render, then writes it
    assert exported.ok is None and not path.exists()
    assert exported.wait() and path.exists()
    assert painter.scheduler.full_shown and seen[-1] == ("full", True)
    assert all(not ready for kind, ready in seen if kind == "preview")
    written = np.asarray(Image.open(path).convert("RGB"), np.float32) / 255
    assert np.abs(written - painter.result_image()).max() <= 1 / 255 + 1e-6
    assert window.send_to(window.swap) and window.current_page() is window.swap


def test_the_style_image_dialog_starts_in_the_folder_last_used(main_window, monkeypatch, tmp_path):
    folder = tmp_path / "styles"
    folder.mkdir()
    style = write_photo(folder / "style.png", (64, 64), seed=3)
    starts: list[str] = []

    def choose(parent, caption, start, name_filter, *args, **kwargs):
        starts.append(start)
        return str(style), name_filter

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(choose))
    panel = main_window.painter.style_panel
    panel._choose()
    panel._choose()
    assert starts[0] and not starts[0].startswith("/work/main") and starts[1] == str(folder)


def test_style_brushes_send_and_export_wait_for_the_translations(main_window, qtbot, tmp_path):
    window, brushes = main_window, main_window.brushes
    window.show_tool("Style Brushes")
    assert brushes.files.open_photo_file(write_photo(tmp_path / "street.png", (96, 128), seed=4)).wait()
    assert brushes.translator.busy  # the photo's layer is being translated: a preview at most shows
    assert not brushes.has_result() and not window.send_to(window.swap)
    assert RESULT_PENDING in window.statusBar().currentMessage()
    assert not brushes.files.export(tmp_path / "early.png").wait() and not (tmp_path / "early.png").exists()
    qtbot.waitUntil(lambda: not brushes.translator.busy, timeout=WAIT)
    assert brushes.has_result() and brushes.files.export(tmp_path / "done.png").wait()
