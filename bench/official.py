"""Our inference against the official implementations' on the same weights, inputs and threads, in one run.

Per architecture (random weights in the released configuration; a shipped sample photo resized to the size):
- official: a plain eager float32 forward written from the official inference steps as the fixtures README states
  them, under torch.no_grad as the official test scripts run it. The networks are ours (the same weights and
  key layout) with the official per-operation choices put back for the run: ReLUs as the official modules have
  them, SPADE's segmap resampled in every norm and its spectral weights computed on every call, the Swapping
  Autoencoder's blurs as upfirdn2d's native path does them (a 1-channel convolution over every channel folded
  into the batch), HierarchyFlow's AdaIN in its four steps and the Style-Net on the style image only;
- exact: our Exact mode (float32 PyTorch, inference mode);
- fast: our Fast mode, as the engine loads it (ONNX Runtime: one graph per network; HierarchyFlow: its content
  pass, reverse pass and Style-Net as three graphs, so the slider cache keeps working);
- onnx: the graph `models export --onnx` writes, in onnxruntime with as many threads as torch.
The first call of an ONNX Runtime path builds its session; that time is printed apart. Below each table: what Fast's
sessions cost the engine's background builder, once with an empty disk cache (export, write, session) and once
reading the graphs back. `--only NAME ...` runs some rows (spade, cyclegan, cut, sae, hierarchyflow). Each path runs ROUNDS
times, interleaved with the others, and its best time is kept (the machine may be shared: compare ratios); CPU
seconds (user + system, resource.getrusage) are printed beside. Max difference: of the network's output, on its
own range ([-1, 1] for all but HierarchyFlow's [0, 1]), against the official path.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine import inference
from engine.imageio import read_rgb
from engine.layers import spade_norm, spectral, stylegan2
from engine.models import cut, cyclegan, hierarchyflow, sae, spade

ROUNDS = 2
SAMPLE = Path(__file__).resolve().parent.parent / "resources" / "samples" / "default_stylize.jpg"
CPU = torch.device("cpu")


def photo(height: int, width: int) -> Tensor:
    """The shipped sample photo resized to height x width: (1, 3, H, W) RGB in [0, 1]."""
    image = cv2.resize(read_rgb(SAMPLE), (width, height), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Timing:
    wall: float = math.inf
    cpu: float = math.inf
    session: float = 0.0  # building the ONNX Runtime session (first call)
    output: Tensor | None = None


def measure(runs: dict[str, Callable[[], Tensor]], sessions: tuple[str, ...] = ("fast", "onnx")) -> dict[str, Timing]:
    """`sessions`: the paths whose first call builds an ONNX Runtime session."""
    timings = {name: Timing() for name in runs}
    for name, run in runs.items():  # first calls: sessions built, allocators warmed (not timed as a run)
        start = time.perf_counter()
        timings[name].output = run()
        if name in sessions:
            timings[name].session = time.perf_counter() - start
    for _ in range(ROUNDS):
        for name, run in runs.items():
            start, cpu = time.perf_counter(), cpu_seconds()
            run()
            timing = timings[name]
            timing.wall, timing.cpu = min(timing.wall, time.perf_counter() - start), min(timing.cpu, cpu_seconds() - cpu)
    return timings


def session_costs(fast: dict[str, object]) -> None:
    """Seconds the engine's SessionBuilder takes for all of Fast's graphs: cold (export, write to the disk cache,
    session) and warm (the session from the cached file), as a later start of the app reads them."""
    with tempfile.TemporaryDirectory() as folder:
        times = []
        for _ in range(2):
            builder = inference.SessionBuilder(Path(folder), wait=True)
            start = time.perf_counter()
            for role, net in fast.items():
                for kind, slot in inference.graph_sessions(net).items():
                    fresh = inference.GraphSession(slot.graph, CPU)
                    builder.start(fresh, {"sha256": "bench", "role": role, "kind": kind})
                    assert fresh.state is inference.State.READY
            times.append(time.perf_counter() - start)
        size = sum(f.stat().st_size for f in Path(folder).glob("*.onnx")) / 1e6
    print(f"  fast sessions in the background: {times[0]:.1f} s with an empty disk cache (export + write), "
          f"{times[1]:.1f} s from the cache ({size:.0f} MB on disk)")


def report(title: str, timings: dict[str, Timing], note: str = "") -> None:
    base = timings["official"]
    print(f"\n{title}{f' ({note})' if note else ''}")
    print(f"  {'path':<9} {'wall s':>8} {'cpu s':>8} {'ratio':>6} {'max diff':>10} {'in /255':>8}  first call")
    for name, t in timings.items():
        diff = (t.output.float() - base.output.float()).abs().max().item()
        scale = 255 if name == "official" or "hierarchyflow" in title.lower() else 127.5
        first = f"+{t.session:.1f} s session" if t.session else ""
        print(f"  {name:<9} {t.wall:8.2f} {t.cpu:8.2f} {base.wall / t.wall:6.2f} {diff:10.2e} {diff * scale:8.3f}  {first}")


# --- the official per-operation choices, put back for the official run ------------------------------------------


@contextlib.contextmanager
def official_ops() -> Iterator[None]:
    """Inside, our layers compute as the official code does (module docstring); torch.no_grad, as its test scripts."""
    saved = (spectral.SpectralNormConv2d.weight, spade_norm.SPADENorm.forward, stylegan2.Blur.forward,
             hierarchyflow.HierarchyFlow.reverse)
    spectral.SpectralNormConv2d.weight = property(lambda self: self._normalised())
    spade_norm.SPADENorm.forward = _spade_norm_official
    stylegan2.Blur.forward = _blur_upfirdn2d_native
    hierarchyflow.HierarchyFlow.reverse = _reverse_official
    try:
        with torch.no_grad():
            yield
    finally:
        (spectral.SpectralNormConv2d.weight, spade_norm.SPADENorm.forward, stylegan2.Blur.forward,
         hierarchyflow.HierarchyFlow.reverse) = saved


def _spade_norm_official(self: spade_norm.SPADENorm, x: Tensor, seg: Tensor) -> Tensor:
    seg = F.interpolate(seg, size=x.shape[-2:], mode="nearest")  # in every norm, from the full segmap
    actv = self.mlp_shared(seg)
    return self.param_free_norm(x) * (1 + self.mlp_gamma(actv)) + self.mlp_beta(actv)


def _blur_upfirdn2d_native(self: stylegan2.Blur, x: Tensor) -> Tensor:
    p0, p1 = self.pad
    b, c, h, w = x.shape
    y = F.pad(x.reshape(b * c, 1, h, w), (max(p0, 0), max(p1, 0), max(p0, 0), max(p1, 0)))
    y = y[:, :, max(-p0, 0):y.shape[2] - max(-p1, 0), max(-p0, 0):y.shape[3] - max(-p1, 0)]
    y = F.conv2d(y, self.kernel.flip(0, 1)[None, None].to(x.dtype))
    return y.reshape(b, c, y.shape[2], y.shape[3])


def _reverse_official(self: hierarchyflow.HierarchyFlow, cp: hierarchyflow.ContentPass, code: Tensor,
                      **_: object) -> Tensor:
    y = cp.latent
    for i in range(len(self.blocks) - 1, -1, -1):
        block = self.blocks[i]
        mean, std = hierarchyflow.adain_statistics(y)
        mu, sigma = block.style_mlp(code)
        y = block.reverse((y - mean) / std * sigma + mu, cp.a[i])
    p = cp.pad
    return y[:, :, p:y.shape[2] - p, p:y.shape[3] - p]


def _relus(net: nn.Module, inplace: bool) -> None:
    for module in net.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = inplace


def _official(run: Callable[[], Tensor], net: nn.Module, relus_inplace: bool) -> Callable[[], Tensor]:
    def go() -> Tensor:
        _relus(net, relus_inplace)
        try:
            with official_ops():
                return run()
        finally:
            _relus(net, True)
    return go


def _exact(run: Callable[[], Tensor]) -> Callable[[], Tensor]:
    def go() -> Tensor:
        with torch.inference_mode():
            return run()
    return go


def _onnx(graph: Callable[[], inference.OnnxGraph], *inputs: Tensor) -> Callable[[], Tensor]:
    session: list[inference.OnnxSession] = []

    def go() -> Tensor:
        if not session:
            session.append(inference.OnnxSession(graph(), CPU))
        return session[0](*inputs)[0]
    return go


# --- the architectures --------------------------------------------------------------------------------------


def translation(module: type, side: int) -> None:
    torch.manual_seed(0)
    generator = module.build(module.config_hparams())
    nets, hparams = {"AtoB": generator}, {"directions": ["AtoB"]}
    x = photo(side, side) * 2 - 1
    fast = module.ARCHITECTURE.fast(nets, hparams, CPU)["AtoB"]
    timings = measure({
        "official": _official(lambda: generator(x), generator, relus_inplace=True),
        "exact": _exact(lambda: generator(x)),
        # the translator works on RGB in [0, 1]: back to the generator's range to compare
        "fast": _exact(lambda: fast.translate((x + 1) / 2) * 2 - 1),
        "onnx": _onnx(lambda: module.ARCHITECTURE.onnx(nets, hparams), x),
    })
    report(f"{module.ARCHITECTURE.title}, released configuration (ngf 64, 9 blocks), {side}x{side}", timings,
           "fast is clamped to [-1, 1] as the app shows it")
    session_costs(module.ARCHITECTURE.fast(nets, hparams, CPU))


def spade_ade20k() -> None:
    torch.manual_seed(0)
    hparams = spade.resolve_hparams(spade.SPADEGenerator(ngf=64, semantic_nc=151).state_dict(), {})
    generator = spade.build(hparams)
    nets = {"netG": generator}
    labels = cv2.resize((photo(256, 256)[0, 0].numpy() * 150).astype(np.uint8), (256, 256),
                        interpolation=cv2.INTER_NEAREST)  # a label map with a photo's layout
    seg = spade.encode_labels(labels, label_nc=150, contain_dontcare_label=True, no_instance=True)
    latent = spade.latent_for_size(hparams, None)
    fast = spade.ARCHITECTURE.fast(nets, hparams, CPU)["netG"]
    timings = measure({
        "official": _official(lambda: generator(seg, latent_hw=latent), generator, relus_inplace=False),
        "exact": _exact(lambda: generator(seg, latent_hw=latent)),
        "fast": _exact(lambda: fast(seg, latent_hw=latent)),
        "onnx": _onnx(lambda: spade.onnx_graph(nets, hparams), seg),
    })
    report("SPADE, ADE20K configuration (ngf 64, 151 channels), 256x256", timings,
           "the one-hot segmap prepared; the official SPADE's mlp_shared ReLU is not in place")
    session_costs(spade.ARCHITECTURE.fast(nets, hparams, CPU))


def sae_release(side: int) -> None:
    torch.manual_seed(0)
    hparams = sae.config_hparams()
    encoder, generator = sae.build(hparams)
    assert encoder is not None
    nets = {"netE": encoder.eval(), "netG": generator.eval()}
    x = photo(side, side) * 2 - 1
    with torch.inference_mode():
        structure, texture = encoder(x)
    noise = sae.make_noise(hparams, structure.shape[-2:], 0)
    fast = sae.ARCHITECTURE.fast(nets, hparams, CPU)
    timings = measure({
        "official": _official(lambda: generator(structure, texture, noise), generator, relus_inplace=True),
        "exact": _exact(lambda: generator(structure, texture, noise)),
        "fast": _exact(lambda: fast["netG"](structure, texture, noise)),
        "onnx": _onnx(lambda: sae.ARCHITECTURE.onnx(nets, hparams), structure, texture, *noise),
    })
    report(f"Swapping Autoencoder, release configuration, generator (a swap or slider move), {side}x{side}", timings)
    timings = measure({
        "official": _official(lambda: encoder(x)[0], encoder, relus_inplace=True),
        "exact": _exact(lambda: encoder(x)[0]),
        "fast": _exact(lambda: fast["netE"](x)[0]),
        "onnx": _onnx(lambda: sae.encoder_graph(encoder), x),
    })
    report(f"Swapping Autoencoder, release configuration, encoder (once per photo), {side}x{side}", timings,
           "structure code")
    session_costs(sae.ARCHITECTURE.fast(nets, hparams, CPU))


def hierarchyflow_hf(side: int) -> None:
    torch.manual_seed(0)
    hparams = hierarchyflow.config_hparams()
    flow = hierarchyflow.build(hparams)
    content, style = photo(side, side), photo(256, 512).flip(-1)

    fast = hierarchyflow.ARCHITECTURE.fast({"flow": flow}, hparams, CPU)["flow"]

    def ours(model: hierarchyflow.Fidelity) -> Callable[[], Tensor]:
        # what the app runs at full stylisation: content pass, style code, one reverse pass
        return lambda: model.stylize(model.content_pass(content), None, model.style_code(style), 1.0)

    timings = measure({
        "official": _official(lambda: flow(content, style), flow, relus_inplace=True),
        "exact": _exact(ours(flow)),
        "fast": _exact(ours(fast)),
        "onnx": _onnx(lambda: hierarchyflow.onnx_graph({"flow": flow}, hparams), content, style),
    })
    report(f"HierarchyFlow HF (out_channels [30, 120]), full stylisation, {side}x{side}", timings,
           "fast: content pass, Style-Net and reverse pass as three graphs")
    session_costs({"flow": fast})


ROWS: dict[str, Callable[[], None]] = {
    "spade": spade_ade20k,
    "cyclegan": lambda: translation(cyclegan, 1024),
    "cut": lambda: translation(cut, 1024),
    "sae": lambda: sae_release(512),
    "hierarchyflow": lambda: hierarchyflow_hf(1024),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(ROWS), default=list(ROWS), help="the rows to run")
    rows = parser.parse_args().only
    print(f"Official forward vs ours: {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"best of {ROUNDS} after a first call")
    for name in rows:
        ROWS[name]()


if __name__ == "__main__":
    main()
