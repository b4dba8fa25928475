"""Training from the GUI, driven like a user: the menu, the setup dialog against the real trainer's
--validate-only, the options form, the palette editor, and a real tiny CPU run that is monitored live,
stopped, listed in the Library, re-attached and resumed."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QPushButton

from app.theme import apply_theme
from app.training.monitor import RunMonitor
from app.training.palette_editor import PaletteEditor
from app.training.presets import PRESETS, preset_values
from app.training.process import (
    LAUNCH_FILE,
    Launch,
    pid_alive,
    read_launch,
    request_stop,
    runs_dir,
    start_run,
)
from app.training.setup_dialog import DATA_KINDS, OWN_FIELDS, SetupDialog
from engine import palettes
from trainers import registry
from trainers.configs import describe
from trainers.events import EVENTS_FILE, read_events
from trainers.registry import TRAINERS

SPADE = next(t for t in TRAINERS if t.method == "spade")
PAIRS = 6
CHECK_S = 60  # the check process imports the trainer's CLI (numpy, Pillow, the palette)
RUN_S = 90  # a run process imports torch and builds its networks before the first step
TINY = {"ngf": 2, "ndf": 4, "crop_size": 64, "total_steps": 100_000, "log_every": 1, "sample_every": 2,
        "checkpoint_every": 3}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    from trainers.landscapes import write_dataset

    root = tmp_path_factory.mktemp("landscapes")
    write_dataset(root, PAIRS, size=(64, 64))
    return root


@pytest.fixture
def screenshots(tmp_path) -> Path:
    out = Path(os.environ.get("I2I_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(autouse=True)
def no_runs_left_behind(isolated_data) -> Iterator[None]:
    """Every trainer a test started ends with it: STOP first (a clean checkpoint), then kill by pid."""
    yield
    folders = [p.parent for p in runs_dir().glob(f"*/{LAUNCH_FILE}")]
    pids = {folder: launch_pid(folder) for folder in folders}
    for folder, pid in pids.items():
        if pid and pid_alive(pid):
            request_stop(folder)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(pid and pid_alive(pid) for pid in pids.values()):
        time.sleep(0.2)
    for pid in pids.values():
        if pid and pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def launch_pid(folder: Path) -> int | None:
    return json.loads((folder / LAUNCH_FILE).read_text()).get("pid")


def points(monitor: RunMonitor) -> int:
    """How many steps every loss curve of the monitor's plot shows."""
    return min((len(c.xData) for c in monitor.curves.values() if c.xData is not None), default=0)


def new_dialog(qtbot) -> SetupDialog:
    apply_theme(QApplication.instance())  # as the app shows it (the screenshots too)
    dialog = SetupDialog(SPADE)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def choose_data(qtbot, dialog: SetupDialog, images: Path, labels: Path) -> None:
    dialog.images.line.setText(str(images))
    dialog.labels.line.setText(str(labels))
    qtbot.waitUntil(lambda: dialog.check.summary is not None or "did not" in dialog.check.headline.text(),
                    timeout=CHECK_S * 1000)


def test_training_menu_lists_each_trainer_and_open_run(main_window, menu_action, qtbot):
    train = menu_action(main_window, "Training", "Train SPADE…")
    assert train.isEnabled() and "label maps" in train.statusTip()
    assert menu_action(main_window, "Training", "Open Run…").isEnabled()
    train.trigger()
    dialog = main_window.findChild(SetupDialog)
    qtbot.waitExposed(dialog)
    assert dialog.windowTitle() == "Train SPADE"


@pytest.fixture
def toy_listed(monkeypatch) -> registry.TrainerSpec:
    """A test-only trainer added to the list by its one entry (tests/trainers/toy_config.py)."""
    from tests.trainers.toy_config import SPEC

    monkeypatch.setattr(registry, "TRAINERS", (*registry.TRAINERS, SPEC))
    return SPEC


