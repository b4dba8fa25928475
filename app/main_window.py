"""The main window: menus, the tool bar that switches tools, the status bar and a stack of tool pages. Tools live
in their own files; the window knows them through the Page protocol (app/widgets/page.py): it titles itself after
the page's open file, carries a result from one page to another (File > Send to), reopens recent files, hides
the side panels (Tab) and shows the undo history of the page on show.

The window never resizes itself: the tool stack asks for a small minimum whatever a page would like, so opening a
large photo or a run monitor cannot push it past a 1280x800 screen.

The training windows (set-up dialog, run monitor with its plots) are imported when first opened: they pull in
plotting libraries that would cost the window's first appearance about a second.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, QUrl
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QToolBar,
    QToolButton,
    QWidget,
)

from app.about import show_about
from app.brushes.page import StyleBrushPage
from app.catalog_model import CatalogModel
from app.engine_bridge import EngineBridge
from app.fileio.studio import SUFFIX as STUDIO_SUFFIX
from app.fileio.studio import StudioProjects
from app.library_dialog import LibraryDialog
from app.painter import PainterPage
from app.preferences_dialog import PreferencesDialog
from app.sae.page import SwapPage
from app.start_page import StartPage
from app.variations.page import VariationsPage
from app.widgets import files
from app.widgets.help import HelpTopic, ShortcutSheet, shortcut_rows
from app.widgets.history_panel import HistoryPanel
from app.widgets.page import RESULT_PENDING, Page
from engine.api import DeviceInfo, GetDeviceInfo
from trainers import registry
from trainers.events import EVENTS_FILE, RUN_FILE

if TYPE_CHECKING:
    from app.training.monitor import RunMonitor
    from app.training.setup_dialog import SetupDialog

APP_TITLE = "I2I Studio"
STATUS_MESSAGE_MS = 5000
RUN_DOCK_PREFIX = "run:"  # object names of the docks that hold run monitors
HELP_TOPICS = ("Working in the app", "Set-up: two commands", "The label painter (SPADE / GauGAN)",
               "Swap & Edit (Swapping Autoencoder)", "Style Brushes (CycleGAN, CUT, FastCUT, SinCUT, HierarchyFlow)",
               "Variations page", "Importing the official pretrained checkpoints", "Training", "Files, failures and limits: what is promised")
MIN_CENTRAL = QSize(640, 360)  # what the tool stack asks for, whatever its pages would like


class ToolStack(QStackedWidget):
    """The pages; its minimum is fixed, so no page's wish can grow the window (a page gets squeezed instead)."""

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumSize(MIN_CENTRAL)  # also keeps the stack's layout from raising it

    def minimumSizeHint(self) -> QSize:
        return MIN_CENTRAL


