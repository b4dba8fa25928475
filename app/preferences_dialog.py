"""Edit > Preferences: settings stored in QSettings and read when the app starts."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from engine.api import Mode

DEVICE_KEY = "engine/device"
# (label, value passed to the engine; None lets the engine choose: $I2I_DEVICE, else CUDA > MPS > CPU)
DEVICE_CHOICES: tuple[tuple[str, str | None], ...] = (
    ("Auto", None),
    ("CPU", "cpu"),
    ("CUDA", "cuda"),
    ("MPS (Apple)", "mps"),
)
MODE_KEY = "engine/mode"
# (label, value passed to the engine; None lets the engine choose: $I2I_MODE, else Fast)
MODE_CHOICES: tuple[tuple[str, str | None], ...] = (
    ("Default ($I2I_MODE, else Fast)", None),
    ("Fast: the fastest path within 3/255 of Exact", Mode.FAST.value),
    ("Exact: float32, the official outputs", Mode.EXACT.value),
)


def saved_device() -> str | None:
    """The device override the engine should start with, or None for automatic."""
    value = str(QSettings().value(DEVICE_KEY, "") or "")
    return value if value in {v for _, v in DEVICE_CHOICES if v} else None


def saved_mode() -> str | None:
    """The inference mode the engine should start with, or None for $I2I_MODE, else Fast."""
    value = str(QSettings().value(MODE_KEY, "") or "")
    return value if value in {v for _, v in MODE_CHOICES if v} else None


class PreferencesDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")

        self.device = QComboBox()
        for label, value in DEVICE_CHOICES:
            self.device.addItem(label, value)
        self.device.setCurrentIndex([value for _, value in DEVICE_CHOICES].index(saved_device()))

        self.mode = QComboBox()
        for label, value in MODE_CHOICES:
            self.mode.addItem(label, value)
        self.mode.setCurrentIndex([value for _, value in MODE_CHOICES].index(saved_mode()))

        note = QLabel("The engine picks its device and mode once, at start: a change applies the next time "
                      "I2I Studio starts. If the chosen device is missing, Auto is used. Exact reproduces the "
                      "official implementations' outputs; Fast is up to about 2x faster and differs from Exact "
                      "by at most 3/255 (a model's first uses run as Exact while its fast path is prepared "
                      "in the background).")
        note.setWordWrap(True)
        note.setProperty("role", "muted")

        form = QFormLayout()
        form.addRow("Compute device:", self.device)
        form.addRow("Inference mode:", self.mode)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.setMinimumWidth(420)

    def accept(self) -> None:
        QSettings().setValue(DEVICE_KEY, self.device.currentData() or "")
        QSettings().setValue(MODE_KEY, self.mode.currentData() or "")
        super().accept()
