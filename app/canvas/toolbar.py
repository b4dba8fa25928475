"""The zoom controls every page's toolbar ends with: Fit, zoom out/in and the zoom readout, then a spacer
that pushes whatever the page adds after them to the right."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QSizePolicy, QToolBar, QWidget

from app.canvas.view import CanvasView


def add_zoom_controls(bar: QToolBar, canvas: CanvasView, what: str = "image") -> QLabel:
    """Add them to `bar` for `canvas` (`what` the canvas shows, for the Fit tip); returns the readout."""
    bar.addAction("Fit", canvas.zoom_fit).setToolTip(f"Fit the {what} in the view (Ctrl+0)")
    bar.addAction("−", canvas.zoom_out).setToolTip("Zoom out (Ctrl+-)")
    bar.addAction("+", canvas.zoom_in).setToolTip("Zoom in (Ctrl+=)")
    readout = QLabel()
    canvas.zoom_changed.connect(lambda z: readout.setText(f" {z * 100:.0f}% "))
    bar.addWidget(readout)
    spacer = QWidget()
    spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    bar.addWidget(spacer)
    return readout
