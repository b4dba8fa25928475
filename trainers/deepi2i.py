"""DeepI2I training (Wang et al., NeurIPS 2020), the BigGAN variant, producing our engine's DeepI2I model (a
MultiDomain model: a photo into any of the classes it was trained on).

The networks are engine.models.deepi2i's, in the official key layout: the generator G (BigGAN's, with the feature
injection), the encoder E1 and the discriminator D (both BigGAN's projection discriminator) and the adaptor A1.
Data: a folder of class folders; the subfolder names, sorted (torchvision ImageFolder's order), are the classes and
their order the class indices (rows 0..N-1 of G's class embedding). Each photo is preprocessed as the official
HDF5 maker does: the centre square of the long edge, resized to 128 px, mapped to [-1, 1] (random horizontal flips
are our option, off by default as the official data has none).

Two ways to start, as the code:
- With BigGAN-PyTorch's 128 px weights (biggan_G = G.pth, biggan_D = D.pth; the official --resume_BigGAN): G <- G.pth,
  D <- D.pth, E1 <- D.pth, A1 fresh with PyTorch's default initialisation. Phase 1 (the first phase1_steps, 500 as
  the code) trains only A1 on the generator side; phase 2 trains A1 and G. E1 stays frozen throughout. The injection
  weights are 0.1 at every scale. BigGAN's optimiser states and iteration counter are not taken over (its optimiser
  files are not asked for); Adam starts fresh.
- From scratch (the official --training_scratch): every network gets BigGAN's orthogonal initialisation (A1 PyTorch's
  default, as the code) and G, E1 and A1 all train from the first step, with injection weights {4: 1, 8: 1, 16: 1,
  32: 0.1}. The class embedding has as many rows as classes unless n_classes says otherwise.

Each iteration: one D step, hinge loss: real = the batch's photos with their labels; fake = G(z, c, A1(E1(t_x))) of
a second photo t_x per item (drawn from the same data) with a random target class c. Then one generator-side step on
new z and c for the same t_x: the hinge G loss -D(y^, c) plus lambda_rec times the reconstruction loss

    L_rec = sum over l in {4, 8, 16, 32} of D_fea_w[l] * mean |D_l(y^_i) - D_l(t_x_i)|,  D_fea_w = {4: .1, 8: .1,
    16: .1, 32: .01}

where D_l are the discriminator's block outputs at l px (`features`). We follow the PAPER here (eq. 3: L1 between
the features of each input and of its own translation), not the code, which takes the MSE between the features of
items 0 and 1 of the concatenated [fakes; reals] batch: on one device those are two different fakes, so that term
ties unrelated translations together instead of keeping each translation's structure (it pairs a fake with its
input only with one sample per GPU under DataParallel). Adam betas (0, 0.999), eps 1e-6; G lr 1e-4, D lr 4e-4, E1
and A1 at the D's lr as the code; the code's batch is 4 x 8 accumulations, ours 32 photos per step.

Model file: G's state dict at the top level, E1 and A1 as parts "E1/" and "A1/" (the engine's layout), metadata
{"method": "deepi2i", "hparams" (with the injection weights), "classes" [[index, name], ...]}; D and the optimisers
are in the training-state file.

    python -m trainers deepi2i --images DIR --out RUN [--biggan_G G.pth --biggan_D D.pth] [options] [--resume]
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from engine.api import Task
from engine.checkpoints import CheckpointError, read_checkpoint
from engine.imageio import upright_rgb
from engine.models import deepi2i as arch
from trainers.checkpointing import ResumePoint
from trainers.common import TrainError
from trainers.configs import DeepI2IConfig
from trainers.datasets import IMAGE_EXTS, _reason, scan_images
from trainers.distributed import Dist, seed_everything, wrap_ddp
from trainers.loop import ModelFile, Summary, TrainingLoop, spread, to_uint8

METHOD = "deepi2i"
RESOLUTION = 128  # the engine's adaptor is built for 128 px inputs (its 32/16/8/4 maps)
D_FEA_W = {4: 0.1, 8: 0.1, 16: 0.1, 32: 0.01}  # the reconstruction loss's layer weights (paper: alpha_l)
TRANSFER_FEA_W = {4: 0.1, 8: 0.1, 16: 0.1, 32: 0.1}  # injection weights with BigGAN weights (paper: w_l = 0.1)
SCRATCH_FEA_W = {4: 1.0, 8: 1.0, 16: 1.0, 32: 0.1}  # the code's --training_scratch injection weights
SAMPLE_INPUTS = 4  # rows of a sample grid
SAMPLE_CLASSES = 8  # at most this many target classes (columns) in a sample grid, spread over the classes
MAX_CLASSES = 1000  # BigGAN's embedding rows
# Options that shape the saved networks or the data stream: a resumed run must keep them.
FIXED_ON_RESUME = ("ch", "dim_z", "shared_dim", "n_classes", "attention", "biggan_G", "biggan_D", "seed",
                   "batch_size", "flip")


# --- set-up ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    folder: Path
    transfer: bool  # BigGAN weights given: the official two phases


def plan(cfg: DeepI2IConfig) -> Plan:
    """Check the options against each other; every problem is one TrainError line."""
    if not cfg.images:
        raise TrainError("--images DIR is required (a folder holding one subfolder of photos per class)")
    if bool(cfg.biggan_G) != bool(cfg.biggan_D):
        raise TrainError("give both biggan_G (G.pth) and biggan_D (D.pth) to start from BigGAN, or neither to train "
                         "from scratch")
    for name in ("biggan_G", "biggan_D"):
        if (path := getattr(cfg, name)) and not Path(path).is_file():
            raise TrainError(f"{name}: no file at {path}")
    if cfg.ch < 8 or cfg.ch % 8:
        raise TrainError(f"ch must be a positive multiple of 8 (attention uses ch/8), got {cfg.ch}")
    if cfg.dim_z < 6 or cfg.dim_z % 6:
        raise TrainError(f"dim_z must be a positive multiple of 6 (the noise is split into 6 chunks), got {cfg.dim_z}")
    if cfg.shared_dim < 1:
        raise TrainError("shared_dim must be at least 1")
    if cfg.attention not in (0, 8, 16, 32, 64, 128):
        raise TrainError(f"attention must be 0 (none) or a resolution of 8..128 (the release: 64), got "
                         f"{cfg.attention}")
    if cfg.n_classes is not None and not 2 <= cfg.n_classes <= MAX_CLASSES:
        raise TrainError(f"n_classes must be between 2 and {MAX_CLASSES}")
    if cfg.phase1_steps < 0:
        raise TrainError("phase1_steps cannot be negative")
    if cfg.lr_G <= 0 or cfg.lr_D <= 0:
        raise TrainError("lr_G and lr_D must be positive")
    if not (0 <= cfg.beta1 < 1 and 0 <= cfg.beta2 < 1):
        raise TrainError("beta1 and beta2 must be in [0, 1)")
    if cfg.adam_eps <= 0 or cfg.lambda_rec < 0:
        raise TrainError("adam_eps must be positive and lambda_rec not negative")
    return Plan(Path(cfg.images), transfer=bool(cfg.biggan_G))


def class_folders(folder: Path) -> list[str]:
    """The class names: the subfolders, sorted as torchvision's ImageFolder sorts them (hidden ones left out)."""
    return sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))


