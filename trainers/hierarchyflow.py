"""HierarchyFlow training (Fan et al., 2023), producing our engine's HierarchyFlow model (a ContentStyle model).

The network is engine.models.hierarchyflow.HierarchyFlow, the official key layout, so every checkpoint loads in
the editor and exports to the official container. Each step draws random (content, style) pairs, stylises the
content with the style, clamps the output to [0, 1] and measures it with a frozen VGG-19:

    loss = L_c + lambda L_s, lambda = 0.1
    L_c  = MSE of the channel-normalised relu4_1 features of output and content (per-channel mean, unbiased std,
           1e-5 added to the variance)
    L_s  = the aligned-style loss (trainers.style_losses.aligned_style_loss), output vs style, k of the channels

Recipes (the `recipe` option; `k`, `lr` and `style_layers` override one value each):
- official (default): the released code, as the fixtures README records it: style loss on relu1_1, relu2_1,
  relu3_1 and relu4_1, k 0.8, Adam lr 1e-4 betas (0.9, 0.999), a cosine from lr to 0 over the run stepped every
  iteration, batch 1 per process, 300,000 iterations, RandomResizedCrop to 256 x 512 (area 0.8-1.0, aspect
  3/4-4/3) + horizontal flip of content and style, network HF (out_channels [30, 120], weight_type learned,
  reflection padding 10), a checkpoint every 500 iterations.
- paper: sec. 3.2.3 and 4: style loss on relu1_1..relu3_1, lr 1e-5, k 0.7 (Table 7's best SSIM; the text's
  default is 0.8), lambda 0.1. The paper writes the terms as Euclidean norms summed over the kept channels
  (eqs. 5, 7); both recipes average squared errors as the code does (lambda 0.1 is tuned for those).

Ours, where we differ from the released code:
- The schedule is CosineAnnealingLR's closed form (a LambdaLR), the same values, so a resumed run with a new
  total_steps follows the new curve instead of CosineAnnealingLR's periodic continuation.
- With batch > 1 the aligned-style loss masks each sample by its own channels (the code's std mask uses the
  whole batch's indices; see style_losses).
- Pairs are drawn from (seed, rank, step) alone, with replacement, so resuming is exact; the code's loader
  pairs each content photo of a shuffled epoch with a random style image.
- The VGG-19 may also be torchvision's (fed ImageNet-normalised RGB) where vgg_normalised.pth is missing;
  zero instead of reflection padding, so its losses differ somewhat from the official encoder's.
- Options the code lacks: `out_channels` (tiny networks), `max_images`, mixed precision on CUDA.

Model file: the flow's state dict (official keys without `module.`), metadata {"method": "hierarchyflow",
"hparams": config_hparams(...), "name", "provenance"}, registered in the catalog as a ContentStyle model.

    python -m trainers hierarchyflow --content DIR --style DIR --out RUN [options] [--resume] [--validate-only]
    python -m trainers hierarchyflow export RUN_OR_CHECKPOINT --out DIR     (official <step>.ckpt.pth.tar)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from engine.api import Task
from engine.checkpoints import read_checkpoint
from engine.models import hierarchyflow as arch
from engine.storage import atomic_write
from trainers.checkpointing import ResumePoint, read_state
from trainers.common import TrainError
from trainers.configs import (
    HF_VARIANTS,
    HF_VGG_FILES,
    VGG19_FILE,
    VGG_NORMALISED_FILE,
    HierarchyFlowConfig,
    find_vgg19_weights,
)
from trainers.datasets import _reason, scan_images
from trainers.distributed import Dist, seed_everything, wrap_ddp
from trainers.exporting import checkpoint_to_export, export_folder
from trainers.loop import ModelFile, Summary, TrainingLoop, spread
from trainers.stepping import Batches, step_batches
from trainers.style_losses import (
    LAYERS,
    aligned_style_loss,
    content_loss,
    load_style_encoder,
    random_vgg_normalised,
)

METHOD = arch.METHOD
RECIPES = {  # k, lr, style layers
    "official": (0.8, 1e-4, LAYERS),
    "paper": (0.7, 1e-5, LAYERS[:3]),
}
RANDOM_VGG = "random"  # vgg_weights value for tests: random VGG weights (the losses mean little)
RATIO = (3 / 4, 4 / 3)  # RandomResizedCrop's aspect ratios (torchvision's default, the official config's)
MIN_CROP = 16  # the VGG's relu4_1 (1/8 size) needs 2 px a side for its statistics and reflection padding
# Options that shape the saved network or the data stream: a resumed run must keep them.
FIXED_ON_RESUME = ("variant", "out_channels", "weight_type", "pad_size", "crop_height", "crop_width", "scale_min",
                   "scale_max", "seed", "batch_size")


# --- set-up ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What the options make of a run: the loss, the learning rate, the network's widths and the folders."""

    k: float
    lr: float
    layers: tuple[int, ...]  # indices into LAYERS of the style loss
    out_channels: tuple[int, ...]
    content: Path
    style: Path


