"""The conventions artists know from Krita, GIMP and Photoshop, driven as a user would: Open Recent, dialogs that
start in the folder last used for that kind of file, the title with the file, the tool and a modified mark,
confirmations in the status bar, unsaved-changes questions that name the tool and the project, the shortcut
sheet (F1) and the README guide, Tab to hide the panels, the undo history panel, the canvas holding the keyboard,
a focused toggle that does not look on, and a window that keeps its size at 1280x800."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QPushButton, QToolButton, QWidget

from app.main_window import MainWindow
from app.painter import files as painter_files
from app.widgets import files
from app.widgets.help import HelpTopic, ShortcutSheet
from tests.app.conftest import fake_message_boxes, files_done, find_menu_action
from tests.app.swap_page_fixtures import write_photo
from tests.sae_fixtures import write_tiny_sae
from trainers.events import EVENTS_FILE

WAIT = 60_000


@pytest.fixture(autouse=True)
def dialogs(monkeypatch) -> dict:
    return fake_message_boxes(monkeypatch)


class FileDialogs:
    """Answers the next Open/Save dialogs with `answer` and records the folder or path each one started at."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.answer, self.started = "", []
        for name in ("getOpenFileName", "getSaveFileName"):
            monkeypatch.setattr(QFileDialog, name, self._answer)

    def _answer(self, parent, caption, start, name_filter="", *args, **kwargs):
        self.started.append(start)
        return self.answer, ""


@pytest.fixture
def file_dialogs(monkeypatch) -> FileDialogs:
    return FileDialogs(monkeypatch)


def recent_entries(window: MainWindow) -> list[str]:
    """Open Recent as the user sees it: section headings and entries."""
    window.recent_menu.aboutToShow.emit()
    return [a.text().replace("&&", "&") for a in window.recent_menu.actions() if not a.isSeparator() or a.text()]


def paint(qtbot, view, points) -> None:
    origin = view.map_to_document(QPointF(0, 0))
    at = [QPoint(round((x - origin.x()) * view.zoom), round((y - origin.y()) * view.zoom)) for x, y in points]
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=at[0])
    for p in at[1:]:
        qtbot.mouseMove(view, p)
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=at[-1])


def activate(window: MainWindow, qtbot) -> None:
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)


def test_dialogs_start_in_the_folder_last_used_for_each_kind_of_file(main_window, qtbot, tmp_path, file_dialogs):
    window, brushes = main_window, main_window.brushes
    window.show_tool("Style Brushes")
    photos, projects, exports = (tmp_path / name for name in ("photos", "projects", "exports"))
    for folder in (photos, projects, exports):
        folder.mkdir()
    file_dialogs.answer = str(write_photo(photos / "beach.png", (48, 64)))
    brushes.files.choose_photo()
    files_done(qtbot, brushes)
    first = Path(file_dialogs.started[0])
    assert first.is_dir() and first != Path.cwd()  # never the install folder
    assert brushes.photo_name == "beach.png"

    file_dialogs.answer = str(projects / "beach.ora")
    assert brushes.files.save_as().wait()
    assert Path(file_dialogs.started[-1]) == first / "beach.ora"  # no project folder yet: the default one
    file_dialogs.answer = str(exports / "beach-brushed.png")
    qtbot.waitUntil(brushes.has_result, timeout=30000)  # Export takes only the full-resolution result
    brushes.files.choose_export()
    files_done(qtbot, brushes)
    assert (exports / "beach-brushed.png").is_file()

    # Each kind of file now starts where it was last put, in every tool.
    brushes.files.choose_export()
    files_done(qtbot, brushes)
    assert Path(file_dialogs.started[-1]) == exports / "beach-brushed.png"
    file_dialogs.answer = ""  # cancelled from here on
    brushes.files.choose_photo()
    assert Path(file_dialogs.started[-1]) == photos
    window.show_tool("Swap & Edit")
    window.swap.files.choose_project()
    assert Path(file_dialogs.started[-1]) == projects
    window.swap.files.choose_photo()
    assert Path(file_dialogs.started[-1]) == photos
    assert Path(files.start_folder(files.PHOTO)) == photos  # kept for the next start (QSettings)