def test_the_trainer_list_drives_the_menu_and_the_dialogs(toy_listed, main_window, menu_action, qtbot):
    """Each listed trainer, the toy one too, has its menu entry, and a dialog asking for its kind of data with a
    form of its config's options."""
    for spec in registry.TRAINERS:
        action = menu_action(main_window, "Training", f"Train {spec.title}…")
        assert action.statusTip() == spec.description
        action.trigger()
        dialog = main_window.findChild(SetupDialog)
        qtbot.waitExposed(dialog)
        assert dialog.windowTitle() == f"Train {spec.title}"
        needed = {name for names in DATA_KINDS[spec.data][1] for name in names}
        assert all(dialog._paths[name].isVisibleTo(dialog) for name in needed), spec.method
        assert dialog.check.headline.text() == DATA_KINDS[spec.data][2]
        options = {field["name"]: field["default"] for field in describe(spec.config)}
        shown = dialog.options.values()  # the Default preset: the paper's settings, fewer steps
        paper = {k: v for k, v in options.items() if k not in OWN_FIELDS}
        assert shown == preset_values(next(p for p in PRESETS if p.key == "default"), paper), spec.method
        assert dialog.preset() == "default"
        dialog.close()  # deleted on close
        qtbot.waitUntil(lambda: main_window.findChild(SetupDialog) is None)


def test_dataset_check_counts_pairs_and_blocks_start_on_errors(qtbot, dataset, tmp_path, screenshots):
    dialog = new_dialog(qtbot)
    assert not dialog.start.isEnabled() and "dataset" in dialog.blocker.text()
    choose_data(qtbot, dialog, dataset / "images", dataset / "labels")
    assert dialog.check.ok, dialog.check.details.text()
    assert dialog.check.summary["pairs"] == PAIRS
    assert f"{PAIRS} pairs" in dialog.check.headline.text()
    assert "64x64" in dialog.check.details.text()
    assert dialog.start.isEnabled()
    assert dialog.grab().save(str(screenshots / "train_setup.png"))

    empty = tmp_path / "empty"
    empty.mkdir()
    choose_data(qtbot, dialog, empty, empty)
    assert not dialog.check.ok and dialog.check.summary["errors"]
    assert "problem" in dialog.check.headline.text() and "no images" in dialog.check.details.text()
    assert not dialog.start.isEnabled()
    assert dialog.grab().save(str(screenshots / "train_setup_errors.png"))


def paper_button(dialog: SetupDialog) -> QPushButton:
    return next(b for b in dialog.presets.buttons() if b.text() == "The paper's")


def test_form_shows_paper_defaults_and_resets_them(qtbot):
    dialog = new_dialog(qtbot)
    qtbot.mouseClick(paper_button(dialog), Qt.MouseButton.LeftButton)
    paper = {"lr_G": 1e-4, "lr_D": 4e-4, "ngf": 64, "ndf": 64, "beta1": 0.0, "beta2": 0.999, "batch_size": 1,
             "lambda_feat": 10.0, "lambda_vgg": 10.0, "num_D": 2, "crop_size": 256, "total_steps": 100_000}
    values = dialog.options.values()
    assert {k: values[k] for k in paper} == paper
    assert dialog.options.editor("lr_G").text() == "0.0001"
    assert values["label_nc"] is None and dialog.options.editor("label_nc").text() == "from the palette"

    dialog.options.editor("ngf").setValue(8)
    dialog.options.editor("lr_D").setText("0.001")
    assert dialog.options.values()["ngf"] == 8 and dialog.options._fields["ngf"].label.font().bold()
    dialog.options.editor("lr_D").setText("fast")
    assert "lr_D" in dialog.options.errors()[0]
    qtbot.mouseClick(paper_button(dialog), Qt.MouseButton.LeftButton)
    assert dialog.options.values()["ngf"] == 64 and dialog.options.values()["lr_D"] == 4e-4
    assert not dialog.options._fields["ngf"].label.font().bold()


