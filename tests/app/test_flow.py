"""One flow through the tools, as a user meets it: the tool bar and Ctrl+1..3, the Start page that opens each
tool, and File > Send to, which carries one tool's result to every other tool that takes a photo, saying where
it came from."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QSettings, Qt

from app.app import STARTED_KEY, first_run
from app.engine_bridge import EngineBridge
from app.main_window import MainWindow
from app.theme import apply_theme
from tests.app.conftest import fake_message_boxes, find_menu_action
from tests.app.swap_page_fixtures import write_photo

WAIT = 60_000


@pytest.fixture(autouse=True)
def dialogs(monkeypatch) -> dict:
    return fake_message_boxes(monkeypatch)


@pytest.fixture
def first_window(qtbot, qapp) -> Iterator[MainWindow]:
    """The window as the first run opens it: on the Start page."""
    apply_theme(qapp)
    bridge = EngineBridge()
    window = MainWindow(bridge, show_start=True)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()
    bridge.shutdown()


def tool_bar_entries(window: MainWindow) -> list[str]:
    return [a.text().replace("&&", "&") for a in window._tool_bar.actions() if a.isCheckable()]


def send_menu_entries(window: MainWindow) -> dict[str, bool]:
    window.send_menu.aboutToShow.emit()
    return {a.text().replace("&&", "&"): a.isEnabled() for a in window.send_menu.actions()
            if not a.isSeparator() and not a.text().startswith("(")}


def send(window: MainWindow, target: str) -> None:
    window.send_menu.aboutToShow.emit()
    action = next(a for a in window.send_menu.actions() if a.text().replace("&&", "&") == target)
    assert action.isEnabled()
    action.trigger()


def test_first_run_opens_the_start_page_once(first_window):
    assert first_run() and QSettings().value(STARTED_KEY, False, bool)
    assert not first_run()  # later starts open the Painter
    assert first_window.current_page() is first_window.start
    assert first_window.windowTitle() == "I2I Studio"


def test_the_start_page_shows_each_tool_and_a_click_opens_it(first_window, qtbot):
    window, start = first_window, first_window.start
    assert tool_bar_entries(window) == ["Start Page", "Painter", "Swap & Edit", "Style Brushes", "Variations"]
    assert list(start.cards) == ["Painter", "Swap & Edit", "Style Brushes", "Variations"]
    for title, card in start.cards.items():
        assert card.isVisible()
        picture = card.findChildren(type(card.models))[0]
        assert not picture.pixmap().isNull(), f"{title} has no sample picture"
        texts = " ".join(label.text() for label in card.findChildren(type(card.models)))
        assert "Needs:" in texts and "LabelToImage" not in texts and "StructureTexture" not in texts
    qtbot.waitUntil(lambda: "Landscape" in start.cards["Painter"].models.text(), timeout=WAIT)

    page_of = {"Painter": window.painter, "Swap & Edit": window.swap, "Style Brushes": window.brushes,
               "Variations": window.variations}
    for title, card in start.cards.items():
        window.show_tool("Start Page")
        qtbot.mouseClick(card, Qt.MouseButton.LeftButton, pos=QPoint(20, 20))  # anywhere on the card
        assert window.current_page() is page_of[title]
        assert window.windowTitle().endswith(f"{title} — I2I Studio")
    window.show_tool("Start Page")
    qtbot.mouseDClick(start.cards["Swap & Edit"], Qt.MouseButton.LeftButton, pos=QPoint(20, 20))
    assert window.current_page() is window.swap
    find_menu_action(window, "Help", "Start Page").trigger()
    assert window.current_page() is window.start
    qtbot.mouseClick(start.cards["Style Brushes"].open_button, Qt.MouseButton.LeftButton)
    assert window.current_page() is window.brushes


def test_ctrl_numbers_switch_tools_and_the_tool_bar_follows(main_window, qtbot):
    window = main_window
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    for key, page in ((Qt.Key.Key_2, window.swap), (Qt.Key.Key_3, window.brushes), (Qt.Key.Key_1, window.painter)):
        qtbot.keyClick(window.focusWidget() or window, key, Qt.KeyboardModifier.ControlModifier)
        assert window.current_page() is page
        checked = [a.text().replace("&&", "&") for a in window._tool_bar.actions() if a.isChecked()]
        assert checked == [window._tool_titles[page]]


def test_send_to_carries_results_between_every_pair_of_tools(main_window, qtbot, dialogs):
    """Painter -> Swap & Edit and Style Brushes; Swap & Edit <-> Style Brushes; each photo named after where it
    came from. The tools run their embedded demo models."""
    window, painter, swap, brushes = main_window, main_window.painter, main_window.swap, main_window.brushes
    assert send_menu_entries(window).keys() == {"Swap & Edit", "Style Brushes", "Variations"}  # the Painter takes none
    qtbot.waitUntil(lambda: "full resolution" in painter.render_label.text(), timeout=WAIT)
    rendered = np.array(painter.result_image())

    send(window, "Style Brushes")
    assert window.current_page() is brushes and brushes.project is not None
    assert brushes.photo_name == "Untitled from Painter"
    assert "Untitled from Painter" in brushes.photo_label.text() and "from Painter" in window.windowTitle()
    assert np.abs(brushes.project.document.layer("photo").data - rendered).max() <= 1 / 255 + 1e-6
    assert "Sent “Untitled from Painter” to Style Brushes" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not brushes.translator.busy, timeout=WAIT)  # a full-resolution result to send
    assert send_menu_entries(window) == {"Swap & Edit": True, "Variations": True}

    window.show_tool("Painter")
    send(window, "Swap & Edit")
    assert window.current_page() is swap
    qtbot.waitUntil(lambda: swap.project is not None, timeout=WAIT)
    assert swap.session.photo_name == "Untitled from Painter" and "Untitled from Painter" in swap.photo_label.text()
    assert swap.document.layer("photo").data.shape == rendered.shape
    qtbot.waitUntil(lambda: not swap.session.busy and not swap.scheduler.busy, timeout=WAIT)
    assert send_menu_entries(window) == {"Style Brushes": True, "Variations": True}  # once the full result shows
    dialogs["answer"] = dialogs["answer"].Discard  # the brushes' work from the painter is given up
    send(window, "Style Brushes")
    assert brushes.photo_name == "Untitled from Swap & Edit"
    assert window.windowTitle().startswith("Untitled from Swap & Edit")

    send(window, "Swap & Edit")
    qtbot.waitUntil(lambda: swap.session.photo_name == "Untitled from Style Brushes", timeout=WAIT)
    assert window.current_page() is swap and "from Style Brushes" in window.windowTitle()


def test_send_to_says_why_when_the_photo_does_not_fit(main_window, qtbot, dialogs, tmp_path):
    """A result too small for the Swapping Autoencoder is refused with a one-line reason, the work kept."""
    window, brushes, swap = main_window, main_window.brushes, main_window.swap
    window.show_tool("Style Brushes")
    assert brushes.files.open_photo_file(write_photo(tmp_path / "tiny.png", (20, 24))).wait()
    qtbot.waitUntil(lambda: not brushes.translator.busy, timeout=WAIT)
    send(window, "Swap & Edit")
    kind, title, text = dialogs["shown"][-1]
    assert kind == "warning" and title == "Send to Swap & Edit" and "at least" in text and "\n" not in text
    assert swap.project is None
