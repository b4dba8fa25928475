"""The recipe of the embedded default Swapping Autoencoder, and how it is packaged into resources/.

    python -m trainers.default_sae dataset [--work DIR]   # wallpapers -> DIR/photos (a few minutes)
    python -m trainers.default_sae train [--work DIR]     # DIR/run (resumes a run that is there)
    python -m trainers.default_sae package [--work DIR | --checkpoint FILE]   # resources/ + models.json

The photos are the desktop wallpapers Debian ships (photographs and digital art):

    sudo apt-get install plasma-workspace-wallpapers gnome-backgrounds

They are read from /usr/share/wallpapers (one picture per folder of resolutions) and
/usr/share/backgrounds (SVGs are skipped), and cut into random crops of a quarter to all of the short
side, with aspect ratios 1 to 1.5, each scaled to a 256 px short side. A small SAE (encoder capacity 0.25,
generator 0.125, texture code 256, 128 px crops, narrow discriminators, 32 px patches, batch 8) is
trained with the paper's losses and optimiser for 2400 steps, about 35 minutes on 2 CPU cores. Ctrl-C
stops the training with a checkpoint; `train` again resumes it. It is a demonstration model, honestly labelled as such in the catalog; editing
statistics (principal directions) from the training photos ship with it.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engine import code_stats
from engine.api import JobRef, ModelEntry
from engine.checkpoints import read_checkpoint
from engine.models import sae
from engine.storage import RESOURCES
from engine.worker import JobContext
from trainers.__main__ import main as trainers_main
from trainers.packaging import latest_checkpoint, package_builtin

MODEL_ID = "sae-wallpapers-default"
MODEL_FILE = Path("models") / "sae_wallpapers.safetensors"  # relative to resources/
WALLPAPER_DIRS = (Path("/usr/share/wallpapers"), Path("/usr/share/backgrounds"))
PACKAGES = "plasma-workspace-wallpapers gnome-backgrounds"
RASTER = {".jpg", ".jpeg", ".png", ".webp"}
RESOLUTION_NAME = re.compile(r"^(\d+)x(\d+)$")  # Plasma's contents/images/<W>x<H>.<ext>
DATASET = {"crops_per_wallpaper": 40, "short_side": 256, "min_fraction": 0.25, "max_aspect": 1.5, "seed": 0}
WORK = Path(tempfile.gettempdir()) / "sae-wallpapers"
TOTAL_STEPS = 2400  # about 1.1 steps a second on 2 otherwise idle CPU cores: 35 minutes
# The paper's losses and optimiser; ours for a CPU: the capacities, 128 px crops, 32 px patches (the paper:
# half the crop), batch 8, and L1 x 10 (after 200 steps it reconstructs the photos ~15% better than with 1).
TRAIN_ARGS = ["--name", "wallpapers-training", "--crop_size", "128", "--netE_scale_capacity", "0.25",
              "--netG_scale_capacity", "0.125", "--global_code_ch", "256", "--netD_scale_capacity", "0.03125",
              "--netPatchD_scale_capacity", "0.03125", "--patch_size", "32", "--batch_size", "8", "--lambda_L1", "10",
              "--total_steps", str(TOTAL_STEPS), "--log_every", "20", "--sample_every", "200",
              "--checkpoint_every", "200", "--seed", "0"]
STATS_PHOTOS = 400  # every n-th training photo, for the principal directions
HALF_TOLERANCE = 1e-2  # float16 weights must decode within this of float32 (images in [0, 1])
LICENSE = ("ours: trained by I2I Studio on Debian's desktop wallpapers (plasma-workspace-wallpapers GPL-2+, "
           "gnome-backgrounds GPL-2+ / CC BY-SA / CC BY: see their /usr/share/doc/*/copyright)")
NOTES = ("Embedded default (a small demonstration model trained here, far from the paper's quality: expect soft "
         "reconstructions): Swapping Autoencoder with encoder capacity 0.25, generator 0.125, texture code 256, "
         "trained {steps} steps at 128 px on a 2-core CPU with the paper's losses (reconstruction weighted 10), on "
         "{photos} random crops of {wallpapers} Debian desktop wallpapers (photographs and digital art). Editing "
         "directions from {stats} training crops ship with it. Recipe: trainers/default_sae.py.")


# --- dataset ----------------------------------------------------------------------------------------------


def find_wallpapers(roots: tuple[Path, ...] = WALLPAPER_DIRS) -> list[Path]:
    """Every raster wallpaper once: in a folder of <W>x<H> files (one picture at several resolutions) only
    the largest; every other raster file as it is. Sorted, so the dataset is the same on every machine."""
    found: list[Path] = []
    for root in roots:
        if not root.is_dir():
            continue
        folders: dict[Path, list[Path]] = {}
        for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in RASTER):
            if path.stem == "screenshot":  # Plasma's preview of the wallpaper in the same folder
                continue
            if RESOLUTION_NAME.match(path.stem):
                folders.setdefault(path.parent, []).append(path)
            else:
                found.append(path)
        found += [max(files, key=_pixels) for files in folders.values()]
    return sorted(found)


def _pixels(path: Path) -> int:
    w, h = (int(n) for n in RESOLUTION_NAME.match(path.stem).groups())
    return w * h


def random_crops(image: Image.Image, count: int, rng: np.random.Generator, *, short_side: int,
                 min_fraction: float, max_aspect: float) -> list[Image.Image]:
    """`count` crops of `min_fraction`..1 of the short side, aspect 1..max_aspect (either way), each scaled
    so its short side is `short_side`."""
    crops = []
    w, h = image.size
    for _ in range(count):
        side = rng.uniform(min_fraction, 1.0) * min(w, h)
        aspect = rng.uniform(1.0, max_aspect)
        long = min(side * aspect, max(w, h))
        landscape = (w >= h) == (rng.random() < 0.8)  # mostly the picture's own orientation
        cw, ch = (long, side) if landscape else (side, long)
        cw, ch = min(cw, w), min(ch, h)
        x, y = rng.uniform(0, w - cw), rng.uniform(0, h - ch)
        scale = short_side / min(cw, ch)
        size = (round(cw * scale), round(ch * scale))
        crops.append(image.resize(size, Image.BICUBIC, box=(x, y, x + cw, y + ch), reducing_gap=2.0))
    return crops


def write_dataset(out: Path, wallpapers: list[Path], *, crops_per_wallpaper: int, short_side: int,
                  min_fraction: float, max_aspect: float, seed: int) -> int:
    """out/NNNNN.jpg from each wallpaper in turn; returns how many photos were written."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    count = 0
    working = round(short_side / min_fraction)  # the smallest crop must still have `short_side` pixels
    for path in wallpapers:
        with Image.open(path) as im:
            factor = working / min(im.size)
            if factor < 1:
                im.draft("RGB", (round(im.width * factor), round(im.height * factor)))  # JPEG: decode smaller
            image = im.convert("RGB")
        if min(image.size) > working:
            factor = working / min(image.size)
            image = image.resize((round(image.width * factor), round(image.height * factor)), Image.LANCZOS)
        for crop in random_crops(image, crops_per_wallpaper, rng, short_side=short_side,
                                 min_fraction=min_fraction, max_aspect=max_aspect):
            crop.save(out / f"{count:05d}.jpg", quality=95)
            count += 1
    return count