def test_vgg_note_says_whether_the_perceptual_loss_runs(qtbot, tmp_path, monkeypatch):
    for name in ("TORCH_HOME", "XDG_CACHE_HOME", "HOME"):  # every place torch.hub may keep the weights
        monkeypatch.setenv(name, str(tmp_path / name))
    dialog = new_dialog(qtbot)
    assert "WITHOUT the perceptual" in dialog.vgg_summary.text() and dialog.vgg_summary.isVisibleTo(dialog)
    qtbot.mouseClick(dialog.advanced, Qt.MouseButton.LeftButton)
    assert "not found" in dialog.vgg_note.text() and "WITHOUT the perceptual" in dialog.vgg_note.text()
    assert dialog.vgg_note.isVisibleTo(dialog) and not dialog.options.tabIcon(0).isNull()
    dialog.options.editor("vgg_weights").setText(str(tmp_path / "nowhere.pth"))
    assert "will not start" in dialog.vgg_note.text()
    weights = tmp_path / "XDG_CACHE_HOME" / "torch" / "hub" / "checkpoints" / "vgg19-dcbfe4f3.pth"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"x")
    dialog.options.editor("vgg_weights").setText("")
    assert dialog.vgg_note.text() == f"✓ VGG-19 weights found: {weights}"
    assert dialog.options.tabIcon(0).isNull()
    dialog.options.editor("lambda_vgg").setText("0")
    assert "lambda_vgg is 0" in dialog.vgg_note.text()


def test_palette_editor_saves_a_copy_the_dialog_uses(qtbot, isolated_data):
    editor = PaletteEditor(palettes.load("landscape"))
    qtbot.addWidget(editor)
    editor.table.item(0, 1).setText("clear sky")
    editor._add_class()
    editor.save()
    assert editor.saved_path == isolated_data / "palettes" / "landscape-custom.json"
    copy = palettes.load(editor.saved_path)
    assert copy.by_id(0).name == "clear sky" and len(copy) == len(palettes.load("landscape")) + 1

    editor.table.item(1, 1).setText("clear sky")  # duplicate names are refused, nothing is written
    editor.save()
    assert "duplicate" in editor.error.text()

    dialog = new_dialog(qtbot)  # saved copies are listed next time
    dialog.palette.setCurrentIndex(dialog.palette.findData(str(editor.saved_path)))
    assert dialog.palette.currentIndex() >= 0
    assert dialog.config()["palette"] == str(editor.saved_path)


def test_open_run_refuses_a_folder_that_is_no_run(main_window, menu_action, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    warned = []
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tmp_path)))
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda *a, **k: warned.append(a[2])))
    menu_action(main_window, "Training", "Open Run…").trigger()
    assert warned and "not a training run" in warned[0]
    assert not main_window.findChildren(RunMonitor)


def test_a_trainer_that_refuses_its_config_shows_why(qtbot, tmp_path):
    run_dir = runs_dir() / "bad"
    start_run(run_dir, {"out": str(run_dir), "colour": "blue"}, Launch("spade"))
    monitor = RunMonitor(run_dir)
    qtbot.addWidget(monitor)
    qtbot.waitUntil(lambda: "ended without finishing" in monitor.status.text(), timeout=RUN_S * 1000)
    assert "unknown option colour" in monitor.status.text()
    assert monitor.status.property("role") == "error"
    assert not monitor.stop_button.isEnabled() and not monitor.resume_button.isEnabled()
    assert "unknown option colour" in monitor.output.toPlainText()


