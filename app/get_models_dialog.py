"""Models > Get Models…: the official pretrained releases, with their licence accepted before download, progress,
cancel, resume, and import into the library when the files are in.

The list is engine.downloads' data file. A download runs on its own thread (engine.downloads.DownloadTask: a
large archive takes minutes, and the app's file lane must stay free for saves); its events come back here through
a queued signal, so everything below runs on the GUI thread. The files are imported through the catalog, one at a
time, exactly as Models > Import Checkpoint… imports them. A link that gives no file shows one line of why and the
steps to do it by hand.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.catalog_model import CatalogModel
from engine.api import ModelEntry
from engine.downloads import (
    PART_SUFFIX,
    DownloadDone,
    DownloadEvent,
    DownloadFailed,
    DownloadProgress,
    DownloadStopped,
    DownloadTask,
    OfficialModel,
    download_folder,
    format_bytes,
    load_official_models,
    remove_files,
)

COLUMNS = ("Model", "What it does", "Size", "Licence", "Status")
ID_ROLE = Qt.ItemDataRole.UserRole


class _Relay(QObject):
    """Carries the download thread's events to the GUI thread."""

    event = Signal(object)


class GetModelsDialog(QDialog):
    """Non-modal; closing it hides it and a running download goes on (the main window keeps the one dialog)."""

    def __init__(self, catalog: CatalogModel, parent: QWidget | None = None, *,
                 models: tuple[OfficialModel, ...] | None = None, root: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Get Models")
        self.resize(1180, 680)
        self._catalog = catalog
        self._root = root
        self._task: DownloadTask | None = None
        self._accepted: set[str] = set()  # licence names accepted in this session
        self._to_import: list[tuple[Path, dict]] = []
        self._importing: tuple[OfficialModel, Path] | None = None
        self._imported: list[str] = []
        self._failed: list[str] = []
        self._relay = _Relay(self)
        self._relay.event.connect(self._on_event, Qt.ConnectionType.QueuedConnection)
        list_error = ""
        try:
            self.models = models if models is not None else load_official_models()
        except ValueError as exc:
            self.models, list_error = (), str(exc)

        self.table = QTreeWidget()
        self.table.setColumnCount(len(COLUMNS))
        self.table.setHeaderLabels(COLUMNS)
        self.table.setRootIsDecorated(False)
        self.table.setUniformRowHeights(True)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.table.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for model in self.models:
            item = QTreeWidgetItem([model.title, model.description, model.size_text(), model.licence.name, ""])
            item.setData(0, ID_ROLE, model.id)
            for column in range(len(COLUMNS)):
                item.setToolTip(column, item.text(column))
            self.table.addTopLevelItem(item)
        for column, width in ((0, 330), (2, 100), (3, 180), (4, 150)):
            self.table.setColumnWidth(column, width)
        self.table.itemSelectionChanged.connect(self._show_selected)

        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setOpenExternalLinks(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.details.setMinimumHeight(96)

        self.accept_licence = QCheckBox()
        self.accept_licence.toggled.connect(self._licence_toggled)
        self.download_button = QPushButton("Download and Import")
        self.download_button.setProperty("role", "primary")
        self.download_button.clicked.connect(self.download_selected)
        self.cancel_button = QPushButton("Cancel Download")
        self.cancel_button.clicked.connect(self.cancel_download)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.hide()
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        # One line of feedback (the full text in its tooltip); the manual steps below it when needed.
        self.message = QLabel(list_error or "Pick a model, read its licence, then download it.")
        self.message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.message.setProperty("role", "error" if list_error else "muted")
        self.manual = QLabel()
        self.manual.setWordWrap(True)
        self.manual.setTextFormat(Qt.TextFormat.RichText)
        self.manual.setOpenExternalLinks(True)
        self.manual.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.manual.hide()

        actions = QHBoxLayout()
        actions.addWidget(self.accept_licence)
        actions.addStretch(1)
        actions.addWidget(self.download_button)
        actions.addWidget(self.cancel_button)
        status = QHBoxLayout()
        status.addWidget(self.progress)
        status.addWidget(self.message, 1)
        status.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details)
        layout.addLayout(actions)
        layout.addWidget(self.manual)
        layout.addLayout(status)

        catalog.changed.connect(self._show_statuses)
        catalog.edit_finished.connect(self._edit_finished)
        # A download must not outlive the app: stop it (its .part is kept for next time).
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.cancel_download)
        self._show_statuses()
        if self.models:
            self.table.setCurrentItem(self.table.topLevelItem(0))
        self._show_selected()

    # --- intents ------------------------------------------------------------------------------

    def select(self, model_id: str) -> None:
        for row in range(self.table.topLevelItemCount()):
            if self.table.topLevelItem(row).data(0, ID_ROLE) == model_id:
                self.table.setCurrentItem(self.table.topLevelItem(row))

    def selected(self) -> OfficialModel | None:
        item = self.table.currentItem()
        model_id = item.data(0, ID_ROLE) if item else None
        return next((m for m in self.models if m.id == model_id), None)

    @property
    def busy(self) -> bool:
        """A download or its imports are under way."""
        return self._task is not None or self._importing is not None or bool(self._to_import)

    def download_selected(self) -> None:
        model = self.selected()
        if model is None or self.busy or not model.downloadable or model.licence.name not in self._accepted:
            return
        self.manual.hide()
        self._set_message(f"Connecting to download {model.title}…", "muted")
        self.progress.setRange(0, 0)
        self.progress.show()
        self._task = DownloadTask(model, self._relay_event, root=self._root)
        task = self._task
        self.destroyed.connect(lambda *_: task.cancel())
        self._task.start()
        self._update_buttons()

    def cancel_download(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self.cancel_button.setEnabled(False)
            self._set_message("Stopping…", "muted")

    def closeEvent(self, event: QCloseEvent) -> None:
        self.hide()  # a running download goes on; reopen the dialog to follow it
        event.ignore()

    # --- the download's events ----------------------------------------------------------------

    def _relay_event(self, event: DownloadEvent) -> None:
        # The download's thread: hand over and return.
        try:
            self._relay.event.emit(event)
        except RuntimeError:  # the dialog is gone (the app is closing); its destroyed signal stops the task
            pass

    @Slot(object)
    def _on_event(self, event: DownloadEvent) -> None:
        model = next((m for m in self.models if m.id == event.model_id), None)
        if model is None:
            return
        if isinstance(event, DownloadProgress):
            self._show_progress(event)
            return
        self._task = None
        if isinstance(event, DownloadDone):
            self._to_import = list(event.fetched.files)
            self._imported, self._failed = [], []
            if event.fetched.missing:
                self._failed.append(f"not in the archive: {', '.join(event.fetched.missing)}")
            self._import_next(model)
        elif isinstance(event, DownloadStopped):
            self.progress.hide()
            kept = f" {format_bytes(event.kept)} are kept; Download continues from there." if event.kept else ""
            self._set_message(f"Stopped downloading {model.title}.{kept}", "muted")
        elif isinstance(event, DownloadFailed):
            self.progress.hide()
            self._fail(event.message, event.manual)
        self._show_statuses()
        self._update_buttons()

    def _show_progress(self, event: DownloadProgress) -> None:
        if event.phase == "Unpacking":
            self.progress.setRange(0, max(1, event.total or 1))
            self.progress.setValue(event.done)
            self._set_message(f"Unpacking the files the importer takes ({event.done} of {event.total})…", "muted")
            return
        if event.total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(round(1000 * event.done / event.total))
            self._set_message(f"Downloading: {format_bytes(event.done)} of {format_bytes(event.total)}", "muted")
        else:
            self.progress.setRange(0, 0)
            self._set_message(f"Downloading: {format_bytes(event.done)}", "muted")

    # --- importing what came in ---------------------------------------------------------------

    def _import_next(self, model: OfficialModel) -> None:
        """One file at a time, so a refusal is known to be this file's."""
        if not self._to_import:
            self._importing = None
            self._finish(model)
            return
        path, options = self._to_import.pop(0)
        self._importing = (model, path)
        self.progress.setRange(0, 0)
        self._set_message(f"Importing {_shown(path, model, self._root)}…", "muted")
        self._catalog.import_checkpoint(str(path), on_done=self._imported_one, options=options or None)

    def _imported_one(self, entry: ModelEntry) -> None:
        # Called for this import alone (an identical model imported before comes back as that entry).
        if self._importing is None:
            return
        model, _ = self._importing
        self._imported.append(entry.id)
        self._import_next(model)

    def _edit_finished(self, text: str, ok: bool) -> None:
        if ok or self._importing is None:
            return
        model, path = self._importing
        if path.name not in text:
            return  # another import (the Library's) failed
        reason = text.split(" failed: ", 1)[-1].removeprefix(f"{path.name}: ")
        self._failed.append(f"{_shown(path, model, self._root)}: {reason}")
        remove_files(model, [path], self._root)  # refused: not kept
        self._import_next(model)

    def _finish(self, model: OfficialModel) -> None:
        self.progress.hide()
        if self._imported and not self._failed:
            self._set_message(f"Imported {', '.join(self._imported)}: ready in the Library and the tools.", "muted")
        elif self._imported:
            self._fail(f"Imported {', '.join(self._imported)}; not imported: {'; '.join(self._failed)}",
                       model.manual_steps())
        else:
            self._fail(f"{model.title} was downloaded but not imported: {'; '.join(self._failed)}",
                       model.manual_steps())
        self._show_statuses()
        self._update_buttons()

    def _fail(self, message: str, manual: str) -> None:
        self._set_message(message, "error")
        if manual:
            lines = "<br>".join(_linked(line) for line in manual.splitlines())
            self.manual.setText(f"<b>To do it by hand:</b><br>{lines}")
            self.manual.show()

    # --- view ---------------------------------------------------------------------------------

    def _show_selected(self) -> None:
        model = self.selected()
        self.manual.hide()
        if model is None:
            self.details.setText("")
            self.accept_licence.setText("I accept the licence")
            self._update_buttons()
            return
        licence = model.licence
        self.details.setText(
            f"<b>{html.escape(model.title)}</b> · {html.escape(model.method)}<br>{html.escape(model.description)}"
            f"<br>Source: <a href='{html.escape(model.source)}'>{html.escape(model.source)}</a> · "
            f"Size: {html.escape(model.size_text())}"
            f"<br>Licence: <a href='{html.escape(licence.url)}'>{html.escape(licence.name)}</a>: "
            f"{html.escape(licence.summary)}")
        self.accept_licence.blockSignals(True)
        self.accept_licence.setText(f"I have read the {licence.name} licence and accept it")
        self.accept_licence.setChecked(licence.name in self._accepted)
        self.accept_licence.blockSignals(False)
        if not model.downloadable:
            self._fail(f"{model.title}: nothing to download.", model.manual_steps())
        self._update_buttons()

    def _licence_toggled(self, checked: bool) -> None:
        model = self.selected()
        if model is not None:
            (self._accepted.add if checked else self._accepted.discard)(model.licence.name)
        self._update_buttons()

    def _update_buttons(self) -> None:
        model = self.selected()
        downloadable = model is not None and model.downloadable
        self.accept_licence.setEnabled(downloadable)
        self.download_button.setEnabled(downloadable and not self.busy
                                        and model.licence.name in self._accepted)
        self.download_button.setToolTip("" if model is None or model.licence.name in self._accepted
                                        else "Accept the licence first")
        self.cancel_button.setEnabled(self._task is not None)

    def _show_statuses(self) -> None:
        for row in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(row)
            model = next(m for m in self.models if m.id == item.data(0, ID_ROLE))
            item.setText(4, self._status(model))

    def _status(self, model: OfficialModel) -> str:
        if not model.downloadable:
            return "no weights published"
        if self._task is not None and self._task.model.id == model.id:
            return "downloading…"
        folder = download_folder(model, self._root)
        imported = sum(1 for e in self._catalog.entries if _inside(e.source, folder))
        if imported:
            return "imported" if imported >= len(model.files) else f"{imported} of {len(model.files)} imported"
        if folder.is_dir() and any(folder.rglob(f"*{PART_SUFFIX}")):
            return "partly downloaded"
        return ""

    def _set_message(self, text: str, role: str) -> None:
        text = " ".join(text.split())
        self.message.setText(text)
        self.message.setToolTip(text)
        self.message.setProperty("role", role)
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)


def open_get_models(window: QWidget, catalog: CatalogModel) -> GetModelsDialog:
    """Show the window's one Get Models dialog (made on first use, kept so a download survives closing it)."""
    dialog = window.findChild(GetModelsDialog)
    if dialog is None:
        dialog = GetModelsDialog(catalog, window)
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog


def _inside(source: str, folder: Path) -> bool:
    return bool(source) and folder.resolve() in Path(source).parents


def _shown(path: Path, model: OfficialModel, root: Path | None) -> str:
    """A downloaded file as the user knows it: its path in the official layout."""
    try:
        return str(path.relative_to(download_folder(model, root)))
    except ValueError:
        return path.name


def _linked(line: str) -> str:
    """Escape a line of the manual steps, with its web addresses as links."""
    words = []
    for word in line.split(" "):
        bare = word.rstrip(".,;)")
        if bare.startswith(("http://", "https://")):
            words.append(f"<a href='{html.escape(bare)}'>{html.escape(bare)}</a>{html.escape(word[len(bare):])}")
        else:
            words.append(html.escape(word))
    return " ".join(words)
