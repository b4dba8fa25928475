"""Tools that turn mouse strokes on a CanvasView into undoable document edits."""

from app.tools.base import StrokeTool, Tool
from app.tools.label_tools import (
    LABEL_TOOLS,
    BrushTool,
    EraserTool,
    EyedropperTool,
    FillTool,
    LassoFillTool,
    RectFillTool,
)
from app.tools.settings import ToolSettings

__all__ = ["LABEL_TOOLS", "BrushTool", "EraserTool", "EyedropperTool", "FillTool", "LassoFillTool",
           "RectFillTool", "StrokeTool", "Tool", "ToolSettings"]
