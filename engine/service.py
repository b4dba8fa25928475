"""Starting the engine: the one entry point the GUI bridge and the CLI use."""

from __future__ import annotations

from collections.abc import Callable

from engine.api import Event
from engine.catalog import Catalog
from engine.device import pick_device
from engine.handlers import Engine
from engine.worker import Worker


def start_engine(on_event: Callable[[Event], None], *, device: str | None = None,
                 catalog: Catalog | None = None) -> Worker:
    """Start the worker thread that owns every model. `device` overrides $I2I_DEVICE / auto."""
    engine = Engine(catalog or Catalog(), pick_device(device))
    return Worker(engine, on_event)
