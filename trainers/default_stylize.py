"""The recipe of the embedded default HierarchyFlow model, and how it is packaged into resources/.

    python -m trainers.default_stylize dataset [--work DIR]   # DIR/content, DIR/style (a minute)
    python -m trainers.default_stylize train [--work DIR]     # DIR/run (resumes a run that is there)
    python -m trainers.default_stylize package [--work DIR | --checkpoint FILE]   # resources/ + models.json
    python -m trainers.default_stylize sample    # resources/samples/default_stylize.jpg, from the packaged model

Content: crops of Debian's desktop wallpapers (the Swapping Autoencoder default's dataset recipe). Style: our
procedural style images (trainers/style_art.py), many seeds of each kind. The network is the released HF
configuration (out_channels [30, 120], learned fusion weights) trained with the official code's losses and
optimiser at 96x160 crops, but a style weight of 3 (the official 0.1 is tuned to the real VGG's feature
scale: with it this run only darkened photos) and the plain style loss (k -1: the aligned loss ignores the
channels furthest from the style, and through a random VGG those carried the colours; seen on samples). No
ImageNet VGG-19 can be downloaded here, so the losses are measured through a RANDOM-weights VGG-19 (the
trainer's `--vgg_weights random`): its features still carry colour and local texture statistics, which is what
this demonstration model learns to move; a model trained with the real VGG (the README says how) transfers style
far better. The catalog entry says so.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engine.api import ModelEntry
from engine.checkpoints import read_checkpoint
from engine.models import hierarchyflow
from engine.storage import RESOURCES
from trainers import style_art
from trainers.__main__ import main as trainers_main
from trainers.default_sae import find_wallpapers, write_dataset
from trainers.packaging import latest_checkpoint, package_builtin

MODEL_ID = "hierarchyflow-default"
MODEL_FILE = Path("models") / "hierarchyflow_default.safetensors"  # relative to resources/
WORK = Path(tempfile.gettempdir()) / "hierarchyflow-default"
CONTENT = {"crops_per_wallpaper": 8, "short_side": 160, "min_fraction": 0.4, "max_aspect": 1.6, "seed": 1}
STYLE_SEEDS = 30  # images per procedural style kind
STYLE_SIZE = (192, 192)
TOTAL_STEPS = 1500
TRAIN_ARGS = ["--name", "stylize-training", "--variant", "HF", "--crop_height", "96", "--crop_width", "160",
              "--vgg_weights", "random", "--lr", "0.0005", "--lambda_style", "3", "--k", "-1",
              "--total_steps", str(TOTAL_STEPS), "--log_every", "20", "--sample_every", "250",
              "--checkpoint_every", "250", "--seed", "0"]
HALF_TOLERANCE = 1e-2  # float16 weights must stylise within this of float32 (images in [0, 1])
LICENSE = ("ours: trained by I2I Studio on Debian's desktop wallpapers (plasma-workspace-wallpapers GPL-2+, "
           "gnome-backgrounds CC-BY-SA) and procedural style images; free to use")
NOTES = ("Embedded default (a small demonstration model trained here, not the paper's quality): HierarchyFlow, the "
         "released HF configuration, {steps} steps at 96x160 crops on a 2-core CPU with the official losses (style "
         "weight 3, not 0.1; the plain style loss, not the aligned one) measured through a RANDOM-weights VGG-19 "
         "(no ImageNet weights could be downloaded), content from Debian's wallpapers, styles from I2I Studio's "
         "procedural style images. It carries a style's colours and mood; train with the real VGG-19 for texture. "
         "Recipe: trainers/default_stylize.py.")


def write_styles(out: Path, seeds: int = STYLE_SEEDS, size: tuple[int, int] = STYLE_SIZE) -> int:
    """out/<kind>_<seed>.jpg for every procedural style kind; returns how many were written."""
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for i, paint in enumerate(style_art.STYLES.values()):
        for seed in range(seeds):
            image = np.clip(paint(np.random.default_rng((100 + seed, i)), size), 0, 1)
            Image.fromarray((image * 255 + 0.5).astype(np.uint8)).save(out / f"{i}_{seed:03d}.jpg", quality=92)
            count += 1
    return count


def stylize(net: torch.nn.Module, content: np.ndarray, style: np.ndarray) -> np.ndarray:
    def tensor(image: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(image).permute(2, 0, 1)[None].float()
    return net(tensor(content), tensor(style))[0].permute(1, 2, 0).clamp(0, 1).numpy()


def half_precision(state: dict[str, torch.Tensor], hparams: dict, pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict:
    """The weights as float16 if they stylise `pairs` within HALF_TOLERANCE of float32, else unchanged."""
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    full_net = hierarchyflow.load(state, hparams)["flow"]
    half_net = hierarchyflow.load({k: v.float() for k, v in half.items()}, hparams)["flow"]
    worst = max(float(np.abs(stylize(full_net, c, s) - stylize(half_net, c, s)).max()) for c, s in pairs)
    print(f"float16 weights stylise within {worst:.4f} of float32 (tolerance {HALF_TOLERANCE})")
    return half if worst <= HALF_TOLERANCE else state


def sample_pairs(count: int = 3) -> list[tuple[np.ndarray, np.ndarray]]:
    """Photo-like content (a procedural landscape) with a procedural style each, float32 in [0, 1]."""
    from trainers import landscapes

    paints = list(style_art.STYLES.values())
    return [(landscapes.make_scene(np.random.default_rng((77, i)), (96, 144))[1].astype(np.float32) / 255,
             paints[i % len(paints)](np.random.default_rng((78, i)), (96, 96)).astype(np.float32))
            for i in range(count)]


def package(checkpoint: Path, *, resources: Path = RESOURCES) -> ModelEntry:
    """Store the flow (float16 where that stylises the same) in resources/ and list it in resources/models.json."""
    torch.set_grad_enabled(False)
    ckpt = read_checkpoint(checkpoint)
    hparams = hierarchyflow.resolve_hparams(ckpt.state_dict, ckpt.metadata.get("hparams", {}))
    state = half_precision(ckpt.state_dict, hparams, sample_pairs())
    notes = NOTES.format(steps=ckpt.metadata.get("provenance", {}).get("step", "?"))
    metadata = {**ckpt.metadata, "name": "HierarchyFlow (embedded default)", "license": LICENSE, "notes": notes}
    return package_builtin(resources, MODEL_FILE, model_id=MODEL_ID, arch=hierarchyflow.ARCHITECTURE, state=state,
                           hparams=hparams, metadata=metadata)


def write_sample(out: Path, resources: Path = RESOURCES) -> None:
    """A procedural landscape stylised by the packaged model after two shelf styles, each row
    [photo | style | strong | normal | weak fidelity] (the presets of engine.api.FIDELITY_PRESETS)."""
    from engine.api import FIDELITY_PRESETS
    from trainers import landscapes

    torch.set_grad_enabled(False)
    ckpt = read_checkpoint(resources / MODEL_FILE)
    hparams = hierarchyflow.resolve_hparams(ckpt.state_dict, ckpt.metadata.get("hparams", {}))
    net = hierarchyflow.load({k: v.float() for k, v in ckpt.state_dict.items()}, hparams)["flow"]
    photo = landscapes.make_scene(np.random.default_rng((5, 5)), (192, 288))[1].astype(np.float32) / 255

    def tensor(image: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]

    cp, content_code = net.content_pass(tensor(photo)), net.style_code(tensor(photo))
    rows = []
    for name in ("blue_mosaic.jpg", "ember_swirls.jpg"):
        with Image.open(resources / "styles" / name) as image:
            style = np.asarray(image.convert("RGB"), np.float32) / 255
        code = net.style_code(tensor(style))
        shown = np.asarray(Image.fromarray((style * 255).astype(np.uint8)).resize((288, 192)), np.float32) / 255
        outputs = [net.stylize(cp, content_code, code, s)[0].permute(1, 2, 0).clamp(0, 1).numpy()
                   for s in FIDELITY_PRESETS.values()]
        rows.append(np.concatenate([photo, shown, *outputs], 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.concatenate(rows, 0) * 255 + 0.5).astype(np.uint8)).save(out, quality=90)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=("dataset", "train", "package", "sample"))
    parser.add_argument("--work", type=Path, default=WORK, help=f"dataset and run folder (default: {WORK})")
    parser.add_argument("--checkpoint", type=Path, help="package: this checkpoint instead of the run's latest")
    parser.add_argument("--device", default="auto", help="train: compute device")
    args = parser.parse_args(argv)
    run = args.work / "run"
    if args.step == "dataset":
        wallpapers = find_wallpapers()
        if not wallpapers:
            raise SystemExit("no wallpapers found: apt-get install plasma-workspace-wallpapers gnome-backgrounds")
        photos = write_dataset(args.work / "content", wallpapers, **CONTENT)
        styles = write_styles(args.work / "style")
        print(f"{photos} content photos and {styles} style images in {args.work}")
    elif args.step == "train":  # in this process, so Ctrl-C reaches the trainer's clean stop
        resume = ["--resume"] if (run / "checkpoints" / "latest.json").exists() else []
        return trainers_main(["hierarchyflow", "--content", str(args.work / "content"), "--style",
                              str(args.work / "style"), "--out", str(run), "--device", args.device, *TRAIN_ARGS,
                              *resume])
    elif args.step == "sample":
        write_sample(RESOURCES / "samples" / "default_stylize.jpg")
    else:
        entry = package(args.checkpoint or latest_checkpoint(run))
        print(f"packaged {entry.id}: {RESOURCES / MODEL_FILE} ({entry.sha256[:12]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
