"""The inference paths behind the two modes (engine.api.Mode): ONNX graphs of the networks, their export, and
ONNX Runtime sessions that run them in Fast mode, made off the worker thread and kept on disk.

Exact runs every network in float32 PyTorch. Fast runs, per architecture, the fastest path measured within 3/255 of
Exact on real photos (README, Performance): ONNX Runtime where it pays (its CPU convolutions ran the ResNet
generators about 2x faster than PyTorch's here), PyTorch otherwise. Measured and not taken: bfloat16 autocast
(0.043 off on [-1, 1], over 3/255, and slower on CPUs without native bfloat16), channels-last (0.86x) and
torch.compile (0.63x, after 50 s of compiling per size).

Sessions never delay a result: a model's graphs are exported (1-2 s for CycleGAN, about 12 s for SPADE ADE20K on
the 2-core machine measured) by a SessionBuilder off the worker thread, at a lower CPU priority, while the PyTorch
path serves requests, and written to a disk cache (user data folder, cache/onnx) keyed by what decides the graph,
so later loads only read them back (0.1-2 s, also off the worker thread). Every graph takes any image size (dynamic
height and width), so one file serves every size.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import enum
import hashlib
import inspect
import io
import json
import logging
import os
import threading
import warnings
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from engine.errors import error_message
from engine.storage import atomic_write, user_data_dir
from engine.worker import stop_on_cancel

log = logging.getLogger(__name__)

OPSET = 17
CACHE_FORMAT = 1  # bump when what a cached graph holds changes in a way the key below does not see
CACHE_BYTES = 4 << 30  # the graphs kept on disk, all together; the least recently used go first
# ONNX Runtime's peak memory over the live float32 activations a network estimates for a pass (its arena keeps
# what it took). Measured (VmHWM in a subprocess, above the loaded model): SPADE landscape at 1024x1600 1.0x the
# estimate (2.1 GB; PyTorch 1.3 GB), CUT at 1024x1536 1.9x (0.77 GB; PyTorch 0.76 GB).
ONNX_MEMORY_OVERHEAD = 2.0


@dataclass(frozen=True)
class OnnxGraph:
    """A network as one ONNX graph: `module(*inputs)` traced, with named inputs and outputs; `dynamic_axes` names
    the axes (per input or output name) left free, such as an image's height and width; `summary` says in words
    what the inputs and outputs are (printed by `models export`)."""

    module: nn.Module
    inputs: tuple[Tensor, ...]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    summary: str
    dynamic_axes: Mapping[str, Mapping[int, str]] = field(default_factory=dict)


def export(graph: OnnxGraph, target: str | Path | io.BytesIO) -> None:
    """Write the graph as an ONNX model (float32, opset 17) to a path or buffer. The module is put in eval mode
    first: the exporter sets the whole tree to the top module's mode, and a wrapper left in training mode would
    advance spectral norms and BatchNorm statistics while tracing."""
    graph.module.eval()
    with torch.no_grad(), warnings.catch_warnings():
        # the tracer's warnings about shapes read as Python numbers: channel counts, constant per graph
        warnings.simplefilter("ignore")
        torch.onnx.export(graph.module, graph.inputs, target, dynamo=False, opset_version=OPSET,
                          input_names=list(graph.input_names), output_names=list(graph.output_names),
                          dynamic_axes={k: dict(v) for k, v in graph.dynamic_axes.items()})


def providers(device: torch.device) -> list[str]:
    """ONNX Runtime's CUDA provider for a CUDA device when this onnxruntime has it, and always the CPU one."""
    import onnxruntime as ort

    wanted = (["CUDAExecutionProvider"] if device.type == "cuda" else []) + ["CPUExecutionProvider"]
    return [p for p in wanted if p in ort.get_available_providers()]


