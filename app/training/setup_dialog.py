"""Training > Train <title>…: data folders, palette, a live dataset check, a preset (Quick look / Default / The
paper's) with the trainer's options (generated from its config) under Advanced, devices, run name and folder;
Start launches a detached trainer. Once the data check passes, a few real steps of the trainer on that data measure
how long each preset (and the form's own step count) would take on this computer (app/training/estimate.py).

Everything trainer-specific comes from its line in trainers.registry: the data rows follow its data kind
(photos with label maps, one folder of photos, a folder per domain or a dataset holding trainA and trainB,
one source and one target photo, or a folder of content photos and one of style images), the form its config."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.training.dataset_check import DatasetCheck
from app.training.estimate import Measurement, SpeedProbe, cached, duration, estimate_text, speed_key
from app.training.options_form import OptionsForm
from app.training.palette_editor import PaletteEditor, user_palettes
from app.training.presets import DEFAULT_PRESET, PRESETS, describe_preset, matching_preset, preset_values
from app.training.process import CONFIG_FILE, Launch, runs_dir, start_run
from app.widgets.files import PHOTO, existing_folder, open_file_name
from engine import palettes
from trainers.configs import VGG19_FILE, describe, find_vgg19_weights
from trainers.events import EVENTS_FILE
from trainers.registry import TrainerSpec

# Fields this dialog edits with its own widgets; the rest go to the generated options form.
OWN_FIELDS = {"images", "labels", "instances", "no_instance", "palette", "dataroot", "a", "b", "source", "target",
              "content", "style", "out", "name", "device"}
PHOTO_FILTER = "Photos (*.jpg *.jpeg *.png *.bmp *.tif *.tiff *.webp)"
# Per kind of data (the trainer's `data`): the data box title, the fields a check needs (any one tuple
# complete), and what to ask for until then.
DATA_KINDS = {
    "paired": ("Data (SPADE custom layout: photos and label maps matched by file name)", [("images", "labels")],
               "Choose a photo folder and a label folder."),
    "photos": ("Data (one folder of photos, any sizes)", [("images",)], "Choose a folder of photos."),
    "unpaired": ("Data (a folder of photos per domain, or a dataset with trainA and trainB)",
                 [("dataroot",), ("a", "b")],
                 ("Choose a folder of photos for each domain (A and B), or a dataset folder holding trainA and "
                  "trainB.")),
    "single": ("Data (one source photo and one target photo)", [("source", "target")],
               "Choose the source photo and the target photo."),
    # the check counts them as its two folders, A and B
    "content_style": ("Data (a folder of content photos and a folder of style images, any sizes)",
                      [("content", "style")], "Choose a folder of content photos and a folder of style images."),
    "classes": ("Data (a folder of class folders: one subfolder of photos per class, any sizes)", [("images",)],
                "Choose a folder holding one subfolder of photos per class (at least 2 classes)."),
}
MEASURE_DELAY_MS = 1_500  # the form rests this long before its speed is measured
RANDOM_VGG = "random"  # the trainers' vgg_weights value for random weights (tests)
# Data and Run are mostly edited on the left; a trainer's own groups (Patches, PatchNCE) come last.
FIRST_TABS = ("Training", "Network", "Reporting", "Data", "Run")


class FolderField(QWidget):
    """A path line edit with a Browse… button (for a folder, or with `photo` for an image file)."""

    def __init__(self, caption: str, placeholder: str = "", parent: QWidget | None = None, *,
                 photo: bool = False) -> None:
        super().__init__(parent)
        self._photo = photo
        self.line = QLineEdit()
        self.line.setPlaceholderText(placeholder)
        browse = QPushButton("Browse…")
        browse.clicked.connect(lambda: self._browse(caption))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.line, 1)
        layout.addWidget(browse)

    def text(self) -> str:
        return self.line.text().strip()

    def _browse(self, caption: str) -> None:
        if self._photo:
            chosen = open_file_name(self, caption, PHOTO_FILTER, PHOTO)
        else:
            chosen = existing_folder(self, caption, PHOTO)
        if chosen:
            self.line.setText(chosen)


class SetupDialog(QDialog):
    run_started = Signal(Path)  # the run folder, once its trainer process has started

    def __init__(self, trainer: TrainerSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Train {trainer.title}")
        self.resize(1180, 760)
        self._trainer = trainer
        self._specs = {s["name"]: s for s in describe(trainer.config)}

        intro = QLabel(trainer.description)
        intro.setProperty("role", "muted")
        intro.setWordWrap(True)  # a long description must not widen the left column
        self.images = FolderField("Folder of photos")
        self.labels = FolderField("Folder of label maps")
        self.instances = FolderField("Folder of instance maps", "optional")
        self.dataroot = FolderField("Dataset folder holding trainA and trainB", "optional: holds trainA and trainB")
        self.domain_a = FolderField("Folder of domain A photos", "the inputs, e.g. horses")
        self.domain_b = FolderField("Folder of domain B photos", "the look to learn, e.g. zebras")
        self.source = FolderField("Source photo", "the photo to translate", photo=True)
        self.target = FolderField("Target photo", "the photo whose look to learn", photo=True)
        self.content = FolderField("Folder of content photos", "the photos to stylise")
        self.style_images = FolderField("Folder of style images", "the looks to learn, e.g. paintings")
        self.palette = QComboBox()
        self._fill_palettes()
        edit_palette = QPushButton("Edit…")
        edit_palette.setToolTip("Edit a copy of this palette (saved in your data folder)")
        edit_palette.clicked.connect(self._edit_palette)
        load_palette = QPushButton("Load JSON…")
        load_palette.clicked.connect(self._load_palette)
        palette_row = QHBoxLayout()
        palette_row.addWidget(self.palette, 1)
        palette_row.addWidget(edit_palette)
        palette_row.addWidget(load_palette)
        data = QFormLayout()
        data.addRow("Photos", self.images)
        data.addRow("Label maps", self.labels)
        data.addRow("Instance maps", self.instances)
        data.addRow("Palette", palette_row)
        data.addRow("Dataset folder", self.dataroot)
        data.addRow("Domain A photos", self.domain_a)
        data.addRow("Domain B photos", self.domain_b)
        data.addRow("Source photo", self.source)
        data.addRow("Target photo", self.target)
        data.addRow("Content photos", self.content)
        data.addRow("Style images", self.style_images)
        self._paths = {"images": self.images, "labels": self.labels, "instances": self.instances,
                       "dataroot": self.dataroot, "a": self.domain_a, "b": self.domain_b, "source": self.source,
                       "target": self.target, "content": self.content, "style": self.style_images}
        for field, row in (*self._paths.items(), ("palette", palette_row)):
            data.setRowVisible(row, field in self._specs)
        self._kind = trainer.data
        data_box = QGroupBox(DATA_KINDS[self._kind][0])
        data_box.setLayout(data)

        self.check = DatasetCheck(trainer.method)
        self.check.state_changed.connect(self._update_start)

        self.run_name = QLineEdit()
        self.run_folder = FolderField("Run folder")
        self.device = QComboBox()
        self.device.addItems([str(c) for c in self._specs["device"]["choices"]])
        self.device.setCurrentText(str(self._specs["device"]["default"]))
        self.gpus = QLineEdit()
        self.gpus.setPlaceholderText("all visible")
        self.gpus.setToolTip("CUDA device numbers for this run, e.g. 0,1 (sets CUDA_VISIBLE_DEVICES)")
        self.device.currentTextChanged.connect(lambda device: self.gpus.setEnabled(device in ("auto", "cuda")))
        self.processes = QSpinBox(minimum=1, maximum=64)
        self.processes.setToolTip("More than one: one process per GPU through torch.distributed.run")
        run = QFormLayout()
        run.addRow("Run name", self.run_name)
        run.addRow("Run folder", self.run_folder)
        run.addRow("Device", self.device)
        run.addRow("GPUs", self.gpus)
        run.addRow("Processes", self.processes)
        run_box = QGroupBox("Run")
        run_box.setLayout(run)

        self.options = OptionsForm(list(self._specs.values()), skip=OWN_FIELDS, first=FIRST_TABS)
        self.vgg_note = QLabel()
        self.vgg_note.setWordWrap(True)
        self.vgg_summary = QLabel()  # the VGG warning, visible without opening Advanced
        self.vgg_summary.setWordWrap(True)
        self.vgg_summary.hide()
        if "vgg_weights" in self._specs:
            self.options.add_note("vgg_weights", self.vgg_note)
            self.options.changed.connect(self._show_vgg)
            self._show_vgg()
        self.options.changed.connect(self._data_changed)  # data options (label_nc…) change the check
        self.options.changed.connect(self._update_start)
        self._defaults = {name: spec["default"] for name, spec in self._specs.items() if name not in OWN_FIELDS}
        preset_heading = QLabel("How long to train")
        preset_heading.setObjectName("heading")
        self.presets = QButtonGroup(self)
        self.presets.setExclusive(False)  # none checked once the user sets an option by hand
        preset_row = QHBoxLayout()
        self.preset_times: dict[str, QLabel] = {}  # the measured time under each preset's button
        for preset in PRESETS:
            button = QPushButton(preset.title, checkable=True)
            button.setToolTip(describe_preset(preset, self._defaults))
            button.setProperty("preset", preset.key)
            self.presets.addButton(button)
            time_label = QLabel(alignment=Qt.AlignmentFlag.AlignHCenter)
            time_label.setProperty("role", "muted")
            self.preset_times[preset.key] = time_label
            column = QVBoxLayout()
            column.setSpacing(2)
            column.addWidget(button)
            column.addWidget(time_label)
            preset_row.addLayout(column, 1)
        self.presets.buttonClicked.connect(lambda button: self.apply_preset(button.property("preset")))
        self.preset_note = QLabel()
        self.preset_note.setWordWrap(True)
        self.time_note = QLabel()
        self.time_note.setProperty("role", "muted")
        self.time_note.setWordWrap(True)
        self.stop_measuring = QPushButton("Stop measuring")
        self.stop_measuring.setToolTip("Stop timing the trainer's first steps (the estimate stays unknown)")
        self.stop_measuring.clicked.connect(self.cancel_measuring)
        self.stop_measuring.hide()
        time_row = QHBoxLayout()
        time_row.addWidget(self.time_note, 1)
        time_row.addWidget(self.stop_measuring, 0, Qt.AlignmentFlag.AlignTop)
        self.speed = SpeedProbe(trainer.method, self)
        self.speed.measured.connect(lambda *_: self._measure_soon(0))
        self.speed.failed.connect(self._measuring_failed)
        self.speed.running_changed.connect(lambda _running: self._show_estimates())
        self._not_measured: dict[str, str] = {}  # speed key -> why not (failed, or stopped by the user)
        self._measure_timer = QTimer(self, singleShot=True, interval=MEASURE_DELAY_MS)
        self._measure_timer.timeout.connect(self._measure_next)
        self.advanced = QToolButton(checkable=True)
        self.advanced.setText("Advanced options (every setting; changed values in bold)")
        self.advanced.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced.toggled.connect(self._show_advanced)
        self.options.hide()
        self.options.changed.connect(self._show_preset)
        self.blocker = QLabel()
        self.blocker.setProperty("role", "muted")
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.reject)
        self.start = QPushButton("Start")
        self.start.setProperty("role", "primary")
        self.start.clicked.connect(self.start_training)

        left = QVBoxLayout()
        left.addWidget(intro)
        left.addWidget(data_box)
        left.addWidget(self.check)
        left.addWidget(run_box)
        left.addStretch()
        right = QVBoxLayout()
        right.addWidget(preset_heading)
        right.addLayout(preset_row)
        right.addWidget(self.preset_note)
        right.addLayout(time_row)
        right.addWidget(self.vgg_summary)
        right.addWidget(self.advanced)
        right.addWidget(self.options, 1)
        self._right_stretch = right.count()
        right.addStretch(1)  # while Advanced is closed
        columns = QHBoxLayout()
        columns.addLayout(left, 5)
        columns.addLayout(right, 6)
        buttons = QHBoxLayout()
        buttons.addStretch()
        buttons.addWidget(self.blocker)
        buttons.addWidget(cancel)
        buttons.addWidget(self.start)
        layout = QVBoxLayout(self)
        layout.addLayout(columns, 1)
        layout.addLayout(buttons)

        for field in self._paths.values():
            field.line.textChanged.connect(self._data_changed)
        self.palette.currentIndexChanged.connect(self._data_changed)
        for field in (self.run_name, self.run_folder.line):
            field.textChanged.connect(self._update_start)
        self.check.state_changed.connect(lambda: self._measure_soon())
        self.options.changed.connect(lambda: self._measure_soon())
        self.device.currentTextChanged.connect(lambda _device: self._measure_soon())
        self._right = right
        self.apply_preset(DEFAULT_PRESET)
        self._data_changed()

    # --- intents ------------------------------------------------------------------------------

    def run_dir(self) -> Path:
        return Path(self.run_folder.text() or self.run_folder.line.placeholderText()).expanduser()

    def config(self) -> dict[str, Any]:
        """The config the trainer gets (its flat JSON). Raises ValueError for an invalid option."""
        instances = self.instances.text()
        own = {**{name: field.text() for name, field in self._paths.items()}, "instances": instances or None,
               "no_instance": not instances, "palette": self.palette.currentData(),
               "out": str(self.run_dir()), "name": self._name(), "device": self.device.currentText()}
        return {**self.options.values(), **{k: v for k, v in own.items() if k in self._specs}}

    def apply_preset(self, key: str) -> None:
        """Set the form to preset `key`'s values (steps, picture sizes; the rest at the paper's defaults)."""
        preset = next(p for p in PRESETS if p.key == key)
        self.options.set_values(preset_values(preset, self._defaults))
        self.options.changed.emit()

    def preset(self) -> str | None:
        """The key of the preset the form shows, None once an option differs from it."""
        found = matching_preset(self.options.values() if not self.options.errors() else {}, self._defaults)
        return found.key if found else None

    def start_training(self) -> None:
        self._update_start()
        if not self.start.isEnabled():
            return
        self.cancel_measuring()  # the run needs the device to itself
        try:
            start_run(self.run_dir(), self.config(),
                      Launch(self._trainer.method, self.processes.value(), self.gpus.text().strip()))
        except (OSError, ValueError) as exc:
            self._block(f"Could not start: {exc}", error=True)
            return
        self.run_started.emit(self.run_dir())
        self.accept()

    def cancel_measuring(self) -> None:
        """Stop timing the first steps; the estimate waits until the data or options change."""
        if self.speed.running:
            self._not_measured[self.speed.key] = "stopped"
            self.speed.cancel()
        self._measure_timer.stop()
        self._show_estimates()

    def done(self, result: int) -> None:
        self.speed.cancel()  # a closed dialog leaves no trainer behind
        self._measure_timer.stop()
        super().done(result)

    # --- the time a run takes -----------------------------------------------------------------

    def _speed_configs(self) -> list[tuple[str, dict[str, Any]]]:
        """(speed key, config) of the form's config and of each preset's, the form's first; none before the data
        check passed or while an option is invalid."""
        if not self.check.ok or self.options.errors():
            return []
        try:
            config = self.config()
        except ValueError:
            return []
        configs = [config, *({**config, **preset_values(p, self._defaults)} for p in PRESETS)]
        return [(speed_key(self._trainer.method, c), c) for c in configs]

    def _measure_soon(self, delay_ms: int | None = None) -> None:
        """Measure what is not yet known once the form rests; a measurement of a config no longer shown stops."""
        self._show_estimates()
        wanted = {key for key, _ in self._speed_configs()}
        if self.speed.running and self.speed.key not in wanted:
            self.speed.cancel()
        self._measure_timer.start(MEASURE_DELAY_MS if delay_ms is None else delay_ms)

    def _measure_next(self) -> None:
        if self.speed.running or not self.isVisible():
            return
        for key, config in self._speed_configs():
            if cached(key) is None and key not in self._not_measured:
                self.speed.measure(key, config)
                return

    def _measuring_failed(self, key: str, reason: str) -> None:
        self._not_measured[key] = reason
        self._show_estimates()

    def _show_estimates(self) -> None:
        configs = self._speed_configs()
        by_preset = dict(zip((p.key for p in PRESETS), configs[1:], strict=False))  # none before the data check
        for preset in PRESETS:
            key, config = by_preset.get(preset.key, ("", {}))
            found = cached(key) if key else None
            self.preset_times[preset.key].setText(
                duration(found.total(config["total_steps"])) if found
                else "measuring…" if key and self.speed.key == key else "")
        self.stop_measuring.setVisible(self.speed.running)
        self.time_note.setText(self._time_text(configs[0] if configs else None))

    def _time_text(self, current: tuple[str, dict[str, Any]] | None) -> str:
        if current is None:
            return ("Time: once the data check passes, a few steps of the trainer on your data measure how long "
                    "each choice takes on this computer.")
        key, config = current
        found: Measurement | None = cached(key)
        steps = config["total_steps"]
        if found is not None:
            return (f"{estimate_text(found, steps)}: {steps:,} steps at {found.seconds_per_step:.2g} s a step on "
                    f"{found.device or self.device.currentText()}; the monitor then shows the time left.")
        if self.speed.key == key:
            return "Measuring the speed on this computer: a few steps of the trainer on your data…"
        if key in self._not_measured:
            why = self._not_measured[key]
            return ("Time: not measured (stopped)." if why == "stopped"
                    else f"Time: could not measure the speed ({why}).")
        return "Time: measuring soon…"

    # --- palettes -----------------------------------------------------------------------------

    def _fill_palettes(self) -> None:
        for name in palettes.available():
            self.palette.addItem(palettes.load(name).title, name)
        for path in user_palettes():
            self._add_palette(path, select=False)
        default = self._specs["palette"]["default"] if "palette" in self._specs else None
        self.palette.setCurrentIndex(max(self.palette.findData(default), 0))

    def _add_palette(self, path: Path, *, select: bool = True) -> None:
        """List a palette JSON file (once; the trainer gets its path). Raises nothing: bad files are skipped."""
        try:
            title = palettes.load(path).title
        except ValueError:
            return
        index = self.palette.findData(str(path))
        if index < 0:
            self.palette.addItem(f"{title} ({path.name})", str(path))
            index = self.palette.count() - 1
        if select:
            self.palette.setCurrentIndex(index)

    def _edit_palette(self) -> None:
        editor = PaletteEditor(palettes.load(self.palette.currentData()), self)
        if editor.exec() == QDialog.DialogCode.Accepted and editor.saved_path:
            self._add_palette(editor.saved_path)

    def _load_palette(self) -> None:
        path = open_file_name(self, "Load palette", "Palettes (*.json)", "palette")
        if not path:
            return
        try:
            palettes.load(path)
        except ValueError as exc:
            self._block(str(exc), error=True)
            return
        self._add_palette(Path(path))

    # --- state --------------------------------------------------------------------------------

    def _data_changed(self) -> None:
        self.run_name.setPlaceholderText(self._auto_name())
        _, needed, ask = DATA_KINDS[self._kind]
        if not any(all(self._paths[name].text() for name in names) for names in needed):
            self.check.clear(ask)
            return
        try:
            config = self.config()
        except ValueError:
            return  # _update_start names the invalid option
        # The trainer's CLI takes every config field as a flag; the "Data" ones (and a few such as the
        # crop size, which leaves out smaller photos) shape the check.
        self.check.request([arg for name, spec in self._specs.items() if spec["checks_data"]
                            for arg in _flag(name, config[name])])

    def _auto_name(self) -> str:
        if self._kind == "single":
            dataset = Path(self.source.text()).stem
        elif self._kind == "unpaired":
            dataset = Path(self.dataroot.text()).name or Path(self.domain_a.text()).parent.name
        elif self._kind == "content_style":
            dataset = Path(self.style_images.text()).name
        else:
            images = Path(self.images.text())
            dataset = images.parent.name or images.name
        return f"{self._trainer.method}-{dataset or 'run'}-{time.strftime('%Y%m%d-%H%M')}"

    def _name(self) -> str:
        return self.run_name.text().strip() or self.run_name.placeholderText()

    def _update_start(self) -> None:
        self.run_folder.line.setPlaceholderText(str(runs_dir() / self._name()))
        run_dir = self.run_dir()
        in_use = (run_dir / EVENTS_FILE).exists() or (run_dir / CONFIG_FILE).exists()
        if self.check.pending:
            self._block("Checking the dataset…")
        elif not self.check.ok:
            self._block("Start needs a dataset check without errors.")
        elif errors := self.options.errors():
            self._block(errors[0], error=True)
        elif any(sep in self._name() for sep in "/\\"):
            self._block("The run name is a folder name: no slashes.", error=True)
        elif in_use:
            self._block("That run folder holds a run: choose another name (Training > Open Run… resumes it).",
                        error=True)
        else:
            self._block("")

    def _show_preset(self) -> None:
        key = self.preset()
        for button in self.presets.buttons():
            button.setChecked(button.property("preset") == key)
        preset = next((p for p in PRESETS if p.key == key), None)
        self.preset_note.setText(describe_preset(preset, self._defaults) if preset
                                 else "Custom: your own settings (see Advanced options).")

    def _show_advanced(self, shown: bool) -> None:
        self.advanced.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.options.setVisible(shown)
        self._right.setStretch(self._right_stretch, 0 if shown else 1)

    def _block(self, reason: str, *, error: bool = False) -> None:
        self.blocker.setText(reason)
        self.blocker.setProperty("role", "error" if error else "muted")
        self.blocker.style().unpolish(self.blocker)
        self.blocker.style().polish(self.blocker)
        self.start.setEnabled(not reason)

    def _show_vgg(self) -> None:
        """Say next to the option whether the VGG losses will run: without the weights SPADE turns its
        perceptual loss off (otherwise only its log would tell) and HierarchyFlow does not start."""
        explicit = self.options.editor("vgg_weights").text().strip()
        names = self._specs["vgg_weights"]["looks_for"] or (VGG19_FILE,)
        path = find_vgg19(explicit, names) if explicit != RANDOM_VGG else None
        warn = not path
        optional = "lambda_vgg" in self._specs  # the perceptual term of SPADE; HierarchyFlow's losses need VGG
        try:
            off = optional and float(self.options.editor("lambda_vgg").text()) == 0
        except ValueError:
            off = False  # not a number yet: the form reports it
        error = "color: #FF6B6B; font-weight: 600;"
        if off:
            text, colour, warn = "Perceptual (VGG) loss off: lambda_vgg is 0.", "", False
        elif path:
            text, colour = f"✓ VGG-19 weights found: {path}", "color: #6FCF73;"
        elif explicit == RANDOM_VGG:
            text, colour = "⚠ VGG-19 with random weights (for tests): the losses mean little.", error
        elif explicit:
            text, colour = f"✗ No file at {explicit}: the run will not start.", error
        elif not optional:
            text = (f"✗ VGG-19 weights ({' or '.join(names)}) not found in the torch hub cache: the run will not "
                    "start. Put the file there, or choose it here.")
            colour = error
        else:
            text = (f"⚠ VGG-19 weights ({VGG19_FILE}) not found in the torch hub cache: this run will train "
                    "WITHOUT the perceptual (VGG) loss.")
            colour = "color: #E8B14A; font-weight: 600;"
        self.vgg_note.setText(text)
        self.vgg_note.setStyleSheet(colour)
        self.vgg_summary.setText(text)
        self.vgg_summary.setStyleSheet(colour)
        self.vgg_summary.setVisible(warn)
        warning = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        self.options.setTabIcon(self.options.tab_of("vgg_weights"), warning if warn else QIcon())


def _flag(name: str, value: Any) -> list[str]:
    """A config value as trainer command-line arguments (bools are --name / --no-name)."""
    if isinstance(value, bool):
        return [f"--{name}" if value else f"--no-{name}"]
    return [f"--{name}", "none" if value is None else str(value)]


def find_vgg19(explicit: str | None, names: tuple[str, ...] = (VGG19_FILE,)) -> Path | None:
    """The VGG-19 weights the trainer would use; None also for an explicit path that is missing."""
    try:
        return find_vgg19_weights(explicit or None, names)
    except FileNotFoundError:
        return None