def scan_classes(folder: Path, *, max_images: int | None = None) -> tuple[list[tuple[Path, int]], list[str], Summary]:
    """(usable (photo, class index) items, class names, summary) of a folder of class folders. The summary (the
    --validate-only JSON): images, classes ([name, count] in class order), sizes, unreadable, errors, warnings."""
    summary: dict[str, Any] = {"images": 0, "classes": [], "sizes": {}, "unreadable": [], "errors": [],
                               "warnings": []}
    errors, warnings = summary["errors"], summary["warnings"]
    if not folder.is_dir():
        errors.append(f"the folder {folder} does not exist")
        return [], [], summary
    names = class_folders(folder)
    loose = [p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS]
    if len(names) < 2:
        found = f"it holds {len(loose)} loose photos and " if loose else "it holds "
        errors.append(f"{folder} needs one subfolder of photos per class, at least 2 classes; {found}"
                      f"{len(names)} subfolder{'s' * (len(names) != 1)}")
        return [], names, summary
    if len(names) > MAX_CLASSES:
        errors.append(f"{folder} has {len(names)} class folders; DeepI2I (BigGAN's class embedding) takes at most "
                      f"{MAX_CLASSES}")
        return [], names, summary
    if loose:
        warnings.append(f"{len(loose)} photos directly in {folder.name} belong to no class and are left out "
                        f"(e.g. {loose[0]})")
    items: list[tuple[Path, int]] = []
    empty = []
    for index, name in enumerate(names):
        paths, part = scan_images(folder / name, crop_size=1, max_images=max_images)
        items += [(p, index) for p in paths]
        summary["classes"].append([name, len(paths)])
        for size, count in part["sizes"].items():
            summary["sizes"][size] = summary["sizes"].get(size, 0) + count
        summary["unreadable"] += [f"{name}/{item}" for item in part["unreadable"]]
        if not paths:
            empty.append(name)
    summary["images"] = len(items)
    if empty:
        errors.append(f"{len(empty)} class folder{'s have' if len(empty) > 1 else ' has'} no readable photos: "
                      f"{', '.join(empty[:5])}{' …' if len(empty) > 5 else ''}")
    if summary["unreadable"]:
        warnings.append(f"{len(summary['unreadable'])} unreadable files are skipped (e.g. {summary['unreadable'][0]})")
    return items, names, summary


