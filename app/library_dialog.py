"""Models > Library: the catalog as a table, details of the selected model, import and remove."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.catalog_model import CatalogModel
from engine.api import ALLOW_NONFINITE, NONFINITE_REFUSAL, ModelEntry, parse_import_options

COLUMNS = ("ID", "Origin", "Method", "Task", "Size rule", "Licence", "SHA-256", "Source")
CHECKPOINT_FILTER = "Checkpoints (*.pth *.pt *.ckpt *.tar *.safetensors);;All files (*)"
ID_ROLE = Qt.ItemDataRole.UserRole
MAX_COLUMN_WIDTH = 170


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

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # keeps both ends of paths visible
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._show_details)

        self.details = QPlainTextEdit(readOnly=True)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.details.setPlaceholderText("Select a model to see its hyperparameters and classes.")

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([900, 360])

        self.import_button = QPushButton("Import…")
        self.import_button.clicked.connect(self.choose_and_import)
        # What the weights cannot tell (SPADE: label count, dontcare, instances, aspect), official option names.
        self.options = QLineEdit()
        self.options.setPlaceholderText("import options, e.g. label_nc=150 aspect_ratio=2.0")
        self.options.setToolTip("Dataset conventions the weights cannot reveal, with the official option names,\n"
                                "separated by spaces. Leave empty to use an opt.txt beside the file or the\n"
                                "known released configurations; what is assumed is shown in the details.")
        self.options.setMinimumWidth(280)
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
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)

        catalog.changed.connect(self._fill_table)
        catalog.list_failed.connect(self._show_error)
        catalog.busy_changed.connect(self._show_busy)
        catalog.edit_finished.connect(self._show_outcome)
        self._fill_table()

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
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(ID_ROLE) if rows else None

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

    def _fill_table(self) -> None:
        keep = self._select_after_refresh or self.selected_id()
        self._select_after_refresh = None
        self.table.setRowCount(0)
        for entry in self._catalog.entries:
            self._append_row(entry)
        self.table.resizeColumnsToContents()
        for column in range(len(COLUMNS)):  # long licences and hashes are elided, full text in tooltips
            self.table.setColumnWidth(column, min(self.table.columnWidth(column), MAX_COLUMN_WIDTH))
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(ID_ROLE) == keep:
                self.table.selectRow(row)
                self.table.scrollToItem(self.table.item(row, 0))
        self._show_details()

    def _append_row(self, entry: ModelEntry) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        sha = entry.sha256[:12] + "…" if len(entry.sha256) > 12 else entry.sha256
        cells = (entry.id, "built-in" if entry.builtin else "imported", entry.method, entry.task,
                 entry.size_rule, entry.license, sha, entry.source)
        tips = (entry.name, "ships with the app" if entry.builtin else "imported by you", "", "", "",
                entry.license, entry.sha256, entry.source)
        for column, (text, tip) in enumerate(zip(cells, tips, strict=True)):
            item = QTableWidgetItem(text)
            item.setData(ID_ROLE, entry.id)
            item.setToolTip(tip or text)
            if entry.builtin:
                font = item.font()
                font.setItalic(True)
                item.setFont(font)
            self.table.setItem(row, column, item)

    def _show_details(self) -> None:
        entry = self._catalog.get(self.selected_id() or "")
        self.details.setPlainText(_details_text(entry) if entry else "")
        self.remove_button.setEnabled(entry is not None and not entry.builtin)


def _details_text(entry: ModelEntry) -> str:
    lines = [entry.name or entry.id, f"id: {entry.id}", f"{entry.method} · {entry.task}",
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
