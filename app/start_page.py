"""The Start page, shown on first run and from the tool bar or Help: each tool with a sample picture, what it does
and what it needs; a click on a tool's card (or its button) opens that tool."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.catalog_model import SAMPLES, TOOL_PICTURES, CatalogModel, is_demo, method_title
from app.widgets.page import Page
from engine.api import ModelEntry, Task

INTRO = ("Paint scenes, edit photos and restyle them with image-to-image models. Pick a tool to begin; each one "
         "comes with a small demo model, and Models > Library adds the official ones.")
SAMPLE_HEIGHT = 150
# the embedded looks model's own sample once its recipe has made it; until then the tool's picture of its task
VARIATIONS_SAMPLE = SAMPLES / "default_variations.jpg"
VARIATIONS_SAMPLE = VARIATIONS_SAMPLE if VARIATIONS_SAMPLE.is_file() else TOOL_PICTURES[Task.MULTI_DOMAIN]


@dataclass(frozen=True)
class ToolCard:
    title: str  # the tool's name, as the tool bar says it
    does: str
    needs: str
    tasks: tuple[Task, ...]  # the models it drives
    sample: Path


TOOL_CARDS = (
    ToolCard("Painter", "Paint a scene with labels (sky, water, rock, trees…); a model paints the photo as you go.",
             "Needs: a scene-painting model. Start from the example scene or open a label map.",
             (Task.LABEL_TO_IMAGE,), SAMPLES / "default_model_starter_scene.png"),
    ToolCard("Swap & Edit", "Open a photo and change its look: give it another photo's texture, clone its "
             "structure, edit regions.", "Needs: a photo of your own, or the Painter's.",
             (Task.STRUCTURE_TEXTURE,), SAMPLES / "default_sae_swap.jpg"),
    ToolCard("Style Brushes", "Paint another season or a painting's style onto a photo with soft brushes.",
             "Needs: a photo of your own, or another tool's result.",
             (Task.IMAGE_TO_IMAGE, Task.CONTENT_STYLE), SAMPLES / "default_brush_summer2winter.jpg"),
    ToolCard("Variations", "See a photo as many things at once (a dog as a lion, a tiger…); keep the ones you "
             "like.", "Needs: a photo, and a multi-domain model (DeepI2I).", (Task.MULTI_DOMAIN,), VARIATIONS_SAMPLE),
)


class _Card(QFrame):
    """One tool: its picture, what it does, what it needs, the models it has; clicked anywhere, it opens."""

    clicked = Signal()

    def __init__(self, card: ToolCard) -> None:
        super().__init__()
        self.card = card
        self.setObjectName("toolCard")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(f"Open {card.title}")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        picture = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        pixmap = QPixmap(str(card.sample))
        if not pixmap.isNull():
            picture.setPixmap(pixmap.scaledToHeight(SAMPLE_HEIGHT, Qt.TransformationMode.SmoothTransformation))
        picture.setFixedHeight(SAMPLE_HEIGHT)
        picture.setMinimumWidth(10)
        picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)  # crops a wide sample
        title = QLabel(card.title)
        title.setObjectName("heading")
        does = QLabel(card.does, wordWrap=True)
        needs = QLabel(card.needs, wordWrap=True)
        needs.setProperty("role", "muted")
        self.models = QLabel(wordWrap=True)
        self.models.setProperty("role", "muted")
        self.open_button = QPushButton(f"Open {card.title}".replace("&", "&&"))
        self.open_button.setProperty("role", "primary")
        self.open_button.clicked.connect(self.clicked)
        column = QVBoxLayout(self)
        column.addWidget(picture)
        column.addWidget(title)
        column.addWidget(does)
        column.addWidget(needs)
        column.addWidget(self.models)
        column.addStretch()
        column.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignLeft)

    def show_models(self, catalog: CatalogModel) -> None:
        entries = [e for e in catalog.entries if e.task in {t.value for t in self.card.tasks}]
        if not entries:
            self.models.setText("No model for it in your Library yet: Models > Library… adds one.")
            return
        names = ", ".join(_short_name(e) for e in entries[:3])
        more = f" and {len(entries) - 3} more" if len(entries) > 3 else ""
        kinds = sorted({method_title(e.method) for e in entries})
        self.models.setText(f"Models: {names}{more} — {', '.join(kinds)}")

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.clicked.emit()
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:  # as a file manager's double-click opens
            self.clicked.emit()
        super().mouseDoubleClickEvent(event)


def _short_name(entry: ModelEntry) -> str:
    """A model as a card names it: a built-in one as a demo."""
    name = entry.name or entry.id
    return f"{name.replace('(embedded default)', '').strip()} (demo)" if is_demo(entry) else name


class StartPage(Page):
    """Emits intents; the main window decides what they open."""

    tool_requested = Signal(str)  # a ToolCard's title
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

        self.cards: dict[str, _Card] = {}
        row = QHBoxLayout()
        row.setSpacing(16)
        for card in TOOL_CARDS:
            widget = _Card(card)
            widget.clicked.connect(lambda t=card.title: self.tool_requested.emit(t))
            self.cards[card.title] = widget
            row.addWidget(widget, 1)

        library = QPushButton("Model Library…")
        library.clicked.connect(self.library_requested)
        import_ = QPushButton("Import Checkpoint…")
        import_.clicked.connect(self.import_requested)
        self._models_heading = QLabel()
        self._models_heading.setProperty("role", "muted")
        buttons = QHBoxLayout()
        buttons.addWidget(self._models_heading)
        buttons.addStretch()
        buttons.addWidget(library)
        buttons.addWidget(import_)
        tip = QLabel("Ctrl+1 … Ctrl+4 switch tools; F1 lists every shortcut; File > Send to carries a "
                     "result to the next tool.")
        tip.setProperty("role", "muted")
        tip.setWordWrap(True)

        column = QVBoxLayout()
        column.addStretch(1)
        column.addWidget(title)
        column.addWidget(intro)
        column.addSpacing(16)
        column.addLayout(row)
        column.addSpacing(16)
        column.addLayout(buttons)
        column.addWidget(tip)
        column.addStretch(2)

        body = QWidget()  # a readable width in the middle of a wide window
        body.setLayout(column)
        body.setMaximumWidth(1120)
        outer = QHBoxLayout(self)
        outer.addStretch()
        outer.addWidget(body, 1)
        outer.addStretch()

        catalog.changed.connect(self._show_models)
        self._show_models()

    def _show_models(self) -> None:
        count = len(self._catalog.entries)
        self._models_heading.setText(f"{count} model{'s' if count != 1 else ''} in your Library")
        for card in self.cards.values():
            card.show_models(self._catalog)