def scan(cfg: DeepI2IConfig, p: Plan) -> tuple[tuple[list[tuple[Path, int]], list[str]], Summary]:
    items, names, summary = scan_classes(p.folder, max_images=cfg.max_images)
    rows = cfg.n_classes or (arch.N_CLASSES if p.transfer else len(names))
    if names and len(names) > rows and not summary["errors"]:
        summary["errors"].append(f"{len(names)} classes do not fit n_classes {rows} (the class embedding's rows)")
    return (items, names), summary


# --- data --------------------------------------------------------------------------------------------------


def load_square(path: Path, *, size: int = RESOLUTION, flip: bool = False) -> Tensor:
    """The official preprocessing: the centre square of the long edge, resized to `size` (bilinear, as
    torchvision's Resize), (3, size, size) in [-1, 1]; `flip` mirrors it."""
    image = upright_rgb(path)
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    image = image.resize((size, size), Image.BILINEAR, box=(left, top, left + side, top + side))
    if flip:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).float().div_(127.5).sub_(1.0)


class ClassFolders:
    """Training items keyed (index, epoch): dict(image, label, source, skipped). `source` is a second photo of the
    data, drawn from (seed, epoch, index), that the generator translates (the code's second batch t_x). Every
    random choice comes from (seed, epoch, index) alone, so a resumed run sees the same items; a file that fails
    to load is replaced by the next readable one and named in `skipped`."""

    def __init__(self, items: list[tuple[Path, int]], *, flip: bool = False, seed: int = 0) -> None:
        if not items:
            raise ValueError("ClassFolders needs at least one photo")
        self.items, self.flip, self.seed = items, flip, seed

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        index, epoch = (key, 0) if isinstance(key, int) else (int(key[0]), int(key[1]))
        rng = np.random.default_rng([self.seed, epoch, index])
        skipped: list[str] = []
        image, label = self._load(index, rng, skipped)
        source, _ = self._load(int(rng.integers(len(self.items))), rng, skipped)
        return {"image": image, "label": label, "source": source, "skipped": "; ".join(skipped)}

    def _load(self, index: int, rng: np.random.Generator, skipped: list[str]) -> tuple[Tensor, int]:
        flip = self.flip and bool(rng.random() < 0.5)
        for k in range(len(self.items)):
            path, label = self.items[(index + k) % len(self.items)]
            try:
                return load_square(path, flip=flip), label
            except (OSError, ValueError, SyntaxError) as exc:  # Pillow raises SyntaxError for broken PNGs
                skipped.append(f"{path.parent.name}/{path.name}: {_reason(exc)}")
        raise ValueError("no photo of the dataset can be read: " + "; ".join(skipped[:3]))


# --- losses ------------------------------------------------------------------------------------------------


def hinge_g_loss(fake: Tensor) -> Tensor:
    return -fake.mean()


def feature_loss(out: Mapping[int, Tensor], target: Mapping[int, Tensor],
                 weights: Mapping[int, float] = D_FEA_W) -> Tensor:
    """The paper's reconstruction loss: sum_l w_l * mean |out_l - target_l|, item i of `out` against item i of
    `target` (each translation against the features of its own input)."""
    return sum(w * (out[k].float() - target[k].float()).abs().mean() for k, w in weights.items())


# --- networks ----------------------------------------------------------------------------------------------