def test_a_real_run_is_monitored_stopped_listed_and_resumed(main_window, menu_action, qtbot, dataset,
                                                            screenshots):
    menu_action(main_window, "Training", "Train SPADE…").trigger()
    dialog = main_window.findChild(SetupDialog)
    dialog.run_name.setText("spade-tiny")  # names as the dialog makes them start with the method
    dialog.device.setCurrentText("cpu")
    dialog.options.set_values(TINY)
    choose_data(qtbot, dialog, dataset / "images", dataset / "labels")
    qtbot.waitUntil(dialog.start.isEnabled, timeout=5_000)
    qtbot.mouseClick(dialog.start, Qt.MouseButton.LeftButton)

    run_dir = runs_dir() / "spade-tiny"
    monitor = main_window.findChild(RunMonitor)
    assert monitor is not None and monitor.run_dir == run_dir.resolve()
    assert read_launch(run_dir).method == "spade"
    # Live: curves per loss term, a sample grid, a checkpoint that reaches the Library.
    qtbot.waitUntil(lambda: points(monitor) >= 3, timeout=RUN_S * 1000)
    assert len(monitor.curves) >= 2 and monitor.progress.maximum() == TINY["total_steps"]
    assert "it/s" in monitor.speed.text() and "left" in monitor.speed.text() and monitor.stop_button.isEnabled()
    qtbot.waitUntil(lambda: not monitor.sample.original.isNull(), timeout=RUN_S * 1000)
    qtbot.waitUntil(lambda: monitor.has_checkpoint, timeout=RUN_S * 1000)
    qtbot.waitUntil(lambda: points(monitor) >= 8, timeout=RUN_S * 1000)  # a curve worth a screenshot
    main_window.resize(1400, 900)
    assert monitor.grab().save(str(screenshots / "train_monitor.png"))
    assert main_window.grab().save(str(screenshots / "train_main_window.png"))

    qtbot.mouseClick(monitor.stop_button, Qt.MouseButton.LeftButton)
    assert "Stopping" in monitor.status.text()
    qtbot.waitUntil(lambda: monitor.terminal is not None, timeout=RUN_S * 1000)
    assert monitor.terminal == {**monitor.terminal, "type": "done", "reason": "stopped"}
    stopped_at = monitor.terminal["step"]
    saved = [e for e in read_events(run_dir / EVENTS_FILE) if e["type"] == "checkpoint"]
    assert saved[-1]["step"] == stopped_at  # the stop saves the step it reached
    assert monitor.status.text() == f"Stopped at step {stopped_at} (last saved)."
    ids = [e["model_id"] for e in saved]
    assert ids and all(ids) and ids[-1] == "spade-tiny"  # the method once, not "spade-spade-tiny"
    qtbot.waitUntil(lambda: main_window.catalog.get(ids[-1]) is not None, timeout=20_000)
    assert main_window.catalog.get(ids[-1]).method == "spade"
    menu_action(main_window, "Models", "Library…").trigger()
    library = main_window.library()
    qtbot.waitUntil(lambda: any(card.entry.id == ids[-1] for card in library.cards), timeout=5_000)

    # Attaching afresh (as after restarting the app) replays the curves; one monitor per run.
    qtbot.waitUntil(monitor.resume_button.isEnabled, timeout=20_000)
    attached = RunMonitor(run_dir)
    qtbot.addWidget(attached)
    assert set(attached.curves) == set(monitor.curves) and attached.resume_button.isEnabled()
    assert main_window.open_run(run_dir) is monitor

    qtbot.mouseClick(monitor.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: monitor.started and monitor.step > stopped_at, timeout=RUN_S * 1000)
    assert monitor.terminal is None and monitor.stop_button.isEnabled()
    steps = [e["step"] for e in read_events(run_dir / EVENTS_FILE) if e["type"] == "step"]
    assert steps[-1] > stopped_at


# --- the Swapping Autoencoder: one folder of photos ------------------------------------------------------

SAE = next(t for t in TRAINERS if t.method == "sae")
SAE_TINY = {"crop_size": 64, "netE_num_downsampling_sp": 3, "global_code_ch": 32, "netE_scale_capacity": 0.125,
            "netG_scale_capacity": 0.125, "netD_scale_capacity": 0.015625, "netPatchD_scale_capacity": 0.015625,
            "batch_size": 4, "total_steps": 100_000, "log_every": 1, "sample_every": 2, "checkpoint_every": 3}


@pytest.fixture(scope="module")
def sae_photos(tmp_path_factory) -> Path:
    """Six 72x80 photos of two flat colours, and one too small for a 64 px crop."""
    import numpy as np
    from PIL import Image

    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(6):
        image = np.empty((72, 80, 3), np.uint8)
        image[:, :40], image[:, 40:] = rng.integers(0, 256, (2, 3))
        Image.fromarray(image).save(root / f"{i}.png")
    Image.new("RGB", (48, 48)).save(root / "tiny.png")
    return root