def test_open_recent_lists_each_kind_reopens_in_its_tool_and_drops_missing_files(main_window, qtbot, tmp_path,
                                                                                   file_dialogs, dialogs):
    window, brushes, painter = main_window, main_window.brushes, main_window.painter
    assert recent_entries(window) == ["No recent files"]
    window.show_tool("Style Brushes")
    photo = write_photo(tmp_path / "street.png", (40, 56))
    assert brushes.files.open_photo_file(photo).wait()
    file_dialogs.answer = str(tmp_path / "street.ora")
    assert brushes.files.save_as().wait()
    labels = tmp_path / "scene.png"
    Image.fromarray(np.full((64, 96), 9, np.uint8), "L").save(labels)
    window.show_tool("Painter")
    assert painter.files.open_label_file(labels).wait()
    assert recent_entries(window) == ["Projects", "street.ora  —  Style Brushes", "Photos",
                                      "street.png  —  Style Brushes", "Label maps", "scene.png  —  Painter",
                                      "Clear Recent Files"]
    assert [r.path for r in files.recent_files(files.PROJECT)] == [(tmp_path / "street.ora").resolve()]

    # A recent project opens in the tool that saved it, whichever tool is on show.
    window.show_tool("Swap & Edit")
    brushes.set_project(None)
    entry = next(a for a in window.recent_menu.actions() if a.text().startswith("street.ora"))
    entry.trigger()
    files_done(qtbot, brushes)
    assert window.current_page() is brushes and brushes.files.project_path == tmp_path / "street.ora"
    assert window.windowTitle() == "street.ora — Style Brushes — I2I Studio"

    photo.unlink()
    recent_entries(window)
    next(a for a in window.recent_menu.actions() if a.text().startswith("street.png")).trigger()
    kind, title, text = dialogs["shown"][-1]
    assert (kind, title) == ("warning", "Open Recent") and "street.png is no longer there" in text
    assert "street.png  —  Style Brushes" not in recent_entries(window)
    assert QSettings().value("recent/photo", [], list) in ([], None)  # persisted
    next(a for a in window.recent_menu.actions() if a.text() == "Clear Recent Files").trigger()
    assert recent_entries(window) == ["No recent files"]


def test_title_shows_file_tool_and_modified_mark_and_saving_confirms_in_the_status_bar(main_window, qtbot, tmp_path,
                                                                                      monkeypatch):
    window, painter = main_window, main_window.painter
    assert window.windowTitle() == "Untitled — Painter — I2I Studio"
    paint(qtbot, painter.canvas, [(40, 40), (80, 60)])
    assert window.windowTitle() == "Untitled* — Painter — I2I Studio"
    target = tmp_path / "valley.ora"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    shown: list[str] = []  # the engine's own status ("loading …") may follow the confirmation at any moment
    window.statusBar().messageChanged.connect(shown.append)
    assert painter.files.save_as().wait()
    assert window.windowTitle() == "valley.ora — Painter — I2I Studio"
    assert f"Saved {files.display_path(target)}" in shown
    assert files.display_path(Path.home() / "x.ora") == "~/x.ora"
    painter.files.export(tmp_path / "valley.png")
    files_done(qtbot, painter)
    assert f"Exported {files.display_path(tmp_path / 'valley.png')}" in shown
    paint(qtbot, painter.canvas, [(20, 20), (30, 30)])
    assert window.windowTitle() == "valley.ora* — Painter — I2I Studio"
    window.show_tool("Swap & Edit")
    assert window.windowTitle() == "Swap & Edit — I2I Studio"  # nothing open there
    window.show_tool("Start Page")
    assert window.windowTitle() == "I2I Studio"


def test_unsaved_changes_questions_name_the_tool_and_the_project(main_window, qtbot, tmp_path, dialogs):
    window, brushes, painter = main_window, main_window.brushes, main_window.painter
    paint(qtbot, painter.canvas, [(40, 40), (80, 60)])
    dialogs["answer"] = dialogs["answer"].Cancel
    assert not painter.files.confirm_discard()
    assert dialogs["shown"][-1][2] == "Save your Painter work as a project (.ora)?"

    window.show_tool("Style Brushes")
    assert brushes.files.open_photo_file(write_photo(tmp_path / "photo.jpg", (48, 64))).wait()
    paint(qtbot, brushes.canvas, [(10, 10), (40, 30)])
    assert brushes.is_modified()
    assert not brushes.files.confirm_discard()
    assert dialogs["shown"][-1][2] == ("Save your Style Brushes work on “photo.jpg” as a project (.ora) "
                                       "(photo.jpg itself is never changed)?")
    brushes.files.project_path = tmp_path / "photo.ora"
    assert not brushes.files.confirm_discard()
    assert dialogs["shown"][-1][2] == "Save the changes to the Style Brushes project “photo.ora”?"


