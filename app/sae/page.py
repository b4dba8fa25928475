"""Swap & Edit: a photo in a Swapping Autoencoder's code space, edited non-destructively.

The page wires parts that each do one thing: the session holds the model, project and document and embeds
photos; the decode scheduler keeps the result generated from the project's codes; the tools, the layer
list and (through EditBinding) the panels turn user actions into project edits (app/sae/edits.py) and
show the project's values; the statistics' jobs (app/sae/code_stats.py) read and change the model's editing
directions for the texture panel; SwapFiles owns the File and Edit actions. The page itself only decides which
model and project are current, and routes dropped files and status messages.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QHideEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QScrollArea,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.canvas import CanvasView
from app.canvas.toolbar import add_zoom_controls
from app.catalog_model import CatalogModel
from app.document import Document
from app.engine_bridge import EngineBridge
from app.sae import edits
from app.sae.binding import EditBinding
from app.sae.code_stats import CodeStatsJobs, bind_panel
from app.sae.decoder import RESULT, DecodeScheduler
from app.sae.files import SwapFiles
from app.sae.layers_panel import LayersPanel
from app.sae.photos import Photo
from app.sae.region_panel import RegionPanel
from app.sae.session import MASK, PHOTO, SwapSession
from app.sae.stack import Reference, SwapProject
from app.sae.swap_panel import SwapPanel
from app.sae.texture_panel import TextureEditsPanel
from app.sae.tools import CLONE_TIP, REGION_TIP, SOURCE_TIP, BrushSizeBox, CloneTool, RegionTool, cell_px
from app.tools import ToolSettings
from app.widgets.feedback import FILE_LABEL_WIDTH, ElidedLabel, Notice, StatusLabel
from app.widgets.files import FileDrop
from app.widgets.model_picker import ModelPicker
from app.widgets.page import PhotoPage
from engine.api import ModelEntry, Task

LEFT_WIDTH, RIGHT_WIDTH = 250, 320
MAX_BRUSH_CELLS = 64
EMPTY = ("Open a photo to edit it: File > Open Photo… (Ctrl+O), or drop one here.\n\n"
         "It is embedded once into structure and texture codes; every edit then only regenerates the image.")
NO_MODEL = ("No Swapping Autoencoder in the Library yet: import one (Models > Import Checkpoint…) "
            "or train one (Training menu).")
DROP_TIP = "Drop a photo on the image to swap to its texture (Ctrl+drop opens it as the photo instead)"


class SwapPage(PhotoPage):
    ACCEPTS_PHOTOS = True
    models_arrived = Signal()  # the model list arrived (or failed): a photo asked for before then may open

    def __init__(self, bridge: EngineBridge, catalog: CatalogModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.session = SwapSession(bridge, self)
        self.scheduler = DecodeScheduler(bridge, self)
        self.brush = ToolSettings(brush_size=2)  # diameter in structure-code cells
        self._exact = False  # the result layer shows an exact (full-resolution) decode

        self.canvas = CanvasView(layers=[PHOTO, RESULT, MASK])
        self.placeholder = QLabel(EMPTY, wordWrap=True, alignment=Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setProperty("role", "muted")
        self.views = QStackedWidget()
        self.views.addWidget(self.placeholder)
        self.views.addWidget(self.canvas)
        self.drops = FileDrop(self)
        self.drops.install(self.placeholder, self.canvas)
        self.drops.dropped.connect(self._dropped)

        self.swap_panel = SwapPanel()
        self.layers_panel = LayersPanel()
        self.region_panel = RegionPanel()
        self.texture_panel = TextureEditsPanel()
        self.stats = CodeStatsJobs(bridge, self)
        bind_panel(self.texture_panel, self.stats)
        self.binding = EditBinding(self.session, self.swap_panel.blend, self.region_panel, self.texture_panel, self)
        self.model_picker = ModelPicker()
        self.model_picker.picked.connect(self._model_picked)
        self.notice = Notice()
        self.cursor_label = QLabel("")
        self.photo_label = ElidedLabel("")  # the photo and the size it is worked at, while it is open
        self.photo_label.setMaximumWidth(FILE_LABEL_WIDTH)
        self.photo_label.setProperty("role", "muted")
        self.status_label = StatusLabel()
        self.busy_bar = QProgressBar(textVisible=False, maximumWidth=160, maximumHeight=10)
        self.busy_bar.hide()

        self._build_layout(self._build_toolbar())
        self._connect()
        self.files = SwapFiles(self, bridge)
        self.models_listed = False  # the engine's model list has arrived (or could not be read)
        catalog.changed.connect(self._catalog_changed)
        catalog.changed.connect(self._models_listed)
        catalog.list_failed.connect(self._models_listed)
        self._catalog_changed()
        self._project_changed()

    # --- layout ------------------------------------------------------------------------------------------

    def _build_toolbar(self) -> QToolBar:
        bar = QToolBar("Swap & Edit tools")
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        bar.addAction("Open Photo…", lambda: self.files.choose_photo()).setToolTip("Open a photo to edit (Ctrl+O)")
        bar.addSeparator()
        clone = CloneTool(lambda: self.session.project, self.brush, self.show_status)
        region = RegionTool(lambda: self.session.project, self.brush, self.show_status,
                            self.region_panel.threshold_value)
        self.add_tool_actions(bar, (
            ("V", "View", None, "Look, zoom and pan; no edits (V)"),
            ("C", "Clone", clone, CLONE_TIP),
            ("M", "Region", region, REGION_TIP)))
        self.tool_actions.actions()[0].setChecked(True)
        bar.addAction("Set Source", lambda: (self.tool_actions.actions()[1].trigger(), clone.arm())).setToolTip(SOURCE_TIP)
        self.region_panel.new_region.clicked.connect(lambda: (self.tool_actions.actions()[2].trigger(), region.start_new()))
        self.brush_size = BrushSizeBox(lambda: cell_px(self.project, self.session.entry), maximum=MAX_BRUSH_CELLS)
        self.session.project_changed.connect(self.brush_size.refresh)
        self.brush_size.setValue(self.brush.brush_size)
        self.brush_size.valueChanged.connect(self.brush.set_brush_size)
        self.brush.changed.connect(lambda: self.brush_size.setValue(self.brush.brush_size))
        bar.addWidget(QLabel(" Brush "))
        bar.addWidget(self.brush_size)
        self.keep_focus_off(self.brush_size)
        bar.addSeparator()
        self.before_after = QAction("Original", self, checkable=True, shortcut=QKeySequence(Qt.Key.Key_Backslash))
        self.before_after.setToolTip("Show the original photo instead of the result (\\)")
        self.before_after.toggled.connect(self._show_original)
        bar.addAction(self.before_after)
        bar.addSeparator()
        self.zoom_label = add_zoom_controls(bar, self.canvas)
        bar.addWidget(QLabel("Model "))
        bar.addWidget(self.model_picker)
        return bar

    def _build_layout(self, toolbar: QToolBar) -> None:
        left = QWidget()
        left.setFixedWidth(LEFT_WIDTH)
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.swap_panel, 1)
        column.addWidget(self.layers_panel, 1)
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 4, 0)
        column.addWidget(self.region_panel)
        column.addWidget(self.texture_panel)
        column.addStretch()
        scroll = QScrollArea(widgetResizable=True, frameShape=QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(right)
        scroll.setFixedWidth(RIGHT_WIDTH)
        middle = QHBoxLayout()
        middle.addWidget(left)
        middle.addWidget(self.views, 1)
        middle.addWidget(scroll)
        self.side_panels = [left, scroll]
        self.cursor_label.setFixedWidth(LEFT_WIDTH + 40)
        status = QHBoxLayout()
        status.addWidget(self.cursor_label)
        status.addWidget(self.photo_label)
        status.addWidget(self.status_label, 1)
        status.addWidget(self.busy_bar)
        self.lay_out(toolbar, middle, status)

    def _connect(self) -> None:
        session = self.session
        session.project_changed.connect(self._project_changed)
        session.status.connect(lambda text, error: self.show_status(text, error=error))
        session.encoding.connect(self._encoding)
        session.progress.connect(self._progress)
        self.scheduler.decoded.connect(self._decoded)
        self.scheduler.failed.connect(lambda message: self.show_status(f"Generating failed: {message}", error=True))
        self.scheduler.busy_changed.connect(lambda busy: busy and self.show_status("Generating…"))
        self.scheduler.busy_changed.connect(self._sync_looks)
        session.encoding.connect(self._sync_looks)
        self.canvas.cursor_moved.connect(self._cursor)
        self.swap_panel.shelf.chosen.connect(self.use_reference)
        self.swap_panel.shelf.failed.connect(lambda message: self.show_status(message, error=True))

    # --- projects ----------------------------------------------------------------------------------------

    @property
    def project(self) -> SwapProject | None:
        return self.session.project

    @property
    def document(self) -> Document | None:
        return self.session.document

    def show_project(self, project: SwapProject, doc: Document, name: str) -> list[str]:
        """Show a project read from a file; returns notes for the user (a model the Library lacks)."""
        self.session.photo_name, self.session.photo_note = name, ""
        self.session.set_project(project, doc)
        entry = self.catalog.get(project.model_id)
        if entry is None:
            return [f"its model '{project.model_id}' is not in the Library: the saved result is shown, and "
                    + "editing needs that model"]
        if entry != self.session.entry:
            self.set_model(entry, reembed=False)
        return []

    def _project_changed(self) -> None:
        project, doc = self.project, self.document
        self.canvas.set_document(doc)
        self.views.setCurrentWidget(self.canvas if doc is not None else self.placeholder)
        if self.isVisible():
            self.focus_canvas()  # the canvas may have just replaced the placeholder
        self.canvas.setToolTip(DROP_TIP if doc is not None else "")
        self.layers_panel.set_project(project)
        self._exact = False  # until the decode of this project lands
        self.scheduler.set_target(project, doc, self._decoding_model())
        self.before_after.setChecked(False)
        self.photo_label.set_text(self._photo_text())
        self.tools["C"].source = self.tools["C"].offset = None  # a clone source belongs to its photo
        self._sync_notice()
        self.binding.project_changed()
        self.files.project_changed()

    def _sync_notice(self) -> None:
        """What keeps the page from working: no model at all, or the project's model missing."""
        project = self.project
        if self.session.entry is None:
            text = NO_MODEL
        elif project is not None and self.catalog.get(project.model_id) is None:
            text = (f"This project was made with the model '{project.model_id}', which is not in the Library: "
                    "the saved result is shown, but edits cannot be generated until it is imported again.")
        else:
            text = ""
        self.notice.say(text)

    def _photo_text(self) -> str:
        doc = self.document
        if doc is None:
            return ""
        size = self.session.photo_note or f"{doc.width}x{doc.height}"
        return f"{self.session.photo_name} ({size})  ·"

    def _decoding_model(self) -> ModelEntry | None:
        """The model that can generate the project: the one that made its codes, if it is the current one."""
        entry, project = self.session.entry, self.project
        return entry if entry is not None and project is not None and project.model_id == entry.id else None

    # --- models ------------------------------------------------------------------------------------------

    def models(self) -> list[ModelEntry]:
        return [e for e in self.catalog.entries if e.task == Task.STRUCTURE_TEXTURE.value]

    def set_model(self, entry: ModelEntry | None, *, reembed: bool = True) -> None:
        """Switch model. The codes belong to the model that made them: an open photo is embedded anew
        (reembed) after asking about unsaved edits, which do not carry over."""
        project, doc = self.project, self.document
        switching = reembed and project is not None and entry is not None and entry.id != project.model_id
        if switching and not self.files.confirm_discard():
            current = self.session.entry
            self.model_picker.show_model(current.id if current else None)
            return
        self.session.set_model(entry)
        self.model_picker.show_model(entry.id if entry else None)
        self.stats.set_model(entry.id if entry else None)
        self._sync_notice()
        if switching:
            image = doc.layer(PHOTO).data
            self.files.embed(Photo(image, self.session.photo_name or "photo"))
        elif project is not None:
            self.scheduler.set_target(project, doc, self._decoding_model())

    def _catalog_changed(self) -> None:
        models = self.models()
        self.model_picker.set_models(models)
        wanted = self.project.model_id if self.project else None
        current = self.catalog.get(self.session.entry.id) if self.session.entry else None
        current = self.catalog.get(wanted) if wanted else current
        current = current or (models[0] if models else None)
        if current != self.session.entry:
            self.set_model(current, reembed=False)
        else:
            self.model_picker.show_model(current.id if current else None)
            self._sync_notice()

    def _models_listed(self) -> None:
        self.models_listed = True
        self.models_arrived.emit()

    def _model_picked(self, model_id: str) -> None:
        entry = self.catalog.get(model_id)
        if entry is not None and entry != self.session.entry:
            self.set_model(entry)

    # --- edits -------------------------------------------------------------------------------------------

    def use_reference(self, path: str) -> None:
        """Swap the photo's texture to the reference photo at `path` (embedded, or from the cache)."""
        if self.project is None:
            self.show_status("Open a photo first; then a reference gives it its texture", error=True)
            return
        self.session.embed_reference(path, self._apply_reference)

    def _apply_reference(self, reference: Reference) -> None:
        if self.project is not None:
            edits.apply_reference(self.project, reference)

    def _dropped(self, paths: list[str], modifiers) -> None:
        if self.project is None or modifiers & Qt.KeyboardModifier.ControlModifier:
            self.files.open_photo_file(paths[0])
            return
        added = self.swap_panel.shelf.add_paths(paths[:1])
        if added:
            self.use_reference(added[0])

    def _show_original(self, original: bool) -> None:
        doc = self.document
        if doc is not None:
            doc.set_layer_property(RESULT, visible=not original)
            self.show_status("Showing the original photo (\\ to go back)" if original else "Showing the result")

    # --- feedback ----------------------------------------------------------------------------------------

    def show_status(self, text: str, *, error: bool = False) -> None:
        self.status_label.show_message(text, error=error)

    def result_exact(self) -> bool:
        """The result layer shows the project's codes at full resolution (not a preview, none under way); a project
        whose model is missing shows the result it was saved with."""
        if self._decoding_model() is None:
            return self.document is not None
        return self._exact and not self.scheduler.busy

    def _decoded(self, kind: str) -> None:
        self._exact = kind != "preview"
        text = {"preview": "Preview (reduced resolution)", "region": "Regenerated the edited cells",
                "full": "Generated at full resolution"}[kind]
        self.show_status(text)

    def _encoding(self, busy: bool) -> None:
        self.busy_bar.setRange(0, 0)  # busy until the engine says how far it is
        self.busy_bar.setVisible(busy)

    def _progress(self, fraction: float, message: str) -> None:
        self.busy_bar.setRange(0, 1000)
        self.busy_bar.setValue(round(1000 * min(max(fraction, 0.0), 1.0)))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._sync_looks()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._sync_looks()

    def _sync_looks(self, _busy: bool = False) -> None:
        """The sliders' thumbnails are made only while the page is shown and idle: never ahead of its previews."""
        self.binding.looks.set_active(self.isVisible() and not self.scheduler.busy and not self.session.busy)

    def _cursor(self, x: int, y: int) -> None:
        project = self.project
        if x < 0 or project is None:
            self.cursor_label.setText("")
            return
        self.cursor_label.setText(f"{x}, {y} px")
