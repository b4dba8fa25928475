"""The document canvas: layers on screen, zoom and pan, mouse strokes handed to a tool."""

from app.canvas.view import CanvasView

__all__ = ["CanvasView"]
