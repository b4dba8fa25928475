"""The Library as cards and the pages' demo-model badge, driven as a user would."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from app.catalog_model import DEMO_BADGE
from app.library_dialog import LibraryDialog
from tests.app.brush_page_fixtures import cut, dialogs, page, pick, write_photo  # noqa: F401 (fixtures by name)

WAIT = 20_000


def open_library(main_window, menu_action, qtbot) -> LibraryDialog:
    menu_action(main_window, "Models", "Library…").trigger()
    dialog = main_window.library()
    qtbot.waitExposed(dialog)
    qtbot.waitUntil(lambda: bool(dialog.cards), timeout=WAIT)
    return dialog


def import_spade(dialog: LibraryDialog, qtbot, monkeypatch, path: Path) -> str:
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(lambda *a, **k: ([str(path)], "")))
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(c.badge.text() == "Imported" for c in dialog.cards), timeout=WAIT)
    return next(c.entry.id for c in dialog.cards if c.badge.text() == "Imported")


def test_cards_show_name_badge_licence_picture_and_open_details(main_window, menu_action, qtbot, tmp_path):
    dialog = open_library(main_window, menu_action, qtbot)
    dialog.resize(1280, 800)
    by_id = {card.entry.id: card for card in dialog.cards}
    painter = by_id["spade-landscape-default"]
    assert painter.name.text() == "Landscape (embedded default)"
    qtbot.waitUntil(painter.badge.isVisible)  # cards added to a shown dialog show on the next event loop turn
    assert painter.badge.text() == DEMO_BADGE
    assert "label map" in painter.what.text() and "Painter" in painter.what.text()
    assert painter.licence.text().startswith("Licence: ours")
    assert not painter.picture.pixmap().isNull()  # the model's own sample
    assert all(card.badge.text() == "Demo model" for card in dialog.cards)  # only embedded models so far
    # Nothing technical on a card: no hash, no size rule.
    assert painter.entry.sha256[:12] not in " ".join(lbl.text() for lbl in (painter.what, painter.licence))
    # Long licences wrap inside the card rather than being cut off.
    qtbot.waitUntil(lambda: painter.licence.width() > 0)
    assert painter.licence.wordWrap() and painter.licence.height() >= painter.licence.heightForWidth(
        painter.licence.width())

    qtbot.mouseClick(painter.details_button, Qt.MouseButton.LeftButton)
    assert dialog.tabs.currentWidget() is dialog.details and dialog.selected_id() == painter.entry.id
    details = dialog.details.toPlainText()
    assert f"sha256: {painter.entry.sha256}" in details and "label_nc" in details and "demo model" in details
    assert not dialog.remove_button.isEnabled()  # demo models ship with the app

    dialog.tabs.setCurrentIndex(0)
    other = by_id["sae-wallpapers-default"]
    qtbot.mouseClick(other, Qt.MouseButton.LeftButton)  # a click on the card selects it
    assert dialog.selected_id() == other.entry.id and other.property("selected")
    assert not painter.property("selected")
    out = Path(os.environ.get("I2I_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    assert dialog.grab().save(str(out / "library_cards.png"))


def test_imported_model_gets_its_card_and_pages_drop_the_demo_badge(main_window, menu_action, qtbot, monkeypatch,
                                                                    spade_checkpoint):
    painter, swap = main_window.painter, main_window.swap
    for shown in (painter, swap):  # every page that opens with an embedded model says so
        main_window.tools.setCurrentWidget(shown)
        qtbot.waitUntil(lambda p=shown: p.model_picker.badge.isVisible(), timeout=WAIT)
        badge = shown.model_picker.badge
        assert badge.text() == DEMO_BADGE and "import the official weights" in badge.toolTip()
    main_window.tools.setCurrentWidget(painter)

    dialog = open_library(main_window, menu_action, qtbot)
    new_id = import_spade(dialog, qtbot, monkeypatch, spade_checkpoint)
    card = next(c for c in dialog.cards if c.entry.id == new_id)
    assert card.badge.text() == "Imported" and card.licence.text().startswith("Licence:")
    assert not card.picture.pixmap().isNull()  # no sample of its own: the tool's picture
    dialog.close()

    picker = painter.model_picker
    qtbot.waitUntil(lambda: picker.findData(new_id) >= 0, timeout=WAIT)
    picker.setCurrentIndex(picker.findData(new_id))
    picker.activated.emit(picker.currentIndex())  # chosen as a user would
    assert not picker.badge.isVisible()
    picker.setCurrentIndex(picker.findData("spade-landscape-default"))
    picker.activated.emit(picker.currentIndex())
    assert picker.badge.isVisible()


def test_the_style_brushes_layer_says_when_its_model_is_a_demo(page, cut, qtbot, tmp_path):  # noqa: F811
    """The Style Brushes page picks a model per layer: the badge follows the selected layer's model."""
    assert page.files.open_photo_file(write_photo(tmp_path / "photo.png", (48, 64))).wait()
    panel = page.layers_panel
    first = page.project.selected.model_id
    assert page.project.selected is not None and first
    qtbot.waitUntil(lambda: panel.demo_badge.isVisibleTo(panel) == (first == "cut-summer2winter-default"))
    pick(page, next(e for e in page.layers_panel._models if e.id == "cut-summer2winter-default"))
    assert panel.demo_badge.isVisibleTo(panel) and panel.demo_badge.text() == DEMO_BADGE
    pick(page, cut)  # an imported model: full quality as far as the app knows
    assert not panel.demo_badge.isVisibleTo(panel)
