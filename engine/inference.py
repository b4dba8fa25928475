"""The inference paths behind the two modes (engine.api.Mode): ONNX graphs of the networks, their export, and
ONNX Runtime sessions that run them in Fast mode.

Exact runs every network in float32 PyTorch. Fast runs, per architecture, the fastest path measured within 3/255 of
Exact on real photos (README, Performance): ONNX Runtime where it pays (its CPU convolutions ran the ResNet
generators about 2x faster than PyTorch's here), PyTorch otherwise. Measured and not taken: bfloat16 autocast
(0.043 off on [-1, 1], over 3/255, and slower on CPUs without native bfloat16), channels-last (0.86x) and
torch.compile (0.63x, after 50 s of compiling per size).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from engine.worker import stop_on_cancel

OPSET = 17


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
    """An ONNX Runtime session of a graph, called with tensors and giving tensors on the engine's device. CPU
    threads: as many as torch uses, so both modes share the machine alike."""

    def __init__(self, graph: OnnxGraph, device: torch.device) -> None:
        import onnxruntime as ort

        buffer = io.BytesIO()
        export(graph, buffer)
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # warnings about unused initialisers are noise on a terminal
        self.device = device
        self.input_names = graph.input_names
        self.session = ort.InferenceSession(buffer.getvalue(), options, providers=providers(device))
        self._used = {i.name for i in self.session.get_inputs()}  # an input the outputs ignore is not in the graph

    def __call__(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        import onnxruntime as ort

        feed = {name: _array(x) for name, x in zip(self.input_names, inputs, strict=True) if name in self._used}
        run = ort.RunOptions()  # a superseded job's run ends at its next node (engine.worker.stop_on_cancel)
        with stop_on_cancel(lambda: setattr(run, "terminate", True)):
            outputs = self.session.run(None, feed, run)
        return tuple(torch.from_numpy(y).to(self.device) for y in outputs)


def _array(x: Tensor) -> np.ndarray[Any, Any]:
    return np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())


class OnnxModule(nn.Module):
    """Fast mode's stand-in for a network: `graph()` made into an ONNX Runtime session on the first call, then
    called with the graph's inputs and giving its outputs (one tensor, or a tuple). `net` stays the PyTorch
    network: what the graph traces, and what callers read sizes from. Subclasses adapt the network's call."""

    def __init__(self, net: nn.Module, graph: Callable[[], OnnxGraph], device: torch.device) -> None:
        super().__init__()
        self.net = net.eval()
        self._graph, self.device = graph, device
        self._session: OnnxSession | None = None
        self.eval()

    def forward(self, *inputs: Tensor) -> Tensor | tuple[Tensor, ...]:
        if self._session is None:
            self._session = OnnxSession(self._graph(), self.device)
        outputs = self._session(*inputs)
        return outputs[0] if len(outputs) == 1 else outputs
