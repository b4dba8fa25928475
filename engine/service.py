"""Starting the engine: the one entry point the GUI bridge and the CLI use.

The engine (torch, the model code, the catalog) is built by the worker's own thread when its first job comes, so a
GUI opens while torch loads; requests submitted meanwhile wait in their slots. A second worker of the same kind runs
the GUI's file work (saves, exports, reading large photos) without torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.api import Event, Request, pick_mode
from engine.worker import JobContext, Worker

if TYPE_CHECKING:
    from engine.catalog import Catalog
    from engine.handlers import Engine


class _LazyEngine:
    """The engine's handler, built on first use (on the worker's thread)."""

    def __init__(self, build: Callable[[], Engine]) -> None:
        self._build = build
        self._engine: Engine | None = None

    def __call__(self, request: Request, job: JobContext) -> Any:
        if self._engine is None:
            self._engine = self._build()
        return self._engine(request, job)

    def close(self) -> None:
        """The worker stopped: Fast mode's sessions still queued are not made."""
        if self._engine is not None:
            self._engine.close()


def check_device(device: str | None) -> None:
    """Raise ValueError/RuntimeError (one line) when `device` names a device this machine lacks. Only a named device
    costs the import of torch here; None and "auto" are always available."""
    if device and device.strip().lower() != "auto":
        from engine.device import pick_device

        pick_device(device)


def start_engine(on_event: Callable[[Event], None], *, device: str | None = None, mode: str | None = None,
                 catalog: Catalog | None = None) -> Worker:
    """Start the worker thread that owns every model. `device` overrides $I2I_DEVICE / auto (check_device first:
    a device the machine lacks fails every job); `mode` (exact or fast) overrides $I2I_MODE / fast, and a mode
    that is neither raises ValueError here."""
    engine_mode = pick_mode(mode)

    def build() -> Engine:
        from engine.catalog import Catalog
        from engine.device import pick_device
        from engine.handlers import Engine

        return Engine(catalog or Catalog(), pick_device(device), mode=engine_mode)

    return Worker(_LazyEngine(build), on_event, boundaries=True)


def start_file_worker(on_event: Callable[[Event], None]) -> Worker:
    """A worker thread for plain work: each request is a callable `run(job)` (file reads and writes), its value the
    result; the same slots, stamps, progress, cancel and errors as data as the engine's."""
    return Worker(lambda work, job: work.run(job), on_event, name="files")
