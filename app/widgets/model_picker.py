"""The toolbar's model picker of a page: the Library's models of the page's task, by name (id and size rule in
the tooltip); `picked` when the user chooses one, never when the page shows one. Beside it, a "Demo model" badge
while the page uses one of the small embedded default models, so every page says when it is not at full quality.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from app.catalog_model import DEMO_BADGE, DEMO_TIP, is_demo
from engine.api import ModelEntry

BADGE_STYLE = ("QLabel { background: #7A5B12; color: #FFE2A3; border-radius: 8px; padding: 1px 8px; "
               "font-weight: 600; }")


class DemoBadge(QLabel):
    """Shown only while the model in use is a demo model; says where the full-quality weights come from."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(DEMO_BADGE, parent)
        self.setToolTip(DEMO_TIP)
        self.setStyleSheet(BADGE_STYLE)
        self.hide()

    def show_for(self, entry: ModelEntry | None) -> None:
        self.setVisible(is_demo(entry))


class ModelPicker(QWidget):
    """A combo box of models and the demo badge. The combo box's own API (findData, setCurrentIndex,
    currentData, activated, …) is reachable on the picker itself, as before it had a badge."""

    picked = Signal(str)  # model id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox(minimumContentsLength=30)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.activated.connect(self._activated)
        self.badge = DemoBadge()
        self._entries: dict[str, ModelEntry] = {}
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.combo)
        layout.addWidget(self.badge)

    def __getattr__(self, name: str) -> Any:
        # Only names the picker lacks reach here: the combo box's API.
        return getattr(self.combo, name)

    def set_models(self, models: Sequence[ModelEntry]) -> None:
        self.combo.clear()
        self._entries = {e.id: e for e in models}
        for e in models:
            self.combo.addItem(e.name or e.id, e.id)
            tip = f"{e.id}\n{e.size_rule}" + ("\nDemo model: a small model trained by I2I Studio" if is_demo(e) else "")
            self.combo.setItemData(self.combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self._show_badge()

    def show_model(self, model_id: str | None) -> None:
        self.combo.setCurrentIndex(self.combo.findData(model_id))
        self._show_badge()

    def current_entry(self) -> ModelEntry | None:
        return self._entries.get(self.combo.currentData() or "")

    def _activated(self, _index: int) -> None:
        self._show_badge()
        self.picked.emit(self.combo.currentData())

    def _show_badge(self) -> None:
        self.badge.show_for(self.current_entry())