def plan(cfg: HierarchyFlowConfig) -> Plan:
    """Check the options against each other; every problem is one TrainError line."""
    if not cfg.content or not cfg.style:
        raise TrainError("--content DIR and --style DIR are required (a folder of content photos and a folder of "
                         "style images)")
    k, lr, layers = RECIPES[cfg.recipe]
    k = k if cfg.k is None else cfg.k
    lr = lr if cfg.lr is None else cfg.lr
    if k == 0 or k > 1 or math.isnan(k):
        raise TrainError(f"k must be in (0, 1] (the share of channels the style loss matches), or negative for the "
                         f"plain style loss, got {k}")
    if lr <= 0:
        raise TrainError("lr must be positive")
    if cfg.lambda_style < 0:
        raise TrainError("lambda_style cannot be negative")
    if not (0 <= cfg.beta1 < 1 and 0 <= cfg.beta2 < 1):
        raise TrainError("beta1 and beta2 must be in [0, 1)")
    if cfg.pad_size < 0:
        raise TrainError("pad_size cannot be negative")
    smallest = max(MIN_CROP, cfg.pad_size + 1)
    if min(cfg.crop_height, cfg.crop_width) < smallest:
        raise TrainError(f"crop_height and crop_width must be at least {smallest} px (the VGG's relu4_1 and the "
                         f"reflection padding of {cfg.pad_size}), got {cfg.crop_height}x{cfg.crop_width}")
    if not 0 < cfg.scale_min <= cfg.scale_max <= 1:
        raise TrainError("the crop scales must satisfy 0 < scale_min <= scale_max <= 1")
    names = tuple(n.strip() for n in cfg.style_layers.split(",") if n.strip()) or layers
    if any(n not in LAYERS for n in names) or len(set(names)) != len(names):
        raise TrainError(f"style_layers must name distinct layers of {', '.join(LAYERS)}, got {cfg.style_layers!r}")
    return Plan(k, lr, tuple(LAYERS.index(n) for n in names), out_channels(cfg), Path(cfg.content), Path(cfg.style))


def out_channels(cfg: HierarchyFlowConfig) -> tuple[int, ...]:
    """The block widths: `out_channels` if given, else the variant's."""
    if not cfg.out_channels.strip():
        return HF_VARIANTS[cfg.variant]
    try:
        widths = tuple(int(part) for part in cfg.out_channels.split(",") if part.strip())
    except ValueError:
        raise TrainError(f"out_channels must be comma-separated widths such as 30,120, got {cfg.out_channels!r}")\
            from None
    previous = 3
    for width in widths:
        if width < 2 * previous or width % previous:
            raise TrainError(f"out_channels: each width must be a multiple (at least twice) of the one before, "
                             f"starting from 3 (RGB), got {cfg.out_channels!r}")
        previous = width
    if not widths:
        raise TrainError("out_channels must name at least one width")
    return widths


