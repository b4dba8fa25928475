"""Swapping Autoencoder training (Park et al., NeurIPS 2020; thesis ch. 4), producing our engine's E and G.

The recipe: each batch of N photos is N/2 pairs (x1, x2) = (first half, second half). The encoder gives
structure and texture codes; the generator reconstructs x1 and makes the hybrid of x1's structure with
x2's texture (the texture codes rolled by half the batch). Losses of E and G: L1 reconstruction (1), the
non-saturating GAN loss of the image discriminator on the reconstructions and the hybrids (0.5 each,
lambda_GAN 1), and the co-occurrence patch GAN (lambda_PatchGAN 1): 8 random crops of 1/8 to 1/4 of the
hybrid's sides, resized to one patch size, must look to D_patch like they come from the image whose 8
reference crops it sees (x2). D sees the real photos, the reconstructions and the hybrids; D_patch real
crops of x2 against x2's references. Both discriminators are StyleGAN2's residual design
(trainers.nets.stylegan2_d) with lazy R1 every 16 steps (gamma 10 for D, 1 for D_patch). Adam lr 0.002,
betas (0, 0.99) for all four networks, a constant learning rate.

    python -m trainers sae --images DIR --out RUN [options] [--resume] [--validate-only]
    python -m trainers sae export RUN_OR_CHECKPOINT --out DIR     (official latest_checkpoint.pth)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.api import Task
from engine.checkpoints import SPADE_OPTIONS_FILE, CheckpointError, read_checkpoint
from engine.models import sae as arch
from engine.storage import atomic_write, atomic_write_bytes
from trainers import runner
from trainers.checkpointing import (
    ResumePoint,
    find_resume_point,
    read_state,
    save_checkpoint,
    step_stem,
)
from trainers.common import (
    Emit,
    TrainError,
    no_emit,
    now_iso,
    prepare_run_dir,
    save_grid,
)
from trainers.configs import SaeConfig
from trainers.datasets import PhotoFolder, scan_images
from trainers.distributed import (
    Dist,
    Precision,
    choose_precision,
    mean_over_ranks,
    optimizer_step,
    restore_rng,
    rng_rows,
    seed_everything,
    setup_distributed,
    wrap_ddp,
)
from trainers.losses import logistic_d_loss, logistic_g_loss, r1_penalty
from trainers.nets.stylegan2_d import CooccurrenceDiscriminator, ImageDiscriminator, patch_feature_size
from trainers.stepping import begin_run, checkpoint_on_main, drive, epoch_batches

METHOD = "sae"
LICENSE = "ours (trained by the user with I2I Studio)"
RECIPE = ("Swapping Autoencoder (Park et al. 2020): L1 reconstruction + non-saturating GAN on reconstructions and "
          "swaps (0.5 / 0.5) + co-occurrence patch GAN, StyleGAN2 residual discriminators, lazy R1 (10 image, "
          "1 patch, every 16 steps), Adam lr 0.002 betas (0, 0.99)")
SAMPLE_ROWS = 4
SAMPLE_CAPTION = "photo | reconstruction | its structure with the next photo's texture | that photo"
# The official option names that shape E and G (engine.models.sae.config_hparams takes them).
NETWORK_OPTIONS = ("spatial_code_ch", "global_code_ch", "netE_scale_capacity", "netE_num_downsampling_sp",
                   "netE_num_downsampling_gl", "netE_nc_steepness", "netG_scale_capacity",
                   "netG_num_base_resnet_layers")
# Options that shape the saved networks or the data stream: a resumed run must keep them.
FIXED_ON_RESUME = (*NETWORK_OPTIONS, "crop_size", "load_size", "netD_scale_capacity", "netPatchD_scale_capacity",
                   "patch_size", "patch_num_crops", "seed", "batch_size")
POSITIVE = ("crop_size", "total_steps", "batch_size", "patch_num_crops", "R1_once_every", "log_every",
            "sample_every", "checkpoint_every", "keep_checkpoints")


# --- set-up ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What the options make of the networks: E/G hparams and the patch discriminator's input size."""

    hparams: dict[str, Any]
    patch_size: int