def test_f1_shows_every_shortcut_and_help_shows_the_readme_guide(main_window, qtbot):
    window = main_window
    activate(window, qtbot)
    qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_F1)
    sheet = window.findChild(ShortcutSheet)
    assert sheet is not None and sheet.isVisible()
    rows = {(keys, what) for _, keys, what in sheet.rows}
    for row in (("Ctrl+1", "Painter"), ("Ctrl+2", "Swap & Edit"), ("Ctrl+3", "Style Brushes"), ("Tab", "Show Panels"),
                ("Ctrl+S", "Save Project"), ("F1", "Keyboard Shortcuts"), ("B", "Brush"),
                ("[ and ]", "Smaller and larger brush")):
        assert row in rows, row
    assert "Ctrl+Shift+O" in sheet.text.toPlainText()
    sheet.close()

    guide = next(a.menu() for a in find_menu_action_menu(window, "Help") if a.text().replace("&", "") == "Guide")
    next(a for a in guide.actions() if a.text() == "Working in the app").trigger()
    shown = window.findChild(HelpTopic)
    assert shown is not None and "Send to" in shown.text.toPlainText()
    for action in guide.actions():
        text = window.show_help(action.text().replace("&&", "&")).text.toPlainText()
        assert text.startswith(action.text().replace("&&", "&")), action.text()  # the section, not "missing"


def find_menu_action_menu(window: MainWindow, title: str) -> list:
    return next(a.menu().actions() for a in window.menuBar().actions() if a.text().replace("&", "") == title)


def test_tab_hides_and_shows_the_panels_across_tools(main_window, qtbot):
    window, painter, swap = main_window, main_window.painter, main_window.swap
    activate(window, qtbot)
    find_menu_action(window, "View", "Undo History").trigger()
    assert window.history_dock.isVisible() and painter.palette_panel.isVisible()
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert not painter.palette_panel.isVisible() and not painter.style_panel.isVisible()
    assert not window.history_dock.isVisible() and painter.canvas.isVisible()
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.current_page() is swap and not any(p.isVisible() for p in swap.panels())
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert all(p.isVisible() for p in swap.panels()) and window.history_dock.isVisible()
    window.show_tool("Painter")
    assert painter.palette_panel.isVisible()


def test_the_undo_history_panel_lists_steps_and_goes_back_to_one(main_window, qtbot):
    window, painter = main_window, main_window.painter
    find_menu_action(window, "View", "Undo History").trigger()
    assert window.history_dock.isVisible() and window.history_panel.count() == 1  # "Opened"
    before = painter.document.layer("labels").data.copy()
    paint(qtbot, painter.canvas, [(40, 40), (80, 60)])
    after_one = painter.document.layer("labels").data.copy()
    paint(qtbot, painter.canvas, [(120, 40), (150, 90)])
    panel = window.history_panel
    texts = [panel.item(i).text() for i in range(panel.count())]
    assert texts[0] == "Opened" and len(texts) == 3 and panel.currentRow() == 2
    qtbot.mouseClick(panel.viewport(), Qt.MouseButton.LeftButton, pos=panel.visualItemRect(panel.item(0)).center())
    assert np.array_equal(painter.document.layer("labels").data, before) and panel.currentRow() == 0
    assert panel.count() == 3  # the undone steps stay, to be redone
    qtbot.mouseClick(panel.viewport(), Qt.MouseButton.LeftButton, pos=panel.visualItemRect(panel.item(1)).center())
    assert np.array_equal(painter.document.layer("labels").data, after_one)
    assert window.windowTitle().startswith("Untitled*")


def test_entering_a_page_gives_the_canvas_the_keyboard(main_window, qtbot, tmp_path):
    """On entering Swap & Edit the tool keys work at once (backslash shows the original), never typed into a box."""
    window, swap = main_window, main_window.swap
    activate(window, qtbot)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.current_page() is swap
    assert QApplication.focusWidget() in (swap, swap.canvas)
    qtbot.waitUntil(lambda: swap.session.entry is not None)  # the model list has arrived from the engine
    with qtbot.waitSignal(swap.scheduler.decoded, timeout=WAIT, check_params_cb=lambda k: k == "full"):
        assert swap.files.open_photo_file(write_photo(tmp_path / "p.png", (128, 160))).wait()
    assert QApplication.focusWidget() is swap.canvas
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Backslash)
    assert swap.before_after.isChecked()
    qtbot.mouseClick(swap.brush_size, Qt.MouseButton.LeftButton)  # typing a size, then Enter: back to the canvas
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
    assert QApplication.focusWidget() is swap.canvas
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() in (window.brushes, window.brushes.canvas)


