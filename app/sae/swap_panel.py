"""Texture swap controls: a shelf of reference photos (remembered between sessions) and the blend slider.
Emits intents; the page embeds the chosen reference and records the swap in the project."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.sae.photos import THUMB_SIDE, file_thumbnail
from app.widgets.files import PHOTO, PHOTO_FILTER, FileDrop, open_file_names
from engine.imageio import ImageFileError

SHELF_KEY = "swap/reference_shelf"
SHELF_LIMIT = 24
ICON = 64
BLEND_STEPS = 100
PATH_ROLE = Qt.ItemDataRole.UserRole


def pixmap(image: np.ndarray) -> QPixmap:
    """hxwx3 uint8 -> QPixmap (copied, so the array may go)."""
    rgb = np.ascontiguousarray(image, np.uint8)
    h, w = rgb.shape[:2]
    return QPixmap.fromImage(QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy())


class ReferenceShelf(QGroupBox):
    """Thumbnails of reference photos; clicking one asks for its texture. The list is kept in QSettings."""

    chosen = Signal(str)  # a reference file to swap to
    failed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("References", parent)
        self.list = QListWidget(viewMode=QListView.ViewMode.IconMode, flow=QListView.Flow.LeftToRight,
                                wrapping=True, movement=QListView.Movement.Static,
                                resizeMode=QListView.ResizeMode.Adjust)
        self.list.setIconSize(QSize(ICON, ICON))
        self.list.setGridSize(QSize(ICON + 10, ICON + 10))
        self.list.setMinimumHeight(ICON + 24)
        self.list.setToolTip("Click a photo to give yours its texture; drop photos here to keep them on the shelf")
        self.list.itemClicked.connect(lambda item: self.chosen.emit(item.data(PATH_ROLE)))
        self.list.itemSelectionChanged.connect(self._sync_buttons)
        add = QPushButton("Add…")
        add.setToolTip("Put reference photos on the shelf")
        add.clicked.connect(self._choose)
        self.remove = QPushButton("Remove")
        self.remove.setToolTip("Take the selected photo off the shelf (the file stays)")
        self.remove.clicked.connect(self.remove_selected)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(self.remove)
        buttons.addStretch()
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self.drops = FileDrop(self)
        self.drops.install(self, self.list.viewport())
        self.drops.dropped.connect(lambda paths, _mods: self.add_paths(paths))
        self._load()
        self._sync_buttons()

    def paths(self) -> list[str]:
        return [self.list.item(i).data(PATH_ROLE) for i in range(self.list.count())]

    def add_paths(self, paths: list[str]) -> list[str]:
        """Put readable photos first on the shelf (once each); returns those added. Unreadable files are
        reported, one line for all."""
        added, bad = [], []
        for path in paths:
            path = str(Path(path).resolve())
            if path in self.paths():
                added.append(path)
                continue
            try:
                icon = QIcon(pixmap(file_thumbnail(path, THUMB_SIDE)))
            except (ImageFileError, OSError, ValueError) as exc:
                bad.append(str(exc))
                continue
            item = QListWidgetItem(icon, "")
            item.setData(PATH_ROLE, path)
            item.setToolTip(path)
            self.list.insertItem(0, item)
            added.append(path)
        while self.list.count() > SHELF_LIMIT:
            self.list.takeItem(self.list.count() - 1)
        if bad:
            self.failed.emit("Not added to the shelf: " + "; ".join(bad))
        self._save()
        return added

    def remove_selected(self) -> None:
        for item in self.list.selectedItems():
            self.list.takeItem(self.list.row(item))
        self._save()

    def _choose(self) -> None:
        paths = open_file_names(self, "Add reference photos", PHOTO_FILTER, PHOTO)
        if paths:
            self.add_paths(paths)

    def _load(self) -> None:
        stored = QSettings().value(SHELF_KEY, [], list) or []
        for path in reversed([p for p in stored if isinstance(p, str) and Path(p).is_file()]):
            try:
                icon = QIcon(pixmap(file_thumbnail(path, THUMB_SIDE)))
            except (ImageFileError, OSError, ValueError):
                continue  # changed since: it simply leaves the shelf
            item = QListWidgetItem(icon, "")
            item.setData(PATH_ROLE, path)
            item.setToolTip(path)
            self.list.insertItem(0, item)

    def _save(self) -> None:
        QSettings().setValue(SHELF_KEY, self.paths())
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        self.remove.setEnabled(bool(self.list.selectedItems()))


class BlendControl(QWidget):
    """The texture blend of the current swap layer: 0 keeps the photo's texture, 1 takes the reference's."""

    blend_changed = Signal(float, bool)  # alpha, final

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, BLEND_STEPS)
        self.slider.setPageStep(10)
        self.slider.setToolTip("Texture blend: 0 keeps the photo's own texture, 1 is the reference's")
        self.slider.valueChanged.connect(self._moved)
        self.slider.sliderReleased.connect(lambda: self.blend_changed.emit(self.value(), True))
        self.readout = QLabel()
        self.readout.setMinimumWidth(self.readout.fontMetrics().horizontalAdvance("100%") + 6)
        self.readout.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.reference = QLabel()
        self.reference.setFixedSize(40, 40)
        self.reference.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.reference.setFrameShape(QLabel.Shape.StyledPanel)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.reference)
        row.addWidget(QLabel("Blend"))
        row.addWidget(self.slider, 1)
        row.addWidget(self.readout)
        self.show_layer(None, None)

    def value(self) -> float:
        return self.slider.value() / BLEND_STEPS

    def show_layer(self, alpha: float | None, thumbnail: np.ndarray | None) -> None:
        """The current swap layer's blend and reference (None: there is none; the slider is off)."""
        self.slider.blockSignals(True)
        self.slider.setValue(round((alpha if alpha is not None else 1.0) * BLEND_STEPS))
        self.slider.blockSignals(False)
        self.slider.setEnabled(alpha is not None)
        self.readout.setText(f"{self.slider.value()}%")
        if thumbnail is None:
            self.reference.setPixmap(QPixmap())
            self.reference.setToolTip("No reference yet: drop a photo on the image or click one on the shelf")
        else:
            self.reference.setPixmap(pixmap(thumbnail).scaled(38, 38, Qt.AspectRatioMode.KeepAspectRatio,
                                                              Qt.TransformationMode.SmoothTransformation))
            self.reference.setToolTip("The texture reference of the current swap layer")

    def _moved(self, value: int) -> None:
        self.readout.setText(f"{value}%")
        self.blend_changed.emit(self.value(), not self.slider.isSliderDown())


class SwapPanel(QWidget):
    """The shelf above the blend control."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.shelf = ReferenceShelf()
        self.blend = BlendControl()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.shelf, 1)
        layout.addWidget(self.blend)