def scan(cfg: HierarchyFlowConfig, p: Plan) -> tuple[tuple[list[Path], list[Path]], Summary]:
    """((usable content photos, usable style images), summary). Any size works (crops are resized to the training
    size); the summary counts them as images_A (content) and images_B (style), the two folders' keys of the
    training dialog's dataset check (with `domain_names` saying what they hold), with errors and warnings
    prefixed "content: " / "style: "."""
    summary: dict[str, Any] = {"images_A": 0, "images_B": 0, "folder_A": str(p.content), "folder_B": str(p.style),
                               "domain_names": {"A": "content photos", "B": "style images"},
                               "sizes": {}, "unreadable": [], "crop_size": f"{cfg.crop_height}x{cfg.crop_width}",
                               "errors": [], "warnings": []}
    found = []
    for key, role, folder in (("A", "content", p.content), ("B", "style", p.style)):
        paths, part = scan_images(folder, crop_size=1, max_images=cfg.max_images)
        found.append(paths)
        summary[f"images_{key}"] = part["images"]
        for size, count in part["sizes"].items():
            summary["sizes"][size] = summary["sizes"].get(size, 0) + count
        summary["unreadable"] += [f"{role}/{item}" for item in part["unreadable"]]
        summary["errors"] += [f"{role}: {m.replace('photo folder', f'{role} folder')}" for m in part["errors"]]
        summary["warnings"] += [f"{role}: {m}" for m in part["warnings"]]
    return (found[0], found[1]), summary


def style_encoder(cfg: HierarchyFlowConfig) -> tuple[nn.Module, str]:
    """(frozen VGG encoder, a note for the log). No weights and no "random": a TrainError saying what to put where."""
    if cfg.vgg_weights == RANDOM_VGG:
        return random_vgg_normalised(), "VGG-19 with RANDOM weights (for tests): the losses mean little"
    try:
        path = find_vgg19_weights(cfg.vgg_weights or None, HF_VGG_FILES)
        if path is None:
            raise TrainError(f"no VGG-19 weights: put the AdaIN encoder {VGG_NORMALISED_FILE} (the official "
                             f"HierarchyFlow trainer's) or torchvision's {VGG19_FILE} in $TORCH_HOME/hub/checkpoints "
                             "(~/.cache/torch/hub/checkpoints), or give its path as vgg_weights")
        encoder, kind = load_style_encoder(path)
    except (OSError, ValueError) as exc:
        raise TrainError(str(exc).splitlines()[0]) from None
    return encoder, f"VGG-19: {kind} from {path}"


def cosine(total_steps: int) -> Callable[[int], float]:
    """CosineAnnealingLR's closed form with eta_min 0, as an lr factor: 1 at step 0, 0 at total_steps."""
    return lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))


# --- data ------------------------------------------------------------------------------------------------


def random_resized_box(size: tuple[int, int], rng: np.random.Generator, scale: tuple[float, float]) -> tuple[
        int, int, int, int]:
    """torchvision's RandomResizedCrop choice for a W x H image: (left, top, w, h) of area scale x W H and aspect
    in RATIO (log-uniform), 10 tries, else the centre crop clamped to RATIO."""
    width, height = size
    area = width * height
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(math.log(RATIO[0]), math.log(RATIO[1])))
        w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            return int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1)), w, h
    ratio = width / height
    if ratio < RATIO[0]:
        w, h = width, round(width / RATIO[0])
    elif ratio > RATIO[1]:
        w, h = round(height * RATIO[1]), height
    else:
        w, h = width, height
    return (width - w) // 2, (height - h) // 2, w, h


def to_tensor(image: Image.Image) -> Tensor:
    """PIL RGB -> (3, H, W) float in [0, 1] (the official ToTensor, no normalisation)."""
    return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).float().div_(255)


class ContentStyleCrops:
    """Step -> dict(content, style (batch, 3, H, W) in [0, 1], skipped): `batch` random pairs, each image a
    RandomResizedCrop resized to (H, W) (bilinear) and flipped at random. Every choice comes from (seed, rank,
    step) alone, so a resumed run sees the same pairs. An unreadable file is replaced by the next of its folder
    and named in `skipped`."""

    def __init__(self, content: list[Path], style: list[Path], *, size: tuple[int, int], batch: int,
                 scale: tuple[float, float], seed: int = 0, rank: int = 0) -> None:
        self.folders = (content, style)
        self.size, self.batch, self.scale = size, batch, scale
        self.seed, self.rank = seed, rank

    def __getitem__(self, step: int) -> dict[str, Any]:
        rng = np.random.default_rng([self.seed, self.rank, int(step)])
        skipped: list[str] = []
        pairs = [[self._crop(paths, rng, skipped) for paths in self.folders] for _ in range(self.batch)]
        return {"content": torch.stack([c for c, _ in pairs]), "style": torch.stack([s for _, s in pairs]),
                "skipped": "; ".join(skipped)}

    def _crop(self, paths: list[Path], rng: np.random.Generator, skipped: list[str]) -> Tensor:
        start = int(rng.integers(len(paths)))
        for i in range(len(paths)):
            path = paths[(start + i) % len(paths)]
            try:
                with Image.open(path) as im:
                    image = im.convert("RGB")
            except (OSError, ValueError, SyntaxError) as exc:  # Pillow raises SyntaxError for broken PNGs
                skipped.append(f"{path.name}: {_reason(exc)}")
                continue
            left, top, w, h = random_resized_box(image.size, rng, self.scale)
            height, width = self.size
            image = image.resize((width, height), Image.BILINEAR, box=(left, top, left + w, top + h))
            if rng.random() < 0.5:
                image = image.transpose(Image.FLIP_LEFT_RIGHT)
            return to_tensor(image)
        raise ValueError("no image of the folder can be read: " + "; ".join(skipped[:3]))