class MainWindow(QMainWindow):
    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None, *, show_start: bool = False) -> None:
        """`show_start`: open on the Start page (the first run) instead of the Painter."""
        super().__init__(parent)
        self.setWindowTitle(APP_TITLE)
        self.resize(1280, 800)
        self.bridge = bridge
        self.catalog = CatalogModel(bridge, self)
        self._library: LibraryDialog | None = None

        self.tools = ToolStack()
        self.setCentralWidget(self.tools)
        self._tool_group = QActionGroup(self)
        self._page_actions: dict[Page, list[QAction]] = {}
        self._tool_titles: dict[Page, str] = {}
        self._hidden: list[QWidget] = []  # what Tab hid, shown again by the next Tab
        self._confirmed = ("", 0.0)  # the last confirmation in the status bar, and until when it stays
        self.tools.currentChanged.connect(self._page_shown)
        self._build_menus()
        self._build_tool_bar()
        self._build_history_dock()

        self.start = StartPage(self.catalog)
        self.start.library_requested.connect(self.open_library)
        self.start.import_requested.connect(self.import_checkpoint)
        self.start.tool_requested.connect(self.show_tool)
        self.add_tool("Start Page", self.start, current=show_start, numbered=False)
        self.painter = PainterPage(bridge, self.catalog)
        self.add_tool("Painter", self.painter, current=not show_start)
        self.swap = SwapPage(bridge, self.catalog)
        self.add_tool("Swap & Edit", self.swap)
        self.brushes = StyleBrushPage(bridge, self.catalog)
        self.add_tool("Style Brushes", self.brushes)
        self.variations = VariationsPage(bridge, self.catalog)
        self.add_tool("Variations", self.variations)

        self.device_label = QLabel("Device: starting…")
        self.statusBar().addPermanentWidget(self.device_label)
        bridge.progress.connect(lambda job, fraction, message: self._activity(message))
        self.catalog.busy_changed.connect(self._activity)
        self.catalog.edit_finished.connect(lambda message, ok: self._status(message))
        self.catalog.list_failed.connect(lambda message: self._status(f"Model catalog: {message}"))
        if bridge.startup_warning:
            self._status(bridge.startup_warning)

        bridge.submit(GetDeviceInfo(), slot="device", on_result=self._show_device,
                      on_failed=lambda message: self.device_label.setText("Device: unavailable"))
        self.catalog.refresh()

    def add_tool(self, title: str, page: Page, *, current: bool = False, numbered: bool = True) -> None:
        """Put a tool page in the central stack, with an entry in the tool bar and the View menu that shows it
        (`numbered`: with the next of Ctrl+1, Ctrl+2, …).

        The page's menu_actions() join the File and Edit menus; they are shown (and their shortcuts live)
        only while the page is.
        """
        self.tools.addWidget(page)
        self._tool_titles[page] = title
        action = QAction(title.replace("&", "&&"), self, checkable=True)
        action.setData(title)
        if numbered:
            number = 1 + sum(not a.shortcut().isEmpty() for a in self._tool_group.actions())
            action.setShortcut(QKeySequence(f"Ctrl+{number}"))
        action.setToolTip(f"{title} ({action.shortcut().toString()})" if not action.shortcut().isEmpty() else title)
        action.triggered.connect(lambda: self.tools.setCurrentWidget(page))
        self._tool_group.addAction(action)
        self._view_menu.insertAction(self._view_tools_end, action)
        self._tool_bar.insertAction(self._tool_bar_end, action)
        page.changed.connect(lambda: self._page_changed(page))
        page.message.connect(self._status)
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
        self._page_shown()

    def show_tool(self, title: str) -> Page:
        """Show the page added as `title` (the Start page's cards ask for one)."""
        page = next(p for p, t in self._tool_titles.items() if t == title)
        self.tools.setCurrentWidget(page)
        return page

    def current_page(self) -> Page:
        return self.tools.currentWidget()

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
        self.recent_menu = file.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.send_menu = file.addMenu("Sen&d to")
        file.aboutToShow.connect(self._fill_send_menu)
        self.send_menu.aboutToShow.connect(self._fill_send_menu)
        file.addSeparator()
        self.studio = StudioProjects(self, lambda: {t: p for p, t in self._tool_titles.items()},
                                     lambda: self._tool_titles.get(self.current_page(), ""))
        self.studio.message.connect(self._status)
        self.studio.opened.connect(self.show_tool)
        file.addAction("Open Studio Project…", self.studio.choose).setStatusTip(
            "Open the work of every tool saved together")
        save_studio = file.addAction("Save Studio Project", self.studio.save)
        save_studio.setShortcut(QKeySequence("Ctrl+Alt+S"))
        save_studio.setStatusTip("Save the work of every tool together: a folder with one project per tool")
        file.addAction("Save Studio Project As…", self.studio.save_as)
        file.addSeparator()
        file.addAction("Open Data Folder", self._open_data_folder)
        file.addSeparator()
        file.addAction("&Quit", QKeySequence.StandardKey.Quit, self.close)

        edit.addAction("&Preferences…", QKeySequence.StandardKey.Preferences, self._open_preferences)

        self._view_menu = bar.addMenu("&View")
        self._view_tools_end = self._view_menu.addSeparator()
        self.panels_action = self._view_menu.addAction("Show &Panels")
        self.panels_action.setCheckable(True)
        self.panels_action.setChecked(True)
        self.panels_action.setShortcut(QKeySequence(Qt.Key.Key_Tab))
        self.panels_action.setToolTip("Hide or show the side panels and docks, for more room on the canvas (Tab)")
        self.panels_action.triggered.connect(self.toggle_panels)
        full_screen = self._view_menu.addAction("&Full Screen", QKeySequence.StandardKey.FullScreen,
                                                self._toggle_full_screen)
        full_screen.setCheckable(True)

        models = bar.addMenu("&Models")
        models.addAction("&Library…", QKeySequence("Ctrl+L"), self.open_library)
        models.addAction("&Import Checkpoint…", QKeySequence("Ctrl+I"), self.import_checkpoint)
        from app.get_models_dialog import open_get_models  # the official releases: download, then import
        models.addAction("&Get Models…", lambda: open_get_models(self, self.catalog))

        training = bar.addMenu("&Training")
        for trainer in registry.TRAINERS:
            action = training.addAction(f"Train {trainer.title}…", lambda *_, t=trainer: self.train(t))
            action.setStatusTip(trainer.description)
        training.addSeparator()
        training.addAction("&Open Run…", self._choose_run)

        help_ = bar.addMenu("&Help")
        help_.addAction("&Start Page", lambda: self.tools.setCurrentWidget(self.start))
        help_.addAction("&Keyboard Shortcuts", QKeySequence(Qt.Key.Key_F1), self.show_shortcuts)
        topics = help_.addMenu("&Guide")
        for topic in HELP_TOPICS:
            topics.addAction(topic.replace("&", "&&"), lambda *_, t=topic: self.show_help(t))
        help_.addSeparator()
        help_.addAction("&About I2I Studio", self._about)

    def _build_tool_bar(self) -> None:
        """The tools, always in view; Send to at its right end."""
        bar = QToolBar("Tools")
        bar.setObjectName("tools")
        bar.setMovable(False)
        bar.setFloatable(False)
        bar.toggleViewAction().setEnabled(False)  # the way between tools never goes away
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._tool_bar_end = bar.addWidget(spacer)
        self.send_button = QToolButton()
        self.send_button.setText("Send to ▾")
        self.send_button.setStyleSheet("QToolButton::menu-indicator { image: none; width: 0; }")
        self.send_button.setToolTip("Take this tool's result as the photo of another tool (File > Send to)")
        self.send_button.setMenu(self.send_menu)
        self.send_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        bar.addWidget(self.send_button)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self._tool_bar = bar

    def _build_history_dock(self) -> None:
        self.history_panel = HistoryPanel()
        dock = QDockWidget("Undo History", self)
        dock.setObjectName("history")
        dock.setWidget(self.history_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        dock.hide()  # the pages' panels fill the sides at 1280 px; View > Undo History shows it
        dock.visibilityChanged.connect(lambda shown: shown and self.history_panel.show_history(
            self.current_page().history()))
        toggle = dock.toggleViewAction()
        toggle.setText("Undo &History")
        toggle.setShortcut(QKeySequence("Ctrl+H"))
        self._view_menu.insertAction(self.panels_action, toggle)
        self.history_dock = dock

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
            if dock.widget().monitor.run_dir == run_dir.resolve():
                dock.show()
                dock.raise_()
                return dock.widget().monitor
        monitor = RunMonitor(run_dir)
        monitor.checkpoint_saved.connect(self._checkpoint_saved)
        dock = QDockWidget(f"Training: {monitor.title}", self)
        dock.setObjectName(f"{RUN_DOCK_PREFIX}{monitor.run_dir}")
        dock.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        scroll = QScrollArea(widgetResizable=True, frameShape=QScrollArea.Shape.NoFrame)
        scroll.setWidget(monitor)  # scrolls rather than make the window taller than the screen
        scroll.setMinimumHeight(160)
        scroll.monitor = monitor
        dock.setWidget(scroll)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        if docks:
            self.tabifyDockWidget(docks[-1], dock)
        dock.show()
        dock.raise_()
        return monitor

    # --- the page on show ----------------------------------------------------------------------------

    def _page_shown(self) -> None:
        page = self.current_page()
        for owner, actions in self._page_actions.items():
            for action in actions:
                action.setVisible(owner is page)
        for action in self._tool_group.actions():
            if action.data() == self._tool_titles.get(page):
                action.setChecked(True)
        if not self.panels_action.isChecked():  # panels stay hidden across tools until the next Tab
            self._set_panels_hidden(True)
        self._page_changed(page)

    def _page_changed(self, page: Page) -> None:
        """What `page` has open changed: the title, the history panel and Send to follow when it is on show."""
        if page is not self.current_page():
            return
        tool = self._tool_titles.get(page, "")
        name = page.document_title()
        if page is self.start or not tool:
            title = APP_TITLE
        elif name:
            title = f"{name}{'*' if page.is_modified() else ''} — {tool} — {APP_TITLE}"
        else:
            title = f"{tool} — {APP_TITLE}"
        self.setWindowTitle(title)
        self.setWindowModified(page.is_modified())
        if self.history_dock.isVisible():  # else it catches up when shown
            self.history_panel.show_history(page.history())
        self.send_button.setEnabled(bool(self._send_targets(page)))

    # --- send to -------------------------------------------------------------------------------------

    def _send_targets(self, page: Page) -> list[Page]:
        if page is self.start:
            return []
        return [p for p in self._tool_titles if p is not page and p.ACCEPTS_PHOTOS]

    def _fill_send_menu(self) -> None:
        page = self.current_page()
        has_result = page.has_result()
        self.send_menu.clear()
        for target in self._send_targets(page):
            title = self._tool_titles[target]
            action = self.send_menu.addAction(title.replace("&", "&&"), lambda *_, t=target: self.send_to(t))
            action.setEnabled(has_result)
        if not has_result:
            self.send_menu.addSeparator()
            self.send_menu.addAction("(no full-resolution result yet)").setEnabled(False)

    def send_to(self, target: Page) -> bool:
        """Open the current page's result in `target` as its photo, named after where it came from."""
        source = self.current_page()
        if target is source or not target.ACCEPTS_PHOTOS:
            return False
        image = source.result_image()
        if image is None:
            self._status(f"Not sent. {RESULT_PENDING}")
            return False
        tool = self._tool_titles[source]
        stem = Path(source.document_title() or "result").stem.split(" from ")[0]  # a chain keeps its first name
        name = f"{stem} from {tool}"
        self.tools.setCurrentWidget(target)
        if not target.receive_photo(image, name):
            return False
        self._status(f"Sent “{name}” to {self._tool_titles[target]}")
        return True

    # --- open recent ---------------------------------------------------------------------------------

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for kind, heading in files.KIND_TITLES.items():
            entries = files.recent_files(kind)
            if not entries:
                continue
            self.recent_menu.addSection(heading)
            for entry in entries:
                text = f"{entry.path.name}  —  {entry.tool}" if entry.tool else entry.path.name
                action = self.recent_menu.addAction(text.replace("&", "&&"),
                                                    lambda *_, k=kind, e=entry: self.open_recent(k, e))
                action.setToolTip(str(entry.path))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("No recent files").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear Recent Files", files.clear_recent)

    def open_recent(self, kind: str, entry: files.Recent) -> bool:
        """Open a recent file in the tool that last had it (a missing file leaves the list, with a message)."""
        if not entry.path.is_file():
            files.forget_recent(kind, entry.path)
            QMessageBox.warning(self, "Open Recent", f"{entry.path} is no longer there (moved or deleted); it is "
                                                     "taken off the recent files.")
            return False
        if entry.path.suffix == STUDIO_SUFFIX:
            return bool(self.studio.open_file(entry.path).wait())
        pages = [p for p, t in self._tool_titles.items() if t == entry.tool] or [self.current_page()]
        self.tools.setCurrentWidget(pages[0])
        return pages[0].open_recent(kind, entry.path)

    # --- panels, help ----------------------------------------------------------------------------------

    def toggle_panels(self) -> None:
        """Tab: hide the page's side panels and the docks, or show again what it hid."""
        self._set_panels_hidden(not self.panels_action.isChecked())  # the action has just toggled

    def _set_panels_hidden(self, hide: bool) -> None:
        if hide:
            shown = [w for w in self.current_page().panels() + self.findChildren(QDockWidget) if w.isVisible()]
            for widget in shown:
                widget.hide()
            self._hidden += [w for w in shown if w not in self._hidden]
        else:
            for widget in self._hidden:
                widget.show()
            self._hidden = []
        self.panels_action.setChecked(not hide)

    def shortcut_sheet(self) -> ShortcutSheet:
        groups = [(menu.title().replace("&", ""), self._menu_actions(menu)) for menu in
                  (a.menu() for a in self.menuBar().actions()) if menu is not None]
        tool = self._tool_titles.get(self.current_page(), "")
        groups.append((f"{tool} tools", self.current_page().findChildren(QAction)))
        return ShortcutSheet(shortcut_rows(groups), self)

    def show_shortcuts(self) -> ShortcutSheet:
        sheet = self.shortcut_sheet()
        sheet.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        sheet.show()
        return sheet

    def show_help(self, topic: str) -> HelpTopic:
        dialog = HelpTopic(topic, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    @staticmethod
    def _menu_actions(menu: QMenu) -> list[QAction]:
        """A menu's visible entries, its submenus' included."""
        out = []
        for action in menu.actions():
            if action.menu() is not None:
                out += MainWindow._menu_actions(action.menu())
            elif action.isVisible() and not action.isSeparator():
                out.append(action)
        return out

    def closeEvent(self, event: QCloseEvent) -> None:
        if not all(self.tools.widget(i).may_close() for i in range(self.tools.count())):
            event.ignore()  # the user kept unsaved work
            return
        for dock in self._run_docks():
            dock.widget().monitor.close()  # stop watching; the runs themselves go on
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
        """A confirmation or an outcome ("Saved ~/x.ora"): shown for STATUS_MESSAGE_MS, whatever the engine says
        meanwhile."""
        if message:  # "" means idle: it must not wipe the last outcome before it was read
            self.statusBar().showMessage(message, STATUS_MESSAGE_MS)
            self._confirmed = (message, time.monotonic() + STATUS_MESSAGE_MS / 1000)

    def _activity(self, message: str) -> None:
        """What the engine is doing ("loading …"): shown unless a confirmation is still being read."""
        shown, until = self._confirmed
        reading = self.statusBar().currentMessage() == shown and time.monotonic() < until
        if message and not reading:  # the engine writes "generating"; a status line starts with a capital
            self.statusBar().showMessage(message[:1].upper() + message[1:], STATUS_MESSAGE_MS)

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
