"""The main window: menus, the status bar and a stack of tool pages. Tools live in their own files.

The training windows (set-up dialog, run monitor with its plots) are imported when first opened: they pull in
plotting libraries that would cost the window's first appearance about a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

from app.about import show_about
from app.brushes.page import StyleBrushPage
from app.catalog_model import CatalogModel
from app.engine_bridge import EngineBridge
from app.library_dialog import LibraryDialog
from app.painter import PainterPage
from app.preferences_dialog import PreferencesDialog
from app.sae.page import SwapPage
from app.start_page import StartPage
from app.widgets.page import Page
from engine.api import DeviceInfo, GetDeviceInfo
from trainers import registry
from trainers.events import EVENTS_FILE, RUN_FILE

if TYPE_CHECKING:
    from app.training.monitor import RunMonitor
    from app.training.setup_dialog import SetupDialog

STATUS_MESSAGE_MS = 5000
RUN_DOCK_PREFIX = "run:"  # object names of the docks that hold run monitors


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
        self._page_actions: dict[Page, list[QAction]] = {}
        self.tools.currentChanged.connect(self._show_page_actions)
        self._build_menus()

        start = StartPage(self.catalog)
        start.library_requested.connect(self.open_library)
        start.import_requested.connect(self.import_checkpoint)
        self.add_tool("Start Page", start)
        self.painter = PainterPage(bridge, self.catalog)
        self.add_tool("Painter", self.painter, current=True)
        self.swap = SwapPage(bridge, self.catalog)
        self.add_tool("Swap && Edit", self.swap)
        self.brushes = StyleBrushPage(bridge, self.catalog)
        self.add_tool("Style Brushes", self.brushes)

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

    def add_tool(self, title: str, page: Page, *, current: bool = False) -> None:
        """Put a tool page in the central stack, with a View menu entry that shows it.

        The page's menu_actions() join the File and Edit menus; they are shown (and their shortcuts live)
        only while the page is.
        """
        self.tools.addWidget(page)
        action = QAction(title, self, checkable=True)
        action.triggered.connect(lambda: self.tools.setCurrentWidget(page))
        self._tool_group.addAction(action)
        self._view_menu.insertAction(self._view_tools_end, action)
        for menu_title, entries in page.menu_actions().items():
            menu = self._menus[menu_title]
            pages_own = {a for actions in self._page_actions.values() for a in actions}
            first = next(a for a in menu.actions() if a not in pages_own)  # after earlier pages' entries
            owned = self._page_actions.setdefault(page, [])
            for entry in entries:
                owned.append(menu.insertSeparator(first) if entry is None else entry)
                if entry is not None:
                    menu.insertAction(first, entry)
            owned.append(menu.insertSeparator(first))
        if current or self.tools.count() == 1:
            self.tools.setCurrentWidget(page)
            action.setChecked(True)
        self._show_page_actions()

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
        edit = bar.addMenu("&Edit")
        self._menus = {"File": file, "Edit": edit}
        file.addAction("Open Data Folder", self._open_data_folder)
        file.addSeparator()
        file.addAction("&Quit", QKeySequence.StandardKey.Quit, self.close)

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
        for trainer in registry.TRAINERS:
            action = training.addAction(f"Train {trainer.title}…", lambda *_, t=trainer: self.train(t))
            action.setStatusTip(trainer.description)
        training.addSeparator()
        training.addAction("&Open Run…", self._choose_run)

        help_ = bar.addMenu("&Help")
        help_.addAction("&About I2I Studio", self._about)

    def train(self, trainer: registry.TrainerSpec) -> SetupDialog:
        """Open the setup dialog of `trainer`; a run it starts gets a monitor."""
        from app.training.setup_dialog import SetupDialog

        dialog = SetupDialog(trainer, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.run_started.connect(self.open_run)
        dialog.show()
        return dialog

    def open_run(self, run_dir: Path) -> RunMonitor:
        """Show the monitor of a run folder in a dock (one per run; the run itself goes on regardless)."""
        from app.training.monitor import RunMonitor

        docks = self._run_docks()
        for dock in docks:
            if dock.widget().run_dir == run_dir.resolve():
                dock.show()
                dock.raise_()
                return dock.widget()
        monitor = RunMonitor(run_dir)
        monitor.checkpoint_saved.connect(self._checkpoint_saved)
        dock = QDockWidget(f"Training: {monitor.title}", self)
        dock.setObjectName(f"{RUN_DOCK_PREFIX}{monitor.run_dir}")
        dock.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dock.setWidget(monitor)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        if docks:
            self.tabifyDockWidget(docks[-1], dock)
        dock.show()
        dock.raise_()
        return monitor

    def _show_page_actions(self) -> None:
        for page, actions in self._page_actions.items():
            for action in actions:
                action.setVisible(page is self.tools.currentWidget())

    def closeEvent(self, event: QCloseEvent) -> None:
        if not all(self.tools.widget(i).may_close() for i in range(self.tools.count())):
            event.ignore()  # the user kept unsaved work
            return
        for dock in self._run_docks():
            dock.widget().close()  # stop watching; the runs themselves go on
        super().closeEvent(event)

    def _run_docks(self) -> list[QDockWidget]:
        return [d for d in self.findChildren(QDockWidget) if d.objectName().startswith(RUN_DOCK_PREFIX)]

    def _choose_run(self) -> None:
        from app.training.process import runs_dir

        folder = QFileDialog.getExistingDirectory(self, "Open training run", str(runs_dir()))
        if not folder:
            return
        if not any((Path(folder) / name).exists() for name in (EVENTS_FILE, RUN_FILE)):
            QMessageBox.warning(self, "Open Run", f"{folder} is not a training run folder (no {EVENTS_FILE}).")
            return
        self.open_run(Path(folder))

    def _checkpoint_saved(self, step: int, model_id: str) -> None:
        self.catalog.refresh()
        if model_id:
            self._status(f"Training checkpoint at step {step} added to the Library as {model_id}.")

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
