"""HierarchyFlow stylisation: full pass at 512 and 1024 px for HF and HF++, slider-to-result latency with the content
pass cached (the ratio against the full pass in the same run), and the effect of the tile size.

Networks: the paper's HF (out_channels [30, 120], the released config) and HF++ ([30, 120, 480]) with random
weights (PyTorch's default init), saved in our format and imported through the normal path; the architecture, not
the weights, sets the cost. Everything goes through Engine.stylize_image as the GUI and CLI call it.
"Full pass": a fresh engine (nothing cached), strength 1 (the official output), tile chosen from the memory
budget. "Slider": the same photo and style at strengths 0.35, 0.65 and 0.9 after it (median): with the content
pass cached only the reverse pass runs (photos that fit one pass and the cache; otherwise every move costs a full
pass, so none is timed).
Times are wall (CPU seconds in brackets); peak memory is not measured here (see bench/translate.py for the way).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from engine import stylize, tiling
from engine.api import JobRef, StylizeImage
from engine.catalog import Catalog
from engine.checkpoints import write_checkpoint
from engine.device import pick_device
from engine.handlers import Engine
from engine.models import hierarchyflow as hf
from engine.worker import JobContext

CONFIGS = {"HF": [30, 120], "HF++": [30, 120, 480]}
SIDES = (512, 1024)
SLIDER = (0.35, 0.65, 0.9)
TILES = (512, 256)  # tile sides compared with one pass for HF at 1024 px
CTX = JobContext(JobRef(0, "bench", 0), lambda event: None)


def clocks() -> tuple[float, float]:
    times = os.times()
    return time.perf_counter(), times.user + times.system


def timed(fn, *args) -> tuple[float, float]:
    start = clocks()
    fn(*args)
    end = clocks()
    return end[0] - start[0], end[1] - start[1]


def import_random(name: str, out_channels: list[int], folder: Path, device: torch.device) -> str:
    torch.manual_seed(0)
    hp = hf.config_hparams(out_channels=out_channels)
    path = folder / f"bench_{name.replace('+', 'p')}.safetensors"
    write_checkpoint(path, hf.build(hp).state_dict(), {"method": hf.METHOD, "hparams": hp, "name": path.stem})
    return Engine(Catalog(), device).import_model(str(path), None).id


def fmt(t: tuple[float, float]) -> str:
    return f"{t[0]:7.2f} s ({t[1]:6.1f} s)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stylize", description=__doc__.splitlines()[0])
    parser.add_argument("--sides", type=int, nargs="+", default=list(SIDES))
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    args = parser.parse_args(argv)
    from bench.sae import photo  # a real wallpaper cut to side x side, noise if none is installed

    device = pick_device()
    print(f"HierarchyFlow stylisation (random weights), device {device}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; times wall (CPU)")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["I2I_STUDIO_DATA"] = tmp
        style = np.ascontiguousarray(photo(300)[::-1])  # another picture: the wallpaper upside down
        print(f"  {'config':>6} {'photo':>9} {'tiles':>5} {'full pass':>22} {'slider (cached)':>22} {'ratio':>7}")
        for name in args.configs:
            model_id = import_random(name, CONFIGS[name], Path(tmp), device)
            for side in args.sides:
                image = photo(side)
                engine = Engine(Catalog(), device)
                loaded = engine.models.load(model_id)  # loading is not part of the pass
                model, caps = loaded.nets["flow"], loaded.capabilities
                tile = stylize.default_tile(model, caps, (side, side), tiling.memory_budget(device))
                tiles = len(stylize.plan(caps, model.pad_size, (side, side), tile))
                full = timed(engine.stylize_image, StylizeImage(model_id, image, style, 1.0), CTX)
                cached = engine.content_style.stylizer.cached_bytes()
                line = f"  {name:>6} {side:>4}x{side:<4} {tiles:>5} {fmt(full):>22} "
                if not cached:  # tiled, or over the cache: a slider move costs a full pass again
                    print(line + f"{'(not cached)':>22}", flush=True)
                    continue
                slider = [timed(engine.stylize_image, StylizeImage(model_id, image, style, s), CTX) for s in SLIDER]
                median = (statistics.median(t[0] for t in slider), statistics.median(t[1] for t in slider))
                print(line + f"{fmt(median):>22} {full[0] / median[0]:>6.1f}x   (cache {cached / 2**20:.0f} MiB)",
                      flush=True)
        if "HF" in args.configs and 1024 in args.sides:
            model_id = import_random("HF", CONFIGS["HF"], Path(tmp), device)
            image = photo(1024)
            print("  tile size, HF at 1024x1024 (strength 0.65, the whole photo's statistics measured tile by tile):")
            base = None
            for tile in (0, *TILES):
                engine = Engine(Catalog(), device)
                loaded = engine.models.load(model_id)
                t = timed(engine.stylize_image, StylizeImage(model_id, image, style, 0.65, tile=tile or 1044), CTX)
                base = base or t
                n = len(stylize.plan(loaded.capabilities, loaded.nets["flow"].pad_size, (1024, 1024), tile or 1044))
                label = "one pass" if tile == 0 else f"tile {tile}"
                print(f"    {label:>10}: {n:3d} tile(s) {fmt(t)}   x{t[0] / base[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
