"""The classes of the current model: swatch, id and name, grouped as the dataset groups them, searchable.

Click a class to paint with it; right-click it (or press "Set as eraser") to make it the class the eraser
leaves behind. The panel only talks to ToolSettings; it never touches the document.
"""

from __future__ import annotations

import colorsys

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.tools.settings import ToolSettings
from engine import palettes
from engine.api import ModelEntry
from engine.palettes import Palette, PaletteClass

ID_ROLE = Qt.ItemDataRole.UserRole
SWATCH = 14


def model_palette(entry: ModelEntry) -> Palette:
    """The model's classes with the colours and groups of its dataset palette; classes that palette
    lacks (or models without one) get distinct generated colours."""
    named = palettes.load(entry.palette) if entry.palette else None
    known = {c.id: c for c in named.classes} if named else {}
    used = {c.color for c in known.values()}
    classes = []
    for i, name in entry.classes or tuple((c.id, c.name) for c in known.values()):
        if i in known:
            classes.append(PaletteClass(i, name, known[i].color, known[i].group))
            continue
        color = _generated_color(i, used)
        used.add(color)
        classes.append(PaletteClass(i, name, color, ""))
    return Palette(name=named.name if named else entry.id, title=named.title if named else entry.name or entry.id,
                   classes=tuple(classes), dontcare=named.dontcare if named else None,
                   notes=named.notes if named else "", source=named.source if named else "")


def missing_classes_text(labels: np.ndarray, entry: ModelEntry, names: Palette) -> str:
    """One line on the label ids in `labels` that `entry` has no class for ("" when there are none),
    named after `names`, the palette they were painted with."""
    counts = np.bincount(labels.ravel(), minlength=256)
    valid = {i for i, _ in entry.classes} | ({255} if entry.capabilities.dontcare_label else set())
    missing = [i for i in np.flatnonzero(counts).tolist() if i not in valid]
    if not missing:
        return ""

    def name(i: int) -> str:
        try:
            return f"{i} {names.by_id(i).name}"
        except KeyError:
            return str(i)

    listed = ", ".join(name(i) for i in missing[:6]) + (" …" if len(missing) > 6 else "")
    return (f"{entry.name or entry.id} has no class for {len(missing)} label{'s' if len(missing) > 1 else ''} "
            f"in this map: {listed} ({int(counts[missing].sum()):,} px). They are kept as they are, not "
            "remapped: repaint them or pick another model.")


def _generated_color(i: int, used: set[tuple[int, int, int]]) -> tuple[int, int, int]:
    # golden-ratio hues keep neighbouring ids apart; step on until the colour is free (colours are ids)
    k = i
    while True:
        r, g, b = colorsys.hsv_to_rgb((k * 0.618034) % 1.0, 0.55 + 0.3 * (k % 2), 0.65 + 0.3 * ((k // 2) % 2))
        color = (round(r * 255), round(g * 255), round(b * 255))
        if color not in used:
            return color
        k += 257


def swatch(color: tuple[int, int, int], size: int = SWATCH) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(*color))
    return QIcon(pixmap)


class PalettePanel(QWidget):
    def __init__(self, settings: ToolSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._palette: Palette | None = None
        self._items: dict[int, QTreeWidgetItem] = {}

        self.current_label = QLabel()
        self.background_label = QLabel()
        self.background_label.setProperty("role", "muted")
        self.search = QLineEdit(placeholderText="Search classes…", clearButtonEnabled=True)
        self.search.textChanged.connect(self._filter)
        self.tree = QTreeWidget(headerHidden=True, rootIsDecorated=True, indentation=12)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.tree.itemClicked.connect(self._clicked)
        self.set_background = QPushButton("Set as eraser")
        self.set_background.setToolTip("Make the selected class the one the eraser paints (or right-click a class)")
        self.set_background.clicked.connect(self._background_from_selection)

        bottom = QHBoxLayout()
        bottom.addWidget(self.background_label, 1)
        bottom.addWidget(self.set_background)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.current_label)
        layout.addWidget(self.search)
        layout.addWidget(self.tree, 1)
        layout.addLayout(bottom)
        settings.changed.connect(self._sync)

    @property
    def palette(self) -> Palette | None:
        return self._palette

    def set_palette(self, palette: Palette | None) -> None:
        self._palette = palette
        self.tree.clear()
        self._items.clear()
        if palette is None:
            self._sync()
            return
        groups: dict[str, QTreeWidgetItem] = {}
        grouped = len({c.group for c in palette.classes}) > 1
        for c in palette.classes:
            item = QTreeWidgetItem([f"{c.id:>3}  {c.name}"])
            item.setIcon(0, swatch(c.color))
            item.setData(0, ID_ROLE, c.id)
            item.setToolTip(0, f"{c.name} (id {c.id}, {c.hex})")
            if grouped:
                parent = groups.get(c.group)
                if parent is None:
                    parent = groups[c.group] = QTreeWidgetItem([c.group or "other"])
                    parent.setFlags(Qt.ItemFlag.ItemIsEnabled)
                    self.tree.addTopLevelItem(parent)
                parent.addChild(item)
            else:
                self.tree.addTopLevelItem(item)
            self._items[c.id] = item
        self.tree.setRootIsDecorated(grouped)
        self.tree.expandAll()
        self._filter(self.search.text())
        self._sync()

    def class_text(self, i: int) -> str:
        """'12 flower', or a note that the model has no such class."""
        if self._palette is not None:
            try:
                return f"{i} {self._palette.by_id(i).name}"
            except KeyError:
                pass
        return f"{i} (not a class of this model)"

    def _filter(self, text: str) -> None:
        needle = text.strip().lower()
        for i, item in self._items.items():
            item.setHidden(bool(needle) and needle not in item.text(0).lower() and needle != str(i))
        for row in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(row)
            if top.childCount():
                top.setHidden(all(top.child(k).isHidden() for k in range(top.childCount())))

    def _clicked(self, item: QTreeWidgetItem) -> None:
        if (i := item.data(0, ID_ROLE)) is not None:
            self._settings.set_current_class(int(i))

    def _context_menu(self, pos) -> None:
        item = self.tree.itemAt(pos)
        if item is None or (i := item.data(0, ID_ROLE)) is None:
            return
        menu = QMenu(self)
        menu.addAction("Paint with this class", lambda: self._settings.set_current_class(int(i)))
        menu.addAction("Set as eraser background", lambda: self._settings.set_background_class(int(i)))
        menu.exec(self.tree.viewport().mapToGlobal(pos))

    def _background_from_selection(self) -> None:
        item = self.tree.currentItem()
        if item is not None and (i := item.data(0, ID_ROLE)) is not None:
            self._settings.set_background_class(int(i))

    def _sync(self) -> None:
        current, background = self._settings.current_class, self._settings.background_class
        self.current_label.setText(f"Paint: {self.class_text(current)}")
        self.background_label.setText(f"Eraser: {self.class_text(background)}")
        item = self._items.get(current)
        if item is not None and self.tree.currentItem() is not item:
            self.tree.setCurrentItem(item)
