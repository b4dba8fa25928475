"""The recipe of the embedded default SPADE model, and how it is packaged into resources/.

    python -m trainers.default_landscape --work DIR            # dataset + training + packaging
    python -m trainers.default_landscape --package CHECKPOINT  # packaging only

A small SPADE (ngf 16, SPADE hidden width 32) trained on procedurally generated landscape scenes
(trainers/landscapes.py) with the paper's recipe minus VGG (no weights can be downloaded here) plus
our pixel L1 term. It is a demonstration model, honestly labelled as such in the catalog.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import torch

from engine.api import ModelEntry
from engine.checkpoints import read_checkpoint
from engine.models import spade
from engine.storage import RESOURCES
from trainers.landscapes import write_dataset
from trainers.packaging import latest_checkpoint, package_builtin

MODEL_ID = "spade-landscape-default"
MODEL_FILE = Path("models") / "spade_landscape.safetensors"  # relative to resources/
DATASET = {"count": 1500, "size": (256, 256), "seed": 0}
TRAIN_ARGS = ["--name", "landscape-default", "--ngf", "16", "--nhidden", "32", "--crop_size", "128",
              "--ndf", "32", "--total_steps", "3000", "--lambda_l1", "10", "--log_every", "50",
              "--sample_every", "500", "--checkpoint_every", "500", "--seed", "0"]
LICENSE = "ours: trained by I2I Studio on procedurally generated scenes; free to use"
NOTES = ("Embedded default (a small demonstration model, not the paper's quality): SPADE ngf 16, hidden 32, "
         "trained 3000 steps at 128 px on 1500 procedurally generated landscapes (trainers/landscapes.py), "
         "hinge GAN + feature matching + pixel L1 (ours), no VGG loss. Recipe: trainers/default_landscape.py.")


def package(checkpoint: Path, *, resources: Path = RESOURCES) -> ModelEntry:
    """Store the generator as float16 safetensors in resources/ and list it in resources/models.json."""
    ckpt = read_checkpoint(checkpoint)
    hparams = spade.resolve_hparams(ckpt.state_dict, ckpt.metadata["hparams"])
    spade.load(ckpt.state_dict, hparams)  # refuse to ship weights that do not load
    half = {k: v.half() if v.is_floating_point() else v for k, v in ckpt.state_dict.items()}
    metadata = {**ckpt.metadata, "name": "Landscape (embedded default)", "license": LICENSE, "notes": NOTES}
    return package_builtin(resources, MODEL_FILE, model_id=MODEL_ID, arch=spade.ARCHITECTURE, state=half,
                           hparams=hparams, metadata=metadata, first=True,
                           classes=tuple((int(i), str(n)) for i, n in ckpt.metadata["classes"]),
                           palette=ckpt.metadata.get("palette", "landscape"))



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, help="folder for the dataset and the training run")
    parser.add_argument("--package", type=Path, help="package this checkpoint only")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    if args.package:
        checkpoint = args.package
    elif args.work:
        data, run = args.work / "data", args.work / "run"
        if not (data / "labels").is_dir():
            write_dataset(data, DATASET["count"], size=DATASET["size"], seed=DATASET["seed"])
        resume = ["--resume"] if (run / "checkpoints" / "latest.json").exists() else []
        subprocess.run([sys.executable, "-m", "trainers", "spade", "--images", str(data / "images"),
                        "--labels", str(data / "labels"), "--out", str(run), "--device", args.device,
                        *TRAIN_ARGS, *resume], check=True)
        checkpoint = latest_checkpoint(run)
    else:
        parser.error("give --work DIR or --package CHECKPOINT")
    torch.set_grad_enabled(False)
    entry = package(checkpoint)
    print(f"packaged {entry.id}: {RESOURCES / MODEL_FILE} ({entry.sha256[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
