"""Start the GUI: application identity, theme, engine bridge, main window."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QSettings
from PySide6.QtWidgets import QApplication

from app.engine_bridge import EngineBridge
from app.main_window import MainWindow
from app.preferences_dialog import saved_device, saved_mode
from app.theme import apply_theme

APP_NAME = "I2I Studio"
ORG_NAME = "i2i-studio"
STARTED_KEY = "start/shown"  # set once the Start page has greeted the user


def first_run() -> bool:
    """True the first time the app starts for this user (the Start page opens then; later the Painter does)."""
    settings = QSettings()
    first = not settings.value(STARTED_KEY, False, bool)
    settings.setValue(STARTED_KEY, True)
    return first


def identify_application() -> None:
    """Names QSettings files after the app; call before any QSettings is made."""
    QCoreApplication.setApplicationName(APP_NAME)
    QCoreApplication.setOrganizationName(ORG_NAME)


def run(argv: list[str]) -> int:
    identify_application()
    app = QApplication(argv)
    apply_theme(app)
    bridge = EngineBridge(device=saved_device(), mode=saved_mode())
    try:
        window = MainWindow(bridge, show_start=first_run())
        window.show()
        return app.exec()
    finally:
        bridge.shutdown()