def test_sae_dialog_asks_for_one_folder_of_photos_and_trains(main_window, menu_action, qtbot, sae_photos,
                                                             screenshots):
    train = menu_action(main_window, "Training", "Train Swapping Autoencoder…")
    assert "photos" in train.statusTip()
    train.trigger()
    dialog = main_window.findChild(SetupDialog)
    qtbot.waitExposed(dialog)
    assert dialog.windowTitle() == "Train Swapping Autoencoder"
    assert dialog.images.isVisible()
    assert not dialog.labels.isVisible() and not dialog.instances.isVisible() and not dialog.palette.isVisible()
    assert dialog.check.headline.text() == "Choose a folder of photos."
    assert {k: dialog.options.values()[k] for k in ("lr", "beta2", "lambda_R1", "lambda_patch_R1", "crop_size")} == {
        "lr": 0.002, "beta2": 0.99, "lambda_R1": 10.0, "lambda_patch_R1": 1.0, "crop_size": 256}

    dialog.run_name.setText("swap")
    dialog.device.setCurrentText("cpu")
    dialog.options.set_values(SAE_TINY)
    dialog.images.line.setText(str(sae_photos))
    qtbot.waitUntil(lambda: dialog.check.summary is not None and dialog.check.summary["crop_size"] == 64,
                    timeout=CHECK_S * 1000)
    assert dialog.check.ok and "6 photos ready to train" in dialog.check.headline.text()
    assert "tiny.png" in dialog.check.details.text()  # too small for the crop: listed, left out
    assert dialog.grab().save(str(screenshots / "train_setup_sae.png"))
    config = dialog.config()
    assert "labels" not in config and "palette" not in config and config["images"] == str(sae_photos)
    qtbot.waitUntil(dialog.start.isEnabled, timeout=5_000)
    qtbot.mouseClick(dialog.start, Qt.MouseButton.LeftButton)

    run_dir = runs_dir() / "swap"
    monitor = main_window.findChild(RunMonitor)
    assert monitor is not None and read_launch(run_dir).method == "sae"
    qtbot.waitUntil(lambda: monitor.step >= 3, timeout=RUN_S * 1000)
    assert {"G_L1", "G_GAN_swap", "G_PatchGAN", "D", "D_patch"} <= set(monitor.curves)
    assert "it/s" in monitor.speed.text() and "left" in monitor.speed.text() and monitor.stop_button.isEnabled()
    qtbot.waitUntil(lambda: not monitor.sample.original.isNull(), timeout=RUN_S * 1000)
    qtbot.waitUntil(lambda: monitor.has_checkpoint, timeout=RUN_S * 1000)
    ids = [e["model_id"] for e in read_events(run_dir / EVENTS_FILE) if e["type"] == "checkpoint"]
    assert ids and ids[-1] == "sae-swap"
    qtbot.waitUntil(lambda: main_window.catalog.get("sae-swap") is not None, timeout=20_000)
    assert main_window.catalog.get("sae-swap").task == "StructureTexture"

    qtbot.mouseClick(monitor.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: monitor.terminal is not None, timeout=RUN_S * 1000)
    assert monitor.terminal == {**monitor.terminal, "type": "done", "reason": "stopped"}


# --- unpaired translation: a folder per domain (CycleGAN, CUT) or two photos (SinCUT) ---------------------

CYCLEGAN = next(t for t in TRAINERS if t.method == "cyclegan")
CYCLEGAN_TINY = {"ngf": 4, "n_blocks": 1, "ndf": 4, "crop_size": 32, "total_steps": 100_000, "log_every": 1,
                 "sample_every": 2, "checkpoint_every": 3}