# --- packaging --------------------------------------------------------------------------------------------


def half_precision(state: dict[str, torch.Tensor], hparams: dict, photos: list[Path]) -> dict[str, torch.Tensor]:
    """The weights as float16 if they decode `photos` within HALF_TOLERANCE of float32, else unchanged."""
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    full_nets, half_nets = sae.load(state, hparams), sae.load(half, hparams)
    worst = 0.0
    for path in photos:
        image = np.asarray(Image.open(path).convert("RGB"), np.float32) / 255
        outputs = []
        for nets in (full_nets, half_nets):
            structure, texture = sae.encode(nets["netE"], image)
            outputs.append(sae.decode(nets["netG"], hparams, structure, texture, image.shape[:2])[0])
        worst = max(worst, float(np.abs(outputs[0] - outputs[1]).max()))
    print(f"float16 weights decode within {worst:.4f} of float32 (tolerance {HALF_TOLERANCE})")
    return half if worst <= HALF_TOLERANCE else state


def editing_stats(state: dict[str, torch.Tensor], hparams: dict, photos: list[Path]) -> tuple[dict, dict]:
    """The part "stats" and metadata["stats"]: principal directions of the photos' codes."""
    encoder = sae.load(state, hparams)["netE"]
    ctx = JobContext(JobRef(0, "package", 0), lambda event: None)
    stats = code_stats.compute([str(p) for p in photos], lambda image: sae.encode(encoder, image), ctx,
                               min_size=hparams["min_size"])
    stats = dataclasses.replace(stats, source=f"{stats.count} crops of the training wallpapers")
    return code_stats.to_part(stats)


