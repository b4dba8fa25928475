"""A small palette table editor: ids, names, colours and groups, saved as a copy in the user's data
folder (<data>/palettes/NAME.json, the schema of resources/palettes) so built-in palettes never change."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QColorDialog,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.engine_bridge import EngineBridge
from engine import palettes
from engine.errors import error_message
from engine.storage import atomic_write_bytes

COLUMNS = ("Id", "Name", "Colour", "Group")
ID, NAME, COLOUR, GROUP = range(len(COLUMNS))


def user_palette_dir() -> Path:
    return EngineBridge.data_dir() / "palettes"


def user_palettes() -> list[Path]:
    folder = user_palette_dir()
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


class PaletteEditor(QDialog):
    """Edits a copy of `palette`; after exec() == Accepted, `saved_path` is the JSON file written."""

    def __init__(self, palette: palettes.Palette, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Edit palette: {palette.title}")
        self.resize(560, 560)
        self.saved_path: Path | None = None
        self._source = palette

        self.name = QLineEdit(palette.name if palette.name.endswith("-custom") else f"{palette.name}-custom")
        self.title = QLineEdit(palette.title if palette.name.endswith("-custom") else f"{palette.title} (custom)")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.cellDoubleClicked.connect(self._pick_colour)
        for c in palette.classes:
            self._append(c.id, c.name, c.hex, c.group)
        self.table.resizeColumnsToContents()
        self.table.setColumnWidth(NAME, max(self.table.columnWidth(NAME), 160))

        add = QPushButton("Add class")
        add.clicked.connect(self._add_class)
        remove = QPushButton("Remove selected")
        remove.clicked.connect(self._remove_selected)
        hint = QLabel("Double-click a colour to pick it.")
        hint.setProperty("role", "muted")
        self.error = QLabel()
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        save = QPushButton("Save copy")
        save.setProperty("role", "primary")
        save.clicked.connect(self.save)
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.reject)
        for button in (add, remove, save, cancel):
            button.setAutoDefault(False)  # Enter ends a cell edit, it never saves or closes

        form = QFormLayout()
        form.addRow("File name", self.name)
        form.addRow("Title", self.title)
        edits = QHBoxLayout()
        for widget in (add, remove, hint):
            edits.addWidget(widget)
        edits.addStretch()
        buttons = QHBoxLayout()
        buttons.addWidget(self.error, 1)
        buttons.addWidget(cancel)
        buttons.addWidget(save)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addLayout(edits)
        layout.addLayout(buttons)

    def save(self) -> None:
        """Validate with the engine's palette parser, then write <data>/palettes/NAME.json."""
        name = self.name.text().strip()
        if not re.fullmatch(r"[\w.-]+", name):
            self.error.setText("File name: letters, digits, '-', '_' and '.' only.")
            return
        try:
            data = self._palette_json(name)
        except ValueError as exc:
            self.error.setText(str(exc))
            return
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        with tempfile.TemporaryDirectory() as scratch:  # the same checks the trainer and painter apply
            probe = Path(scratch) / f"{name}.json"
            try:
                probe.write_text(text, encoding="utf-8")
                palettes.load(probe)
            except ValueError as exc:
                self.error.setText(str(exc).replace(str(probe), "palette"))
                return
            except OSError as exc:
                self.error.setText(f"Cannot check the palette: {error_message(exc)}")
                return
        path = user_palette_dir() / f"{name}.json"
        try:
            atomic_write_bytes(path, text.encode("utf-8"))
        except OSError as exc:
            self.error.setText(f"Cannot save the palette: {error_message(exc)}")
            return
        self.saved_path = path
        self.accept()

    def _palette_json(self, name: str) -> dict:
        classes = []
        for row in range(self.table.rowCount()):
            text = [(self.table.item(row, col) or QTableWidgetItem()).text().strip() for col in range(len(COLUMNS))]
            if not text[ID].isdigit():
                raise ValueError(f"Row {row + 1}: the id must be a whole number 0..255.")
            classes.append({"id": int(text[ID]), "name": text[NAME], "color": text[COLOUR], "group": text[GROUP]})
        return {"name": name, "title": self.title.text().strip() or name,
                "source": f"edited copy of {self._source.name}", "notes": self._source.notes,
                "dontcare": self._source.dontcare, "classes": classes}

    def _append(self, id_: int, name: str, colour: str, group: str) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        for col, text in enumerate((str(id_), name, colour, group)):
            item = QTableWidgetItem(text)
            if col == COLOUR:  # picked with the colour dialog, not typed
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.table.setItem(row, col, item)
        self._show_swatch(row)

    def _show_swatch(self, row: int) -> None:
        item = self.table.item(row, COLOUR)
        colour = QColor(item.text())
        if colour.isValid():
            item.setBackground(colour)
            item.setForeground(QColor("black" if colour.lightness() > 128 else "white"))

    def _pick_colour(self, row: int, column: int) -> None:
        if column != COLOUR:
            return
        item = self.table.item(row, COLOUR)
        colour = QColorDialog.getColor(QColor(item.text()), self, "Class colour")
        if colour.isValid():
            item.setText(colour.name())
            self._show_swatch(row)

    def _add_class(self) -> None:
        used = {int(t) for r in range(self.table.rowCount())
                if (t := (self.table.item(r, ID) or QTableWidgetItem()).text()).isdigit()}
        new_id = next((i for i in range(256) if i not in used and i != self._source.dontcare), None)
        if new_id is None:
            self.error.setText("All 256 label values are in use.")
            return
        self._append(new_id, f"class {new_id}", QColor.fromHsv(new_id * 47 % 360, 160, 220).name(), "")
        self.table.scrollToBottom()
        self.table.editItem(self.table.item(self.table.rowCount() - 1, NAME))

    def _remove_selected(self) -> None:
        for row in sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True):
            self.table.removeRow(row)
