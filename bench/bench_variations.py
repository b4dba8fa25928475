"""DeepI2I variations: a 4 x 8 grid (targets x seeds) of one photo at 128 px, time to the first result and to the
whole grid, against the naive path measured in the same run.

Networks: the released config's width (ch 96: G 70 M, E1 88 M, A1 87 M parameters; --ch to change) with random
weights, saved in our format and imported through the normal path; the architecture, not the weights, sets the cost.
"Naive": every cell runs E1 -> A1 -> G on the photo, as the official test does per class. "Ours": Engine.vary_image as
the GUI and the CLI call it: the first request (one cell) encodes the photo and keeps the encoding, the second (the
other 31 cells) reruns only G. The model is loaded and run once before either is timed (the first call computes the
spectral-normalised weights, kept after). The two paths alternate --repeats times (each photo new to the engine) and
the best time of each is shown, so a neighbour's load on a shared machine hits both alike. Times are wall (CPU
seconds in brackets).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import torch

from engine import tiling
from engine.api import JobRef, Mode, ModelEntry, Variation, VaryImage
from engine.architecture import Nets
from engine.catalog import Catalog
from engine.checkpoints import write_checkpoint
from engine.device import pick_device
from engine.handlers import Engine
from engine.models import deepi2i
from engine.models.deepi2i import noise, translate
from engine.tasks.multi_domain import square_input
from engine.worker import JobContext

CTX = JobContext(JobRef(0, "bench", 0), lambda event: None)
TARGETS, SEEDS = 4, 8


def clocks() -> tuple[float, float]:
    times = os.times()
    return time.perf_counter(), times.user + times.system


def since(start: tuple[float, float]) -> tuple[float, float]:
    now = clocks()
    return now[0] - start[0], now[1] - start[1]


def fmt(t: tuple[float, float]) -> str:
    return f"{t[0]:7.2f} s ({t[1]:6.1f} s)"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


Timing = tuple[float, float]


def naive(engine: Engine, entry: ModelEntry, nets: Nets, photo: np.ndarray, cells: list[Variation],
          device: torch.device) -> tuple[Timing, Timing]:
    """Per cell: the photo's preparation and E1 -> A1 -> G, as the official test does per class."""
    start = clocks()
    first = None
    with torch.inference_mode():
        for v in cells:
            x = tiling.to_tensor(square_input(photo, entry.capabilities), device) * 2 - 1
            y = translate(nets["G"], nets["E1"], nets["A1"], x,
                          nets["G"].shared(torch.tensor([v.target], device=device)), noise(v.seed)[None].to(device))
            tiling.to_image(((y + 1) / 2).clamp(0, 1))
            first = first or since(start)
    return first, since(start)


def ours(engine: Engine, entry: ModelEntry, nets: Nets, photo: np.ndarray, cells: list[Variation],
         device: torch.device) -> tuple[Timing, Timing]:
    """Engine.vary_image: one cell (the photo encoded and kept), then the other 31 (G only)."""
    start = clocks()
    engine.vary_image(VaryImage(entry.id, photo, tuple(cells[:1])), CTX)
    first = since(start)
    engine.vary_image(VaryImage(entry.id, photo, tuple(cells[1:])), CTX)
    return first, since(start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_variations", description=__doc__.splitlines()[0])
    parser.add_argument("--ch", type=int, default=96, help="channel width (96: the released config)")
    parser.add_argument("--repeats", type=int, default=2, help="rounds of the two paths, alternating (best shown)")
    args = parser.parse_args(argv)
    device = pick_device()
    print(f"DeepI2I variations, {TARGETS}x{SEEDS} grid at 128 px (random weights, ch {args.ch}), device {device}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; times wall (CPU)")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["I2I_STUDIO_DATA"] = tmp
        torch.manual_seed(0)
        names = [f"class {i}" for i in range(TARGETS)]
        hp = deepi2i.config_hparams(ch=args.ch, class_names=names)
        path = os.path.join(tmp, "bench_deepi2i.safetensors")
        G, E1, A1 = deepi2i.Generator(args.ch), deepi2i.Discriminator(args.ch), deepi2i.Adaptor(args.ch)
        write_checkpoint(path, G.state_dict(), {"method": deepi2i.METHOD, "hparams": hp, "name": "bench"},
                         parts={"E1": E1.state_dict(), "A1": A1.state_dict()})
        del G, E1, A1
        engine = Engine(Catalog(), device, mode=Mode.EXACT)
        entry = engine.import_model(path, None)
        _, nets = engine.loaded(entry.id)
        photo = np.random.default_rng(99).random((300, 400, 3), dtype=np.float32)
        cells = [Variation(t, s) for t in range(TARGETS) for s in range(SEEDS)]

        # warm-up: first-call costs (kernel selection, allocator) belong to neither path
        with torch.inference_mode():
            x = tiling.to_tensor(square_input(photo, entry.capabilities), device) * 2 - 1
            translate(nets["G"], nets["E1"], nets["A1"], x, nets["G"].shared(torch.tensor([0], device=device)),
                      noise(99)[None].to(device))
        engine.vary_image(VaryImage(entry.id, photo, tuple(cells[:1])), CTX)
        sync(device)

        best: dict[str, list[tuple[float, float]]] = {}
        for round_ in range(args.repeats):
            # a new photo each round: the engine's kept encoding must not serve a later round
            photo = np.random.default_rng(round_).random((300, 400, 3), dtype=np.float32)
            paths = (("naive", naive), ("ours", ours)) if round_ % 2 == 0 else (("ours", ours), ("naive", naive))
            for name, run in paths:
                first, full = run(engine, entry, nets, photo, cells, device)
                kept = best.setdefault(name, [first, full])
                kept[0], kept[1] = min(kept[0], first), min(kept[1], full)
        (first_naive, full_naive), (first_ours, full_ours) = best["naive"], best["ours"]

    print(f"  {'path':>6} {'first result':>22} {'whole grid':>22}")
    print(f"  {'naive':>6} {fmt(first_naive)} {fmt(full_naive)}")
    print(f"  {'ours':>6} {fmt(first_ours)} {fmt(full_ours)}")
    print(f"  ratio naive/ours: first result {first_naive[0] / first_ours[0]:.2f}x, "
          f"whole grid {full_naive[0] / full_ours[0]:.2f}x")


if __name__ == "__main__":
    main()
