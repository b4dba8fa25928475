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

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.api import Task
from engine.checkpoints import SPADE_OPTIONS_FILE, read_checkpoint
from engine.models import sae as arch
from engine.storage import atomic_write, atomic_write_bytes
from trainers.checkpointing import ResumePoint
from trainers.common import TrainError
from trainers.configs import SaeConfig
from trainers.datasets import PhotoFolder, scan_images
from trainers.distributed import Dist, seed_everything, wrap_ddp
from trainers.exporting import checkpoint_to_export, export_folder, options_text
from trainers.loop import ModelFile, Summary, TrainingLoop, fixed_photos, to_uint8
from trainers.losses import logistic_d_loss, logistic_g_loss, r1_penalty
from trainers.nets.stylegan2_d import CooccurrenceDiscriminator, ImageDiscriminator, patch_feature_size

METHOD = "sae"
RECIPE = ("Swapping Autoencoder (Park et al. 2020): L1 reconstruction + non-saturating GAN on reconstructions and "
          "swaps (0.5 / 0.5) + co-occurrence patch GAN, StyleGAN2 residual discriminators, lazy R1 (10 image, "
          "1 patch, every 16 steps), Adam lr 0.002 betas (0, 0.99)")
SAMPLE_CAPTION = "photo | reconstruction | its structure with the next photo's texture | that photo"
# The official option names that shape E and G (engine.models.sae.config_hparams takes them).
NETWORK_OPTIONS = ("spatial_code_ch", "global_code_ch", "netE_scale_capacity", "netE_num_downsampling_sp",
                   "netE_num_downsampling_gl", "netE_nc_steepness", "netG_scale_capacity",
                   "netG_num_base_resnet_layers")
# Options that shape the saved networks or the data stream: a resumed run must keep them.
FIXED_ON_RESUME = (*NETWORK_OPTIONS, "crop_size", "load_size", "netD_scale_capacity", "netPatchD_scale_capacity",
                   "patch_size", "patch_num_crops", "seed", "batch_size")
POSITIVE = ("crop_size", "patch_num_crops", "R1_once_every")


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


def scan(cfg: SaeConfig, layout: Plan | None) -> tuple[list[Path], Summary]:
    """(the usable photos, summary) of this config's photo folder (trainers.datasets.scan_images)."""
    if not cfg.images:
        raise TrainError("--images DIR is required (a folder of photos)")
    return scan_images(Path(cfg.images), crop_size=cfg.crop_size, max_images=cfg.max_images)


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


# --- export to the official layout ---------------------------------------------------------------------

OFFICIAL_FILE = "latest_checkpoint.pth"


def export(source: Path, out: Path) -> list[Path]:
    """RUN (its latest checkpoint) or a checkpoint -> DIR/latest_checkpoint.pth (a bare state dict of the
    official E.* and G.* keys, as the official test loads it) + opt.txt (the network options it needs)."""
    ckpt, _ = checkpoint_to_export(source, method=METHOD, title="Swapping Autoencoder", detect=arch.detect)
    config = ckpt.metadata.get("provenance", {}).get("config", {})
    options = {"name": ckpt.metadata.get("name", ckpt.path.stem), "model": "swapping_autoencoder",
               **{k: config[k] for k in (*NETWORK_OPTIONS, "crop_size") if k in config}}
    with export_folder(out):
        written = [out / OFFICIAL_FILE, out / SPADE_OPTIONS_FILE]
        weights = {k: v.float() if v.is_floating_point() else v for k, v in ckpt.state_dict.items()}
        atomic_write(written[0], lambda f: torch.save(weights, f))
        atomic_write_bytes(written[1], options_text(options, width=30))
    return written


# --- training -------------------------------------------------------------------------------------------


