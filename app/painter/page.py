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
from PySide6.QtWidgets import (
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
from app.document import Document
from app.engine_bridge import EngineBridge
from app.painter.files import PainterFiles
from app.painter.layers import STARTER_PALETTE, painter_document, starter_document, style_layer
from app.painter.palette_panel import PalettePanel, missing_classes_text, model_palette
from app.painter.render import LABELS, PHOTO, STYLE, RenderScheduler, resize_rgb
from app.painter.style_panel import StylePanel
from app.tools import LABEL_TOOLS, ToolSettings
from app.tools.settings import MAX_BRUSH, MIN_BRUSH
from app.widgets.feedback import ElidedLabel, Notice
from app.widgets.files import LABELS as LABEL_FILES
from app.widgets.model_picker import ModelPicker
from app.widgets.page import ProjectPage
from engine import palettes
from engine.api import ModelEntry, Task
from engine.palettes import Palette

SIDE_PANEL_WIDTH = 230


class PainterPage(ProjectPage):
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
        self.model_picker = ModelPicker()
        self.model_picker.picked.connect(self._model_picked)

        self.notice = Notice()  # what the user must know about the labels (missing classes)
        self.cursor_label = QLabel("")
        self.render_label = ElidedLabel("")
        self.canvas.cursor_moved.connect(self._cursor)
        self.photo_view.cursor_moved.connect(self._cursor)

        self._build_layout(self._build_toolbar())
        self.files = PainterFiles(self, bridge)
        catalog.changed.connect(self._catalog_changed)
        self.set_document(starter_document())
        self._catalog_changed()

    # --- layout ------------------------------------------------------------------------------------------

    def _build_toolbar(self) -> QToolBar:
        bar = QToolBar("Painter tools")
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        tools = [cls(lambda: self.document, LABELS, self.settings) for cls in LABEL_TOOLS]
        self.add_tool_actions(bar, [(t.shortcut, t.name, t, f"{t.name} ({t.shortcut})") for t in tools])
        self.tool_actions.actions()[0].trigger()
        bar.addSeparator()
        self.brush_size = QSpinBox(minimum=MIN_BRUSH, maximum=MAX_BRUSH, suffix=" px", keyboardTracking=False)
        self.brush_size.setToolTip("Brush size ([ smaller, ] larger)")
        self.brush_size.setValue(self.settings.brush_size)
        self.brush_size.valueChanged.connect(self.settings.set_brush_size)
        self.settings.changed.connect(lambda: self.brush_size.setValue(self.settings.brush_size))
        bar.addWidget(QLabel(" Size "))
        bar.addWidget(self.brush_size)
        self.add_brush_keys(self.settings)
        self.keep_focus_off(self.brush_size)
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
        self.side_panels = [self.palette_panel, self.style_panel]
        self.cursor_label.setFixedWidth(SIDE_PANEL_WIDTH + 60)
        status = QHBoxLayout()
        status.addWidget(self.cursor_label)
        status.addWidget(self.render_label, 1)
        self.lay_out(toolbar, middle, status)

    # --- documents ---------------------------------------------------------------------------------------

    def new_document(self, labels: np.ndarray) -> Document:
        """A fresh document for `labels` that keeps the current model, seed and style image."""
        settings = {k: v for k, v in (self.document.settings if self.document else {}).items()
                    if k in ("model_id", "seed", "palette")}
        doc = painter_document(labels, settings, self.style_panel.style_image)
        self.set_document(doc)
        return doc

    def set_document(self, doc: Document) -> list[str]:
        """Show `doc` (with the painter's layers: see complete_document) with its model. Returns notes for the
        user."""
        notes = []
        self.document = doc
        for observer in (self.canvas, self.photo_view, self.scheduler):
            observer.set_document(doc)
        self.canvas.zoom_fit()  # another document: the former zoom means nothing for it
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
        else:
            doc.add_layer(style_layer(image, (doc.height, doc.width)))

    def open_recent(self, kind: str, path: Path) -> bool:
        if kind == LABEL_FILES:
            self.files.open_label_file(path)
            return True
        return super().open_recent(kind, path)

    # --- models ------------------------------------------------------------------------------------------

    def models(self) -> list[ModelEntry]:
        return [e for e in self.catalog.entries if e.task == Task.LABEL_TO_IMAGE.value]

    def set_model(self, entry: ModelEntry | None, *, user: bool = True) -> None:
        """Switch model: the palette follows; labels the model lacks are reported, never remapped."""
        self.entry = entry
        self.model_picker.show_model(entry.id if entry else None)
        if entry is not None:
            self._former_palette, self.palette = self._label_names(), model_palette(entry)
            self.palette_panel.set_palette(self.palette)
            self.canvas.set_label_lut(self.palette.lut())
            if self.palette.classes and self.settings.current_class not in self.palette.ids():
                self.settings.set_current_class(self.palette.classes[min(1, len(self.palette) - 1)].id)
            if self.settings.background_class not in self.palette.ids():
                self.settings.set_background_class(self.palette.classes[0].id)
            if self.document is not None:
                self.document.set_setting("model_id", entry.id, edit=user)
                if entry.palette:
                    self.document.set_setting("palette", entry.palette, edit=user)
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
        self.notice.say(text)

    def _label_names(self) -> Palette:
        """The palette the labels were painted with: the document's, else the current one."""
        try:
            return palettes.load(self.document.settings["palette"])
        except (AttributeError, KeyError, ValueError):
            return self.palette

    def _catalog_changed(self) -> None:
        models = self.models()
        self.model_picker.set_models(models)
        wanted = self.document.settings.get("model_id") if self.document else None
        current = self.catalog.get(self.entry.id) if self.entry else None
        current = current or self.catalog.get(str(wanted)) or (models[0] if models else None)
        if current != self.entry:
            self.set_model(current, user=False)
        else:  # a re-listing that changed nothing for the painter: keep its state (and the strip)
            self.model_picker.show_model(current.id if current else None)

    def _model_picked(self, model_id: str) -> None:
        entry = self.catalog.get(model_id)
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
        if kind == "full" and self.entry is not None and self.entry.capabilities.style_seed and self.document:
            self.style_panel.add_variation(int(self.document.settings.get("seed", 0)), image)

    def _render_status(self, text: str, *, error: bool = False) -> None:
        self.render_label.set_text(text)
        self.render_label.setProperty("role", "error" if error else "muted")
        self.render_label.style().polish(self.render_label)

    def _cursor(self, x: int, y: int) -> None:
        if x < 0 or self.document is None:
            self.cursor_label.setText("")
            return
        label = int(self.document.layer(LABELS).data[y, x])
        self.cursor_label.setText(f"{x}, {y}   {self.palette_panel.class_text(label)}")
