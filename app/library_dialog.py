"""Models > Library: the catalog as cards (name, what it does, a sample picture, licence, a "Demo model" badge),
the technical details of the selected model on the second tab, import and remove."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QFontDatabase, QMouseEvent, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.catalog_model import (
    DEMO_BADGE,
    DEMO_TIP,
    CatalogModel,
    is_demo,
    method_title,
    sample_picture,
    what_it_does,
)
from engine.api import ALLOW_NONFINITE, NONFINITE_REFUSAL, ModelEntry, parse_import_options

CHECKPOINT_FILTER = "Checkpoints (*.pth *.pt *.ckpt *.tar *.safetensors);;All files (*)"
CARD_WIDTH = 380  # cards per row follow the window's width
PICTURE_HEIGHT = 110
CARD_STYLE = """
QFrame#modelCard { border: 1px solid #32414B; border-radius: 6px; background: #1E2A35; }
QFrame#modelCard[selected="true"] { border: 2px solid #4E9BF5; }
QFrame#modelCard QLabel { background: transparent; border: none; }
QLabel#badge { border-radius: 8px; padding: 1px 8px; font-weight: 600; }
QLabel#badge[kind="demo"] { background: #7A5B12; color: #FFE2A3; }
QLabel#badge[kind="imported"] { background: #24496F; color: #CFE3FF; }
"""


class ModelCard(QFrame):
    """One model: picture, name, badge, what it does, licence, and a Details button."""

    clicked = Signal(str)  # model id
    details_asked = Signal(str)  # model id

    def __init__(self, entry: ModelEntry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entry = entry
        self.setObjectName("modelCard")
        self.setProperty("selected", False)
        self.setMinimumWidth(CARD_WIDTH - 40)

        path, own = sample_picture(entry)
        self.picture = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.picture.setFixedHeight(PICTURE_HEIGHT)
        pixmap = QPixmap(str(path)) if path else QPixmap()
        if not pixmap.isNull():
            self.picture.setPixmap(pixmap.scaled(CARD_WIDTH - 60, PICTURE_HEIGHT, Qt.AspectRatioMode.KeepAspectRatio,
                                                 Qt.TransformationMode.SmoothTransformation))
        self.picture.setToolTip("A sample made by this model" if own else "What this tool works with (not this "
                                "model's own output)")
        self.name = _wrapped(entry.name or entry.id)
        self.name.setObjectName("heading")
        demo = is_demo(entry)
        self.badge = QLabel(DEMO_BADGE if demo else "Imported")
        self.badge.setObjectName("badge")
        self.badge.setProperty("kind", "demo" if demo else "imported")
        self.badge.setToolTip(DEMO_TIP if demo else "A model you imported or trained")
        method = QLabel(method_title(entry.method))
        method.setProperty("role", "muted")
        badges = QHBoxLayout()
        badges.addWidget(self.badge)
        badges.addWidget(method)
        badges.addStretch()
        self.what = _wrapped(what_it_does(entry))
        self.licence = _wrapped(f"Licence: {entry.license or 'not stated'}")
        self.licence.setProperty("role", "muted")
        self.details_button = QPushButton("Details…")
        self.details_button.setToolTip("Technical details: file, SHA-256, hyperparameters, classes")
        self.details_button.clicked.connect(lambda: self.details_asked.emit(entry.id))
        buttons = QHBoxLayout()
        buttons.addStretch()
        buttons.addWidget(self.details_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.picture)
        layout.addWidget(self.name)
        layout.addLayout(badges)
        layout.addWidget(self.what)
        layout.addWidget(self.licence)
        layout.addStretch(1)  # a card taller than its content (its row's height) keeps its lines together
        layout.addLayout(buttons)

    def set_selected(self, selected: bool) -> None:
        if self.property("selected") != selected:
            self.setProperty("selected", selected)
            self.style().unpolish(self)  # re-read the stylesheet for the new state
            self.style().polish(self)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.entry.id)
        super().mousePressEvent(event)


class LibraryDialog(QDialog):
    """Non-modal; edits go through the catalog model (the engine's thread), never the GUI thread."""

    def __init__(self, catalog: CatalogModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Model Library")
        self.setAcceptDrops(True)
        self.resize(1280, 680)
        self._catalog = catalog
        self._select_after_refresh: str | None = None
        # file name -> (path, options) of the imports this dialog asked for, to offer a refused one again
        self._asked: dict[str, tuple[str, dict[str, Any]]] = {}
        self._warning = ""  # the warning of the model just imported, shown with the outcome

        self._selected: str | None = None
        self.cards: list[ModelCard] = []
        self._grid = QGridLayout()
        self._grid.setSpacing(12)
        self._grid.setAlignment(Qt.AlignmentFlag.AlignTop)
        grid_host = QWidget()
        grid_host.setLayout(self._grid)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(grid_host)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.details = QPlainTextEdit(readOnly=True)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.details.setPlaceholderText("Select a model (click its card) to see its file, hyperparameters and classes.")

        self.tabs = QTabWidget()
        self.tabs.addTab(self.scroll, "Models")
        self.tabs.addTab(self.details, "Technical details")
        self.setStyleSheet(CARD_STYLE)

        self.import_button = QPushButton("Import…")
        self.import_button.clicked.connect(self.choose_and_import)
        # What the weights cannot tell (SPADE: label count, dontcare, instances, aspect), official option names.
        self.options = QLineEdit()
        self.options.setPlaceholderText("import options, e.g. label_nc=150 aspect_ratio=2.0")
        self.options.setToolTip("Dataset conventions the weights cannot reveal, with the official option names,\n"
                                "separated by spaces. Leave empty to use an opt.txt beside the file or the\n"
                                "known released configurations; what is assumed is shown in the details.")
        self.options.setMinimumWidth(self.options.fontMetrics().horizontalAdvance(
            self.options.placeholderText()) + 24)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self._remove_selected)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # indeterminate: the engine reports no fraction for catalog edits
        self.busy.setMaximumWidth(140)
        self.busy.setTextVisible(False)
        self.busy_text = QLabel()
        self.busy_text.setProperty("role", "muted")
        self.busy.hide()
        self.busy_text.hide()
        # One line of feedback; long messages are clipped (full text in the tooltip), never wrapped.
        self.message = QLabel("Drop checkpoint files here to import them.")
        self.message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        bottom = QHBoxLayout()
        bottom.addWidget(self.import_button)
        bottom.addWidget(self.options)
        bottom.addWidget(self.remove_button)
        bottom.addSpacing(12)
        bottom.addWidget(self.busy)
        bottom.addWidget(self.busy_text)
        bottom.addSpacing(12)
        bottom.addWidget(self.message, 1)
        bottom.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(bottom)

        catalog.changed.connect(self._fill_cards)
        catalog.list_failed.connect(self._show_error)
        catalog.busy_changed.connect(self._show_busy)
        catalog.edit_finished.connect(self._show_outcome)
        self._fill_cards()

    # --- intents ------------------------------------------------------------------------------

    def choose_and_import(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Import checkpoints", "", CHECKPOINT_FILTER)
        self.import_files(paths)

    def import_files(self, paths: list[str]) -> None:
        try:
            options = parse_import_options(self.options.text().split())
        except ValueError as exc:
            self._show_error(f"Import options: {exc}")
            return
        for path in paths:
            self._asked[Path(path).name] = (path, options)
            self._catalog.import_checkpoint(path, on_done=self._select_when_listed, options=options)

    def selected_id(self) -> str | None:
        return self._selected

    def select(self, model_id: str | None) -> None:
        """Select the card of `model_id` (None: none) and show its technical details."""
        self._selected = model_id if self._catalog.get(model_id or "") else None
        for card in self.cards:
            card.set_selected(card.entry.id == self._selected)
            if card.entry.id == self._selected:
                self.scroll.ensureWidgetVisible(card)
        self._show_details()

    def show_details(self, model_id: str) -> None:
        self.select(model_id)
        self.tabs.setCurrentWidget(self.details)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _local_files(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        if paths := _local_files(event):
            event.acceptProposedAction()
            self.import_files(paths)

    # --- engine replies -----------------------------------------------------------------------

    def _select_when_listed(self, entry: ModelEntry) -> None:
        self._select_after_refresh = entry.id
        self._warning = next((n for n in entry.notes.split("; ") if n.startswith("WARNING")), "")
        self._asked.pop(Path(entry.source).name, None)

    def _remove_selected(self) -> None:
        entry = self._catalog.get(self.selected_id() or "")
        if entry is None or entry.builtin:
            return
        answer = QMessageBox.question(
            self, "Remove model",
            f"Remove '{entry.id}' from the library?\nThe checkpoint file itself is not deleted.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self._catalog.remove(entry.id)

    def _show_busy(self, description: str) -> None:
        # Beside, not in, the message line: a queued import must not hide the previous one's error.
        self.busy.setVisible(bool(description))
        self.busy_text.setVisible(bool(description))
        self.busy_text.setText(description)

    def _show_outcome(self, text: str, ok: bool) -> None:
        warning, self._warning = self._warning, ""
        if ok and warning:
            self._set_message(f"{text} {warning}", "error")  # imported, but it will not render well
        elif not ok and NONFINITE_REFUSAL in text and (name := self._asked_name(text)):
            self._offer_import_anyway(text, name)
        else:
            self._set_message(text, "muted" if ok else "error")

    def _asked_name(self, text: str) -> str | None:
        """The file name of the import this dialog asked for that `text` reports, if any."""
        return next((n for n in sorted(self._asked, key=len, reverse=True) if f"{n}:" in text), None)

    def _offer_import_anyway(self, text: str, name: str) -> None:
        """Weights with NaN or infinite values are refused; the user may keep them, marked with a warning."""
        path, options = self._asked.pop(name)
        reason = text[text.index(f"{name}:"):].split("; such a model", 1)[0]
        answer = QMessageBox.question(
            self, "Import anyway?",
            f"{reason}.\n\nA model with such weights renders black or garbage. Import it anyway? It will be "
            "marked with a warning in the library.")
        if answer == QMessageBox.StandardButton.Yes:
            self._asked[Path(path).name] = (path, options)
            self._catalog.import_checkpoint(path, on_done=self._select_when_listed,
                                            options={**options, ALLOW_NONFINITE: True})
        else:
            self._set_message(text, "error")

    def _show_error(self, text: str) -> None:
        self._set_message(text, "error")

    def _set_message(self, text: str, role: str) -> None:
        text = " ".join(text.split())  # one line, whatever the engine sent
        self.message.setText(text)
        self.message.setToolTip(text)
        self.message.setProperty("role", role)
        self.message.style().unpolish(self.message)  # re-read the stylesheet for the new role
        self.message.style().polish(self.message)

    # --- view ---------------------------------------------------------------------------------

    def _fill_cards(self) -> None:
        keep = self._select_after_refresh or self._selected
        self._select_after_refresh = None
        for card in self.cards:
            self._grid.removeWidget(card)
            card.deleteLater()
        self.cards = []
        for entry in self._catalog.entries:
            card = ModelCard(entry)
            card.clicked.connect(self.select)
            card.details_asked.connect(self.show_details)
            self.cards.append(card)
        self._place_cards()
        self.select(keep)

    def _place_cards(self) -> None:
        columns = max(1, self.scroll.viewport().width() // CARD_WIDTH)
        for card in self.cards:
            self._grid.removeWidget(card)
        for index, card in enumerate(self.cards):
            self._grid.addWidget(card, index // columns, index % columns)
        for column in range(self._grid.columnCount()):
            self._grid.setColumnStretch(column, 1 if column < columns else 0)
        rows = -(-len(self.cards) // columns)
        for row in range(self._grid.rowCount()):
            self._grid.setRowStretch(row, 1 if row >= rows else 0)  # spare height below the cards, not in them
        self._grid.setRowStretch(rows, 1)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_cards()

    def _show_details(self) -> None:
        entry = self._catalog.get(self.selected_id() or "")
        self.details.setPlainText(_details_text(entry) if entry else "")
        self.remove_button.setEnabled(entry is not None and not entry.builtin)


def _details_text(entry: ModelEntry) -> str:
    origin = "demo model shipped with the app" if is_demo(entry) else "imported"
    lines = [entry.name or entry.id, f"id: {entry.id}", f"origin: {origin}", f"{entry.method} · {entry.task}",
             f"size rule: {entry.size_rule}", f"licence: {entry.license}", f"source: {entry.source}",
             f"sha256: {entry.sha256}"]
    if entry.added:
        lines.append(f"added: {entry.added}")
    if entry.notes:
        lines.append(f"notes: {entry.notes}")
    lines += ["", "Hyperparameters"]
    lines += [f"  {key}: {json.dumps(value)}" for key, value in entry.hparams.items()] or ["  (none)"]
    lines += ["", f"Classes ({len(entry.classes)})"]
    lines += [f"  {class_id:>3} {name}" for class_id, name in entry.classes] or ["  (none)"]
    return "\n".join(lines)


def _local_files(event: QDragEnterEvent | QDropEvent) -> list[str]:
    mime = event.mimeData()
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()] if mime.hasUrls() else []


def _wrapped(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)  # long names and licences wrap; a card never clips them
    return label
