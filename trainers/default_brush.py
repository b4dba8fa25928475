"""The recipe of the embedded default style brush (summer -> winter), and how it is packaged into resources/.

    python -m trainers.default_brush dataset [--work DIR]   # DIR/summer, DIR/winter (a minute)
    python -m trainers.default_brush train [--work DIR]     # DIR/run (resumes a run that is there)
    python -m trainers.default_brush package [--work DIR | --checkpoint FILE]   # resources/ + models.json

The two domains are procedural landscapes (trainers.landscapes): summer scenes, and other scenes under snow
(snowy ground, frozen water, snow on the trees, an overcast sky). They are unpaired: every scene is drawn
from its own seed, so the translation is learned, not looked up. A small CUT (ngf 16, 6 residual blocks,
narrow discriminator and projection head, 128 px crops) is trained with the paper's losses and optimiser;
it is a demonstration model, honestly labelled as such in the catalog.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engine.api import ModelEntry
from engine.checkpoints import read_checkpoint
from engine.models import cut
from engine.storage import RESOURCES
from trainers import landscapes
from trainers.__main__ import main as trainers_main
from trainers.packaging import latest_checkpoint, package_builtin

MODEL_ID = "cut-summer2winter-default"
MODEL_FILE = Path("models") / "cut_summer2winter.safetensors"  # relative to resources/
WORK = Path(tempfile.gettempdir()) / "brush-summer2winter"
SCENES = 600  # per domain
SCENE_SIZE = (160, 160)
TOTAL_STEPS = 2000
TRAIN_ARGS = ["--name", "summer2winter-training", "--mode", "CUT", "--crop_size", "128", "--ngf", "16",
              "--n_blocks", "6", "--ndf", "16", "--netF_nc", "64", "--num_patches", "128", "--batch_size", "2",
              "--total_steps", str(TOTAL_STEPS), "--log_every", "20", "--sample_every", "250",
              "--checkpoint_every", "250", "--seed", "0"]
HALF_TOLERANCE = 1e-2  # float16 weights must translate within this of float32 (images in [0, 1])
LICENSE = "ours: trained by I2I Studio on procedurally generated landscapes; free to use"
NOTES = ("Embedded default (a small demonstration model trained here, not the paper's quality): CUT with ngf 16 "
         "and 6 residual blocks, trained {steps} steps at 128 px on a 2-core CPU with the paper's losses, "
         "between {scenes} procedural summer landscapes and {scenes} other ones under snow. It whitens meadows "
         "and hills, freezes water and greys the sky. Recipe: trainers/default_brush.py.")


def write_domains(work: Path, count: int = SCENES, size: tuple[int, int] = SCENE_SIZE) -> None:
    """work/summer/NNNNN.jpg and work/winter/NNNNN.jpg, each scene from its own seed (unpaired)."""
    for name, winter in (("summer", False), ("winter", True)):
        folder = work / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            _, photo = landscapes.make_scene(np.random.default_rng((int(winter) + 7, i)), size, winter=winter)
            Image.fromarray(photo).save(folder / f"{i:05d}.jpg", quality=95)


def translate(net: torch.nn.Module, image: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(image).permute(2, 0, 1)[None] * 2 - 1
    return ((net(x)[0].permute(1, 2, 0) + 1) / 2).clamp(0, 1).numpy()


def half_precision(state: dict[str, torch.Tensor], hparams: dict, samples: list[np.ndarray]) -> dict:
    """The weights as float16 if they translate `samples` within HALF_TOLERANCE of float32, else unchanged
    (stored as float16, computed in float32 as the engine does)."""
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    full_net = cut.load(state, hparams)["AtoB"]
    half_net = cut.load({k: v.float() for k, v in half.items()}, hparams)["AtoB"]
    worst = max(float(np.abs(translate(full_net, s) - translate(half_net, s)).max()) for s in samples)
    print(f"float16 weights translate within {worst:.4f} of float32 (tolerance {HALF_TOLERANCE})")
    return half if worst <= HALF_TOLERANCE else state


def package(checkpoint: Path, *, resources: Path = RESOURCES) -> ModelEntry:
    """Store G (float16 where that translates the same) in resources/ and list it in resources/models.json."""
    torch.set_grad_enabled(False)
    ckpt = read_checkpoint(checkpoint)
    hparams = cut.resolve_hparams(ckpt.state_dict, ckpt.metadata.get("hparams", {}))
    samples = [landscapes.make_scene(np.random.default_rng((99, i)), (128, 192))[1].astype(np.float32) / 255
               for i in range(4)]
    state = half_precision(ckpt.state_dict, hparams, samples)
    notes = NOTES.format(steps=ckpt.metadata.get("provenance", {}).get("step", "?"), scenes=SCENES)
    metadata = {**ckpt.metadata, "name": "Summer → Winter (embedded default)", "license": LICENSE, "notes": notes}
    return package_builtin(resources, MODEL_FILE, model_id=MODEL_ID, arch=cut.ARCHITECTURE, state=state,
                           hparams=hparams, metadata=metadata)



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=("dataset", "train", "package"))
    parser.add_argument("--work", type=Path, default=WORK, help=f"dataset and run folder (default: {WORK})")
    parser.add_argument("--checkpoint", type=Path, help="package: this checkpoint instead of the run's latest")
    parser.add_argument("--device", default="auto", help="train: compute device")
    args = parser.parse_args(argv)
    run = args.work / "run"
    if args.step == "dataset":
        write_domains(args.work)
        print(f"{SCENES} summer and {SCENES} winter scenes in {args.work}")
    elif args.step == "train":  # in this process, so Ctrl-C reaches the trainer's clean stop
        resume = ["--resume"] if (run / "checkpoints" / "latest.json").exists() else []
        return trainers_main(["cut", "--a", str(args.work / "summer"), "--b", str(args.work / "winter"),
                              "--out", str(run), "--device", args.device, *TRAIN_ARGS, *resume])
    else:
        entry = package(args.checkpoint or latest_checkpoint(run))
        print(f"packaged {entry.id}: {RESOURCES / MODEL_FILE} ({entry.sha256[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