class OnnxSession:
    """An ONNX Runtime session of a graph, called with tensors and giving tensors on the engine's device. Made from
    the graph (exported here), or from an exported model (bytes or a file) with the graph's input names. CPU
    threads: `threads`, else as many as torch uses, so both modes share the machine alike."""

    def __init__(self, graph: OnnxGraph | bytes | Path, device: torch.device, *,
                 input_names: tuple[str, ...] = (), threads: int | None = None) -> None:
        import onnxruntime as ort

        if isinstance(graph, OnnxGraph):
            buffer = io.BytesIO()
            export(graph, buffer)
            graph, input_names = buffer.getvalue(), graph.input_names
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # warnings about unused initialisers are noise on a terminal
        self.device = device
        self.input_names = input_names
        self.session = ort.InferenceSession(str(graph) if isinstance(graph, Path) else graph, options,
                                            providers=providers(device))
        self._used = {i.name for i in self.session.get_inputs()}  # an input the outputs ignore is not in the graph

    def __call__(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        import onnxruntime as ort

        feed = {name: _array(x) for name, x in zip(self.input_names, inputs, strict=True) if name in self._used}
        run = ort.RunOptions()  # a superseded job's run ends at its next node (engine.worker.stop_on_cancel)
        with stop_on_cancel(lambda: setattr(run, "terminate", True)):
            outputs = self.session.run(None, feed, run)
        return tuple(torch.from_numpy(y).to(self.device) for y in outputs)


def onnx_fits(pixels: int, bytes_per_pixel: float, device: torch.device) -> bool:
    """Whether an ONNX Runtime pass over `pixels` px, at `bytes_per_pixel` estimated for the live activations,
    fits the job's memory budget (engine.tiling.memory_budget, what Exact plans tiles from) with ONNX Runtime's
    overhead. When not, Fast takes Exact's path for that size, so it never needs more memory than Exact."""
    from engine import tiling  # tiling imports the layers, which import this module

    return pixels * bytes_per_pixel * ONNX_MEMORY_OVERHEAD <= tiling.memory_budget(device)


def _array(x: Tensor) -> np.ndarray[Any, Any]:
    return np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())


# --- sessions made off the worker thread, graphs kept on disk -------------------------------------------------


class State(enum.Enum):
    UNSTARTED = "unstarted"  # no builder: the first call makes the session at once
    PENDING = "pending"  # a builder makes it; callers run PyTorch meanwhile
    READY = "ready"
    REEXPORT = "reexport"  # the cached file was unreadable: the next call asks the builder to export it again
    FAILED = "failed"  # stays on PyTorch (logged once)
    CLOSED = "closed"  # the model was unloaded


class GraphSession:
    """One graph of a Fast-mode network and its ONNX Runtime session. `ready()` (on the worker thread) gives the
    session, or None while a SessionBuilder still makes it, after it failed, or once the model is unloaded: the
    caller then runs the PyTorch network, which `module()` is."""

    def __init__(self, graph: Callable[[], OnnxGraph], device: torch.device) -> None:
        self.graph, self.device = graph, device  # the traced wrapper and example inputs, made when asked
        self._module: nn.Module | None = None
        self.session: OnnxSession | None = None
        self.state = State.UNSTARTED
        self.builder: SessionBuilder | None = None
        self.key: str | None = None  # the cache key (SessionBuilder.start)

    def module(self) -> nn.Module:
        """The graph's PyTorch module: what runs until the session is ready."""
        if self._module is None:
            self._module = self.graph().module
        return self._module

    def ready(self) -> OnnxSession | None:
        if self.state is State.UNSTARTED:  # no builder (a bench, a test): made now, as before the builder
            self.session, self.state = OnnxSession(self.graph(), self.device), State.READY
        elif self.state is State.REEXPORT and self.builder is not None:
            self.builder.submit(self, reexport=True)
        return self.session if self.state is State.READY else None

    def close(self) -> None:
        """The model is unloaded: a build still queued is skipped, one running is thrown away when done."""
        self.state, self.session = State.CLOSED, None


def graph_sessions(net: Any) -> dict[str, GraphSession]:
    """A Fast-mode network's graphs by kind ("" for a network of one graph); {} for a PyTorch network."""
    sessions = getattr(type(net), "graph_sessions", None)
    return sessions(net) if callable(sessions) else {}


def cache_dir() -> Path:
    return user_data_dir() / "cache" / "onnx"


@dataclass
class _Build:
    slot: GraphSession
    path: Path | None  # the cache file; None: no cache (a model without a sha256)
    graph: OnnxGraph | None  # a private copy to export; None: read the cache file
    input_names: tuple[str, ...]
    threads: int


