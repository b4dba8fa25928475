"""Style Brushes: paint translations (CycleGAN, CUT, FastCUT, SinCUT) and style transfers (HierarchyFlow, after a
style image, with a fidelity control) onto a photo through soft masks.

The page wires parts that each do one thing: the project holds the layers, the masks (in its document) and
their one undo history; each layer's source (app/brushes/sources.py, by its model's kind) says what its model
makes of the photo; the translator asks the engine for each such image once and caches it; the compositor
keeps the composite layer up to date from masks and cached images, rectangle by rectangle, so a stroke never
waits on a model; the tools paint masks; the panels edit the project; BrushFiles owns the File and Edit
actions. The page decides which project is current, which images it needs, and what the user is told.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.brushes.brush_panel import BrushPanel
from app.brushes.composite import Compositor
from app.brushes.files import BrushFiles
from app.brushes.full_res import FullResPicker
from app.brushes.layers_panel import BrushLayersPanel, LayerNote
from app.brushes.photos import Photo, photo_key, shrink
from app.brushes.project import PHOTO, RESULT, BrushLayer, BrushProject, StyleImage, brush_document
from app.brushes.sources import BRUSH_TASKS, SOURCES, Source, source_of
from app.brushes.style_panel import StylePanel
from app.brushes.tools import BrushSettings, MaskEraser, MaskTool
from app.brushes.translations import CANCELLED, FAILED, READY, RUNNING, Key, Translator
from app.canvas import CanvasView
from app.canvas.toolbar import add_zoom_controls
from app.catalog_model import CatalogModel
from app.engine_bridge import EngineBridge
from app.history import ProjectChange
from app.widgets.feedback import FILE_LABEL_WIDTH, ElidedLabel, Notice, StatusLabel
from app.widgets.files import FileDrop
from app.widgets.page import PhotoPage
from engine.api import ModelEntry

RIGHT_WIDTH = 320
DEFAULT_BRUSH_SHARE = 12  # a new photo's brush is about 1/12 of its shorter side
EMPTY = ("Open a photo to paint on: File > Open Photo… (Ctrl+O), or drop one here.\n\n"
         "Each brush layer paints a model's translation of the photo through a soft mask. The photo is translated "
         "once per model, in the background; painting is instant after that.")
NO_MODEL = ("No translation model in the Library yet: import a CycleGAN, CUT or HierarchyFlow checkpoint (Models > "
            "Import Checkpoint…) or train one (Training menu).")


class StyleBrushPage(PhotoPage):
    ACCEPTS_PHOTOS = True

    def __init__(self, bridge: EngineBridge, catalog: CatalogModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.translator = Translator(bridge, parent=self)
        self.compositor = Compositor(self.shown)
        self.settings = BrushSettings()
        self.project: BrushProject | None = None
        self.photo_name = ""
        self.photo_note = ""
        self._unsubscribe = None
        self._keys: dict[str, Key | None] = {}  # each layer's translation, as the last change left them
        self._last_shown: dict[str, np.ndarray] = {}  # by layer: its last translation (kept until the next)
        self._small: tuple[tuple[str, tuple[int, int]], np.ndarray] | None = None  # the photo, shrunk for previews

        self.canvas = CanvasView(layers=[PHOTO, RESULT])
        self.placeholder = QLabel(EMPTY, wordWrap=True, alignment=Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setProperty("role", "muted")
        self.placeholder.setMargin(40)
        self.views = QStackedWidget()
        self.views.addWidget(self.placeholder)
        self.views.addWidget(self.canvas)
        self.drops = FileDrop(self)
        self.drops.install(self.placeholder, self.canvas)
        self.drops.dropped.connect(lambda paths, _mods: self.files.open_file(paths[0]))

        self.brush_panel = BrushPanel(self.settings)
        self.layers_panel = BrushLayersPanel(self.layer_status)
        self.layers_panel.add_requested.connect(self.add_layer)
        self.layers_panel.retry_requested.connect(lambda layer_id: self.translate(retry={layer_id}))
        self.style_panel = StylePanel()
        self.style_panel.failed.connect(lambda text: self.show_status(text, error=True))
        self.notice = Notice()
        self.cursor_label = QLabel("")
        self.photo_label = ElidedLabel("")
        self.photo_label.setMaximumWidth(FILE_LABEL_WIDTH)
        self.photo_label.setProperty("role", "muted")
        self.status_label = StatusLabel()
        self.progress = QProgressBar(textVisible=False, maximumWidth=160, maximumHeight=10)
        self.progress.setRange(0, 1000)
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Stop translating (the masks stay; Translate again resumes)")
        self.cancel.clicked.connect(lambda: self.translator.cancel())
        for widget in (self.progress, self.cancel):
            widget.hide()

        self._build_layout(self._build_toolbar())
        self.translator.changed.connect(self._translation_changed)
        self.translator.previewed.connect(self._previewed)
        self.translator.busy_changed.connect(self._busy)
        self.canvas.cursor_moved.connect(self._cursor)
        self.canvas.stroke_started.connect(self._sync_overlay)  # a first dab may need the tint
        self.files = BrushFiles(self, bridge)
        catalog.changed.connect(self._catalog_changed)
        self._catalog_changed()
        self.set_project(None)

    # --- layout ------------------------------------------------------------------------------------------

    def _build_toolbar(self) -> QToolBar:
        bar = QToolBar("Style Brushes tools")
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        open_photo = bar.addAction("Open Photo…", lambda: self.files.choose_photo())
        open_photo.setToolTip("Open a photo to paint on (Ctrl+O)")
        bar.addSeparator()
        self.add_tool_actions(bar, (
            ("V", "View", None, "Look, zoom and pan; no painting (V)"),
            ("B", "Brush", MaskTool(self._current, self.settings, self.show_status),
             "Brush (B): paint the selected layer's translation in"),
            ("E", "Eraser", MaskEraser(self._current, self.settings, self.show_status),
             "Eraser (E): take the selected layer's translation out again")))
        self.tool_actions.actions()[1].trigger()
        self.add_brush_keys(self.settings)
        bar.addSeparator()
        self.before_after = QAction("Original", self, checkable=True, shortcut=QKeySequence(Qt.Key.Key_Backslash))
        self.before_after.setToolTip("Show the original photo instead of the painted one (\\)")
        self.before_after.toggled.connect(self._show_original)
        bar.addAction(self.before_after)
        self.show_mask = QAction("Mask", self, checkable=True, shortcut=QKeySequence("M"))
        self.show_mask.setToolTip("Tint where the selected layer's mask is painted (M); shown anyway while its "
                                  "translation is not ready")
        self.show_mask.toggled.connect(lambda _: self._sync_overlay())
        bar.addAction(self.show_mask)
        bar.addSeparator()
        self.full_res = FullResPicker()
        self.full_res.currentIndexChanged.connect(lambda _: self._full_res_changed())
        bar.addWidget(QLabel(" Large photos "))
        bar.addWidget(self.full_res)
        bar.addSeparator()
        self.zoom_label = add_zoom_controls(bar, self.canvas, "photo")
        return bar

    def _build_layout(self, toolbar: QToolBar) -> None:
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 4, 0)
        column.addWidget(self.brush_panel)
        column.addWidget(self.layers_panel)
        column.addWidget(self.style_panel)
        column.addStretch()
        scroll = QScrollArea(widgetResizable=True, frameShape=QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(right)
        scroll.setFixedWidth(RIGHT_WIDTH + scroll.verticalScrollBar().sizeHint().width())  # no clipping when it shows
        middle = QHBoxLayout()
        middle.addWidget(self.views, 1)
        middle.addWidget(scroll)
        self.side_panels = [scroll]
        self.cursor_label.setFixedWidth(140)
        status = QHBoxLayout()
        status.addWidget(self.cursor_label)
        status.addWidget(self.photo_label)
        status.addWidget(self.status_label, 1)
        status.addWidget(self.progress)
        status.addWidget(self.cancel)
        self.lay_out(toolbar, middle, status)

    # --- projects ----------------------------------------------------------------------------------------

    def open_photo(self, photo: Photo) -> BrushProject:
        """A new project on `photo`, with one brush layer of the default model (translated at once)."""
        model = self.default_model()
        project = BrushProject(brush_document(photo.image), photo.key or photo_key(photo.image))
        if model is not None:
            self._add_layer(project, model, name="Brush 1")
            project.mark_opened()
        h, w = photo.image.shape[:2]
        self.settings.set_brush_size(max(8, min(h, w) // DEFAULT_BRUSH_SHARE))
        self.set_project(project, photo.name, photo.note)
        return project

    def set_project(self, project: BrushProject | None, name: str = "", note: str = "", *,
                    translations: dict[Key, np.ndarray] | None = None) -> None:
        """Show `project`; `translations`: ones that came with it (from its file), kept in the cache."""
        if self._unsubscribe:
            self._unsubscribe()
        self.project, self.photo_name, self.photo_note = project, name, note
        self._last_shown = {}
        self._keys = self._layer_keys()
        self._unsubscribe = project.subscribe(self._project_changed) if project else None
        stale = [key for key, _ in self.translator.running() if project is None or key.photo != project.photo_key]
        self.translator.cancel(stale, forget=True)  # no use now; wanted again if their photo comes back
        self._pin()
        for key, image in (translations or {}).items():
            self.translator.cache.put(key, image)
        self.before_after.setChecked(False)
        self.canvas.set_document(project.document if project else None)
        self.views.setCurrentWidget(self.canvas if project else self.placeholder)
        if self.isVisible():
            self.focus_canvas()  # the canvas may have just replaced the placeholder
        self.compositor.set_project(project)
        self.layers_panel.set_project(project)
        self.style_panel.set_project(project)
        self._sync_style_panel()
        self.photo_label.set_text(self._photo_text())
        self._sync_overlay()
        self._sync_notice()
        self.files.project_changed()
        self.translate()

    def _current(self) -> BrushProject | None:
        return self.project  # the tools follow whichever project is current

    def add_layer(self) -> BrushLayer | None:
        """A new layer on top with the selected layer's model and direction (whose translation is cached)."""
        project = self.project
        model = self.default_model()
        if project is None or model is None:
            return None
        return self._add_layer(project, model)

    def _add_layer(self, project: BrushProject, model: ModelEntry, *, name: str = "") -> BrushLayer:
        return SOURCES[model.task].add_layer(project, model, name, self._first_style)

    def _first_style(self) -> StyleImage | None:
        """The style a layer gets when it needs one: the shelf's first."""
        shelf = self.style_panel.entries()
        return shelf[0].style if shelf else None

    def _project_changed(self, change: ProjectChange) -> None:
        if change.what == "selection":
            self._sync_overlay()
        elif change.what == "layers" and change.final:
            before, self._keys = self._keys, self._layer_keys()
            wanted = set(self._keys.values())
            self.translator.cancel([k for k, _ in self.translator.running() if k not in wanted], forget=True)
            self.translate(retry={i for i, key in self._keys.items() if key != before.get(i)})  # a model picked
            self._sync_overlay()
            self._sync_notice()
            unready = [la.id for la in self.project.layers if la.model_id and self._keys.get(la.id) is None]
            if unready:  # after this change has reached every observer
                QTimer.singleShot(0, lambda: self._complete_layers(unready))
        if change.what in ("selection", "layers"):
            self._sync_style_panel()

    def _full_res_changed(self) -> None:
        """Another way to full resolution: every layer shows its image made that way (cached, or asked for now)."""
        if self.project is None:
            return
        self._keys = self._layer_keys()
        wanted = set(self._keys.values())
        self.translator.cancel([k for k, _ in self.translator.running() if k not in wanted], forget=True)
        self.translate()
        self.compositor.refresh_layers({layer.id for layer in self.project.layers})
        self.layers_panel.refresh_status()

    def _complete_layers(self, layer_ids: list[str]) -> None:
        """Layers just switched to a model of another kind get what they need to paint (Source.complete)."""
        project = self.project
        for layer_id in layer_ids:
            if project is not None and layer_id in {la.id for la in project.layers}:
                self.source(project.layer(layer_id)).complete(project, layer_id, self._first_style)

    def _sync_style_panel(self) -> None:
        layer = self.project.selected if self.project else None
        self.style_panel.setVisible(layer is not None and self.source(layer).styled)

    def _photo_text(self) -> str:
        project = self.project
        if project is None:
            return ""
        h, w = project.size
        return f"{self.photo_name} ({w}x{h}{', ' + self.photo_note if self.photo_note else ''})  ·"

    # --- models and translations ---------------------------------------------------------------------

    def models(self) -> list[ModelEntry]:
        return [e for e in self.catalog.entries if e.task in BRUSH_TASKS]

    def default_model(self) -> ModelEntry | None:
        """For a new layer: the selected layer's model if the Library has it, else the first one."""
        selected = self.project.selected if self.project else None
        entry = self.catalog.get(selected.model_id) if selected else None
        models = self.models()
        return entry if entry is not None and entry in models else (models[0] if models else None)

    def source(self, layer: BrushLayer) -> Source:
        return source_of(layer, self.catalog.get(layer.model_id))

    def key(self, layer: BrushLayer) -> Key | None:
        """What the layer's translation is cached under (None: the layer has no model, or lacks what it needs)."""
        if self.project is None or not layer.model_id:
            return None
        return self.source(layer).key(layer, self.catalog.get(layer.model_id), self.project.photo_key,
                                      self.full_res.method)

    def translation(self, layer: BrushLayer):
        """The layer's translation (HxWx3 uint8), or None while there is none."""
        key = self.key(layer)
        return self.translator.cache.get(key) if key is not None else None

    def shown(self, layer: BrushLayer) -> np.ndarray | None:
        """What the layer paints now (HxWx3 uint8): its translation, else the quick preview of it while the
        translation is on its way, else the translation it showed before its model, style or strength changed
        (the previous result stays until the next one is there); None when it never had one."""
        image = self.translation(layer)
        if image is not None:
            self._last_shown[layer.id] = image
            return image
        key = self.key(layer)
        preview = self.translator.preview(key) if key is not None else None
        return preview if preview is not None else self._last_shown.get(layer.id)

    def preview_photo(self, min_size: int) -> np.ndarray:
        """The photo, small, for quick previews (its short side at least `min_size`, the model's least)."""
        photo = self.project.document.layer(PHOTO).data
        h, w = photo.shape[:2]
        scale = max(self.translator.preview_size.scale((h, w)), min(1.0, min_size / min(h, w)))
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        if self._small is None or self._small[0] != (self.project.photo_key, size):
            self._small = ((self.project.photo_key, size), shrink(photo, size))
        return self._small[1]

    def _layer_keys(self) -> dict[str, Key | None]:
        return {layer.id: self.key(layer) for layer in self.project.layers} if self.project else {}

    def translate(self, *, retry: Collection[str] = ()) -> None:
        """Ask for every translation the layers need and the cache lacks; `retry`: layers whose failed or
        cancelled translation the user asks for again (with the button, or by picking a model)."""
        project = self.project
        self._pin()
        if project is None:
            return
        photo = project.document.layer(PHOTO).data
        for layer in project.layers:
            key = self.key(layer)
            entry = self.catalog.get(key.model_id) if key is not None else None
            if key is not None and entry is not None:
                source = self.source(layer)
                request = source.request(key, photo, project.styles)
                preview = source.request(key, self.preview_photo(entry.capabilities.min_size), project.styles)
                self.translator.request(key, request, photo.shape[:2], retry=layer.id in retry, preview=preview)

    def _pin(self) -> None:
        """The open project's translations stay in the cache, whatever its budget says."""
        project = self.project
        keys = [self.key(layer) for layer in project.layers] if project else []
        self.translator.cache.pin(k for k in keys if k is not None)

    def layer_status(self, layer: BrushLayer) -> LayerNote:
        """How the layer's translation stands, for the layer list."""
        key, source = self.key(layer), self.source(layer)
        if key is None:
            return LayerNote(source.unready if layer.model_id else "choose a model")
        state = self.translator.state(key)
        if state is not None and state.status == READY:
            return LayerNote()
        if self.catalog.get(key.model_id) is None:
            return LayerNote(f"the model '{key.model_id}' is not in the Library", error=True)
        if state is None:
            return LayerNote("waiting")
        if state.status == RUNNING:
            verb = source.words.doing.lower()
            return LayerNote(f"{verb} {state.fraction:.0%}" if state.fraction > 0 else f"{verb}…")
        if state.status == FAILED:
            return LayerNote(f"{source.words.job.lower()} failed: {state.message}", error=True, retry=True)
        return LayerNote(CANCELLED, retry=True)

    def _translation_changed(self, key: Key) -> None:
        project = self.project
        self.layers_panel.refresh_status()
        state = self.translator.state(key)
        if project is None or key.photo != project.photo_key or state is None:
            return
        users = [la for la in project.layers if self.key(la) == key]
        if not users:  # asked for a layer that has another model by now
            return
        entry, source = self.catalog.get(key.model_id), self.source(users[0])
        what = source.describe(users[0], entry, project.styles, titles=False)
        done, doing, job = source.words.done, source.words.doing, source.words.job
        if state.status == READY:
            self.compositor.refresh_layers({la.id for la in users})
            self.show_status(f"{done} with {what}: painting shows it now")
        elif state.status == RUNNING:
            self.progress.setValue(round(1000 * state.fraction))
            self.show_status(f"{doing} with {what}… {state.message}".rstrip())
        elif state.status == FAILED:
            self.show_status(f"{job} with {what} failed: {state.message}", error=True)
        else:
            self.show_status(f"{job} with {what} cancelled; the masks are kept")
        self._sync_overlay()

    def _previewed(self, key: Key) -> None:
        """A quick preview of a translation came: the layers that use it show it until the translation comes."""
        project = self.project
        users = {la.id for la in project.layers if self.key(la) == key} if project is not None else set()
        if users:
            self.compositor.refresh_layers(users)
            self._sync_overlay()
            self.show_status("Preview (reduced resolution); the full resolution follows")

    def _catalog_changed(self) -> None:
        self.layers_panel.set_models(self.models())
        self._sync_style_panel()
        self._sync_notice()
        self.translate()  # a model the project names may have come back

    def _sync_notice(self) -> None:
        project = self.project
        missing = sorted({la.model_id for la in project.layers if la.model_id and self.catalog.get(la.model_id) is None
                          and self.translation(la) is None}) if project else []
        if not self.models():
            text = NO_MODEL
        elif missing:
            text = (f"This project paints with {', '.join(repr(m) for m in missing)}, not in the Library: those "
                    "layers keep their masks but show nothing until the model is imported again.")
        else:
            text = ""
        self.notice.say(text)

    # --- view ----------------------------------------------------------------------------------------

    def _sync_overlay(self) -> None:
        """The selected layer's mask is tinted while asked for, and while its translation is not there."""
        project = self.project
        layer = project.selected if project else None
        shown = [PHOTO, RESULT]
        if layer is not None and not self.before_after.isChecked() and self.compositor.painted(layer.id) and (
                self.show_mask.isChecked() or self.shown(layer) is None):
            shown.append(layer.mask)
        self.canvas.set_shown_layers(shown)

    def _show_original(self, original: bool) -> None:
        project = self.project
        if project is not None:
            project.document.set_layer_property(RESULT, visible=not original)
            self.show_status("Showing the original photo (\\ to go back)" if original else "Showing the painted photo")
        self._sync_overlay()

    # --- feedback ----------------------------------------------------------------------------------------

    def show_status(self, text: str, *, error: bool = False) -> None:
        self.status_label.show_message(text, error=error)

    def _busy(self, busy: bool) -> None:
        self.progress.setValue(0)
        self.progress.setVisible(busy)
        self.cancel.setVisible(busy)

    def _cursor(self, x: int, y: int) -> None:
        project = self.project
        layer = project.selected if project else None
        if x < 0 or layer is None:
            self.cursor_label.setText("" if x < 0 else f"{x}, {y}")
            return
        self.cursor_label.setText(f"{x}, {y}   mask {project.mask(layer.id)[y, x]:.0%}")
