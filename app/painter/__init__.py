"""The label painter: paint a semantic label map, see a label-to-image model's photo of it."""

from app.painter.page import PainterPage

__all__ = ["PainterPage"]
