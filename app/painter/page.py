"""The painter: paint a label map on the left, see the model's photo on the right.

The page wires parts that each do one thing: the canvas and tools edit the document, the render
scheduler keeps its photo layer rendered, the palette and style panels emit intents, PainterFiles
owns the File and Edit actions. The page itself only decides which model, palette and document
are current.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.canvas import CanvasView
from app.canvas.toolbar import add_zoom_controls
from app.catalog_model import CatalogModel
from app.document import Document, Layer
from app.engine_bridge import EngineBridge
from app.painter.files import PainterFiles
from app.painter.palette_panel import PalettePanel, missing_classes_text, model_palette
from app.painter.render import LABELS, PHOTO, STYLE, RenderScheduler, resize_rgb
from app.painter.style_panel import StylePanel
from app.tools import LABEL_TOOLS, Tool, ToolSettings
from app.tools.settings import MAX_BRUSH, MIN_BRUSH
from engine import palettes
from engine.api import ModelEntry, Task
from engine.imageio import read_label_map
from engine.palettes import Palette

STARTER_SCENE = Path(__file__).resolve().parents[2] / "resources" / "scenes" / "starter_landscape.png"
STARTER_PALETTE = "landscape"
SIDE_PANEL_WIDTH = 230


def painter_document(labels: np.ndarray, settings: dict | None = None) -> Document:
    """A document with the painter's layers: the label map and a (not yet rendered) photo."""
    doc = Document(*labels.shape, settings=settings)
    doc.add_layer(Layer(LABELS, "labels", np.ascontiguousarray(labels, dtype=np.uint8)))
    doc.add_layer(Layer(PHOTO, "rgb", np.zeros((*labels.shape, 3), np.float32), editable=False))
    doc.modified = False
    return doc


def starter_document() -> Document:
    return painter_document(read_label_map(STARTER_SCENE).astype(np.uint8), {"palette": STARTER_PALETTE})