class SaeLoop(TrainingLoop):
    arch = arch
    task = Task.STRUCTURE_TEXTURE
    fixed_on_resume = FIXED_ON_RESUME
    export = staticmethod(export)
    export_help = ("Write a checkpoint in the official Swapping Autoencoder layout (latest_checkpoint.pth + "
                   "opt.txt).")
    recipe = RECIPE
    sample_caption = SAMPLE_CAPTION
    check = staticmethod(plan)
    scan = staticmethod(scan)

    @classmethod
    def validate(cls, cfg: SaeConfig) -> Summary:
        """The photos only: the dataset check is given the data options and the crop size, while whether the
        crop suits the encoder depends on network options it leaves at their defaults."""
        return scan(cfg, None)[1]

    @classmethod
    def build(cls, cfg: SaeConfig, plan: Plan, data: list[Path], d: Dist, run_dir: Path,
              point: ResumePoint | None, state: Mapping[str, Any] | None) -> SaeLoop:
        layout = plan
        seed_everything(cfg.seed)  # the same initial weights on every rank (DDP would broadcast rank 0's anyway)
        encoder, generator = arch.build(layout.hparams)  # the official initialisation
        autoencoder = SwappingAutoencoder(encoder, generator)
        netD = ImageDiscriminator(size=cfg.crop_size, capacity=cfg.netD_scale_capacity) if cfg.lambda_GAN else None
        netPatchD = (CooccurrenceDiscriminator(patch_size=layout.patch_size, capacity=cfg.netPatchD_scale_capacity)
                     if cfg.lambda_PatchGAN else None)
        if point is not None:
            autoencoder.load_state_dict(read_checkpoint(point.model).state_dict)
        for net, key, option in ((netD, "netD", "lambda_GAN"), (netPatchD, "netPatchD", "lambda_PatchGAN")):
            if state is not None and (net is None) != (state.get(key) is None):
                raise TrainError(f"cannot resume with {option} switched {'off' if net is None else 'on'}: the "
                                 "run's discriminators would not match its saved ones")
        discriminators = [net.to(d.device) for net in (netD, netPatchD) if net is not None]
        autoencoder.to(d.device)
        betas = (cfg.beta1, cfg.beta2)
        opt_G = torch.optim.Adam(autoencoder.parameters(), lr=cfg.lr, betas=betas)
        opt_D = torch.optim.Adam([p for net in discriminators for p in net.parameters()], lr=cfg.lr,
                                 betas=betas) if discriminators else None
        loop = cls(cfg, d, run_dir, point=point, state=state)  # per-rank noise and patch crops from here on
        loop.layout, loop.autoencoder, loop.netD, loop.netPatchD = layout, autoencoder, netD, netPatchD
        loop.model_G = wrap_ddp(autoencoder, d)
        loop.model_D = wrap_ddp(netD, d) if netD is not None else None
        loop.model_PatchD = wrap_ddp(netPatchD, d) if netPatchD is not None else None
        loop.optimizers = {"G": opt_G, "D": opt_D}  # a constant learning rate: no schedulers
        loop.scalers = {"G": loop.precision.scaler(), "D": loop.precision.scaler()}
        hp, cells = layout.hparams, cfg.crop_size // layout.hparams["size_multiple"]
        shapes = f"codes: structure {hp['spatial_code_ch']} x {cells} x {cells}, texture {hp['global_code_ch']}"
        loop.notes = [f"{shapes}; patches {layout.patch_size} px"]
        off = [name for name, net in (("image discriminator (lambda_GAN 0)", netD),
                                      ("patch discriminator (lambda_PatchGAN 0)", netPatchD)) if net is None]
        if off:
            loop.notes.append("off: " + ", ".join(off))
        loop.dataset = PhotoFolder(data, crop_size=cfg.crop_size, load_size=cfg.load_size, seed=cfg.seed)
        loop._val = None
        return loop

    def crops(self, images: Tensor) -> Tensor:
        cfg = self.cfg
        return random_crops(images, cfg.patch_num_crops, size=self.layout.patch_size,
                            min_scale=cfg.patch_min_scale, max_scale=cfg.patch_max_scale)

    def iteration(self, batch: dict[str, Any], epoch: int) -> None:
        self.report_skipped(batch["skipped"])
        photos = batch["image"].to(self.d.device, non_blocking=True)
        # one generator pass serves both updates (D first, then E and G against the updated D)
        with self.precision.autocast():
            rec, mix = self.model_G(photos)
        losses: dict[str, Tensor] = {}
        if self.optimizers["D"] is not None:
            losses |= self._discriminator_step(photos, rec.detach(), mix.detach())
            if self.step % self.cfg.R1_once_every == 0:
                losses |= self._r1_step(photos)
        losses |= self._generator_step(photos, rec, mix)
        self.finish_step(losses, epoch)

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
        self.update("D", torch.stack(list(losses.values())).sum())
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
            self.update("D", torch.stack(weighted).sum())
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
        self.update("G", loss_G)
        return {**losses, "G": loss_G}

    def _discriminators_trainable(self, flag: bool) -> None:
        for net in (self.netD, self.netPatchD):
            if net is not None:
                net.requires_grad_(flag)

    def sample_rows(self) -> list[list[np.ndarray]]:
        """Per fixed photo, [photo | reconstruction | swap | texture source]."""
        if self._val is None:
            self._val = fixed_photos(self.dataset.paths, self.cfg.crop_size)
        photos = self._val.to(self.d.device)
        ae = self.autoencoder
        with private_rng(self.d.device, self.cfg.seed):  # the same noise at every sample
            structure, texture = ae.E(photos)
            out = ae.G(structure.repeat(2, 1, 1, 1), torch.cat([texture, texture.roll(-1, 0)])).float().cpu()
        rec, swap = out[:len(photos)], out[len(photos):]
        k = len(photos)
        return [[to_uint8(self._val[i]), to_uint8(rec[i]), to_uint8(swap[i]), to_uint8(self._val[(i + 1) % k])]
                for i in range(k)]

    def model_file(self) -> ModelFile:
        model = self.autoencoder.state_dict()
        return model, {}, arch.resolve_hparams(model, {})

    def state_parts(self) -> dict[str, Any]:
        return {"netD": self.netD, "netPatchD": self.netPatchD, **super().state_parts()}

    def data_provenance(self) -> dict[str, Any]:
        return {"images": self.cfg.images}

    def data_description(self) -> str:
        return f"photos {self.cfg.images}"


LOOP = SaeLoop
train, validate = LOOP.train, LOOP.validate
