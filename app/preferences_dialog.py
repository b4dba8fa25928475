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

DEVICE_KEY = "engine/device"
# (label, value passed to the engine; None lets the engine choose: $I2I_DEVICE, else CUDA > MPS > CPU)
DEVICE_CHOICES: tuple[tuple[str, str | None], ...] = (
    ("Auto", None),
    ("CPU", "cpu"),
    ("CUDA", "cuda"),
    ("MPS (Apple)", "mps"),
)


def saved_device() -> str | None:
    """The device override the engine should start with, or None for automatic."""
    value = str(QSettings().value(DEVICE_KEY, "") or "")
    return value if value in {v for _, v in DEVICE_CHOICES if v} else None


class PreferencesDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")

        self.device = QComboBox()
        for label, value in DEVICE_CHOICES:
            self.device.addItem(label, value)
        self.device.setCurrentIndex([value for _, value in DEVICE_CHOICES].index(saved_device()))

        note = QLabel("The engine picks its device once, at start: a change applies the next time "
                      "I2I Studio starts. If the chosen device is missing, Auto is used.")
        note.setWordWrap(True)
        note.setProperty("role", "muted")

        form = QFormLayout()
        form.addRow("Compute device:", self.device)
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
        super().accept()
