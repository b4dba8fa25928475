"""Style controls: a style image for models with an encoder, a seed for models with a style code,
and a strip of recent variations to go back to. Emits intents; the page applies them."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.widgets.files import PHOTO, open_file_name
from engine.api import ModelEntry
from engine.imageio import ImageFileError, read_rgb

MAX_SEED = 2**31 - 1
STRIP_SIZE = 8
THUMB = 72
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp)"
NO_ENCODER = "This model has no image encoder: it cannot take a style image."
NO_STYLE_CODE = "This model has no random style code: its look follows the labels alone."


def to_qimage(image: np.ndarray) -> QImage:
    """HxWx3 float [0, 1] -> an owned RGB888 QImage."""
    rgb = np.ascontiguousarray(np.clip(image * 255.0, 0, 255).astype(np.uint8))
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def thumbnail(image: np.ndarray, side: int = THUMB) -> QPixmap:
    return QPixmap.fromImage(to_qimage(image)).scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                                      Qt.TransformationMode.SmoothTransformation)


class StyleDrop(QLabel):
    """A thumbnail that takes dropped image files."""

    dropped = Signal(str)

    def __init__(self) -> None:
        super().__init__("Drop a style image here")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setMinimumSize(150, 110)
        self.setFrameShape(QLabel.Shape.StyledPanel)
        self.setAcceptDrops(True)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self.isEnabled() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.dropped.emit(paths[0])


class StylePanel(QWidget):
    style_changed = Signal(object)  # HxWx3 float32 image, or None to clear
    seed_changed = Signal(int)
    failed = Signal(str)  # an unreadable style image: one line for the status

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.style_image: np.ndarray | None = None
        self._model_id: str | None = None

        self.drop = StyleDrop()
        self.drop.dropped.connect(self.load_style)
        self.choose = QPushButton("Choose…")
        self.choose.clicked.connect(self._choose)
        self.clear = QPushButton("Clear")
        self.clear.clicked.connect(lambda: self.set_style(None, emit=True))
        self.style_reason = QLabel(wordWrap=True)
        self.style_reason.setProperty("role", "muted")
        buttons = QHBoxLayout()
        buttons.addWidget(self.choose)
        buttons.addWidget(self.clear)
        self.style_box = QGroupBox("Style image")
        box = QVBoxLayout(self.style_box)
        box.addWidget(self.drop)
        box.addLayout(buttons)
        box.addWidget(self.style_reason)

        self.seed = QSpinBox(minimum=0, maximum=MAX_SEED, keyboardTracking=False)
        self.seed.setToolTip("The random style code: the same seed reproduces the same look")
        self.seed.valueChanged.connect(self.seed_changed)
        self.randomize = QPushButton("Randomize")
        self.randomize.setToolTip("A new random seed, hence a new look")
        self.randomize.clicked.connect(lambda: self.seed.setValue(random.randint(0, MAX_SEED)))
        self.seed_reason = QLabel(wordWrap=True)
        self.seed_reason.setProperty("role", "muted")
        self.strip = QListWidget(viewMode=QListView.ViewMode.IconMode, flow=QListView.Flow.LeftToRight,
                                 wrapping=True, movement=QListView.Movement.Static, resizeMode=QListView.ResizeMode.Adjust)
        self.strip.setIconSize(QSize(THUMB, THUMB))
        self.strip.setGridSize(QSize(THUMB + 8, THUMB + 24))
        self.strip.setToolTip("Recent variations: click one to go back to its seed")
        self.strip.itemClicked.connect(lambda item: self.seed.setValue(int(item.data(Qt.ItemDataRole.UserRole))))
        seed_row = QHBoxLayout()
        seed_row.addWidget(QLabel("Seed"))
        seed_row.addWidget(self.seed, 1)
        self.seed_box = QGroupBox("Variations")
        box = QVBoxLayout(self.seed_box)
        box.addLayout(seed_row)
        box.addWidget(self.randomize)
        box.addWidget(self.seed_reason)
        box.addWidget(self.strip, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.style_box)
        layout.addWidget(self.seed_box)
        layout.addStretch()
        self._layout = layout
        self.set_model(None)

    def set_model(self, entry: ModelEntry | None) -> None:
        """Enable what the model can use; say why the rest is off."""
        vae = bool(entry and entry.capabilities.style_image)
        for widget in (self.drop, self.choose):
            widget.setEnabled(vae)
        self.clear.setEnabled(vae and self.style_image is not None)
        for widget in (self.seed, self.randomize):
            widget.setEnabled(vae)
        self.strip.setVisible(vae)
        self._layout.setStretch(1, int(vae))  # the strip takes the height; without it the box stays compact
        self._layout.setStretch(2, int(not vae))
        reason = "Choose a model first." if entry is None else ""
        self.style_reason.setText(reason or ("" if vae else NO_ENCODER))
        self.seed_reason.setText(reason or ("" if vae else NO_STYLE_CODE))
        self.style_reason.setVisible(not vae)
        self.seed_reason.setVisible(not vae)
        if (entry.id if entry else None) != self._model_id:  # variations of another model mean nothing here
            self.strip.clear()
        self._model_id = entry.id if entry else None

    def set_seed(self, seed: int) -> None:
        """Show `seed` without announcing it (the document already has it)."""
        self.seed.blockSignals(True)
        self.seed.setValue(seed)
        self.seed.blockSignals(False)

    def load_style(self, path: str) -> None:
        try:
            image = read_rgb(path)
        except ImageFileError as exc:
            self.failed.emit(f"Style image: {exc}")
            return
        self.set_style(image, emit=True, name=Path(path).name)

    def set_style(self, image: np.ndarray | None, *, emit: bool = False, name: str = "") -> None:
        self.style_image = image
        if image is None:
            self.drop.setPixmap(QPixmap())
            self.drop.setText("Drop a style image here")
        else:
            self.drop.setPixmap(thumbnail(image, 140))
            self.drop.setToolTip(name)
        self.clear.setEnabled(self.drop.isEnabled() and image is not None)
        if emit:
            self.style_changed.emit(image)

    def add_variation(self, seed: int, image: np.ndarray) -> None:
        """Put the look of `seed` first in the strip (once per seed, at most STRIP_SIZE)."""
        for row in range(self.strip.count()):
            if self.strip.item(row).data(Qt.ItemDataRole.UserRole) == seed:
                self.strip.takeItem(row)
                break
        item = QListWidgetItem(QIcon(thumbnail(image)), str(seed))
        item.setData(Qt.ItemDataRole.UserRole, seed)
        item.setToolTip(f"seed {seed}")
        self.strip.insertItem(0, item)
        while self.strip.count() > STRIP_SIZE:
            self.strip.takeItem(self.strip.count() - 1)

    def _choose(self) -> None:
        path = open_file_name(self, "Choose a style image", IMAGE_FILTER, PHOTO)
        if path:
            self.load_style(path)