class Translator(nn.Module):
    """G, E1 and A1 as one module (one DDP wrapper): forward(x, classes, z) = G(z, shared(classes), A1(E1(x)))."""

    def __init__(self, G: arch.Generator, E1: arch.Discriminator, A1: arch.Adaptor,
                 weights: Mapping[int, float]) -> None:
        super().__init__()
        self.G, self.E1, self.A1 = G, E1, A1
        self.weights = dict(weights)

    def forward(self, x: Tensor, classes: Tensor, z: Tensor) -> Tensor:
        return arch.translate(self.G, self.E1, self.A1, x, self.G.shared(classes), z, self.weights)


def read_weights(path: str, role: str) -> dict[str, Tensor]:
    """A BigGAN-PyTorch state dict, read with weights_only through engine.checkpoints."""
    try:
        return read_checkpoint(path).state_dict
    except (CheckpointError, OSError) as exc:
        raise TrainError(f"{role}: {str(exc).splitlines()[0]}") from None


def load_into(net: nn.Module, state: Mapping[str, Tensor], role: str) -> None:
    """Load strictly; a file of another size or layout is one line naming what differs."""
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        what = (f"missing {missing[0]}" if missing else f"unexpected {unexpected[0]}" if unexpected else
                f"{wrong[0]} is {tuple(state[wrong[0]].shape)}, the network's {tuple(own[wrong[0]].shape)}")
        raise TrainError(f"{role} does not fit a BigGAN 128 px network with ch {getattr(net, 'ch', '?')} ({what}; "
                         f"{len(missing)} missing, {len(unexpected)} unexpected, {len(wrong)} of another shape)")
    net.load_state_dict({k: v.float() for k, v in state.items()})


def build_networks(cfg: DeepI2IConfig, p: Plan, n_rows: int) -> tuple[arch.Generator, arch.Discriminator,
                                                                      arch.Discriminator, arch.Adaptor]:
    """(G, D, E1, A1), from BigGAN's weights or BigGAN's initialisation."""
    kwargs = {"n_classes": n_rows, "attention": cfg.attention, "resolution": RESOLUTION}
    G = arch.Generator(cfg.ch, dim_z=cfg.dim_z, shared_dim=cfg.shared_dim, **kwargs)
    D = arch.Discriminator(cfg.ch, **kwargs)
    E1 = arch.Discriminator(cfg.ch, **kwargs)
    A1 = arch.Adaptor(cfg.ch, n_classes=n_rows)  # PyTorch's default init, as the code's (skip_init) A1
    if p.transfer:
        load_into(G, read_weights(cfg.biggan_G, "biggan_G"), "biggan_G")
        d_state = read_weights(cfg.biggan_D, "biggan_D")
        load_into(D, d_state, "biggan_D")
        load_into(E1, d_state, "biggan_D")
    else:
        for net in (G, D, E1):
            arch.init_ortho(net)
    return G, D, E1, A1


def injection_weights(transfer: bool) -> dict[int, float]:
    return dict(TRANSFER_FEA_W if transfer else SCRATCH_FEA_W)


def model_hparams(cfg: DeepI2IConfig, n_rows: int, transfer: bool, names: list[str]) -> dict[str, Any]:
    """The engine's hyperparameters of the model file, plus `fea_w`, the injection weights it was trained with
    (JSON: keyed by width as text; from scratch they are not the release's 0.1)."""
    return {"ch": cfg.ch, "dim_z": cfg.dim_z, "shared_dim": cfg.shared_dim, "n_classes": n_rows,
            "attention": cfg.attention, "resolution": RESOLUTION, "n_target": len(names), "class_names": list(names),
            "fea_w": {str(k): v for k, v in injection_weights(transfer).items()}}


# --- training -------------------------------------------------------------------------------------------


