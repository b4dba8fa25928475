"""Full-frame translation: time versus tile size at 1024 and 4096 px, peak memory tiled versus untiled.

The network is the released CycleGAN configuration (resnet_9blocks, ngf 64, 11.4 M parameters) with random
weights, saved as an official `latest_net_G.pth` and imported through the normal import path; the
architecture, not the weights, sets the cost. Each measurement runs in its own process, so its peak memory
is its own: the peak resident set size on the CPU (torch's CPU allocations are invisible to tracemalloc;
on Linux the peak counter is restarted just before the job, elsewhere ru_maxrss), the CUDA allocator's peak
on a GPU. Ratios are against the untiled pass at the same size, measured in the same run.

On the CPU the released generator costs about 50 GMAC per 256x256 px, so a 1024 px frame takes about half a
minute on 2 cores and a 4096 px frame about 20 minutes. On the CPU a run therefore measures fewer tile sizes
and stops each tiled translation after `--max-tiles` output tiles, extrapolating the frame's time (the statistics
rounds + all output tiles at the measured time per tile; marked "~"): tiles run one after another in the same memory, so
the peak is already reached, except for the output pages the remaining tiles would write (added). An
untiled pass that would need more than half of the free memory is not run; its memory is estimated from the
smaller untiled pass (marked "est."), and times are then compared per pixel with that pass. `--full` runs
everything; `--ngf 16` gives a quick look with a narrower network. About 4 minutes on 2 idle cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from engine import tiling
from engine.api import JobRef, Progress, TranslateImage
from engine.catalog import Catalog
from engine.device import pick_device
from engine.handlers import Engine
from engine.models import cyclegan
from engine.worker import JobCancelled, JobContext

REPO = Path(__file__).resolve().parent.parent
MODEL_ID = "cyclegan-bench_random"
PLAN = {1024: (0, 768, 512), 4096: (0, 2048, 1024)}  # tile sides; 0: one untiled pass
CPU_PLAN = {1024: (0, 512), 4096: (0, 1024)}
CPU_MAX_TILES = 2


def official_checkpoint(folder: Path, ngf: int) -> Path:
    torch.manual_seed(0)
    path = folder / "bench_random_pretrained" / "latest_net_G.pth"
    path.parent.mkdir()
    torch.save(cyclegan.ResnetGenerator(ngf=ngf).state_dict(), path)  # the released layout: bare state dict
    return path


# --- one measurement (in a child process) -------------------------------------------------------------


def reset_peak_rss() -> int:
    """Restart the peak-RSS counter (Linux: /proc/self/clear_refs) and return the current RSS; elsewhere the
    peak so far, which earlier transients may have set higher."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_kib("VmRSS") * 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def peak_rss() -> int:
    try:
        return _status_kib("VmHWM") * 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise OSError(f"no {field} in /proc/self/status")