@pytest.fixture(scope="module")
def unpaired(tmp_path_factory) -> Path:
    """The official layout: trainA (4 photos) and trainB (3 photos), 40x40."""
    from tests.trainers.unpaired_domains import write_domain

    root = tmp_path_factory.mktemp("horse2zebra")
    write_domain(root / "trainA", 4, seed=0)
    write_domain(root / "trainB", 3, seed=1, b=True)
    return root


def test_training_menu_lists_the_translation_trainers(main_window, menu_action, qtbot):
    for title, words in (("CycleGAN", "both ways"), ("CUT / FastCUT", "contrastive"), ("SinCUT", "one source photo")):
        action = menu_action(main_window, "Training", f"Train {title}…")
        assert action.isEnabled() and words in action.statusTip()
    menu_action(main_window, "Training", "Train SinCUT…").trigger()
    dialog = main_window.findChild(SetupDialog)
    qtbot.waitExposed(dialog)
    assert dialog.windowTitle() == "Train SinCUT"
    assert dialog.source.isVisible() and dialog.target.isVisible()
    assert not dialog.images.isVisible() and not dialog.domain_a.isVisible() and not dialog.palette.isVisible()
    assert dialog.check.headline.text() == "Choose the source photo and the target photo."
    assert {k: dialog.options.values()[k] for k in ("crop_size", "D_patch_size", "lr", "lambda_R1")} == {
        "crop_size": 128, "D_patch_size": 64, "lr": 0.002, "lambda_R1": 1.0}


def test_cyclegan_dialog_takes_the_official_layout_and_trains(main_window, menu_action, qtbot, unpaired,
                                                               screenshots):
    menu_action(main_window, "Training", "Train CycleGAN…").trigger()
    dialog = main_window.findChild(SetupDialog)
    qtbot.waitExposed(dialog)
    assert dialog.windowTitle() == "Train CycleGAN"
    assert dialog.dataroot.isVisible() and dialog.domain_a.isVisible() and dialog.domain_b.isVisible()
    assert not dialog.images.isVisible() and not dialog.labels.isVisible() and not dialog.source.isVisible()
    assert "trainA" in dialog.check.headline.text()
    assert {k: dialog.options.values()[k] for k in ("lr", "beta1", "lambda_cycle", "lambda_identity", "pool_size",
                                                    "n_layers_D")} == {
        "lr": 0.0002, "beta1": 0.5, "lambda_cycle": 10.0, "lambda_identity": 0.5, "pool_size": 50, "n_layers_D": 3}

    dialog.run_name.setText("zebra")
    dialog.device.setCurrentText("cpu")
    dialog.options.set_values(CYCLEGAN_TINY)
    dialog.domain_a.line.setText(str(unpaired / "trainA"))  # one folder is not enough
    assert "trainA" in dialog.check.headline.text() and not dialog.check.pending
    dialog.domain_a.line.setText("")
    dialog.dataroot.line.setText(str(unpaired))
    qtbot.waitUntil(lambda: dialog.check.summary is not None and dialog.check.summary["crop_size"] == 32,
                    timeout=CHECK_S * 1000)
    assert dialog.check.ok and "4 photos in A and 3 in B ready to train" in dialog.check.headline.text()
    assert "A 4, B 3" in dialog.check.details.text()
    assert dialog.grab().save(str(screenshots / "train_setup_cyclegan.png"))
    config = dialog.config()
    assert config["dataroot"] == str(unpaired) and config["a"] == "" and "images" not in config
    qtbot.waitUntil(dialog.start.isEnabled, timeout=5_000)
    qtbot.mouseClick(dialog.start, Qt.MouseButton.LeftButton)

    run_dir = runs_dir() / "zebra"
    monitor = main_window.findChild(RunMonitor)
    assert monitor is not None and read_launch(run_dir).method == "cyclegan"
    qtbot.waitUntil(lambda: monitor.step >= 3, timeout=RUN_S * 1000)
    assert {"G_A", "G_B", "cycle_A", "D_A", "idt_B"} <= set(monitor.curves)
    qtbot.waitUntil(lambda: not monitor.sample.original.isNull(), timeout=RUN_S * 1000)
    assert "A | A→B | B | B→A" in monitor.sample_caption.text()
    qtbot.waitUntil(lambda: monitor.has_checkpoint, timeout=RUN_S * 1000)
    qtbot.waitUntil(lambda: main_window.catalog.get("cyclegan-zebra") is not None, timeout=20_000)
    entry = main_window.catalog.get("cyclegan-zebra")
    assert entry.task == "ImageToImage" and entry.hparams["directions"] == ["AtoB", "BtoA"]

    qtbot.mouseClick(monitor.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: monitor.terminal is not None, timeout=RUN_S * 1000)
    assert monitor.terminal == {**monitor.terminal, "type": "done", "reason": "stopped"}