def fixed_images(paths: list[Path], size: tuple[int, int]) -> Tensor:
    """Up to 4 images spread over the (sorted) folder, resized to (H, W) as the official test does."""
    images = []
    for path in spread(paths):
        with Image.open(path) as im:
            images.append(to_tensor(im.convert("RGB").resize((size[1], size[0]), Image.BILINEAR)))
    return torch.stack(images)


def to_uint8(image: Tensor) -> np.ndarray:
    """(3, H, W) in [0, 1] -> HxWx3 uint8."""
    return (image.float().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()


# --- export to the official container --------------------------------------------------------------------


def export(source: Path, out: Path) -> list[Path]:
    """RUN (its latest checkpoint) or a checkpoint -> DIR/<step>.ckpt.pth.tar, the official trainer's container:
    {"step", "state_dict" (keys prefixed `module.`, as its DDP model saves them), "optimizer" (Adam's state dict,
    from the training-state file beside the checkpoint; without one, a fresh Adam's: the weights are what the
    official test loads)}."""
    ckpt, state_path = checkpoint_to_export(source, method=METHOD, title="HierarchyFlow", detect=arch.detect)
    provenance = ckpt.metadata.get("provenance", {})
    step = int(provenance.get("step", 0))
    if state_path is not None:
        optimizer = read_state(state_path)["optimizer"]
    else:
        flow = arch.build(ckpt.metadata["hparams"])
        config = provenance.get("config", {})
        lr = config.get("lr") or RECIPES[config.get("recipe", "official")][1]
        optimizer = torch.optim.Adam(flow.parameters(), lr=lr).state_dict()
    with torch.device("meta"):  # the official key order (safetensors files keep theirs sorted)
        order = arch.build(ckpt.metadata["hparams"]).state_dict()
    weights = {f"module.{k}": ckpt.state_dict[k].float() for k in order}
    container = {"step": step, "state_dict": weights, "optimizer": optimizer}
    path = out / f"{step}.ckpt.pth.tar"
    with export_folder(out):
        atomic_write(path, lambda f: torch.save(container, f))
    return [path]


# --- training -------------------------------------------------------------------------------------------


class HierarchyFlowLoop(TrainingLoop):
    arch = arch
    task = Task.CONTENT_STYLE
    fixed_on_resume = FIXED_ON_RESUME
    sample_caption = "content | style | stylised"
    export = staticmethod(export)
    export_help = ("Write a checkpoint as the official HierarchyFlow trainer does (<step>.ckpt.pth.tar with "
                   "module.-prefixed keys).")
    check = staticmethod(plan)
    scan = staticmethod(scan)

    @classmethod
    def build(cls, cfg: HierarchyFlowConfig, plan: Plan, data: tuple[list[Path], list[Path]], d: Dist,
              run_dir: Path, point: ResumePoint | None, state: Mapping[str, Any] | None) -> HierarchyFlowLoop:
        encoder, vgg_note = style_encoder(cfg)
        seed_everything(cfg.seed)  # the same initial weights on every rank (DDP would broadcast rank 0's anyway)
        flow = arch.HierarchyFlow(pad_size=cfg.pad_size, in_channel=3, out_channels=plan.out_channels,
                                  weight_type=cfg.weight_type).train()  # PyTorch's default init, as the code
        if point is not None:
            flow.load_state_dict(read_checkpoint(point.model).state_dict)
        flow.to(d.device)
        optimizer = torch.optim.Adam(flow.parameters(), lr=plan.lr, betas=(cfg.beta1, cfg.beta2))
        loop = cls(cfg, d, run_dir, point=point, state=state)
        layers = ", ".join(LAYERS[i] for i in plan.layers)
        style = "plain style loss" if plan.k < 0 else f"aligned-style loss k {plan.k:g}"
        terms = f"content relu4_1 + {cfg.lambda_style:g} x {style} on {layers}; lr {plan.lr:g}"
        loop.notes = [vgg_note, f"recipe {cfg.recipe}: {terms}",
                      (f"network out_channels {list(plan.out_channels)}, weight_type {cfg.weight_type}; images: "
                       f"{len(data[0])} content, {len(data[1])} style")]
        if cfg.vgg_weights == RANDOM_VGG:
            loop.warnings.append(vgg_note)
        loop.plan, loop.paths = plan, data
        loop.recipe = f"HierarchyFlow ({cfg.recipe} recipe): {terms}, Adam betas ({cfg.beta1}, {cfg.beta2}), cosine"
        loop.flow, loop.model = flow, wrap_ddp(flow, d)
        loop.encoder = encoder.to(d.device)
        loop.optimizers = {"flow": optimizer}
        loop.schedulers = [torch.optim.lr_scheduler.LambdaLR(optimizer, cosine(cfg.total_steps))]
        loop.scalers = {"flow": loop.precision.scaler()}
        loop.dataset = ContentStyleCrops(*data, size=(cfg.crop_height, cfg.crop_width), batch=cfg.batch_size,
                                         scale=(cfg.scale_min, cfg.scale_max), seed=cfg.seed, rank=d.rank)
        loop._val = None
        return loop

    def batches(self) -> Batches:
        return step_batches(self.dataset, workers=self.cfg.workers, d=self.d, start_step=self.step,
                            total_steps=self.cfg.total_steps)

    def iteration(self, batch: dict[str, Any], epoch: int) -> None:
        self.report_skipped(batch["skipped"])
        content = batch["content"].to(self.d.device, non_blocking=True)
        style = batch["style"].to(self.d.device, non_blocking=True)
        with self.precision.autocast():
            with torch.no_grad():  # the targets: one VGG pass for content and style
                targets = self.encoder(torch.cat([content, style]))
            output = self.model(content, style).float().clamp(0, 1)  # clamped before the VGG, as the code
            feats = self.encoder(output)
        n = len(content)
        loss_c = content_loss(feats[-1].float(), targets[-1][:n].float())
        loss_s = aligned_style_loss([feats[i] for i in self.plan.layers], [targets[i][n:] for i in self.plan.layers],
                                    self.plan.k)
        loss = loss_c + self.cfg.lambda_style * loss_s
        self.update("flow", loss)
        self.finish_step({"loss": loss, "loss_c": loss_c, "loss_s": loss_s}, epoch)

    def sample_rows(self) -> list[list[np.ndarray]]:
        size = (self.cfg.crop_height, self.cfg.crop_width)
        if self._val is None:
            self._val = [fixed_images(paths, size) for paths in self.paths]
        content, style = self._val
        style = style[torch.arange(len(content)) % len(style)]
        out = self.flow(content.to(self.d.device), style.to(self.d.device)).float().cpu()
        return [[to_uint8(c), to_uint8(s), to_uint8(o)] for c, s, o in zip(content, style, out, strict=True)]

    def model_file(self) -> ModelFile:
        hparams = arch.config_hparams(out_channels=self.plan.out_channels, in_channel=3,
                                      weight_type=self.cfg.weight_type, pad_size=self.cfg.pad_size)
        return self.flow.state_dict(), {}, hparams

    def state_parts(self) -> dict[str, Any]:  # the keys its saved runs' state files use
        return {"optimizer": self.optimizers["flow"], "scheduler": self.schedulers[0], "scaler": self.scalers["flow"]}

    def data_description(self) -> str:
        return f"content {self.plan.content}, style {self.plan.style}"


LOOP = HierarchyFlowLoop
train, validate = LOOP.train, LOOP.validate
