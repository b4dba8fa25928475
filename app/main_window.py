"""The main window: menus, the status bar and a stack of tool pages. Tools live in their own files."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QActionGroup, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QStackedWidget, QWidget

from app.about import show_about
from app.catalog_model import CatalogModel
from app.engine_bridge import EngineBridge
from app.library_dialog import LibraryDialog
from app.preferences_dialog import PreferencesDialog
from app.start_page import StartPage
from engine.api import DeviceInfo, GetDeviceInfo

# Training > ...: (menu title, opens that trainer's dialog given the main window). Trainers add
# themselves here; until the first one exists the menu says so instead of offering fake actions.
TRAINERS: tuple[tuple[str, Callable[[QWidget], None]], ...] = ()

STATUS_MESSAGE_MS = 5000


class MainWindow(QMainWindow):
    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("I2I Studio")
        self.resize(1280, 800)
        self.bridge = bridge
        self.catalog = CatalogModel(bridge, self)
        self._library: LibraryDialog | None = None

        self.tools = QStackedWidget()
        self.setCentralWidget(self.tools)
        self._tool_group = QActionGroup(self)
        self._build_menus()

        start = StartPage(self.catalog)
        start.library_requested.connect(self.open_library)
        start.import_requested.connect(self.import_checkpoint)
        self.add_tool("Start Page", start)

        self.device_label = QLabel("Device: starting…")
        self.statusBar().addPermanentWidget(self.device_label)
        bridge.progress.connect(lambda job, fraction, message: self._status(message))
        self.catalog.busy_changed.connect(self._status)
        self.catalog.edit_finished.connect(lambda message, ok: self._status(message))
        self.catalog.list_failed.connect(lambda message: self._status(f"Model catalog: {message}"))
        if bridge.startup_warning:
            self._status(bridge.startup_warning)

        bridge.submit(GetDeviceInfo(), slot="device", on_result=self._show_device,
                      on_failed=lambda message: self.device_label.setText("Device: unavailable"))
        self.catalog.refresh()

    def add_tool(self, title: str, page: QWidget) -> None:
        """Put a tool page in the central stack, with a View menu entry that shows it."""
        self.tools.addWidget(page)
        action = QAction(title, self, checkable=True)
        action.triggered.connect(lambda: self.tools.setCurrentWidget(page))
        self._tool_group.addAction(action)
        self._view_menu.insertAction(self._view_tools_end, action)
        if self.tools.count() == 1:
            action.setChecked(True)

    def library(self) -> LibraryDialog:
        """The one library dialog (created on first use, kept so its busy state survives closing)."""
        if self._library is None:
            self._library = LibraryDialog(self.catalog, self)
        return self._library

    def open_library(self) -> None:
        dialog = self.library()
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()

    def import_checkpoint(self) -> None:
        self.open_library()
        self.library().choose_and_import()

    def _build_menus(self) -> None:
        bar = self.menuBar()

        file = bar.addMenu("&File")
        file.addAction("Open Data Folder", self._open_data_folder)
        file.addSeparator()
        file.addAction("&Quit", QKeySequence.StandardKey.Quit, self.close)

        edit = bar.addMenu("&Edit")
        edit.addAction("&Preferences…", QKeySequence.StandardKey.Preferences, self._open_preferences)

        self._view_menu = bar.addMenu("&View")
        self._view_tools_end = self._view_menu.addSeparator()
        full_screen = self._view_menu.addAction("&Full Screen", QKeySequence.StandardKey.FullScreen,
                                                self._toggle_full_screen)
        full_screen.setCheckable(True)

        models = bar.addMenu("&Models")
        models.addAction("&Library…", QKeySequence("Ctrl+L"), self.open_library)
        models.addAction("&Import Checkpoint…", QKeySequence("Ctrl+I"), self.import_checkpoint)

        training = bar.addMenu("&Training")
        for title, open_trainer in TRAINERS:
            training.addAction(title, lambda *_, trainer=open_trainer: trainer(self))
        if not TRAINERS:
            training.addAction("No trainers yet").setEnabled(False)

        help_ = bar.addMenu("&Help")
        help_.addAction("&About I2I Studio", self._about)

    def _show_device(self, info: DeviceInfo) -> None:
        self.device_label.setText(f"Device: {info.name}")

    def _status(self, message: str) -> None:
        if message:  # "" means idle: it must not wipe the last outcome before it was read
            self.statusBar().showMessage(message, STATUS_MESSAGE_MS)

    def _toggle_full_screen(self) -> None:
        self.setWindowState(self.windowState() ^ Qt.WindowState.WindowFullScreen)

    def _open_data_folder(self) -> None:
        folder = self.bridge.data_dir()
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def _open_preferences(self) -> None:
        dialog = PreferencesDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.exec()

    def _about(self) -> None:
        show_about(self, self.catalog.entries, self.bridge.data_dir())
