"""The toolbar's model picker of a page: the Library's models of the page's task, by name (id and size rule in
the tooltip); `picked` when the user chooses one, never when the page shows one."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QWidget

from engine.api import ModelEntry


class ModelPicker(QComboBox):
    picked = Signal(str)  # model id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, minimumContentsLength=30)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.activated.connect(lambda _: self.picked.emit(self.currentData()))

    def set_models(self, models: Sequence[ModelEntry]) -> None:
        self.clear()
        for e in models:
            self.addItem(e.name or e.id, e.id)
            self.setItemData(self.count() - 1, f"{e.id}\n{e.size_rule}", Qt.ItemDataRole.ToolTipRole)

    def show_model(self, model_id: str | None) -> None:
        self.setCurrentIndex(self.findData(model_id))
