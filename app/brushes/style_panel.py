"""The selected style transfer layer's style (HierarchyFlow): a shelf of style images to pick from (the built-in
ones, those the user added, those the project holds), Add/drop to bring a new one, and how much of the style the
photo takes: the style strength presets Subtle / Balanced / Full and a slider from "the photo unchanged" (0 %) to
"the model's full output" (100 %), both increasing the same way. Every change goes through the BrushProject (hence its undo history); the
slider makes one undo step per drag and the page asks for a new stylisation when it is released.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage, QPixmap
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

from app.brushes.project import BrushProject, StyleImage, make_style
from app.history import ProjectChange
from app.widgets.files import PHOTO, PHOTO_FILTER, FileDrop, open_file_names
from engine.api import STYLE_PRESETS
from engine.errors import error_message
from engine.imageio import ImageFileError, read_rgb, write_rgb
from engine.storage import RESOURCES, user_data_dir

BUILTIN_STYLES = RESOURCES / "styles"
USER_STYLES = "styles"  # under the user's data folder: styles added from files stay on the shelf
MIN_STYLE_SIDE = 8  # the models' style encoders need this much
STEPS = 100
THUMB = 56
KEY_ROLE = Qt.ItemDataRole.UserRole
PRESET_TITLES = {"subtle": "Subtle", "balanced": "Balanced", "full": "Full"}
PRESET_TIPS = {"subtle": "A light touch of the style; the photo stays close to itself",
               "balanced": "The style clearly, the photo's content intact",
               "full": "The model's full output (the official result)"}


@dataclass(frozen=True, eq=False)
class ShelfStyle:
    style: StyleImage
    source: str  # "built-in", "added" or "project"


def read_style(path: str | Path) -> StyleImage:
    """A style image from a file (any mode: alpha over white, grey expanded); ImageFileError if unusable."""
    path = Path(path)
    pixels = np.clip(read_rgb(path) * 255 + 0.5, 0, 255).astype(np.uint8)
    h, w = pixels.shape[:2]
    if min(h, w) < MIN_STYLE_SIDE:
        raise ImageFileError(f"{path.name} is {w}x{h}: style images need at least {MIN_STYLE_SIDE} px a side")
    return make_style(path.stem.replace("_", " ").capitalize(), pixels)


def shelf_styles(user_folder: Path | None = None) -> list[ShelfStyle]:
    """The built-in styles, then those the user added (unreadable files are skipped: the shelf is a convenience)."""
    found = []
    for folder, source in ((BUILTIN_STYLES, "built-in"), (user_folder or user_data_dir() / USER_STYLES, "added")):
        for path in sorted(folder.glob("*.*")) if folder.is_dir() else ():
            try:
                found.append(ShelfStyle(read_style(path), source))
            except ImageFileError:
                continue
    return found


def thumbnail(pixels: np.ndarray) -> QPixmap:
    h, w = pixels.shape[:2]
    image = QImage(np.ascontiguousarray(pixels).data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image).scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatioByExpanding,
                                           Qt.TransformationMode.SmoothTransformation)


class StylePanel(QGroupBox):
    failed = Signal(str)  # a style file could not be used: one line for the user

    def __init__(self, user_folder: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__("Style", parent)
        self.user_folder = user_folder or user_data_dir() / USER_STYLES
        self._project: BrushProject | None = None
        self._unsubscribe = None
        self._shelf = shelf_styles(self.user_folder)

        self.shelf = QListWidget(viewMode=QListView.ViewMode.IconMode, movement=QListView.Movement.Static,
                                 resizeMode=QListView.ResizeMode.Adjust, wrapping=True)
        self.shelf.setIconSize(QSize(THUMB, THUMB))
        self.shelf.setGridSize(QSize(THUMB + 12, THUMB + 12))
        self.shelf.setFixedHeight(2 * (THUMB + 12) + 8)  # two rows; more scroll
        self.shelf.setToolTip("Click a style to apply it to the layer; drop image files on this panel to add styles")
        self.shelf.itemClicked.connect(self._picked)
        self.add_button = QPushButton("Add Style Image…")
        self.add_button.setToolTip("Choose an image whose look the layer takes (it stays on the shelf)")
        self.add_button.clicked.connect(self.choose_style)
        self.drops = FileDrop(self)
        self.drops.install(self, self.shelf.viewport())  # drops land on a list's viewport
        self.drops.dropped.connect(lambda paths, _mods: self.add_style_files(paths))

        self.presets: dict[str, QPushButton] = {}
        preset_row = QHBoxLayout()
        preset_row.addWidget(QLabel("Style strength"))
        for name, value in STYLE_PRESETS.items():
            button = QPushButton(PRESET_TITLES[name])
            button.setCheckable(True)
            button.setToolTip(f"{PRESET_TIPS[name]} (style strength {round(value * 100)} %)")
            button.clicked.connect(lambda _=False, v=value: self.set_strength(v))
            preset_row.addWidget(button, 1)
            self.presets[name] = button
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, STEPS)
        self.slider.setPageStep(5)
        self.slider.setToolTip("0 %: the photo unchanged … 100 %: the model's full output. Between, the engine "
                               "moves the style code and the flow's statistics from the photo's own towards the "
                               "style's (an I2I Studio extension; the official model has no such knob)")
        self.slider.valueChanged.connect(self._slider_moved)
        self.slider.sliderReleased.connect(lambda: self.set_strength(self.slider.value() / STEPS))
        self.readout = QLabel()
        self.readout.setMinimumWidth(self.readout.fontMetrics().horizontalAdvance("100%") + 6)
        self.readout.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        slider_row = QHBoxLayout()
        slider_row.addWidget(QLabel("Strength"))
        slider_row.addWidget(self.slider, 1)
        slider_row.addWidget(self.readout)

        layout = QVBoxLayout(self)
        layout.addWidget(self.shelf)
        layout.addWidget(self.add_button)
        layout.addLayout(preset_row)
        layout.addLayout(slider_row)
        self.set_project(None)

    # --- binding -----------------------------------------------------------------------------------------

    def set_project(self, project: BrushProject | None) -> None:
        if self._unsubscribe:
            self._unsubscribe()
        self._project = project
        self._unsubscribe = project.subscribe(self._changed) if project else None
        self.refresh()

    def _changed(self, change: ProjectChange) -> None:
        if change.what in ("selection", "layers"):
            self.refresh()

    def entries(self) -> list[ShelfStyle]:
        """The shelf: built-in and added styles, then the project's own (e.g. from a reopened file)."""
        known = {entry.style.key for entry in self._shelf}
        own = [ShelfStyle(style, "project") for key, style in (self._project.styles.items() if self._project else ())
               if key not in known]
        return self._shelf + own

    def refresh(self) -> None:
        project = self._project
        layer = project.selected if project else None
        entries = self.entries()
        self.shelf.blockSignals(True)
        if [self.shelf.item(i).data(KEY_ROLE) for i in range(self.shelf.count())] != [e.style.key for e in entries]:
            self.shelf.clear()
            for entry in entries:
                item = QListWidgetItem(thumbnail(entry.style.pixels), "")
                item.setData(KEY_ROLE, entry.style.key)
                item.setToolTip(f"{entry.style.name} ({entry.source})")
                self.shelf.addItem(item)
        current = next((i for i in range(self.shelf.count())
                        if layer is not None and self.shelf.item(i).data(KEY_ROLE) == layer.style), None)
        self.shelf.setCurrentRow(-1 if current is None else current)
        self.shelf.blockSignals(False)
        strength = layer.strength if layer else 1.0
        if not self.slider.isSliderDown():
            self.slider.blockSignals(True)
            self.slider.setValue(round(strength * STEPS))
            self.slider.blockSignals(False)
        self.readout.setText(f"{self.slider.value()}%")
        for name, button in self.presets.items():
            button.setChecked(abs(STYLE_PRESETS[name] - strength) < 0.5 / STEPS)

    # --- user actions ------------------------------------------------------------------------------------

    def choose_style(self) -> None:
        paths = open_file_names(self, "Add Style Images", PHOTO_FILTER, PHOTO)
        if paths:
            self.add_style_files(paths)

    def add_style_files(self, paths: list[str]) -> None:
        """Put these images on the shelf (kept in the user's styles folder) and apply the last to the layer."""
        added = None
        for path in paths:
            try:
                style = read_style(path)
            except ImageFileError as exc:
                self.failed.emit(str(exc))
                continue
            if all(entry.style.key != style.key for entry in self._shelf):
                self._keep(style)
            added = style
        if added is not None:
            self._apply(added)
        self.refresh()

    def set_strength(self, strength: float) -> None:
        project = self._project
        if project is not None and project.selected is not None:
            project.set_strength(project.selected.id, strength)
        self.refresh()

    def _keep(self, style: StyleImage) -> None:
        """On the shelf now and, as a PNG in the user's styles folder, at the next start."""
        self._shelf.append(ShelfStyle(style, "added"))
        name = "".join(c if c.isalnum() or c in " -_" else "_" for c in style.name)[:60] or "style"
        try:
            self.user_folder.mkdir(parents=True, exist_ok=True)
            write_rgb(self.user_folder / f"{name}-{style.key[:8]}.png", style.pixels.astype(np.float32) / 255.0)
        except (OSError, ValueError) as exc:
            self.failed.emit(f"the style stays on the shelf for this session only: {error_message(exc)}")

    def _picked(self, item: QListWidgetItem) -> None:
        entry = next((e for e in self.entries() if e.style.key == item.data(KEY_ROLE)), None)
        if entry is not None:
            self._apply(entry.style)

    def _apply(self, style: StyleImage) -> None:
        project = self._project
        if project is None or project.selected is None:
            return
        kept = project.add_style(style.name, style.pixels)
        project.set_style(project.selected.id, kept.key)

    def _slider_moved(self, value: int) -> None:
        self.readout.setText(f"{value}%")
        if not self.slider.isSliderDown():  # keyboard or a click on the groove: a final value at once
            self.set_strength(value / STEPS)
