"""Edit > Preferences: the inference mode, stored for the next start and passed to the engine by the bridge."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from app import engine_bridge
from app.engine_bridge import EngineBridge
from app.preferences_dialog import MODE_KEY, PreferencesDialog, saved_mode


def test_preferences_store_the_mode_for_next_start(qtbot):
    dialog = PreferencesDialog()
    qtbot.addWidget(dialog)
    assert dialog.mode.currentData() is None and saved_mode() is None  # $I2I_MODE, else Fast
    dialog.mode.setCurrentIndex(dialog.mode.findData("exact"))
    dialog.accept()
    assert QSettings().value(MODE_KEY) == "exact" and saved_mode() == "exact"
    reopened = PreferencesDialog()
    qtbot.addWidget(reopened)
    assert reopened.mode.currentData() == "exact"
    QSettings().setValue(MODE_KEY, "turbo")  # a hand-edited file: the default, not an error
    assert saved_mode() is None


def test_the_bridge_passes_the_mode_to_the_engine(qtbot, monkeypatch):
    started: list[str | None] = []
    real = engine_bridge.start_engine

    def start_engine(on_event, *, device=None, mode=None):
        started.append(mode)
        return real(on_event, device=device, mode=mode)

    monkeypatch.setattr(engine_bridge, "start_engine", start_engine)
    for mode in ("exact", None):
        bridge = EngineBridge(mode=mode)
        bridge.shutdown()
    monkeypatch.setenv("I2I_MODE", "quick")
    bridge = EngineBridge()
    try:
        assert "mode 'quick' is not one of exact, fast; using the default mode" in bridge.startup_warning
    finally:
        bridge.shutdown()
    assert started == ["exact", None, "fast"]  # a bad $I2I_MODE: the default