def package(checkpoint: Path, photos_dir: Path, *, resources: Path = RESOURCES) -> ModelEntry:
    """Store E and G (float16 where that decodes the same) with editing statistics in resources/ and list the
    model in resources/models.json (after the others, so the painter's default stays first)."""
    ckpt = read_checkpoint(checkpoint)
    hparams = sae.resolve_hparams(ckpt.state_dict, ckpt.metadata["hparams"])
    photos = sorted(p for p in photos_dir.iterdir() if p.suffix.lower() in RASTER)
    if not photos:
        raise SystemExit(f"no training photos in {photos_dir}: run the dataset step first")
    chosen = photos[:: max(1, len(photos) // STATS_PHOTOS)][:STATS_PHOTOS]
    state = half_precision(ckpt.state_dict, hparams, chosen[:4])
    stats, stats_info = editing_stats(ckpt.state_dict, hparams, chosen)
    provenance = ckpt.metadata.get("provenance", {})
    notes = NOTES.format(steps=provenance.get("step", "?"), photos=len(photos), stats=stats_info["count"],
                         wallpapers=len(find_wallpapers()) or "the")
    metadata = {**ckpt.metadata, "name": "Wallpapers (embedded default)", "license": LICENSE, "notes": notes,
                "stats": stats_info}
    return package_builtin(resources, MODEL_FILE, model_id=MODEL_ID, arch=sae.ARCHITECTURE, state=state,
                           hparams=hparams, metadata=metadata, parts={code_stats.PART: stats})



# --- command line -----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=("dataset", "train", "package"))
    parser.add_argument("--work", type=Path, default=WORK, help=f"dataset and run folder (default: {WORK})")
    parser.add_argument("--checkpoint", type=Path, help="package: this checkpoint instead of the run's latest")
    parser.add_argument("--device", default="auto", help="train: compute device")
    args = parser.parse_args(argv)
    photos, run = args.work / "photos", args.work / "run"
    if args.step == "dataset":
        wallpapers = find_wallpapers()
        if not wallpapers:
            print(f"error: no wallpapers in {', '.join(map(str, WALLPAPER_DIRS))}: sudo apt-get install {PACKAGES}",
                  file=sys.stderr)
            return 2
        count = write_dataset(photos, wallpapers, **DATASET)
        print(f"{count} photos from {len(wallpapers)} wallpapers in {photos}")
    elif args.step == "train":  # in this process, so Ctrl-C reaches the trainer's clean stop
        resume = ["--resume"] if (run / "checkpoints" / "latest.json").exists() else []
        return trainers_main(["sae", "--images", str(photos), "--out", str(run), "--device", args.device,
                              *TRAIN_ARGS, *resume])
    else:
        torch.set_grad_enabled(False)
        entry = package(args.checkpoint or latest_checkpoint(run), photos)
        print(f"packaged {entry.id}: {RESOURCES / MODEL_FILE} ({entry.sha256[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