def plan(cfg: SaeConfig) -> Plan:
    """Check the options against each other; every problem is one TrainError line."""
    for name in POSITIVE:
        if getattr(cfg, name) < 1:
            raise TrainError(f"{name} must be at least 1")
    if cfg.batch_size % 2:
        raise TrainError(f"batch_size must be even (pairs of photos: one gives the structure, the other the "
                         f"texture), got {cfg.batch_size}")
    try:
        hparams = arch.config_hparams(**{k: getattr(cfg, k) for k in NETWORK_OPTIONS})
    except ValueError as exc:
        raise TrainError(str(exc)) from None
    cell, smallest = hparams["size_multiple"], hparams["min_size"]
    if cfg.crop_size % cell or cfg.crop_size < smallest:
        raise TrainError(f"crop_size must be a multiple of {cell} and at least {smallest} px with "
                         f"netE_num_downsampling_sp {cfg.netE_num_downsampling_sp} and netE_num_downsampling_gl "
                         f"{cfg.netE_num_downsampling_gl}, got {cfg.crop_size}")
    if not 0 < cfg.patch_min_scale <= cfg.patch_max_scale <= 1:
        raise TrainError("patch scales must satisfy 0 < patch_min_scale <= patch_max_scale <= 1")
    patch_size = cfg.patch_size or cfg.crop_size // 2
    try:
        patch_feature_size(patch_size)
    except ValueError as exc:
        raise TrainError(str(exc)) from None
    for name in ("netD_scale_capacity", "netPatchD_scale_capacity", "lr"):
        if getattr(cfg, name) <= 0:
            raise TrainError(f"{name} must be positive")
    return Plan(hparams, patch_size)


def validate(cfg: SaeConfig) -> dict[str, Any]:
    """The `--validate-only` summary (trainers.datasets.scan_images) of this config's photo folder."""
    if not cfg.images:
        raise TrainError("--images DIR is required (a folder of photos)")
    return scan_images(Path(cfg.images), crop_size=cfg.crop_size, max_images=cfg.max_images)[1]


class SwappingAutoencoder(nn.Module):
    """E and G in one module (its state dict has the official `E.*` / `G.*` keys), so DDP reduces both in
    one backward. forward(photos) -> (reconstructions of the first half, hybrids: the first half's
    structure with the second half's texture)."""

    def __init__(self, encoder: arch.SAEEncoder, generator: arch.SAEGenerator) -> None:
        super().__init__()
        self.E, self.G = encoder, generator

    def forward(self, photos: Tensor) -> tuple[Tensor, Tensor]:
        structure, texture = self.E(photos)
        half = photos.shape[0] // 2
        swapped = texture.roll(half, 0)  # pair i takes the texture of photo i + N/2
        out = self.G(structure[:half].repeat(2, 1, 1, 1), torch.cat([texture[:half], swapped[:half]]))
        return out[:half], out[half:]


def random_crops(images: Tensor, count: int, *, size: int, min_scale: float, max_scale: float) -> Tensor:
    """(B, count, 3, size, size): per image, `count` crops whose sides are independently min_scale..max_scale
    of the image's, at random places, resized bilinearly to size x size (differentiable in `images`).

    Drawn from the global torch RNG of the images' device, so a resumed run draws the same crops."""
    b = images.shape[0]
    sides = torch.rand(b, count, 2, device=images.device) * (max_scale - min_scale) + min_scale
    centres = (torch.rand(b, count, 2, device=images.device) * 2 - 1) * (1 - sides)
    # grid_sample's coordinates span [-1, 1]: a crop of side fraction s centred at c covers c - s .. c + s
    steps = (torch.arange(size, device=images.device, dtype=torch.float32) + 0.5) / size * 2 - 1
    x = centres[..., 0, None] + sides[..., 0, None] * steps  # (B, count, size)
    y = centres[..., 1, None] + sides[..., 1, None] * steps
    grid = torch.stack(torch.broadcast_tensors(x[:, :, None, :], y[:, :, :, None]), -1)  # (B, count, size, size, 2)
    grid = grid.reshape(b, count * size, size, 2).to(images.dtype)
    crops = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return crops.view(b, 3, count, size, size).transpose(1, 2)