class PainterPage(QWidget):
    def __init__(self, bridge: EngineBridge, catalog: CatalogModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.document: Document | None = None
        self.entry: ModelEntry | None = None
        self.palette: Palette = palettes.load(STARTER_PALETTE)
        self._former_palette = self.palette  # names the labels that a newly picked model lacks
        self.settings = ToolSettings(parent=self)

        self.canvas = CanvasView(layers=[LABELS])
        self.photo_view = CanvasView(layers=[PHOTO])
        self.canvas.link(self.photo_view)
        self.scheduler = RenderScheduler(bridge, parent=self)
        self.canvas.stroke_started.connect(self.scheduler.stroke_started)
        self.canvas.stroke_finished.connect(self.scheduler.stroke_finished)
        self.canvas.stroke_finished.connect(self._check_labels)
        self.scheduler.rendered.connect(self._rendered)
        self.scheduler.failed.connect(lambda message: self._render_status(f"Render failed: {message}", error=True))
        self.scheduler.busy_changed.connect(self._busy)

        self.palette_panel = PalettePanel(self.settings)
        self.style_panel = StylePanel()
        self.style_panel.style_changed.connect(self.set_style_image)
        self.style_panel.seed_changed.connect(self._seed_changed)
        self.style_panel.failed.connect(lambda message: self._render_status(message, error=True))
        self.model_picker = QComboBox(minimumContentsLength=30)
        self.model_picker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_picker.activated.connect(lambda _: self._model_picked())

        self.notice = QLabel(wordWrap=True)  # what the user must know about the labels (missing classes)
        self.notice.setProperty("role", "error")
        self.notice.hide()
        self.cursor_label = QLabel("")
        self.render_label = QLabel("")
        self.canvas.cursor_moved.connect(self._cursor)
        self.photo_view.cursor_moved.connect(self._cursor)

        self.tools: dict[str, Tool] = {}
        self.tool_actions = QActionGroup(self)
        self._build_layout(self._build_toolbar())
        self.files = PainterFiles(self)
        catalog.changed.connect(self._catalog_changed)
        self.set_document(starter_document())
        self._catalog_changed()

    # --- layout ------------------------------------------------------------------------------------------

    def _build_toolbar(self) -> QToolBar:
        bar = QToolBar("Painter tools")
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for cls in LABEL_TOOLS:
            tool = cls(lambda: self.document, LABELS, self.settings)
            self.tools[cls.shortcut] = tool
            action = QAction(tool.name, self, checkable=True, shortcut=QKeySequence(cls.shortcut))
            action.setToolTip(f"{tool.name} ({cls.shortcut})")
            action.triggered.connect(lambda *_, t=tool: self.canvas.set_tool(t))
            self.tool_actions.addAction(action)
            bar.addAction(action)
        self.tool_actions.actions()[0].trigger()
        bar.addSeparator()
        self.brush_size = QSpinBox(minimum=MIN_BRUSH, maximum=MAX_BRUSH, suffix=" px", keyboardTracking=False)
        self.brush_size.setToolTip("Brush size ([ smaller, ] larger)")
        self.brush_size.setValue(self.settings.brush_size)
        self.brush_size.valueChanged.connect(self.settings.set_brush_size)
        self.settings.changed.connect(lambda: self.brush_size.setValue(self.settings.brush_size))
        bar.addWidget(QLabel(" Size "))
        bar.addWidget(self.brush_size)
        for text, key, slot in (("Smaller brush", "[", self.settings.shrink), ("Larger brush", "]", self.settings.grow)):
            action = QAction(text, self, shortcut=QKeySequence(key))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(slot)
            self.addAction(action)
        bar.addSeparator()
        self.zoom_label = add_zoom_controls(bar, self.canvas)
        bar.addWidget(QLabel("Model "))
        bar.addWidget(self.model_picker)
        return bar

    def _build_layout(self, toolbar: QToolBar) -> None:
        views = QSplitter()
        for title, view in (("Labels", self.canvas), ("Photo", self.photo_view)):
            column = QWidget()
            box = QVBoxLayout(column)
            box.setContentsMargins(0, 0, 0, 0)
            heading = QLabel(title)
            heading.setObjectName("heading")
            box.addWidget(heading)
            box.addWidget(view, 1)
            views.addWidget(column)
        self.palette_panel.setFixedWidth(SIDE_PANEL_WIDTH)
        self.style_panel.setFixedWidth(SIDE_PANEL_WIDTH)
        middle = QHBoxLayout()
        middle.addWidget(self.palette_panel)
        middle.addWidget(views, 1)
        middle.addWidget(self.style_panel)
        self.cursor_label.setFixedWidth(SIDE_PANEL_WIDTH + 60)
        status = QHBoxLayout()
        status.addWidget(self.cursor_label)
        status.addWidget(self.render_label, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 4)
        layout.addWidget(toolbar)
        layout.addWidget(self.notice)
        layout.addLayout(middle, 1)
        layout.addLayout(status)

    # --- documents ---------------------------------------------------------------------------------------

    def new_document(self, labels: np.ndarray) -> Document:
        """A fresh document for `labels` that keeps the current model, seed and style image."""
        settings = {k: v for k, v in (self.document.settings if self.document else {}).items()
                    if k in ("model_id", "seed", "palette")}
        doc = painter_document(labels, settings)
        if self.style_panel.style_image is not None:
            doc.add_layer(Layer(STYLE, "rgb", resize_rgb(self.style_panel.style_image, labels.shape), visible=False,
                                editable=False))
        doc.modified = False
        self.set_document(doc)
        return doc

    def set_document(self, doc: Document) -> list[str]:
        """Show `doc` (adding the painter's layers it lacks) with its model. Returns notes for the user."""
        notes, modified = [], doc.modified
        if not doc.has_layer(LABELS):
            notes.append("the project has no label layer: an empty one was added")
            doc.add_layer(Layer(LABELS, "labels", np.full((doc.height, doc.width), self.settings.background_class,
                                                          np.uint8)))
        if not doc.has_layer(PHOTO):
            doc.add_layer(Layer(PHOTO, "rgb", np.zeros((doc.height, doc.width, 3), np.float32), editable=False))
        doc.modified = modified
        self.document = doc
        for observer in (self.canvas, self.photo_view, self.scheduler):
            observer.set_document(doc)
        self.style_panel.set_style(doc.layer(STYLE).data if doc.has_layer(STYLE) else None)
        seed = doc.settings.get("seed")
        self.style_panel.set_seed(seed if isinstance(seed, int) else 0)
        wanted = doc.settings.get("model_id")
        if wanted and self.catalog.get(str(wanted)) is None and self.entry is not None:
            notes.append(f"its model '{wanted}' is not in the Library; using {self.entry.name or self.entry.id}")
        self.set_model(self.catalog.get(str(wanted)) or self.entry, user=False)
        self.files.project_changed()
        return notes

    def set_style_image(self, image: np.ndarray | None) -> None:
        doc = self.document
        if doc is None:
            return
        if image is None:
            if doc.has_layer(STYLE):
                doc.remove_layer(STYLE)
        elif doc.has_layer(STYLE):
            doc.replace_pixels(STYLE, resize_rgb(image, (doc.height, doc.width)))
        else:  # hidden: it guides the render, it is not part of the picture
            doc.add_layer(Layer(STYLE, "rgb", resize_rgb(image, (doc.height, doc.width)), visible=False,
                                editable=False))

    # --- models ------------------------------------------------------------------------------------------

    def models(self) -> list[ModelEntry]:
        return [e for e in self.catalog.entries if e.task == Task.LABEL_TO_IMAGE.value]

    def set_model(self, entry: ModelEntry | None, *, user: bool = True) -> None:
        """Switch model: the palette follows; labels the model lacks are reported, never remapped."""
        self.entry = entry
        index = self.model_picker.findData(entry.id if entry else None)
        self.model_picker.setCurrentIndex(index)
        if entry is not None:
            self._former_palette, self.palette = self._label_names(), model_palette(entry)
            self.palette_panel.set_palette(self.palette)
            self.canvas.set_label_lut(self.palette.lut())
            if self.palette.classes and self.settings.current_class not in self.palette.ids():
                self.settings.set_current_class(self.palette.classes[min(1, len(self.palette) - 1)].id)
            if self.settings.background_class not in self.palette.ids():
                self.settings.set_background_class(self.palette.classes[0].id)
            if self.document is not None:
                modified = self.document.modified
                self.document.set_setting("model_id", entry.id)
                if entry.palette:
                    self.document.set_setting("palette", entry.palette)
                self.document.modified = modified or user
        else:
            self.palette_panel.set_palette(self.palette)
            self.canvas.set_label_lut(self.palette.lut())
        self.style_panel.set_model(entry)
        self.scheduler.set_model(entry)
        self._check_labels()

    def _check_labels(self) -> None:
        if self.entry is None:
            text = "No label-to-image model in the Library yet: import one (Models > Import Checkpoint…)."
        else:
            text = missing_classes_text(self.document.layer(LABELS).data, self.entry, self._former_palette)
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def _label_names(self) -> Palette:
        """The palette the labels were painted with: the document's, else the current one."""
        try:
            return palettes.load(self.document.settings["palette"])
        except (AttributeError, KeyError, ValueError):
            return self.palette

    def _catalog_changed(self) -> None:
        models = self.models()
        self.model_picker.clear()
        for e in models:
            self.model_picker.addItem(e.name or e.id, e.id)
            self.model_picker.setItemData(self.model_picker.count() - 1, f"{e.id}\n{e.size_rule}",
                                          Qt.ItemDataRole.ToolTipRole)
        wanted = self.document.settings.get("model_id") if self.document else None
        current = self.catalog.get(self.entry.id) if self.entry else None
        current = current or self.catalog.get(str(wanted)) or (models[0] if models else None)
        if current != self.entry:
            self.set_model(current, user=False)
        else:  # a re-listing that changed nothing for the painter: keep its state (and the strip)
            self.model_picker.setCurrentIndex(self.model_picker.findData(current.id if current else None))

    def _model_picked(self) -> None:
        entry = self.catalog.get(self.model_picker.currentData())
        if entry is not None and entry != self.entry:
            self.set_model(entry)

    def _seed_changed(self, seed: int) -> None:
        if self.document is not None:
            self.document.set_setting("seed", seed)

    # --- feedback ----------------------------------------------------------------------------------------

    def _busy(self, busy: bool) -> None:
        if busy:
            self._render_status("Rendering…")

    def _rendered(self, kind: str, image: np.ndarray) -> None:
        self._render_status("Preview (reduced resolution)" if kind == "preview" else "Rendered at full resolution")
        if kind == "full" and self.entry is not None and self.entry.hparams.get("use_vae") and self.document:
            self.style_panel.add_variation(int(self.document.settings.get("seed", 0)), image)

    def _render_status(self, text: str, *, error: bool = False) -> None:
        self.render_label.setText(text)
        self.render_label.setToolTip(text)
        self.render_label.setProperty("role", "error" if error else "muted")
        self.render_label.style().polish(self.render_label)

    def _cursor(self, x: int, y: int) -> None:
        if x < 0 or self.document is None:
            self.cursor_label.setText("")
            return
        label = int(self.document.layer(LABELS).data[y, x])
        self.cursor_label.setText(f"{x}, {y}   {self.palette_panel.class_text(label)}")

    def showEvent(self, event: QShowEvent) -> None:
        self.canvas.setFocus()  # so B/E/G/[/] and the arrow keys reach the canvas, not the size box
        super().showEvent(event)

    def may_close(self) -> bool:
        """Asked by the main window before it closes."""
        return self.files.confirm_discard()
