"""The main window as a user meets it, and the promise that the engine never blocks the GUI."""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import QSettings, QTimer

from app import about
from app.engine_bridge import EngineBridge
from app.preferences_dialog import DEVICE_KEY, PreferencesDialog, saved_device
from engine.api import ImportModel, RenderLabels
from engine.handlers import Engine
from trainers.registry import TRAINERS

MENUS = ["File", "Edit", "View", "Models", "Training", "Help"]


def test_window_opens_with_menus_and_device(main_window, qtbot):
    assert main_window.windowTitle() == "Untitled — Painter — I2I Studio"  # the file, the tool, the app
    assert [a.text().replace("&", "") for a in main_window.menuBar().actions()] == MENUS
    qtbot.waitUntil(lambda: "CPU" in main_window.device_label.text() or "CUDA" in main_window.device_label.text(),
                    timeout=20_000)
    assert main_window.device_label.text().startswith("Device: ")
    assert main_window.device_label.isVisible()


def test_training_menu_lists_the_registered_trainers(main_window, menu_action):
    training = next(a.menu() for a in main_window.menuBar().actions() if a.text() == "&Training")
    entries = [("---" if a.isSeparator() else a.text().replace("&", "")) for a in training.actions()]
    assert entries == [f"Train {t.title}…" for t in TRAINERS] + ["---", "Open Run…"]
    assert entries[:2] == ["Train SPADE…", "Train Swapping Autoencoder…"]
    assert all(a.isEnabled() for a in training.actions())


def test_painter_is_the_first_page_and_full_screen_toggles(main_window, menu_action):
    assert menu_action(main_window, "View", "Painter").isChecked()
    menu_action(main_window, "View", "Start Page").trigger()
    assert menu_action(main_window, "View", "Start Page").isChecked()
    full_screen = menu_action(main_window, "View", "Full Screen")
    full_screen.trigger()
    assert main_window.isFullScreen()
    full_screen.trigger()
    assert not main_window.isFullScreen()


def test_preferences_store_the_device_for_next_start(qtbot):
    dialog = PreferencesDialog()
    qtbot.addWidget(dialog)
    assert dialog.device.currentText() == "Auto"
    dialog.device.setCurrentText("CPU")
    dialog.accept()
    assert QSettings().value(DEVICE_KEY) == "cpu"
    assert saved_device() == "cpu"
    reopened = PreferencesDialog()
    qtbot.addWidget(reopened)
    assert reopened.device.currentText() == "CPU"


def test_unavailable_saved_device_falls_back_to_auto(qtbot):
    bridge = EngineBridge(device="mps")  # no MPS on the test machines
    try:
        assert "unavailable" in bridge.startup_warning
    finally:
        bridge.shutdown()


def test_about_shows_version_licences_and_data_dir(main_window, menu_action, monkeypatch, isolated_data):
    shown = []
    monkeypatch.setattr(about.QMessageBox, "about", lambda parent, title, text: shown.append(text))
    menu_action(main_window, "Help", "About I2I Studio").trigger()
    assert about.app_version() in shown[0]
    assert str(isolated_data) in shown[0]


def test_inference_runs_off_the_gui_thread_while_the_gui_keeps_turning(qtbot, monkeypatch, spade_checkpoint):
    gui_thread = threading.current_thread()
    handler_threads: list[threading.Thread] = []
    ticks_while_rendering = 0
    release = threading.Event()
    real_render = Engine.render_labels

    def render_labels(self, request, ctx):
        handler_threads.append(threading.current_thread())
        # Only a GUI loop that keeps turning can release us: on the GUI thread this would hang.
        if not release.wait(10):
            raise TimeoutError("the GUI event loop stood still while the engine worked")
        return real_render(self, request, ctx)

    monkeypatch.setattr(Engine, "render_labels", render_labels)

    def tick() -> None:
        nonlocal ticks_while_rendering
        if handler_threads and not release.is_set():
            ticks_while_rendering += 1
            if ticks_while_rendering >= 5:
                release.set()

    bridge = EngineBridge()
    timer = QTimer(interval=5)
    timer.timeout.connect(tick)
    try:
        with qtbot.waitSignal(bridge.result, timeout=20_000) as imported:
            bridge.submit(ImportModel(str(spade_checkpoint)))
        entry = imported.args[1]

        delivered: list[tuple[threading.Thread, np.ndarray]] = []
        timer.start()
        bridge.submit(RenderLabels(entry.id, np.zeros((96, 160), int), size=(96, 160)), slot="preview",
                      on_result=lambda image: delivered.append((threading.current_thread(), image)),
                      on_failed=lambda message: delivered.append((threading.current_thread(), message)))
        qtbot.waitUntil(lambda: bool(delivered), timeout=20_000)
    finally:
        timer.stop()
        bridge.shutdown()

    result_thread, image = delivered[0]
    assert isinstance(image, np.ndarray), image
    assert image.shape == (96, 160, 3)
    assert handler_threads and handler_threads[0] is not gui_thread
    assert ticks_while_rendering >= 5
    assert result_thread is gui_thread  # callbacks come back on the GUI thread
