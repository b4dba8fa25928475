"""Variations: one photo translated by a multi-domain model into many targets by seeds, side by side.

The photo on the left with the square the model sees (drag it, or its corners); in the middle a grid of results,
targets by seeds, that fills as they are made (app/variations/grid.py streams them); on the right the pick (a
result large, with its knobs: blend towards another target or variant, new layout, new details), the target list
(search, favourites) and the kept layers. Keep pastes the pick back into its square with a feathered edge, as a
layer with its recipe; the composite is exported, saved and sent on at the photo's full resolution.

The page wires the parts: the project (app/variations/project.py) holds the photo and kept layers with their
undo history; VariationJobs asks the engine; the panels show and emit intents; VariationsFiles owns the File and
Edit actions. Targets are the model's capabilities.domains, whatever they are (classes, domains, nodes).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QHideEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.canvas.toolbar import add_zoom_controls
from app.catalog_model import CatalogModel
from app.engine_bridge import EngineBridge
from app.history import ProjectChange
from app.variations.crop_view import CropView
from app.variations.files import VariationsFiles, photo_key
from app.variations.grid import GRID_SLOT, GridRequest, VariationJobs
from app.variations.panels import FavouritesStrip, KeptPanel, PickPanel, ResultGrid, TargetPanel
from app.variations.project import RESULT, Crop, Recipe, VariationsProject, project_document
from app.widgets.feedback import FILE_LABEL_WIDTH, ElidedLabel, Notice, StatusLabel
from app.widgets.files import FileDrop
from app.widgets.model_picker import ModelPicker
from app.widgets.page import PhotoPage
from engine.api import NORMALIZE_CLIP, NORMALIZE_MINMAX, ModelEntry, Task, Variation

GRID_WIDTH, RIGHT_WIDTH, KEPT_HEIGHT = 512, 290, 150
DEFAULT_ROWS, DEFAULT_SEEDS, MAX_SEEDS = 6, 4, 8
DETAIL_CHUNKS = 5  # the chunks of a draw after the first (layout): a hierarchical draw of six chunks
MAX_SEED = 2**31 - 1
FALLBACK_SIDE = 256  # a model that states no fixed or default size is given its crop at this size
COLOURS = {"Even colours": NORMALIZE_CLIP, "Stretched (as the paper)": NORMALIZE_MINMAX}
EMPTY = ("Open a photo to see it as other things: File > Open Photo… (Ctrl+O), or drop one here.\n\n"
         "Drag the square to choose what the model sees; the results fill the grid as they are made.")
NO_MODEL = ("No multi-domain model in the Library yet: import a DeepI2I checkpoint (Models > Import Checkpoint…) "
            "to see a photo as many other things.")


class VariationsPage(PhotoPage):
    ACCEPTS_PHOTOS = True

    def __init__(self, bridge: EngineBridge, catalog: CatalogModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.engine = VariationJobs(bridge, self)
        self.project: VariationsProject | None = None
        self.photo_name = ""
        self.photo_key = ""
        self.entry: ModelEntry | None = None
        self.request: GridRequest | None = None
        self._unsubscribe = None
        # the pick: the request it came from, its variation with every knob, and its image once made
        self._pick: tuple[GridRequest, Variation] | None = None
        self._pick_image: np.ndarray | None = None
        self._rng = np.random.default_rng()

        self.canvas = CropView(layers=[RESULT])
        self.placeholder = QLabel(EMPTY, wordWrap=True, alignment=Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setProperty("role", "muted")
        self.placeholder.setMargin(30)
        self.views = QStackedWidget()
        self.views.addWidget(self.placeholder)
        self.views.addWidget(self.canvas)
        self.drops = FileDrop(self)
        self.drops.install(self.placeholder, self.canvas)
        self.drops.dropped.connect(lambda paths, _mods: self.files.open_file(paths[0]))

        self.grid = ResultGrid()
        self.favourites = FavouritesStrip()
        self.targets = TargetPanel()
        self.pick = PickPanel()
        self.kept = KeptPanel()
        self.model_picker = ModelPicker()
        self.model_picker.combo.setMinimumContentsLength(18)
        self.notice = Notice()
        self.photo_label = ElidedLabel("")
        self.photo_label.setMaximumWidth(FILE_LABEL_WIDTH)
        self.photo_label.setProperty("role", "muted")
        self.status_label = StatusLabel()
        self.progress = QProgressBar(textVisible=False, maximumWidth=160, maximumHeight=10)
        self.stop = QPushButton("Stop")
        self.stop.setToolTip("Stop making the rest of the grid (More Variants, or any change, starts again)")
        self.stop.clicked.connect(self.stop_grid)
        for widget in (self.progress, self.stop):
            widget.hide()

        self._build_layout(self._build_toolbar())
        self._connect()
        self.files = VariationsFiles(self, bridge)
        catalog.changed.connect(self._catalog_changed)
        self._catalog_changed()
        self.set_project(None)

    # --- layout ------------------------------------------------------------------------------------------

    def _build_toolbar(self) -> QToolBar:
        bar = QToolBar("Variations tools")
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        bar.addAction("Open Photo…", lambda: self.files.choose_photo()).setToolTip("Open a photo (Ctrl+O)")
        bar.addSeparator()
        centre = bar.addAction("Centre Square", self.centre_crop)
        centre.setToolTip("Put the square the model sees back in the middle of the photo, as large as it fits")
        bar.addSeparator()
        self.zoom_label = add_zoom_controls(bar, self.canvas, "photo")
        bar.addWidget(QLabel("Model "))
        bar.addWidget(self.model_picker)
        self.keep_action = QAction("Keep as Layer", self, shortcut=QKeySequence("K"))
        self.more_action = QAction("More Variants", self, shortcut=QKeySequence("N"))
        for action, slot in ((self.keep_action, self.keep_pick), (self.more_action, self.more_variants)):
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(slot)
            self.addAction(action)
        return bar

    def _build_layout(self, toolbar: QToolBar) -> None:
        self.first_seed = QSpinBox(minimum=0, maximum=MAX_SEED)
        self.first_seed.setToolTip("The first variant's number: each number always gives the same result")
        self.seed_count = QSpinBox(minimum=1, maximum=MAX_SEEDS, value=DEFAULT_SEEDS)
        self.seed_count.setToolTip("How many variants of each target, side by side")
        self.more = QPushButton("More Variants")
        self.more.setToolTip("The next variants of every target (N)")
        self.more.clicked.connect(self.more_variants)
        self.shape = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=150, value=100)
        self.shape.setTracking(False)  # one new grid when the drag ends
        self.shape.setToolTip("Keep the photo's shape: 100 % as the model was trained; less lets the target "
                              "reshape it more, more holds to the photo")
        self.shape_value = QLabel("100 %")
        self.colours = QComboBox()
        self.colours.addItems(list(COLOURS))
        self.colours.setToolTip("Even colours: every result mapped alike. Stretched: each result stretched to its "
                                "own darkest and brightest, as the paper's pictures are")
        self.keep_focus_off(self.first_seed, self.seed_count)

        seeds = QHBoxLayout()
        seeds.addWidget(QLabel("Variants from"))
        seeds.addWidget(self.first_seed)
        seeds.addWidget(QLabel("count"))
        seeds.addWidget(self.seed_count)
        seeds.addStretch()
        seeds.addWidget(self.more)
        knobs = QHBoxLayout()
        knobs.addWidget(QLabel("Keep the photo's shape"))
        knobs.addWidget(self.shape, 1)
        knobs.addWidget(self.shape_value)
        knobs.addWidget(self.colours)
        middle_column = QWidget()
        middle_column.setFixedWidth(GRID_WIDTH)
        column = QVBoxLayout(middle_column)
        column.setContentsMargins(4, 0, 4, 0)
        column.addWidget(self.favourites)
        column.addWidget(self.grid, 1)
        column.addLayout(seeds)
        column.addLayout(knobs)

        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 4, 0)
        column.addWidget(self.pick)
        column.addWidget(self.targets, 1)
        left = QVBoxLayout()
        left.addWidget(self.views, 1)
        left.addWidget(self.kept)
        self.kept.setMaximumHeight(KEPT_HEIGHT)
        scroll = QScrollArea(widgetResizable=True, frameShape=QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(right)
        scroll.setFixedWidth(RIGHT_WIDTH + scroll.verticalScrollBar().sizeHint().width())
        middle = QHBoxLayout()
        middle.addLayout(left, 1)
        middle.addWidget(middle_column)
        middle.addWidget(scroll)
        self.side_panels = [middle_column, scroll, self.kept]
        status = QHBoxLayout()
        status.addWidget(self.photo_label)
        status.addWidget(self.status_label, 1)
        status.addWidget(self.progress)
        status.addWidget(self.stop)
        self.lay_out(toolbar, middle, status)

    def _connect(self) -> None:
        self.canvas.crop_changed.connect(self._crop_changed)
        self.model_picker.picked.connect(self._model_picked)
        self.grid.picked.connect(self.pick_cell)
        self.grid.blend_picked.connect(self.blend_towards_cell)
        self.targets.shown_changed.connect(lambda _shown: self.refresh_grid())
        self.targets.favourite_toggled.connect(self.toggle_favourite)
        self.favourites.toggled.connect(self._favourite_clicked)
        self.pick.knobs_changed.connect(self._knobs_changed)
        self.pick.new_layout.connect(lambda: self._reseed(layout=True))
        self.pick.new_details.connect(lambda: self._reseed(layout=False))
        self.pick.keep_requested.connect(self.keep_pick)
        self.pick.export_requested.connect(lambda: self.files.choose_pick_export())
        self.kept.feather_changed.connect(lambda layer_id, px: self.project and self.project.set_feather(layer_id, px))
        self.first_seed.valueChanged.connect(lambda _: self.refresh_grid())
        self.seed_count.valueChanged.connect(lambda _: self.refresh_grid())
        self.shape.valueChanged.connect(lambda v: (self.shape_value.setText(f"{v} %"), self.refresh_grid()))
        self.shape.sliderMoved.connect(lambda v: self.shape_value.setText(f"{v} %"))
        self.colours.currentIndexChanged.connect(lambda _: self.refresh_grid())
        self.engine.cell_ready.connect(self.grid.set_result)
        self.engine.grid_progress.connect(self._grid_progress)
        self.engine.pick_ready.connect(self._pick_ready)
        self.engine.failed.connect(lambda message: self.show_status(f"Making variations failed: {message}",
                                                                    error=True))
        self.engine.jobs.busy_changed.connect(self._busy)

    # --- projects ----------------------------------------------------------------------------------------

    def open_photo(self, image: np.ndarray, name: str, key: str = "") -> VariationsProject:
        """A new project on the photo (HxWx3 float32 in [0, 1]), its crop the centre square. `key`: the photo's
        photo_key when the reader has made it already."""
        project = VariationsProject(project_document(image))
        self.set_project(project, name, key)
        return project

    def set_project(self, project: VariationsProject | None, name: str = "", key: str = "") -> None:
        if self._unsubscribe:
            self._unsubscribe()
        self.project, self.photo_name = project, name
        self.photo_key = (key or photo_key(project.photo)) if project else ""  # results are cached under it
        self._unsubscribe = project.subscribe(self._project_changed) if project else None
        self.canvas.set_document(project.document if project else None)
        self.canvas.set_crop(project.crop if project else None)
        self.views.setCurrentWidget(self.canvas if project else self.placeholder)
        if self.isVisible():
            self.focus_canvas()
        self.kept.set_project(project)
        self.kept.setVisible(project is not None)  # the photo takes the room while there is none
        self._describe_layers()
        self._clear_pick()
        self.photo_label.set_text(self._photo_text())
        self.files.project_changed()
        self.refresh_grid()

    def _project_changed(self, change: ProjectChange) -> None:
        if change.what == "layers" and change.final:
            self.project.recomposite()
            self._describe_layers()

    def _describe_layers(self) -> None:
        layers = self.project.layers if self.project else ()
        self.kept.set_descriptions({la.id: self.describe(la.recipe.variation, la.recipe.model_id) for la in layers})
        self.kept.refresh()

    def centre_crop(self) -> None:
        if self.project is not None:
            h, w = self.project.size
            self._crop_changed(Crop.centred(h, w), True)
            self.canvas.set_crop(self.project.crop)

    def _crop_changed(self, crop: Crop, final: bool) -> None:
        if self.project is not None and final:
            self.project.set_crop(crop)
            self.refresh_grid()

    def _photo_text(self) -> str:
        if self.project is None:
            return ""
        h, w = self.project.size
        return f"{self.photo_name} ({w}x{h})  ·"

    # --- models and targets ----------------------------------------------------------------------------

    def models(self) -> list[ModelEntry]:
        return [e for e in self.catalog.entries if e.task == Task.MULTI_DOMAIN.value]

    def domains(self) -> tuple[str, ...]:
        caps = self.entry.capabilities if self.entry else None
        return tuple(caps.domains) if caps else ()

    def set_model(self, entry: ModelEntry | None) -> None:
        self.entry = entry
        self.model_picker.show_model(entry.id if entry else None)
        names = self.domains()
        favourites = self._favourites()
        shown = favourites or list(range(min(DEFAULT_ROWS, len(names))))
        self.targets.set_targets(names, shown, favourites)
        self.pick.set_targets(names)
        self._show_favourites()
        self.notice.say("" if self.models() else NO_MODEL)
        self._clear_pick()
        self.refresh_grid()

    def _catalog_changed(self) -> None:
        models = self.models()
        self.model_picker.set_models(models)
        current = self.catalog.get(self.entry.id) if self.entry else None
        current = current or (models[0] if models else None)
        if current != self.entry:
            self.set_model(current)
        else:
            self.model_picker.show_model(current.id if current else None)
            self.notice.say("" if models else NO_MODEL)

    def _model_picked(self, model_id: str) -> None:
        entry = self.catalog.get(model_id)
        if entry is not None and entry != self.entry:
            self.set_model(entry)

    def _favourites(self) -> list[int]:
        if self.entry is None:
            return []
        names = self.domains()
        stored = QSettings().value(f"variations/favourites/{self.entry.id}", [], list) or []
        return [names.index(n) for n in stored if n in names]

    def toggle_favourite(self, target: int) -> None:
        """Mark a target as a favourite, or unmark it (kept per model, across sessions)."""
        if self.entry is None:
            return
        favourites = self._favourites()
        favourites = [t for t in favourites if t != target] if target in favourites else favourites + [target]
        names = self.domains()
        QSettings().setValue(f"variations/favourites/{self.entry.id}", [names[t] for t in favourites])
        self.targets.set_favourites(favourites)
        self._show_favourites()

    def _show_favourites(self) -> None:
        names = self.domains()
        self.favourites.set_favourites([(t, names[t]) for t in self._favourites()], self.targets.shown())

    def _favourite_clicked(self, target: int) -> None:
        shown = list(self.targets.shown())
        self.targets.set_shown([t for t in shown if t != target] if target in shown else shown + [target])

    # --- the grid ----------------------------------------------------------------------------------------

    def model_side(self) -> int:
        caps = self.entry.capabilities if self.entry else None
        size = (caps.fixed_size or caps.default_size) if caps else None
        return int(size[0]) if size else FALLBACK_SIDE

    def seeds(self) -> tuple[int, ...]:
        first = self.first_seed.value()
        return tuple(range(first, min(MAX_SEED, first + self.seed_count.value() - 1) + 1))

    def weight(self) -> float:
        return self.shape.value() / 100

    def normalize(self) -> str:
        return COLOURS[self.colours.currentText()]

    def grid_request(self) -> GridRequest | None:
        """What the grid should show now (None: nothing to show)."""
        project, entry = self.project, self.entry
        targets = self.targets.shown()
        if project is None or entry is None or not targets:
            return None
        crop = project.crop
        return GridRequest(entry.id, (self.photo_key, crop), project.crop_pixels(self.model_side(), crop), targets,
                           self.seeds(), self.weight(), self.normalize())

    def refresh_grid(self) -> None:
        """Ask for the grid the page's state wants; what the previous one still had to make is cancelled."""
        request = self.grid_request()
        self._show_favourites()
        if request is not None and self.request is not None and request.key == self.request.key:
            return
        self.request = request
        names = self.domains()
        if request is None:
            self.grid.set_shape([], [])
        else:
            self.grid.set_shape([names[t] for t in request.targets], request.seeds)
        self.engine.set_request(request)
        if request is None and self.project is not None and self.entry is not None:
            self.show_status("Tick a target in the list (or a favourite) to see the photo as it")

    def more_variants(self) -> None:
        self.first_seed.setValue(min(MAX_SEED, self.first_seed.value() + self.seed_count.value()))

    def stop_grid(self) -> None:
        self.engine.set_request(None)
        self.request = None
        self.show_status("Stopped; the results made so far stay")

    def _grid_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        if total:
            self.show_status(f"{done} of {total} results" + ("" if done < total else ": click one to look at it"))

    def _busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.stop.setVisible(busy and self.engine.jobs.running(GRID_SLOT))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.engine.set_active(True)

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self.engine.set_active(False)  # nothing is made for a page nobody looks at

    # --- the pick ----------------------------------------------------------------------------------------

    def pick_cell(self, row: int, col: int) -> None:
        """Look at a result large, its knobs at rest."""
        request = self.request
        if request is None:
            return
        variation = request.variation(row, col)
        self._pick = (request, variation)
        self.pick.show_knobs(variation.target, 0.0, variation.seed + 1, 0.0)
        self.pick.set_enabled(True)
        self._render_pick()

    def blend_towards_cell(self, row: int, col: int) -> None:
        """Shift+click: blend the pick towards this result's target and variant (halfway to begin with)."""
        request = self.request
        if request is None:
            return
        if self._pick is None:
            self.pick_cell(row, col)
            return
        other = request.variation(row, col)
        base = self._pick[1]
        self.pick.show_knobs(other.target, 0.5 if other.target != base.target else 0.0, other.seed,
                             0.5 if other.seed != base.seed else 0.0)
        self._knobs_changed()

    def pick_variation(self) -> Variation | None:
        return self._pick[1] if self._pick else None

    def _knobs_changed(self) -> None:
        if self._pick is None:
            return
        request, base = self._pick
        mix, seed_mix = self.pick.mix.value() / 100, self.pick.seed_mix.value() / 100
        variation = dataclasses.replace(
            base, target_b=self.pick.blend_target.currentIndex() if mix > 0 else None, mix=mix,
            seed_b=self.pick.blend_seed.value() if seed_mix > 0 else None, seed_mix=seed_mix)
        self._pick = (request, variation)
        self._render_pick()

    def _reseed(self, *, layout: bool) -> None:
        """A new draw for the coarse arrangement (layout) or for the finer detail, the rest kept."""
        if self._pick is None:
            return
        request, base = self._pick
        chunks = list(base.chunk_seeds) + [None] * (1 + DETAIL_CHUNKS - len(base.chunk_seeds))
        fresh = [int(s) for s in self._rng.integers(0, MAX_SEED, size=1 + DETAIL_CHUNKS)]
        if layout:
            chunks[0] = fresh[0]
        else:
            chunks[1:] = fresh[1:]
        self._pick = (request, dataclasses.replace(base, chunk_seeds=tuple(chunks)))
        self._render_pick()

    def _render_pick(self) -> None:
        request, variation = self._pick
        self._pick_image = None
        self.pick.show_result(None, self.describe(variation))
        self.engine.render_pick(request, variation)

    def _pick_ready(self, variation: Variation, image: np.ndarray) -> None:
        if self._pick is not None and self._pick[1] == variation:
            self._pick_image = image
            self.pick.show_result(image, self.describe(variation))

    def _clear_pick(self) -> None:
        self._pick, self._pick_image = None, None
        self.engine.forget_pick()
        self.pick.show_result(None, "")
        self.pick.view.setText("Click a result in the grid to look at it here")
        self.pick.set_enabled(False)

    def pick_image(self) -> np.ndarray | None:
        """The pick as made (HxWx3 uint8, the model's size); None while it is on its way."""
        return self._pick_image

    def pick_file_name(self) -> str:
        variation = self.pick_variation()
        names = self.domains()
        target = names[variation.target] if variation and variation.target < len(names) else "pick"
        stem = Path(self.photo_name or "photo").stem
        return f"{stem}-{target}-{variation.seed if variation else 0}.png".replace("/", "-").replace(" ", "_")

    def describe(self, variation: Variation, model_id: str | None = None) -> str:
        """A recipe in words: "tiger, variant 3, 40 % towards lion, new details"."""
        names = self.domains() if model_id in (None, self.entry.id if self.entry else None) else ()

        def name(target: int) -> str:
            return names[target] if 0 <= target < len(names) else f"target {target}"

        words = [name(variation.target), f"variant {variation.seed}"]
        if variation.target_b is not None and variation.mix > 0:
            words.append(f"{variation.mix:.0%} towards {name(variation.target_b)}")
        if variation.seed_b is not None and variation.seed_mix > 0:
            words.append(f"{variation.seed_mix:.0%} towards variant {variation.seed_b}")
        if variation.chunk_seeds[:1] not in ((), (None,)):
            words.append("new layout")
        if any(s is not None for s in variation.chunk_seeds[1:]):
            words.append("new details")
        if variation.weight != 1.0:
            words.append(f"photo's shape {variation.weight:.0%}")
        return ", ".join(words)

    def keep_pick(self) -> None:
        """Paste the pick into the square it was made from, as a layer over the photo (one undo step)."""
        project, image = self.project, self._pick_image
        if project is None or self._pick is None or image is None:
            self.show_status("Nothing to keep yet: click a result in the grid and wait for it to show", error=True)
            return
        request, variation = self._pick
        crop = request.source[1]
        layer = project.keep(Recipe(request.model_id, variation, request.normalize), image,
                             self.describe(variation), crop)
        self.show_status(f"Kept “{layer.name}” as a layer over the photo")

    # --- feedback ----------------------------------------------------------------------------------------

    def show_status(self, text: str, *, error: bool = False) -> None:
        self.status_label.show_message(text, error=error)
