"""The page shown before any tool is open: what the app is, and the models it has."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.catalog_model import CatalogModel
from app.widgets.page import Page

INTRO = (
    "Edit images with deep image-to-image models, and train them. Each tool (View menu) starts on a "
    "small embedded model; import an official checkpoint to add it to your library: the engine "
    "detects its architecture from the weights and runs it on a background thread."
)


class StartPage(Page):
    """Emits intents; the main window decides what they open."""

    library_requested = Signal()
    import_requested = Signal()

    def __init__(self, catalog: CatalogModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._catalog = catalog

        title = QLabel("I2I Studio")
        title.setObjectName("title")
        intro = QLabel(INTRO)
        intro.setObjectName("subtitle")
        intro.setWordWrap(True)

        library = QPushButton("Model Library…")
        library.setProperty("role", "primary")
        library.clicked.connect(self.library_requested)
        import_ = QPushButton("Import Checkpoint…")
        import_.setProperty("role", "primary")
        import_.clicked.connect(self.import_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(library)
        buttons.addWidget(import_)
        buttons.addStretch()

        self.models = QListWidget()
        self.models.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        self.models.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._models_heading = QLabel()
        self._models_heading.setObjectName("heading")

        column = QVBoxLayout()
        column.addStretch(1)
        column.addWidget(title)
        column.addWidget(intro)
        column.addSpacing(12)
        column.addLayout(buttons)
        column.addSpacing(24)
        column.addWidget(self._models_heading)
        column.addWidget(self.models, 3)
        column.addStretch(1)

        # A readable column in the middle of a wide window.
        body = QWidget()
        body.setLayout(column)
        body.setMaximumWidth(720)
        outer = QHBoxLayout(self)
        outer.addStretch()
        outer.addWidget(body, 1)
        outer.addStretch()

        catalog.changed.connect(self._show_models)
        self._show_models()

    def _show_models(self) -> None:
        entries = self._catalog.entries
        self.models.clear()
        self._models_heading.setText(f"Models in your library ({len(entries)})")
        for entry in entries:
            origin = "built-in" if entry.builtin else "imported"
            item = QListWidgetItem(f"{entry.name or entry.id}    ·  {entry.method}  ·  {entry.task}  ·  {origin}")
            item.setToolTip(entry.id)
            self.models.addItem(item)
        if not entries:
            empty = QListWidgetItem("No models yet: import a checkpoint to begin.")
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.models.addItem(empty)
