"""Start the GUI: application identity, theme, engine bridge, main window."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication

from app.engine_bridge import EngineBridge
from app.main_window import MainWindow
from app.preferences_dialog import saved_device, saved_mode
from app.theme import apply_theme

APP_NAME = "I2I Studio"
ORG_NAME = "i2i-studio"


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
        window = MainWindow(bridge)
        window.show()
        return app.exec()
    finally:
        bridge.shutdown()
