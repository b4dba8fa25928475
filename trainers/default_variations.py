"""The recipe of the embedded default DeepI2I model ("Variations": one landscape in six looks), and how it is
packaged into resources/.

    python -m trainers.default_variations dataset [--work DIR]   # DIR/looks/<look>/NNNNN.jpg (a minute)
    python -m trainers.default_variations train [--work DIR]     # DIR/run (resumes a run that is there)
    python -m trainers.default_variations package [--work DIR | --checkpoint FILE]   # resources/ + models.json
    python -m trainers.default_variations sample    # resources/samples/default_variations.jpg, from the packaged model

Data: trainers/landscape_looks.py, procedural landscape layouts each rendered in six looks (summer, autumn,
winter, sunset, night, desert: the classes, in that folder order sorted by name), the same layout in every look, so
the model learns to keep a scene's structure and change its look. The network is DeepI2I trained from scratch (the
official --training_scratch: no BigGAN weights can be downloaded here, and BigGAN's 1000 ImageNet classes are not
these looks) at a tiny width, ch 8 without attention, 128 px as the model requires, on a 2-core CPU for about 45
minutes (2800 steps). The learning rates are raised (G 1e-3, D/E1/A1 2e-3; the code's 1e-4 / 4e-4 need far more steps), the
reconstruction loss weighs 20 (lambda_rec; at 1 this short run ignored the input's layout: every photo came out as
the same scene, seen on its samples) and the batch is 8; everything else is the trainer's (hinge loss, the paper's per-sample feature loss, Adam (0, 0.999)).
It is a demonstration of the tool (the looks' colours and light on the photo's layout), not the paper's quality;
the catalog entry says so.
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
from engine.models import deepi2i
from engine.storage import RESOURCES
from trainers import landscape_looks
from trainers.__main__ import main as trainers_main
from trainers.packaging import latest_checkpoint, package_builtin

MODEL_ID = "deepi2i-looks-default"
MODEL_FILE = Path("models") / "deepi2i_looks.safetensors"  # relative to resources/
SAMPLE_FILE = Path("samples") / "default_variations.jpg"
WORK = Path(tempfile.gettempdir()) / "deepi2i-looks-default"
LAYOUTS = 300  # scenes, each in every look
TOTAL_STEPS = 2800
TRAIN_ARGS = ["--name", "variations-training", "--ch", "8", "--attention", "0", "--batch_size", "8",
              "--lr_G", "0.001", "--lr_D", "0.002", "--lambda_rec", "20", "--flip", "--total_steps", str(TOTAL_STEPS),
              "--log_every", "10", "--sample_every", "100", "--checkpoint_every", "100", "--seed", "0"]
HALF_TOLERANCE = 2e-2  # float16 weights must translate within this of float32 (images in [-1, 1])
LICENSE = "ours: trained by I2I Studio on procedurally generated landscapes; free to use"
NOTES = ("Embedded default (a small demonstration model trained here, not the paper's quality): DeepI2I from scratch "
         "at width 8 without attention, {steps} steps of 8 photos on a 2-core CPU, on I2I Studio's procedural "
         "landscapes, each layout rendered in six looks (autumn, desert, night, summer, sunset, winter). It moves a "
         "photo towards the chosen look's colours and light (summer, sunset, winter and night clearly; autumn and "
         "desert come out alike) and keeps the coarse layout (horizon, sky, large masses), blurred, with no fine "
         "detail; night is nearly uniformly dark, and a dark smudge often appears in the middle ground. Recipe: "
         "trainers/default_variations.py.")


def nets_of(state: dict[str, torch.Tensor], parts: dict[str, dict[str, torch.Tensor]], hparams: dict) -> tuple:
    """(G, E1, A1) in eval mode from float weights."""
    ch, rows, attention = int(hparams["ch"]), int(hparams["n_classes"]), int(hparams["attention"])
    G = deepi2i.Generator(ch, int(hparams["dim_z"]), int(hparams["shared_dim"]), rows, attention)
    E1, A1 = deepi2i.Discriminator(ch, rows, attention), deepi2i.Adaptor(ch, rows)
    G.load_state_dict({k: v.float() for k, v in state.items()})
    E1.load_state_dict({k: v.float() for k, v in parts["E1"].items()})
    A1.load_state_dict({k: v.float() for k, v in parts["A1"].items()})
    return G.eval(), E1.eval(), A1.eval()


def variations(nets: tuple, hparams: dict, photo: np.ndarray, seed: int = 0) -> list[np.ndarray]:
    """A 128x128 uint8 photo translated into every class, HxWx3 uint8 each."""
    G, E1, A1 = nets
    weights = {int(k): float(v) for k, v in hparams["fea_w"].items()}
    x = torch.from_numpy(photo).permute(2, 0, 1)[None].float().div(127.5).sub(1)
    n = len(hparams["class_names"])
    z = deepi2i.noise(seed, int(hparams["dim_z"]))[None].expand(n, -1)
    with torch.no_grad():
        out = deepi2i.translate(G, E1, A1, x.expand(n, -1, -1, -1), G.shared(torch.arange(n)), z, weights)
    return [((o.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy() for o in out]


def half_precision(state: dict, parts: dict, hparams: dict, photos: list[np.ndarray]) -> tuple[dict, dict]:
    """The weights as float16 if they translate `photos` within HALF_TOLERANCE of float32, else unchanged."""
    def half(sd: dict) -> dict:
        return {k: v.half() if v.is_floating_point() else v for k, v in sd.items()}

    half_state, half_parts = half(state), {k: half(v) for k, v in parts.items()}
    full, low = nets_of(state, parts, hparams), nets_of(half_state, half_parts, hparams)
    worst = max(float(np.abs(a.astype(np.float32) - b).max()) / 127.5
                for photo in photos
                for a, b in zip(variations(full, hparams, photo), variations(low, hparams, photo), strict=True))
    print(f"float16 weights translate within {worst:.4f} of float32 (tolerance {HALF_TOLERANCE})")
    return (half_state, half_parts) if worst <= HALF_TOLERANCE else (state, parts)


def unseen_photos(count: int = 3) -> list[np.ndarray]:
    """Summer scenes the training never saw (other seeds)."""
    return [landscape_looks.render_looks((99, i), looks=("summer",))["summer"] for i in range(count)]


def package(checkpoint: Path, *, resources: Path = RESOURCES) -> ModelEntry:
    """Store G, E1 and A1 (float16 where that translates the same) in resources/ and list them in models.json."""
    torch.set_grad_enabled(False)
    ckpt = read_checkpoint(checkpoint)
    hparams = {**deepi2i.resolve_hparams(ckpt.state_dict, ckpt.options), "fea_w": ckpt.options["fea_w"]}
    parts = {"E1": ckpt.parts["E1"], "A1": ckpt.parts["A1"]}
    state, parts = half_precision(ckpt.state_dict, parts, hparams, unseen_photos())
    notes = NOTES.format(steps=ckpt.metadata.get("provenance", {}).get("step", "?"))
    metadata = {**ckpt.metadata, "hparams": hparams, "name": "Landscape looks (embedded default)", "license": LICENSE,
                "notes": notes}
    names = hparams["class_names"]
    return package_builtin(resources, MODEL_FILE, model_id=MODEL_ID, arch=deepi2i.ARCHITECTURE, state=state,
                           hparams=hparams, metadata=metadata, parts=parts,
                           classes=[[i, name] for i, name in enumerate(names)])


def write_sample(out: Path, resources: Path = RESOURCES) -> None:
    """Three unseen summer scenes (rows), each [input | every look], from the packaged model."""
    torch.set_grad_enabled(False)
    ckpt = read_checkpoint(resources / MODEL_FILE)
    hparams = ckpt.metadata["hparams"]
    nets = nets_of(ckpt.state_dict, ckpt.parts, hparams)
    rows = [np.concatenate([photo, *variations(nets, hparams, photo)], 1) for photo in unseen_photos()]
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, 0)).save(out, quality=90)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=("dataset", "train", "package", "sample"))
    parser.add_argument("--work", type=Path, default=WORK, help=f"dataset and run folder (default: {WORK})")
    parser.add_argument("--checkpoint", type=Path, help="package: this checkpoint instead of the run's latest")
    parser.add_argument("--device", default="auto", help="train: compute device")
    args = parser.parse_args(argv)
    run = args.work / "run"
    if args.step == "dataset":
        landscape_looks.write_dataset(args.work / "looks", LAYOUTS)
        print(f"{LAYOUTS} layouts x {len(landscape_looks.LOOKS)} looks in {args.work / 'looks'}")
    elif args.step == "train":  # in this process, so Ctrl-C reaches the trainer's clean stop
        resume = ["--resume"] if (run / "checkpoints" / "latest.json").exists() else []
        return trainers_main(["deepi2i", "--images", str(args.work / "looks"), "--out", str(run), "--device",
                              args.device, *TRAIN_ARGS, *resume])
    elif args.step == "sample":
        write_sample(RESOURCES / SAMPLE_FILE)
    else:
        entry = package(args.checkpoint or latest_checkpoint(run))
        print(f"packaged {entry.id}: {RESOURCES / MODEL_FILE} ({entry.sha256[:12]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