@contextmanager
def private_rng(device: torch.device, seed: int) -> Iterator[None]:
    """Seeded random numbers that leave the run's own streams untouched (samples must not change training)."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


# --- training -------------------------------------------------------------------------------------------


def train(cfg: SaeConfig, *, emit: Emit, should_stop: Callable[[], bool], resume: bool = False) -> Path:
    """Train (or continue, with resume) the run in cfg.out; returns the final model checkpoint."""
    d = setup_distributed(cfg.device)
    run_dir = prepare_run_dir(Path(cfg.out))
    layout = plan(cfg)
    if not cfg.images:
        raise TrainError("--images DIR is required (a folder of photos)")
    paths, summary = scan_images(Path(cfg.images), crop_size=cfg.crop_size, max_images=cfg.max_images)
    if summary["errors"]:
        raise TrainError("; ".join(summary["errors"]))
    point, notes = begin_run(cfg, d, run_dir, method=METHOD, resume=resume)

    loop = _Loop.build(cfg, d, run_dir, layout, paths, point, notes)
    emit("start", step=loop.step, total_steps=cfg.total_steps, method=METHOD, world_size=d.world_size,
         device=str(d.device), config=asdict(cfg), notes=notes)
    loop.emit = emit
    for warning in summary["warnings"]:
        emit("log", level="warning", message=warning)

    batches = epoch_batches(loop.dataset, batch_size=cfg.batch_size, workers=cfg.workers, seed=cfg.seed, d=d,
                            start_step=loop.step, items="photos")
    return drive(loop, batches, point=point, should_stop=should_stop)


@dataclass
class _Loop:
    """One iteration, logging, samples and checkpoints; the state a run carries from step to step."""

    cfg: SaeConfig
    d: Dist
    run_dir: Path
    name: str
    layout: Plan
    autoencoder: SwappingAutoencoder
    netD: ImageDiscriminator | None
    netPatchD: CooccurrenceDiscriminator | None
    model_G: nn.Module  # the autoencoder, or its DDP wrapper
    model_D: nn.Module | None
    model_PatchD: nn.Module | None
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer | None
    scaler_G: torch.amp.GradScaler | None
    scaler_D: torch.amp.GradScaler | None
    precision: Precision
    dataset: PhotoFolder
    step: int
    model_id: str | None  # the run's catalog entry, once it has one
    emit: Emit = no_emit
    last_logged: dict[str, float] | None = None

    @classmethod
    def build(cls, cfg: SaeConfig, d: Dist, run_dir: Path, layout: Plan, paths: list[Path],
              point: ResumePoint | None, notes: list[str]) -> _Loop:
        """Networks and optimisers, fresh or restored from `point`; appends to `notes`."""
        seed_everything(cfg.seed)  # the same initial weights on every rank (DDP would broadcast rank 0's anyway)
        encoder, generator = arch.build(layout.hparams)  # the official initialisation
        autoencoder = SwappingAutoencoder(encoder, generator)
        netD = ImageDiscriminator(size=cfg.crop_size, capacity=cfg.netD_scale_capacity) if cfg.lambda_GAN else None
        netPatchD = (CooccurrenceDiscriminator(patch_size=layout.patch_size, capacity=cfg.netPatchD_scale_capacity)
                     if cfg.lambda_PatchGAN else None)
        state: dict[str, Any] | None = None
        if point is not None:
            autoencoder.load_state_dict(read_checkpoint(point.model).state_dict)
            state = read_state(point.state)
            for net, key, option in ((netD, "netD", "lambda_GAN"), (netPatchD, "netPatchD", "lambda_PatchGAN")):
                if (net is None) != (state.get(key) is None):
                    raise TrainError(f"cannot resume with {option} switched {'off' if net is None else 'on'}: the "
                                     "run's discriminators would not match its saved ones")
                if net is not None:
                    net.load_state_dict(state[key])
        discriminators = [net.to(d.device) for net in (netD, netPatchD) if net is not None]
        autoencoder.to(d.device)
        betas = (cfg.beta1, cfg.beta2)
        opt_G = torch.optim.Adam(autoencoder.parameters(), lr=cfg.lr, betas=betas)
        opt_D = torch.optim.Adam([p for net in discriminators for p in net.parameters()], lr=cfg.lr,
                                 betas=betas) if discriminators else None
        precision = choose_precision(d.device, cfg.amp)
        scaler_G, scaler_D = precision.scaler(), precision.scaler()
        if d.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # a fixed crop size: let cuDNN pick its fastest kernels
        torch.manual_seed(cfg.seed + d.rank)  # per-rank noise and patch crops from here on
        hp, cells = layout.hparams, cfg.crop_size // layout.hparams["size_multiple"]
        shapes = f"codes: structure {hp['spatial_code_ch']} x {cells} x {cells}, texture {hp['global_code_ch']}"
        notes[:0] = [f"precision: {precision.name}", f"{shapes}; patches {layout.patch_size} px"]
        if netD is None or netPatchD is None:
            notes.append("off: " + ", ".join(n for n, net in (("image discriminator (lambda_GAN 0)", netD),
                                                              ("patch discriminator (lambda_PatchGAN 0)", netPatchD))
                                             if net is None))
        if state is not None:
            opt_G.load_state_dict(state["optimizer_G"])
            if opt_D is not None:
                opt_D.load_state_dict(state["optimizer_D"])
            for scaler, key in ((scaler_G, "scaler_G"), (scaler_D, "scaler_D")):
                if scaler is not None and state.get(key):
                    scaler.load_state_dict(state[key])
            same_streams = restore_rng(state["rng"], d)
            notes.append(f"resumed from step {state['step']}" + (
                "" if same_streams else " (new random streams: the run was saved with fewer processes)"))
        dataset = PhotoFolder(paths, crop_size=cfg.crop_size, load_size=cfg.load_size, seed=cfg.seed)
        return cls(cfg=cfg, d=d, run_dir=run_dir, name=cfg.name or run_dir.name, layout=layout,
                   autoencoder=autoencoder, netD=netD, netPatchD=netPatchD, model_G=wrap_ddp(autoencoder, d),
                   model_D=wrap_ddp(netD, d) if netD is not None else None,
                   model_PatchD=wrap_ddp(netPatchD, d) if netPatchD is not None else None,
                   opt_G=opt_G, opt_D=opt_D, scaler_G=scaler_G, scaler_D=scaler_D, precision=precision,
                   dataset=dataset, step=int(state["step"]) if state else 0,
                   model_id=point.info.get("model_id") if point else None)

    def __post_init__(self) -> None:
        self._sums: dict[str, Tensor] = {}
        self._counts: dict[str, int] = {}
        self._clock = (time.perf_counter(), self.step)
        self._reported: set[str] = set()
        self._val: Tensor | None = None

    def crops(self, images: Tensor) -> Tensor:
        cfg = self.cfg
        return random_crops(images, cfg.patch_num_crops, size=self.layout.patch_size,
                            min_scale=cfg.patch_min_scale, max_scale=cfg.patch_max_scale)

    def iteration(self, batch: dict[str, Any], epoch: int) -> None:
        self._report_skipped(batch["skipped"])
        photos = batch["image"].to(self.d.device, non_blocking=True)
        # one generator pass serves both updates (D first, then E and G against the updated D)
        with self.precision.autocast():
            rec, mix = self.model_G(photos)
        losses: dict[str, Tensor] = {}
        if self.opt_D is not None:
            losses |= self._discriminator_step(photos, rec.detach(), mix.detach())
            if self.step % self.cfg.R1_once_every == 0:
                losses |= self._r1_step(photos)
        losses |= self._generator_step(photos, rec, mix)
        self.step += 1
        for key, value in losses.items():
            self._sums[key] = self._sums.get(key, 0) + value.detach().float()
            self._counts[key] = self._counts.get(key, 0) + 1
        if self.step % self.cfg.log_every == 0 or self.step == self.cfg.total_steps:
            self._log(epoch)

    def _discriminator_step(self, photos: Tensor, rec: Tensor, mix: Tensor) -> dict[str, Tensor]:
        """D: real photos vs reconstructions and hybrids; D_patch: x2's crops vs the hybrids' crops, each
        against x2's reference crops."""
        losses: dict[str, Tensor] = {}
        self._discriminators_trainable(True)
        with self.precision.autocast():
            if self.model_D is not None:
                logits = self.model_D(torch.cat([photos, rec.to(photos.dtype), mix.to(photos.dtype)])).float()
                losses["D"] = logistic_d_loss(logits[:len(photos)], logits[len(photos):])
            if self.model_PatchD is not None:
                texture_source = photos[len(photos) // 2:]
                n = self.cfg.patch_num_crops
                queries = torch.cat([self.crops(texture_source), self.crops(mix.to(photos.dtype))], 1)
                logits = self.model_PatchD(queries, self.crops(texture_source)).float()
                losses["D_patch"] = logistic_d_loss(logits[:, :n], logits[:, n:])
        optimizer_step(torch.stack(list(losses.values())).sum(), self.opt_D, self.scaler_D)
        return losses

    def _r1_step(self, photos: Tensor) -> dict[str, Tensor]:
        """Lazy R1 (StyleGAN2): gamma / 2 * |grad D(real)|^2, every R1_once_every steps, scaled by that
        interval. In float32: the double backward is where reduced precision hurts."""
        cfg, losses, weighted = self.cfg, {}, []
        if self.model_D is not None and cfg.lambda_R1:
            real = photos.detach().requires_grad_(True)
            logits = self.model_D(real)
            losses["D_R1"] = r1_penalty(logits, real)
            # + 0 * logits: the last bias gets a (zero) gradient too, or DDP would wait for it forever
            weighted += [losses["D_R1"] * (cfg.lambda_R1 / 2 * cfg.R1_once_every), logits.sum() * 0]
        if self.model_PatchD is not None and cfg.lambda_patch_R1:
            texture_source = photos[len(photos) // 2:]
            queries = self.crops(texture_source).detach().requires_grad_(True)
            logits = self.model_PatchD(queries, self.crops(texture_source))
            losses["D_patch_R1"] = r1_penalty(logits, queries)
            weighted += [losses["D_patch_R1"] * (cfg.lambda_patch_R1 / 2 * cfg.R1_once_every), logits.sum() * 0]
        if weighted:
            optimizer_step(torch.stack(weighted).sum(), self.opt_D, self.scaler_D)
        return losses

    def _generator_step(self, photos: Tensor, rec: Tensor, mix: Tensor) -> dict[str, Tensor]:
        cfg = self.cfg
        half = len(photos) // 2
        self._discriminators_trainable(False)  # they only pass gradients through (no DDP sync needed)
        losses = {"G_L1": F.l1_loss(rec.float(), photos[:half]) * cfg.lambda_L1}
        with self.precision.autocast():
            if self.netD is not None:
                logits = self.netD(torch.cat([rec, mix])).float()
                losses["G_GAN_rec"] = logistic_g_loss(logits[:half]) * (0.5 * cfg.lambda_GAN)
                losses["G_GAN_swap"] = logistic_g_loss(logits[half:]) * (0.5 * cfg.lambda_GAN)
            if self.netPatchD is not None:
                texture_source = photos[half:]
                logits = self.netPatchD(self.crops(mix), self.crops(texture_source).to(mix.dtype)).float()
                losses["G_PatchGAN"] = logistic_g_loss(logits) * cfg.lambda_PatchGAN
        loss_G = torch.stack(list(losses.values())).sum()
        optimizer_step(loss_G, self.opt_G, self.scaler_G)
        return {**losses, "G": loss_G}

    def _discriminators_trainable(self, flag: bool) -> None:
        for net in (self.netD, self.netPatchD):
            if net is not None:
                net.requires_grad_(flag)

    def _log(self, epoch: int) -> None:
        names = list(self._sums)
        means = torch.stack([self._sums[k] / self._counts[k] for k in names])
        values = mean_over_ranks(means, self.d).tolist()
        now = time.perf_counter()
        it_s = (self.step - self._clock[1]) / max(now - self._clock[0], 1e-9)
        self._clock, self._sums, self._counts = (now, self.step), {}, {}
        self.last_logged = dict(zip(names, values, strict=True))
        self.emit("step", step=self.step, epoch=epoch, losses=self.last_logged, lr={"G": self.cfg.lr, "D": self.cfg.lr},
                  it_s=round(it_s, 4), samples_s=round(it_s * self.cfg.batch_size * self.d.world_size, 4),
                  eta_s=round((self.cfg.total_steps - self.step) / it_s, 1) if it_s > 0 else None)

    def _report_skipped(self, skipped: list[str]) -> None:
        for text in skipped:
            for item in filter(None, text.split("; ")):
                if item not in self._reported:
                    self._reported.add(item)
                    self.emit("log", level="warning", message=f"skipped an unreadable file: {item}")

    def sample(self) -> None:
        """RUN/samples/step_N.png: per fixed photo, [photo | reconstruction | swap | texture source]."""
        if self._val is None:  # photos spread over the (sorted) folder: neighbours often come from one source
            paths = self.dataset.paths
            picked = [paths[i * len(paths) // SAMPLE_ROWS] for i in range(min(SAMPLE_ROWS, len(paths)))]
            fixed = PhotoFolder(picked, crop_size=self.cfg.crop_size, augment=False)
            self._val = torch.stack([fixed[i]["image"] for i in range(len(fixed))])
        photos = self._val.to(self.d.device)
        ae = self.autoencoder
        with torch.no_grad(), private_rng(self.d.device, self.cfg.seed):  # the same noise at every sample
            structure, texture = ae.E(photos)
            out = ae.G(structure.repeat(2, 1, 1, 1), torch.cat([texture, texture.roll(-1, 0)])).float().cpu()
        rec, swap = out[:len(photos)], out[len(photos):]
        k = len(photos)
        rows = [[_to_uint8(self._val[i]), _to_uint8(rec[i]), _to_uint8(swap[i]), _to_uint8(self._val[(i + 1) % k])]
                for i in range(k)]
        rel = f"samples/{step_stem(self.step)}.png"
        save_grid(self.run_dir / rel, rows)
        self.emit("sample", step=self.step, path=rel, caption=SAMPLE_CAPTION)

    def checkpoint(self) -> Path:
        """Write the pair (rank 0; every rank contributes its RNG state) and refresh the catalog entry.

        All ranks learn whether it worked, so a full disk stops every process with the same message.
        """
        rng = rng_rows(self.d)
        return checkpoint_on_main(self.d, self.run_dir, self.step, lambda: self._write(rng))

    def _write(self, rng: dict[str, Tensor]) -> Path:
        cfg, date = self.cfg, now_iso()
        model = self.autoencoder.state_dict()
        hparams = arch.resolve_hparams(model, {})
        provenance = {"run": str(self.run_dir.resolve()), "step": self.step, "images": cfg.images, "date": date,
                      "recipe": RECIPE, "config": asdict(cfg)}
        metadata = {"method": METHOD, "name": self.name, "hparams": hparams, "license": LICENSE,
                    "provenance": provenance}
        state = {"step": self.step, "netD": self.netD.state_dict() if self.netD is not None else None,
                 "netPatchD": self.netPatchD.state_dict() if self.netPatchD is not None else None,
                 "optimizer_G": self.opt_G.state_dict(),
                 "optimizer_D": self.opt_D.state_dict() if self.opt_D is not None else None,
                 "scaler_G": self.scaler_G.state_dict() if self.scaler_G else None,
                 "scaler_D": self.scaler_D.state_dict() if self.scaler_D else None, "rng": rng}
        path, model_id = save_checkpoint(
            self.run_dir, step=self.step, model=model, metadata=metadata, parts={}, state=state,
            model_id=self.model_id, keep=cfg.keep_checkpoints, emit=self.emit,
            listing={"run_name": self.name, "method": METHOD, "task": Task.STRUCTURE_TEXTURE.value,
                     "size_rule": arch.size_rule(hparams), "license": LICENSE, "hparams": hparams, "classes": [],
                     "palette": "", "added": date,
                     "notes": f"step {self.step} of run {self.name}, photos {cfg.images}, {date[:10]}"})
        self.model_id = model_id or self.model_id  # later checkpoints refresh this entry
        return path


def _to_uint8(image: Tensor) -> np.ndarray:
    return ((image.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()


# --- export to the official layout ---------------------------------------------------------------------

OFFICIAL_FILE = "latest_checkpoint.pth"


def export(source: Path, out: Path) -> list[Path]:
    """RUN (its latest checkpoint) or a checkpoint -> DIR/latest_checkpoint.pth (a bare state dict of the
    official E.* and G.* keys, as the official test loads it) + opt.txt (the network options it needs)."""
    if source.is_dir():
        point = find_resume_point(source)
        if point is None:
            raise TrainError(f"{source} has no complete checkpoint to export")
        source = point.model
    try:
        ckpt = read_checkpoint(source)
    except CheckpointError as exc:
        raise TrainError(str(exc)) from None
    if ckpt.metadata.get("method") != METHOD or not arch.detect(ckpt.state_dict):
        raise TrainError(f"{source.name} is not a Swapping Autoencoder checkpoint written by this trainer")
    config = ckpt.metadata.get("provenance", {}).get("config", {})
    options = {"name": ckpt.metadata.get("name", source.stem), "model": "swapping_autoencoder",
               **{k: config[k] for k in (*NETWORK_OPTIONS, "crop_size") if k in config}}
    lines = ["----------------- Options ---------------"]
    lines += [f"{k:>30}: {v!s:<30}" for k, v in sorted(options.items())]
    lines += ["----------------- End -------------------"]
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = [out / OFFICIAL_FILE, out / SPADE_OPTIONS_FILE]
        weights = {k: v.float() if v.is_floating_point() else v for k, v in ckpt.state_dict.items()}
        atomic_write(written[0], lambda f: torch.save(weights, f))
        atomic_write_bytes(written[1], ("\n".join(lines) + "\n").encode("utf-8"))
    except OSError as exc:
        raise TrainError(f"cannot write the export to {out}: {exc.strerror or exc}") from None
    return written


# --- command line ---------------------------------------------------------------------------------------

CLI = runner.MethodCLI(method=METHOD, config_type=SaeConfig, train=train, validate=validate,
                       fixed_on_resume=FIXED_ON_RESUME)


def main(argv: list[str]) -> int:
    if argv[:1] != ["export"]:
        return runner.run(CLI, argv)
    parser = runner.OneLineParser(prog="python -m trainers sae export",
                                  description="Write a checkpoint in the official Swapping Autoencoder layout "
                                              "(latest_checkpoint.pth + opt.txt).")
    parser.add_argument("source", type=Path, help="a run folder (its latest checkpoint) or a .safetensors checkpoint")
    parser.add_argument("--out", type=Path, required=True, help="folder to write")
    ns = parser.parse_args(argv[1:])
    try:
        for path in export(ns.source, ns.out):
            print(path)
    except TrainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