def test_new_label_map_fits_the_view_again(main_window, qtbot, monkeypatch):
    painter = main_window.painter
    painter.canvas.zoom_fit()
    fitted = painter.canvas.zoom
    for _ in range(4):
        painter.canvas.zoom_in()
    assert painter.canvas.zoom > fitted * 1.5
    monkeypatch.setattr(painter_files.NewDialog, "exec", lambda self: QDialog.DialogCode.Accepted)
    painter.files.new.trigger()
    assert painter.canvas.zoom == pytest.approx(fitted)


def test_a_focused_toggle_that_is_off_does_not_look_on(main_window, qtbot):
    activate(main_window, qtbot)
    row = QWidget(main_window)
    buttons = []
    for cls in (QPushButton, QToolButton):
        for checked in (False, True):
            button = cls(row)
            button.setText("Toggle")
            button.setCheckable(True)
            button.setChecked(checked)
            button.move(len(buttons) * 90, 0)
            buttons.append(button)
    row.show()

    def colour(button) -> str:
        image = button.grab().toImage()
        return image.pixelColor(image.width() // 2, image.height() // 2 - 4).name()

    unfocused = [colour(b) for b in buttons]
    for button, before in zip(buttons, unfocused, strict=True):
        button.setFocus()
        assert QApplication.focusWidget() is button
        assert colour(button) == before  # focus is an outline, not a fill
    assert unfocused[0] != unfocused[1] and unfocused[2] != unfocused[3]


def test_the_window_keeps_its_size_at_1280x800_whatever_each_page_opens(main_window, qtbot, tmp_path):
    """A 4000x2500 photo (a label map in the Painter) in each page: the window stays 1280x800 and every page fits."""
    window = main_window
    window.resize(1280, 800)
    qtbot.waitUntil(lambda: window.size().toTuple() == (1280, 800))
    big = tmp_path / "a very long photo name from a phone camera IMG_20240612_183512.jpg"
    write_photo(big, (2500, 4000))
    labels = tmp_path / "a very long label map name of the valley scene.png"
    Image.fromarray(np.repeat(np.arange(10, dtype=np.uint8), 400)[None].repeat(2500, 0), "L").save(labels)

    assert window.painter.files.open_label_file(labels).wait()
    assert window.size().toTuple() == (1280, 800)
    window.painter.new_document(np.zeros((64, 96), np.uint8))  # no 10-megapixel render in a size test

    window.show_tool("Swap & Edit")
    path = write_tiny_sae(tmp_path / "models" / "tiny_sae.safetensors")
    done: list = []
    window.catalog.import_checkpoint(str(path), done.append)
    qtbot.waitUntil(lambda: bool(done) and window.catalog.get(done[0].id) is not None, timeout=WAIT)
    window.swap.set_model(window.catalog.get(done[0].id))
    with qtbot.waitSignal(window.swap.session.project_changed, timeout=WAIT):
        assert window.swap.files.open_photo_file(big).wait()
    assert "4000x2500" in window.swap.photo_label.toolTip()
    assert window.size().toTuple() == (1280, 800)

    window.show_tool("Style Brushes")
    assert window.brushes.files.open_photo_file(big).wait()
    assert window.brushes.project is not None and window.size().toTuple() == (1280, 800)
    window.brushes.translator.cancel()
    for page in (window.painter, window.swap, window.brushes, window.start):
        window.show_tool(window._tool_titles[page])
        assert page.minimumSizeHint().width() <= 1280 and page.minimumSizeHint().height() <= 800 - 80
        assert window.size().toTuple() == (1280, 800)


def test_a_training_monitor_dock_scrolls_instead_of_growing_the_window(main_window, qtbot, tmp_path):
    window = main_window
    window.resize(1280, 800)
    qtbot.waitUntil(lambda: window.size().toTuple() == (1280, 800))
    run = tmp_path / "run"
    run.mkdir()
    (run / EVENTS_FILE).write_text("")
    monitor = window.open_run(run)
    qtbot.wait(50)
    assert monitor.isVisible() and window.size().toTuple() == (1280, 800)
    assert window.open_run(run) is monitor  # one monitor per run
