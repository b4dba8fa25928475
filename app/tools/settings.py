"""What the palette panel and the tools share: the classes to paint with and the brush size."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

MIN_BRUSH, MAX_BRUSH = 1, 512
STEP = 1.25  # [ and ] scale the brush by this, so big and small brushes change at a similar pace


class ToolSettings(QObject):
    changed = Signal()

    def __init__(self, *, current_class: int = 1, background_class: int = 0, brush_size: int = 16,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._current, self._background, self._size = current_class, background_class, brush_size

    @property
    def current_class(self) -> int:
        return self._current

    @property
    def background_class(self) -> int:
        return self._background

    @property
    def brush_size(self) -> int:
        """Diameter in document pixels."""
        return self._size

    def set_current_class(self, i: int) -> None:
        self._set("_current", _label(i))

    def set_background_class(self, i: int) -> None:
        self._set("_background", _label(i))

    def set_brush_size(self, n: int) -> None:
        self._set("_size", max(MIN_BRUSH, min(MAX_BRUSH, int(n))))

    def grow(self) -> None:
        self.set_brush_size(max(self._size + 1, round(self._size * STEP)))

    def shrink(self) -> None:
        self.set_brush_size(min(self._size - 1, round(self._size / STEP)))

    def _set(self, attr: str, value: int) -> None:
        if getattr(self, attr) != value:
            setattr(self, attr, value)
            self.changed.emit()


def _label(i: int) -> int:
    if not 0 <= int(i) <= 255:
        raise ValueError(f"a label id lies in 0..255, not {i}")
    return int(i)