# --- HierarchyFlow: a folder of content photos and a folder of style images ------------------------------

HF_TINY = {"out_channels": "6,12", "crop_height": 32, "crop_width": 32, "vgg_weights": "random",
           "total_steps": 100_000, "log_every": 1, "sample_every": 2, "checkpoint_every": 3}


def test_hierarchyflow_dialog_takes_content_and_style_folders_and_trains(main_window, menu_action, qtbot, unpaired,
                                                                         tmp_path, monkeypatch, screenshots):
    for name in ("TORCH_HOME", "XDG_CACHE_HOME", "HOME"):  # every place torch.hub may keep VGG weights
        monkeypatch.setenv(name, str(tmp_path / name))
    train = menu_action(main_window, "Training", "Train HierarchyFlow…")
    assert "style images" in train.statusTip()
    train.trigger()
    dialog = main_window.findChild(SetupDialog)
    qtbot.waitExposed(dialog)
    assert dialog.content.isVisible() and dialog.style_images.isVisible()
    assert not dialog.images.isVisible() and not dialog.domain_a.isVisible() and not dialog.source.isVisible()
    assert dialog.check.headline.text() == "Choose a folder of content photos and a folder of style images."
    assert {k: dialog.options.values()[k] for k in ("recipe", "variant", "lambda_style", "crop_width")} == {
        "recipe": "official", "variant": "HF", "lambda_style": 0.1, "crop_width": 512}

    assert "vgg_normalised.pth or vgg19-dcbfe4f3.pth) not found" in dialog.vgg_note.text()
    assert "will not start" in dialog.vgg_note.text()
    dialog.run_name.setText("painterly")
    dialog.device.setCurrentText("cpu")
    dialog.options.set_values(HF_TINY)
    assert "random weights" in dialog.vgg_note.text()
    dialog.content.line.setText(str(unpaired / "trainA"))
    dialog.style_images.line.setText(str(unpaired / "trainB"))
    qtbot.waitUntil(lambda: dialog.check.summary is not None, timeout=CHECK_S * 1000)
    assert dialog.check.ok and "4 content photos and 3 style images ready to train" in dialog.check.headline.text()
    assert dialog.grab().save(str(screenshots / "train_setup_hierarchyflow.png"))
    config = dialog.config()
    assert config["content"] == str(unpaired / "trainA") and config["style"] == str(unpaired / "trainB")
    qtbot.waitUntil(dialog.start.isEnabled, timeout=5_000)
    qtbot.mouseClick(dialog.start, Qt.MouseButton.LeftButton)

    run_dir = runs_dir() / "painterly"
    monitor = main_window.findChild(RunMonitor)
    assert monitor is not None and read_launch(run_dir).method == "hierarchyflow"
    qtbot.waitUntil(lambda: monitor.has_checkpoint, timeout=RUN_S * 1000)
    assert {"loss", "loss_c", "loss_s"} <= set(monitor.curves)
    qtbot.waitUntil(lambda: main_window.catalog.get("hierarchyflow-painterly") is not None, timeout=20_000)
    assert main_window.catalog.get("hierarchyflow-painterly").task == "ContentStyle"
    qtbot.mouseClick(monitor.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: monitor.terminal is not None, timeout=RUN_S * 1000)
    assert monitor.terminal == {**monitor.terminal, "type": "done", "reason": "stopped"}