class SessionBuilder:
    """Makes the sessions of Fast-mode networks on a background thread (it runs while there are builds), reading a
    graph from the disk cache when it is there and otherwise exporting it (at a lower CPU priority where the system
    has one, so the worker's PyTorch passes keep the CPU) from a private copy of the network (the worker thread keeps
    using the network meanwhile, and a tiled job changes its norms' state) and writing it there. A failure leaves that network on PyTorch, logged once.
    When the process ends, the build under way is finished (a thread killed inside the exporter aborts the process)
    and the queued ones are dropped.

    wait: make each session before `start` returns instead (the command line, whose process serves one request and
    would end before a background build)."""

    def __init__(self, folder: Path | None = None, *, wait: bool = False, budget: int = CACHE_BYTES) -> None:
        self.folder = folder
        self.wait = wait
        self.budget = budget
        self.exports = 0  # graphs exported, not read from the cache (tests count them)
        self._lock = threading.Condition()
        self._queue: deque[_Build] = deque()
        self._thread: threading.Thread | None = None
        self._running = False
        self._closed = False

    def start(self, slot: GraphSession, key: Mapping[str, Any] | None) -> None:
        """Have `slot`'s session made. `key`: what identifies the weights (file sha256, hparams, role, graph kind);
        None keeps nothing on disk. Called on the worker thread."""
        slot.builder = self
        graph = slot.graph()
        if key is not None and self.folder is not None:
            slot.key = cache_key(key, graph)
        self.submit(slot, graph)

    def submit(self, slot: GraphSession, graph: OnnxGraph | None = None, *, reexport: bool = False) -> None:
        """Queue (or, waiting, make) the session; `graph`: slot.graph() when the caller has it. Worker thread."""
        graph = graph or slot.graph()
        path = self.folder / f"{slot.key}.onnx" if self.folder is not None and slot.key else None
        if path is not None and reexport:
            path.unlink(missing_ok=True)
        with self._lock:
            if self._closed:
                slot.state = State.FAILED
                return
        copy = None if path is not None and path.is_file() else _private_copy(graph)
        build = _Build(slot, path, copy, graph.input_names, torch.get_num_threads())
        slot.state = State.PENDING
        if self.wait:
            self._build(build)
            return
        with self._lock:
            self._queue.append(build)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="onnx-sessions")
                self._thread.start()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every submitted build is done; False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._queue and not self._running, timeout)

    def close(self) -> None:
        """No more builds: queued ones are dropped; one under way ends on its own (a cache file is written whole
        or not at all)."""
        with self._lock:
            self._closed = True
            self._queue.clear()
            self._lock.notify_all()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not threading.main_thread().is_alive():  # the interpreter is ending: no new export
                    self._queue.clear()
                if not self._queue:
                    self._thread, self._running = None, False
                    self._lock.notify_all()
                    return
                build, self._running = self._queue.popleft(), True
            if build.slot.state is State.PENDING:
                self._build(build)

    def _build(self, build: _Build) -> None:
        slot, path = build.slot, build.path
        try:
            if build.graph is None and path is not None:
                try:
                    session = OnnxSession(path, slot.device, input_names=build.input_names, threads=build.threads)
                    os.utime(path)  # recently used: the last to be trimmed
                except Exception as exc:  # noqa: BLE001 - an unreadable cache file is rebuilt, whatever the reason
                    log.warning("the cached ONNX graph %s is unreadable (%s); exporting it again", path.name,
                                error_message(exc))
                    if slot.state is State.PENDING:
                        slot.state = State.REEXPORT  # the worker thread makes the copy to export (GraphSession.ready)
                    return
            else:
                assert build.graph is not None
                session = self._export(build, build.graph)
        except Exception as exc:  # noqa: BLE001 - any failure leaves the network on PyTorch
            if slot.state is State.PENDING:
                slot.state = State.FAILED
                log.warning("Fast mode: a graph failed to build (%s); that network stays on PyTorch",
                            error_message(exc))
            return
        if slot.state is State.PENDING:  # not closed meanwhile
            slot.session, slot.state = session, State.READY

    def _export(self, build: _Build, graph: OnnxGraph) -> OnnxSession:
        buffer = io.BytesIO()
        _at_low_priority(lambda: export(graph, buffer))
        self.exports += 1
        data = buffer.getvalue()
        if build.path is not None:
            try:
                atomic_write(build.path, lambda f: f.write(data))
                trim(build.path.parent, self.budget)
            except OSError as exc:  # a full or read-only disk: the session works, the next load exports again
                log.warning("could not keep the ONNX graph on disk (%s)", error_message(exc))
        return OnnxSession(data, build.slot.device, input_names=build.input_names, threads=build.threads)


