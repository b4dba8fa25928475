"""How the Style Brushes reach a large photo's full resolution (engine.api.FullRes): a toolbar choice, remembered
across sessions. It applies to every layer; each layer's image is cached per method, so switching back is instant.

The default is Detail: the network runs at WORKING_SIDE px and its change is carried onto the photo, which keeps
its own finer detail; a 4000 px photo then takes seconds per layer instead of minutes, and what a layer's model
leaves alone is exactly the photo. The translation models were trained on 256 px crops, so their change is about
as smooth at the working size as at full size (README, Performance: detail against tiled). Tiled runs the network
over the whole photo at full size: the official output, for when that is what matters.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QComboBox, QWidget

from engine.api import WORKING_SIDE, FullRes

SETTING = "brushes/full_res"
DEFAULT = FullRes.DETAIL
CHOICES = (
    (FullRes.DETAIL, "Detail (fast)", (f"Large photos: the model at {WORKING_SIDE} px, its change carried onto the "
                                       "photo, which keeps its own finer detail")),
    (FullRes.TILED, "Full size (exact)", ("Large photos: the model over the whole photo at full size, in tiles when "
                                          "memory requires (the official output; minutes on a CPU)")),
)


class FullResPicker(QComboBox):
    """Emits currentIndexChanged when the user picks another method."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setToolTip(f"How photos larger than {WORKING_SIDE} px reach full resolution")
        for method, title, tip in CHOICES:
            self.addItem(title, method)
            self.setItemData(self.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        stored = QSettings().value(SETTING, DEFAULT)
        self.setCurrentIndex(max(0, self.findData(stored if stored in list(FullRes) else DEFAULT)))
        self.currentIndexChanged.connect(lambda _: QSettings().setValue(SETTING, self.method.value))

    @property
    def method(self) -> FullRes:
        return FullRes(self.currentData())