class DeepI2ILoop(TrainingLoop):
    arch = arch
    task = Task.MULTI_DOMAIN
    fixed_on_resume = FIXED_ON_RESUME
    sample_caption = "input | translated into each class (columns, in class order)"
    check = staticmethod(plan)
    scan = staticmethod(scan)

    @classmethod
    def build(cls, cfg: DeepI2IConfig, plan: Plan, data: tuple[list[tuple[Path, int]], list[str]], d: Dist,
              run_dir: Path, point: ResumePoint | None, state: Mapping[str, Any] | None) -> DeepI2ILoop:
        items, names = data
        n_rows = cfg.n_classes or (arch.N_CLASSES if plan.transfer else len(names))
        seed_everything(cfg.seed)  # the same initial weights on every rank (DDP would broadcast rank 0's anyway)
        G, D, E1, A1 = build_networks(cfg, plan, n_rows)
        if point is not None:
            ckpt = read_checkpoint(point.model)
            G.load_state_dict(ckpt.state_dict)
            E1.load_state_dict(ckpt.parts["E1"])
            A1.load_state_dict(ckpt.parts["A1"])
        for head in (E1.linear, E1.embed, A1.linear, A1.embed):  # unused by the translation (kept for the key
            head.requires_grad_(False)  # layout): no gradients, so DDP does not wait for theirs
        translator = Translator(G, E1, A1, injection_weights(plan.transfer)).to(d.device).train()
        D.to(d.device).train()
        if plan.transfer:  # E1 is never trained; frozen before DDP wraps the translator, so DDP leaves it out
            E1.requires_grad_(False).eval()
        betas, eps = (cfg.beta1, cfg.beta2), cfg.adam_eps
        loop = cls(cfg, d, run_dir, point=point, state=state)
        loop.names, loop.items, loop.transfer = names, items, plan.transfer
        loop.n_rows = n_rows
        loop.G, loop.D, loop.E1, loop.A1, loop.translator = G, D, E1, A1, translator
        loop.model_T, loop.model_D = wrap_ddp(translator, d), wrap_ddp(D, d)
        loop.optimizers = {
            "G": torch.optim.Adam(G.parameters(), lr=cfg.lr_G, betas=betas, eps=eps),
            "A1": torch.optim.Adam(A1.parameters(), lr=cfg.lr_D, betas=betas, eps=eps),
            "E1": None if plan.transfer else torch.optim.Adam(E1.parameters(), lr=cfg.lr_D, betas=betas, eps=eps),
            "D": torch.optim.Adam(D.parameters(), lr=cfg.lr_D, betas=betas, eps=eps),
        }
        loop.scalers = {"G": loop.precision.scaler(), "D": loop.precision.scaler()}  # one per backward
        start = ("BigGAN weights (G <- biggan_G; D, E1 <- biggan_D; A1 fresh): phase 1 trains A1 for "
                 f"{cfg.phase1_steps} steps, then A1 + G; E1 frozen" if plan.transfer else
                 "from scratch: G, E1 and A1 train from the start")
        weights = ", ".join(f"{k}: {v:g}" for k, v in injection_weights(plan.transfer).items())
        loop.notes = [start, (f"{len(names)} classes, {len(items)} photos; ch {cfg.ch}, class embedding rows "
                              f"{n_rows}; injection weights {{{weights}}}")]
        loop.recipe = (f"DeepI2I ({'BigGAN transfer' if plan.transfer else 'from scratch'}): hinge GAN + "
                       f"{cfg.lambda_rec:g} x the paper's per-sample L1 feature loss, Adam betas ({cfg.beta1}, "
                       f"{cfg.beta2}) eps {cfg.adam_eps:g}, lr G {cfg.lr_G:g}, D/E1/A1 {cfg.lr_D:g}")
        loop.dataset = ClassFolders(items, flip=cfg.flip, seed=cfg.seed)
        loop._val = None
        loop._frozen_G = False
        return loop

    # --- one step --------------------------------------------------------------------------------------

    def in_phase1(self) -> bool:
        return self.transfer and self.step < self.cfg.phase1_steps

    def trained(self) -> list[str]:
        """The generator-side optimisers this step steps."""
        if self.in_phase1():
            return ["A1"]
        return ["A1", "G"] if self.transfer else ["A1", "G", "E1"]

    def _freeze_G(self, frozen: bool) -> None:
        """Phase 1 in one process: no gradients for G's weights (they would not be used). Under DDP every
        parameter it was built with must get a gradient each step, so there G computes them and is not stepped."""
        if frozen != self._frozen_G and not self.d.enabled:
            self.G.requires_grad_(not frozen)
            self._frozen_G = frozen

    def iteration(self, batch: dict[str, Any], epoch: int) -> None:
        self.report_skipped(batch["skipped"])
        dev = self.d.device
        x = batch["image"].to(dev, non_blocking=True)
        y = batch["label"].to(dev, non_blocking=True)
        source = batch["source"].to(dev, non_blocking=True)
        n, classes = len(x), len(self.names)
        losses: dict[str, Tensor] = {}
        # D: real photos with their labels against translations of the second photos into random classes
        self.D.requires_grad_(True)
        with self.precision.autocast():
            with torch.no_grad():
                c = torch.randint(classes, (n,), device=dev)
                fake = self.model_T(source, c, torch.randn(n, self.cfg.dim_z, device=dev))
            logits = self.model_D(torch.cat([x, fake.to(x.dtype)]), torch.cat([y, c])).float()
        losses["D_real"] = F.relu(1 - logits[:n]).mean()
        losses["D_fake"] = F.relu(1 + logits[n:]).mean()
        self._step(["D"], losses["D_real"] + losses["D_fake"], "D")
        # the generator side: hinge G loss + the per-sample feature loss against each translation's own input
        self.D.requires_grad_(False)  # it only passes gradients through (no DDP sync needed)
        self._freeze_G(self.in_phase1())
        with self.precision.autocast():
            c = torch.randint(classes, (n,), device=dev)
            out = self.model_T(source, c, torch.randn(n, self.cfg.dim_z, device=dev))
            losses["G_adv"] = hinge_g_loss(self.D(out, c).float())
            with torch.no_grad():
                target = self.D.features(source)
            losses["G_rec"] = feature_loss(self.D.features(out), target)
        loss_G = losses["G_adv"] + self.cfg.lambda_rec * losses["G_rec"]
        self._step(self.trained(), loss_G, "G")
        self.finish_step({**losses, "G": loss_G}, epoch)

    def _step(self, names: list[str], loss: Tensor, scaler_name: str) -> None:
        """One backward, then a step of each named optimiser (through the grad scaler when fp16 needs one)."""
        optimizers = [self.optimizers[name] for name in names]
        every = [opt for opt in self.optimizers.values() if opt is not None]
        for opt in every:  # gradients of networks not stepped now must not pile up for a later step
            opt.zero_grad(set_to_none=True)
        scaler = self.scalers.get(scaler_name)
        if scaler is None:
            loss.backward()
            for opt in optimizers:
                opt.step()
        else:
            scaler.scale(loss).backward()
            for opt in optimizers:
                scaler.step(opt)
            scaler.update()

    # --- samples, the model file ------------------------------------------------------------------------

    def sample_columns(self) -> list[int]:
        """Every class, or SAMPLE_CLASSES spread over them."""
        classes = list(range(len(self.names)))
        return classes if len(classes) <= SAMPLE_CLASSES else spread(classes, SAMPLE_CLASSES)

    def sample_rows(self) -> list[list[np.ndarray]]:
        """Per fixed input (spread over the data, so several classes), [input | its translation into each of up to
        SAMPLE_CLASSES classes], in eval mode with the same noise at every sample."""
        if self._val is None:
            self._val = torch.stack([load_square(path) for path, _ in spread(self.items, SAMPLE_INPUTS)])
        columns = self.sample_columns()
        x = self._val.to(self.d.device)
        k = len(columns)
        z = torch.randn(1, self.cfg.dim_z, generator=torch.Generator().manual_seed(self.cfg.seed)).to(self.d.device)
        self.translator.eval()
        try:
            inputs = x.repeat_interleave(k, 0)
            classes = torch.tensor(columns, device=self.d.device).repeat(len(x))
            out = self.translator(inputs, classes, z.expand(len(inputs), -1)).float().cpu()
        finally:
            self.translator.train()
            if self.transfer:
                self.E1.eval()
        return [[to_uint8(self._val[i]), *(to_uint8(out[i * k + j]) for j in range(k))] for i in range(len(x))]

    def model_file(self) -> ModelFile:
        parts = {"E1": self.E1.state_dict(), "A1": self.A1.state_dict()}
        return self.G.state_dict(), parts, model_hparams(self.cfg, self.n_rows, self.transfer, self.names)

    def labels(self) -> dict[str, Any]:
        return {"classes": [[i, name] for i, name in enumerate(self.names)]}

    def state_parts(self) -> dict[str, Any]:
        return {"D": self.D, **super().state_parts()}

    def data_description(self) -> str:
        return f"{len(self.names)} classes in {self.cfg.images}"


LOOP = DeepI2ILoop
train, validate = LOOP.train, LOOP.validate
