"""The Variations page's widgets: the grid of results (targets by seeds), the target list with its search and
favourites, the favourites strip, the pick (one result large, with its knobs) and the kept layers. Each shows
what it is given and emits intents; the page decides what they do. Targets are whatever the model's
capabilities.domains names (classes, domains, hierarchy nodes), so the widgets say "target" and nothing else."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage, QMouseEvent, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.variations.project import MAX_FEATHER, KeptLayer
from app.widgets.layer_actions import ID_ROLE, LayerListActions

THUMB = 88
LARGE = 240
STAR = "★"
TARGET_ROLE = Qt.ItemDataRole.UserRole


def pixmap(image: np.ndarray) -> QPixmap:
    """HxWx3 uint8 -> QPixmap (copied, so the array may go)."""
    rgb = np.ascontiguousarray(image, np.uint8)
    h, w = rgb.shape[:2]
    return QPixmap.fromImage(QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy())


class ResultGrid(QTableWidget):
    """Rows of targets by columns of seeds; a cell shows its result when it comes. Click: look at it large;
    Shift+click: blend the pick towards it."""

    picked = Signal(int, int)  # row, column
    blend_picked = Signal(int, int)

    def __init__(self) -> None:
        super().__init__(0, 0)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setShowGrid(False)
        for header, size in ((self.horizontalHeader(), THUMB + 6), (self.verticalHeader(), THUMB + 6)):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
            header.setDefaultSectionSize(size)
        self.verticalHeader().setMaximumWidth(100)
        self.verticalHeader().setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self._modifiers = Qt.KeyboardModifier.NoModifier
        self.cellClicked.connect(self._clicked)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._modifiers = event.modifiers()  # the click's own, whatever the keyboard says by the time it lands
        super().mousePressEvent(event)

    def set_shape(self, targets: Sequence[str], seeds: Sequence[int]) -> None:
        """Empty cells for these rows and columns (each waits for its result)."""
        self.clear()
        self.setRowCount(len(targets))
        self.setColumnCount(len(seeds))
        self.setVerticalHeaderLabels(list(targets))
        self.setHorizontalHeaderLabels([f"Variant {s}" for s in seeds])
        for row in range(len(targets)):
            self.verticalHeaderItem(row).setToolTip(targets[row])
            for col in range(len(seeds)):
                item = QTableWidgetItem("…")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                item.setToolTip(f"{targets[row]}, variant {seeds[col]}: on its way")
                self.setItem(row, col, item)

    def set_result(self, row: int, col: int, image: np.ndarray) -> None:
        item = self.item(row, col)
        if item is None:
            return
        item.setText("")
        item.setData(Qt.ItemDataRole.DecorationRole, pixmap(image).scaled(
            THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))
        item.setToolTip(item.toolTip().replace(": on its way", "") + "\nClick: look at it large; Shift+click: "
                                                                      "blend the large one towards it")

    def has_result(self, row: int, col: int) -> bool:
        item = self.item(row, col)
        return item is not None and item.data(Qt.ItemDataRole.DecorationRole) is not None

    def _clicked(self, row: int, col: int) -> None:
        if self._modifiers & Qt.KeyboardModifier.ShiftModifier:
            self.blend_picked.emit(row, col)
        else:
            self.picked.emit(row, col)


class TargetPanel(QGroupBox):
    """The model's targets: searchable by name; ticked ones are rows of the grid; ★ marks favourites."""

    shown_changed = Signal(tuple)  # target indices, in the list's order
    favourite_toggled = Signal(int)  # target index

    def __init__(self) -> None:
        super().__init__("Targets")
        self.search = QLineEdit(placeholderText="Find a target by name…", clearButtonEnabled=True)
        self.search.textChanged.connect(self._filter)
        self.list = QListWidget()
        self.list.setMinimumHeight(120)
        self.list.itemChanged.connect(self._ticked)
        self.star = QToolButton(text=f"{STAR} Favourite")
        self.star.setToolTip("Mark the selected target as a favourite (it joins the strip over the grid), or unmark it")
        self.star.clicked.connect(self._star)
        self.none = QToolButton(text="Show none")
        self.none.setToolTip("Untick every target (then tick the ones to compare)")
        self.none.clicked.connect(lambda: self.set_shown(()))
        buttons = QHBoxLayout()
        buttons.addWidget(self.star)
        buttons.addWidget(self.none)
        buttons.addStretch()
        column = QVBoxLayout(self)
        column.addWidget(self.search)
        column.addWidget(self.list, 1)
        column.addLayout(buttons)
        self._names: tuple[str, ...] = ()
        self._favourites: set[int] = set()

    def set_targets(self, names: Sequence[str], shown: Sequence[int], favourites: Sequence[int]) -> None:
        self._names, self._favourites = tuple(names), set(favourites)
        self.list.blockSignals(True)
        self.list.clear()
        for index, name in enumerate(names):
            item = QListWidgetItem()
            item.setData(TARGET_ROLE, index)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.set_shown(shown, emit=False)
        self._filter(self.search.text())

    def set_favourites(self, favourites: Sequence[int]) -> None:
        self._favourites = set(favourites)
        self._label_items()

    def shown(self) -> tuple[int, ...]:
        return tuple(self.list.item(i).data(TARGET_ROLE) for i in range(self.list.count())
                     if self.list.item(i).checkState() == Qt.CheckState.Checked)

    def set_shown(self, shown: Sequence[int], *, emit: bool = True) -> None:
        wanted = set(shown)
        self.list.blockSignals(True)
        for i in range(self.list.count()):
            item = self.list.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.data(TARGET_ROLE) in wanted else Qt.CheckState.Unchecked)
        self.list.blockSignals(False)
        self._label_items()
        if emit:
            self.shown_changed.emit(self.shown())

    def visible_targets(self) -> list[int]:
        """The targets the search leaves in view."""
        return [self.list.item(i).data(TARGET_ROLE) for i in range(self.list.count()) if not self.list.item(i).isHidden()]

    def _label_items(self) -> None:
        self.list.blockSignals(True)
        for i in range(self.list.count()):
            item = self.list.item(i)
            index = item.data(TARGET_ROLE)
            item.setText(f"{STAR} {self._names[index]}" if index in self._favourites else self._names[index])
        self.list.blockSignals(False)
        self.setTitle(f"Targets ({len(self.shown())} of {len(self._names)} in the grid)")

    def _filter(self, text: str) -> None:
        words = text.casefold().split()
        for i in range(self.list.count()):
            item = self.list.item(i)
            name = self._names[item.data(TARGET_ROLE)].casefold()
            item.setHidden(not all(word in name for word in words))

    def _ticked(self, _item: QListWidgetItem) -> None:
        self._label_items()
        self.shown_changed.emit(self.shown())

    def _star(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.favourite_toggled.emit(item.data(TARGET_ROLE))


class FavouritesStrip(QWidget):
    """The favourite targets as buttons over the grid: a click adds its row to the grid, or takes it away."""

    toggled = Signal(int)  # target index

    def __init__(self) -> None:
        super().__init__()
        self.buttons: dict[int, QToolButton] = {}
        self._row = QHBoxLayout()
        self._row.setContentsMargins(0, 0, 0, 0)
        holder = QWidget()
        holder.setLayout(self._row)
        scroll = QScrollArea(widgetResizable=True, frameShape=QScrollArea.Shape.NoFrame)
        scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(holder)
        scroll.setFixedHeight(34)
        self.empty = QLabel(f"No favourites yet: select a target in the list and press {STAR} Favourite")
        self.empty.setProperty("role", "muted")
        title = QLabel(f"{STAR}")
        title.setToolTip("Favourite targets: a click shows or hides its row")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(title)
        layout.addWidget(scroll, 1)
        self._row.addWidget(self.empty)
        self._row.addStretch()

    def set_favourites(self, favourites: Sequence[tuple[int, str]], shown: Sequence[int]) -> None:
        for button in self.buttons.values():
            button.deleteLater()
        self.buttons = {}
        for index, name in favourites:
            button = QToolButton(text=name, checkable=True)
            button.setChecked(index in shown)
            button.setToolTip(f"Show or hide the row of {name}")
            button.clicked.connect(lambda *_, i=index: self.toggled.emit(i))
            self._row.insertWidget(self._row.count() - 1, button)
            self.buttons[index] = button
        self.empty.setVisible(not favourites)


class PickPanel(QGroupBox):
    """One result large, in words, with its knobs; Keep pastes it into the photo, Export writes it alone."""

    knobs_changed = Signal()
    new_layout = Signal()
    new_details = Signal()
    keep_requested = Signal()
    export_requested = Signal()

    def __init__(self) -> None:
        super().__init__("Pick")
        self.view = QLabel("Click a result in the grid to look at it here", wordWrap=True,
                           alignment=Qt.AlignmentFlag.AlignCenter)
        self.view.setFixedSize(LARGE, LARGE)
        self.view.setProperty("role", "muted")
        self.title = QLabel(wordWrap=True)
        self.blend_target = QComboBox()
        self.blend_target.setToolTip("The target to blend towards (Shift+click a result picks one)")
        self.blend_target.setMinimumContentsLength(10)
        self.blend_target.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.mix = self._slider("How far towards the other target: 0 % this one, 100 % the other")
        self.blend_seed = QSpinBox(maximum=2**31 - 1)
        self.blend_seed.setMinimumWidth(90)
        self.blend_seed.setToolTip("The variant (seed) to blend towards")
        self.seed_mix = self._slider("How far towards the other variant: 0 % this one, 100 % the other")
        self.new_layout_button = QPushButton("New layout")
        self.new_layout_button.setToolTip("Redraw the coarse arrangement, keeping the fine details")
        self.new_layout_button.clicked.connect(self.new_layout)
        self.new_details_button = QPushButton("New details")
        self.new_details_button.setToolTip("Redraw the fine details, keeping the arrangement")
        self.new_details_button.clicked.connect(self.new_details)
        self.keep = QPushButton("Keep as Layer")
        self.keep.setProperty("role", "primary")
        self.keep.setToolTip("Paste it back into its square of the photo, with a feathered edge (K)")
        self.keep.clicked.connect(self.keep_requested)
        self.export = QPushButton("Export…")
        self.export.setToolTip("Write this result alone as an image file")
        self.export.clicked.connect(self.export_requested)
        for box in (self.blend_target, self.blend_seed):
            (box.currentIndexChanged if box is self.blend_target else box.valueChanged).connect(self._changed)

        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Blend towards", self.blend_target)
        form.addRow("", self.mix)
        form.addRow("Blend variant", self.blend_seed)
        form.addRow("", self.seed_mix)
        redraw = QHBoxLayout()
        redraw.addWidget(self.new_layout_button)
        redraw.addWidget(self.new_details_button)
        keep = QHBoxLayout()
        keep.addWidget(self.keep)
        keep.addWidget(self.export)
        column = QVBoxLayout(self)
        column.addWidget(self.view, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addWidget(self.title)
        column.addLayout(form)
        column.addLayout(redraw)
        column.addLayout(keep)
        self._quiet = False
        self.set_enabled(False)

    def _slider(self, tip: str) -> QSlider:
        slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100)
        slider.setToolTip(tip)
        slider.valueChanged.connect(self._changed)
        return slider

    def _changed(self, *_args) -> None:
        if not self._quiet:
            self.knobs_changed.emit()

    def set_targets(self, names: Sequence[str]) -> None:
        self._quiet = True
        self.blend_target.clear()
        self.blend_target.addItems(list(names))
        self._quiet = False

    def set_enabled(self, enabled: bool) -> None:
        for widget in (self.blend_target, self.mix, self.blend_seed, self.seed_mix, self.new_layout_button,
                       self.new_details_button, self.keep, self.export):
            widget.setEnabled(enabled)

    def show_knobs(self, target_b: int, mix: float, seed_b: int, seed_mix: float) -> None:
        """Show these values without asking for a result."""
        self._quiet = True
        self.blend_target.setCurrentIndex(target_b)
        self.mix.setValue(round(mix * 100))
        self.blend_seed.setValue(seed_b)
        self.seed_mix.setValue(round(seed_mix * 100))
        self._quiet = False

    def show_result(self, image: np.ndarray | None, words: str) -> None:
        if image is None:
            self.view.setPixmap(QPixmap())
            self.view.setText("Making it…")
        else:
            self.view.setPixmap(pixmap(image).scaled(LARGE, LARGE, Qt.AspectRatioMode.KeepAspectRatio,
                                                     Qt.TransformationMode.SmoothTransformation))
        self.title.setText(words)


class KeptPanel(LayerListActions, QGroupBox):
    """The kept results, top first: show or hide, select, move, remove; the selected one's feathered edge."""

    feather_changed = Signal(str, int)  # layer id, px

    def __init__(self) -> None:
        QGroupBox.__init__(self, "Kept layers")
        self.list = QListWidget()
        self.list.setMinimumHeight(80)
        self.up, self.down = QToolButton(text="▲"), QToolButton(text="▼")
        self.up.setToolTip("Move the selected layer up")
        self.down.setToolTip("Move the selected layer down")
        self.delete = QToolButton(text="Remove")
        self.delete.setToolTip("Remove the selected layer from the photo (Delete)")
        self.up.clicked.connect(lambda: self._move(1))
        self.down.clicked.connect(lambda: self._move(-1))
        self.delete.clicked.connect(self._delete)
        self.feather = QSpinBox(minimum=0, maximum=MAX_FEATHER, suffix=" px")
        self.feather.setToolTip("How wide the selected layer's edge fades into the photo")
        self.feather.editingFinished.connect(self._feather)
        self.feather.valueChanged.connect(lambda _: not self.feather.hasFocus() and self._feather())
        buttons = QHBoxLayout()
        for button in (self.up, self.down, self.delete):
            buttons.addWidget(button)
        buttons.addStretch()
        buttons.addWidget(QLabel("Soft edge"))
        buttons.addWidget(self.feather)
        column = QVBoxLayout(self)
        column.addWidget(self.list, 1)
        column.addLayout(buttons)
        self._follow_changes()
        self._recipes: dict[str, str] = {}

    def refresh(self) -> None:
        self._fill_list(lambda layer: layer.name)
        for i in range(self.list.count()):
            item = self.list.item(i)
            item.setToolTip(self._recipes.get(item.data(ID_ROLE), ""))
        layer = self._project.selected if self._project else None
        self.feather.blockSignals(True)
        self.feather.setValue(layer.feather if layer else 0)
        self.feather.blockSignals(False)
        self.feather.setEnabled(layer is not None)

    def set_descriptions(self, recipes: dict[str, str]) -> None:
        self._recipes = dict(recipes)

    def _feather(self) -> None:
        layer: KeptLayer | None = self._project.selected if self._project else None
        if layer is not None and layer.feather != self.feather.value():
            self.feather_changed.emit(layer.id, self.feather.value())