def clocks() -> tuple[float, float]:
    """Wall and CPU seconds: on a shared machine the CPU time is the steadier measure of the work done."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), usage.ru_utime + usage.ru_stime


def measure(photo_file: str, tile: int, max_tiles: int) -> dict:
    device = pick_device()
    engine = Engine(Catalog(), device)
    caps = engine.models.load(MODEL_ID).capabilities
    image = np.load(photo_file)  # no decoding transient: the peak before the job is the model and the photo
    side = image.shape[0]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.max_memory_allocated(device)
    else:
        base = reset_peak_rss()
    marks: list[tuple[float, float]] = []  # the last statistics round ending (the output round starting), each tile

    def on_progress(event: Progress) -> None:
        if not event.message.startswith("tile "):
            marks[:] = [clocks()]
            return
        marks.append(clocks())
        if max_tiles and len(marks) > max_tiles:
            job.cancel()

    job = JobContext(JobRef(0, "bench", 0), on_progress)
    start = clocks()
    try:
        engine.translate_image(TranslateImage(MODEL_ID, image, tile=tile or side), job)
        finished = True
    except JobCancelled:
        finished = False
    end = clocks()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) - base
    else:
        peak = peak_rss() - base
    n = len(tiling.plan(caps, (side, side), tile or side))
    seconds = [end[k] - start[k] for k in (0, 1)]
    if not finished:  # the statistics rounds plus n output tiles at the measured rate
        done = len(marks) - 1
        per_tile = [(marks[-1][k] - marks[0][k]) / done for k in (0, 1)]
        seconds = [marks[0][k] - start[k] + n * per_tile[k] for k in (0, 1)]
        peak += side * side * 3 * 4 * (n - done) // n  # output pages the remaining tiles would write
    return {"wall": seconds[0], "cpu": seconds[1], "extrapolated": not finished, "tiles": n, "peak": peak}


def run_child(photo_file: Path, tile: int, max_tiles: int, env: dict) -> dict:
    cmd = [sys.executable, "-m", "bench.translate", "--one", str(photo_file), str(tile), str(max_tiles)]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"measurement {photo_file.stem}, tile {tile} failed:\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the report ---------------------------------------------------------------------------------------


def free_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.translate", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=sorted(PLAN), choices=sorted(PLAN))
    parser.add_argument("--full", action="store_true", help="every tile size and every tile (slow on a CPU)")
    parser.add_argument("--max-tiles", type=int, default=CPU_MAX_TILES, help="tiles per run on a CPU (at least 2)")
    parser.add_argument("--ngf", type=int, default=64, help="generator width (64: the released models)")
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)  # child: photo.npy tile max_tiles
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]), int(args.one[2]))))
        return
    from bench.sae import photo  # a real wallpaper cut to side x side, noise if none is installed

    device = pick_device()
    full = args.full or device.type != "cpu"
    plan, max_tiles = (PLAN, 0) if full else (CPU_PLAN, max(2, args.max_tiles))
    print(f"Full-frame translation, CycleGAN resnet_9blocks ngf {args.ngf} (64 = released; random weights), "
          f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads; times wall (CPU)")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "I2I_STUDIO_DATA": tmp}
        os.environ["I2I_STUDIO_DATA"] = tmp
        entry = Engine(Catalog(), device).import_model(str(official_checkpoint(Path(tmp), args.ngf)), None)
        assert entry.id == MODEL_ID, entry.id
        untiled: dict[str, float] | None = None  # per pixel, of the last untiled pass
        for side in args.sizes:
            photo_file = Path(tmp) / f"{side}px.npy"
            np.save(photo_file, photo(side))
            print(f"  {side}x{side} (min tile {tiling.min_tile(entry.capabilities)} px, tiles read "
                  f"{tiling.margin(entry.capabilities) + tiling.FEATHER} px around what they keep):")
            base: dict | None = None  # the untiled pass at this size
            for tile in plan[side]:
                if tile == 0 and untiled and untiled["peak"] * side**2 > free_bytes(device) / 2:
                    base = {k: v * side**2 for k, v in untiled.items()} | {"note": " (untiled est.)"}
                    print(f"       untiled: not run: would need about {base['peak'] / 2**30:.1f} GiB; estimated "
                          f"{base['wall']:.0f} s ({base['cpu']:.0f} s) from the smaller pass")
                    continue
                m = run_child(photo_file, tile, max_tiles if tile else 0, env)
                if tile == 0:
                    base = m | {"note": ""}
                    untiled = {k: m[k] / side**2 for k in ("wall", "cpu", "peak")}
                label = "untiled" if tile == 0 else f"tile {tile}"
                line = (f"    {label:>10}: {m['tiles']:3d} tile(s) {'~' if m['extrapolated'] else ' '}"
                        f"{m['wall']:7.1f} s ({m['cpu']:7.1f} s)   peak {m['peak'] / 2**20:7.0f} MiB")
                if tile and base:
                    line += (f"   vs untiled: time x{m['wall'] / base['wall']:.2f} (x{m['cpu'] / base['cpu']:.2f}), "
                             f"memory x{m['peak'] / base['peak']:.2f}{base['note']}")
                print(line, flush=True)


if __name__ == "__main__":
    main()