def cache_key(key: Mapping[str, Any], graph: OnnxGraph) -> str:
    """The cache file's name: a hash of `key` (the weights and which graph of them), of what else decides the
    exported graph (the fixed input sizes, the exporter's version and opset) and of the source files of the
    graph's module classes, so a graph our code no longer makes is never read back."""
    shapes = [[None if i in graph.dynamic_axes.get(name, {}) else n for i, n in enumerate(x.shape)]
              for name, x in zip(graph.input_names, graph.inputs, strict=True)]
    described = json.dumps({**key, "shapes": shapes, "outputs": list(graph.output_names), "opset": OPSET,
                            "torch": torch.__version__, "format": CACHE_FORMAT}, sort_keys=True, default=str)
    digest = hashlib.sha256(described.encode())
    for source in sorted({inspect.getsourcefile(type(m)) or "" for m in graph.module.modules()}):
        with contextlib.suppress(OSError):
            digest.update(Path(source).read_bytes())
    return digest.hexdigest()[:40]


def trim(folder: Path, budget: int) -> None:
    """Delete the least recently used graphs until those in `folder` take at most `budget` bytes."""
    files = sorted(folder.glob("*.onnx"), key=lambda f: f.stat().st_mtime, reverse=True)
    total = 0
    for file in files:
        total += file.stat().st_size
        if total > budget and file is not files[0]:
            file.unlink(missing_ok=True)


def _private_copy(graph: OnnxGraph) -> OnnxGraph:
    """The graph with its own copy of the network, for the builder's thread to trace while the worker thread runs
    the original (whose state a tiled job changes, and whose caches a forward fills)."""
    return dataclasses.replace(graph, module=copy.deepcopy(graph.module))


def _at_low_priority(work: Callable[[], None]) -> None:
    """Run `work` on a thread of its own that (with the threads it starts, such as its OpenMP team) yields the CPU
    to the others. Its own thread, because a thread's priority can be lowered but not raised back, and the session
    made after the export must not inherit it: its thread pool runs the worker's Fast passes."""
    errors: list[BaseException] = []

    def run() -> None:
        if hasattr(os, "setpriority"):
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - raised again on the builder's thread
            errors.append(exc)

    thread = threading.Thread(target=run, name="onnx-export")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


class OnnxModule(nn.Module):
    """Fast mode's stand-in for a network: `graph()` in an ONNX Runtime session (GraphSession), called with the
    graph's inputs and giving its outputs (one tensor, or a tuple); until the session is ready, the graph's own
    PyTorch module gives them, as it does for inputs whose pass in ONNX Runtime would not fit the memory budget
    (`fits`). `net` stays the PyTorch network: what callers read sizes from. Subclasses adapt the network's call."""

    def __init__(self, net: nn.Module, graph: Callable[[], OnnxGraph], device: torch.device) -> None:
        super().__init__()
        self.net = net.eval()
        self.device = device
        self.session = GraphSession(graph, device)
        self.eval()

    def graph_sessions(self) -> dict[str, GraphSession]:
        return {"": self.session}

    def fits(self, *inputs: Tensor) -> bool:
        """Whether ONNX Runtime may run these inputs within the memory budget (onnx_fits); subclasses whose inputs
        can be large say so."""
        return True

    def forward(self, *inputs: Tensor) -> Tensor | tuple[Tensor, ...]:
        session = self.session.ready()
        if session is None or not self.fits(*inputs):
            return self.session.module()(*inputs)
        outputs = session(*inputs)
        return outputs[0] if len(outputs) == 1 else outputs
