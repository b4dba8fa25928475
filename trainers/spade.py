"""SPADE / GauGAN training (Park et al., CVPR 2019; thesis ch. 2), producing our engine's generator.

The recipe: SPADE ResBlock generator with spectral norm (engine.models.spade.SPADEGenerator, so every
checkpoint loads in the editor), pix2pixHD's multi-scale PatchGAN discriminator with spectral norm and
InstanceNorm, hinge loss, discriminator feature matching (lambda 10), VGG-19 perceptual loss (lambda 10),
optional image encoder with KL 0.05, Adam lr G 1e-4 / D 4e-4 with betas (0, 0.999), Glorot init, the
learning rates decaying linearly to 0 over the second half, synchronized BatchNorm across GPUs.

Ours, not in the paper: `lambda_l1`, an optional pixel L1 to the real photo (off by default), for tiny
models trained where no VGG-19 weights are available.

    python -m trainers spade --images DIR --labels DIR --out RUN [options] [--resume] [--validate-only]
    python -m trainers spade export RUN_OR_CHECKPOINT --out DIR     (official latest_net_G.pth + opt.txt)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine import palettes
from engine.api import Task
from engine.checkpoints import SPADE_OPTIONS_FILE, read_checkpoint
from engine.models import spade as arch
from engine.storage import atomic_write, atomic_write_bytes
from trainers.checkpointing import ResumePoint
from trainers.common import TrainError, linear_decay
from trainers.configs import SpadeConfig, find_vgg19_weights
from trainers.datasets import Pair, PairedFolder, crop_box, scan_pairs
from trainers.distributed import Dist, seed_everything, sync_batch_norm, wrap_ddp
from trainers.exporting import checkpoint_to_export, export_folder, options_text
from trainers.loop import SAMPLE_ROWS, ModelFile, Summary, TrainingLoop, to_uint8
from trainers.losses import (
    VGG19Features,
    VGGLoss,
    feature_matching_loss,
    hinge_d_loss,
    hinge_g_loss,
    kld_loss,
    load_vgg19,
)
from trainers.nets.discriminator import MultiscaleDiscriminator

METHOD = "spade"
RECIPE = ("SPADE (Park et al. 2019): hinge GAN + feature matching + VGG-19 perceptual loss, multi-scale "
          "spectral-norm PatchGAN, Adam (0, 0.999), TTUR lr G 1e-4 / D 4e-4, linear decay over the second half")
RANDOM_VGG = "random"  # vgg_weights value for tests: random-init VGG-19 features (the term means nothing)
# Options that shape the saved networks or the data stream: a resumed run must keep them.
FIXED_ON_RESUME = ("ngf", "nhidden", "ndf", "num_D", "n_layers_D", "crop_size", "aspect_ratio", "num_upsampling_layers",
                   "use_vae", "z_dim", "palette", "label_nc", "contain_dontcare_label", "no_instance", "seed",
                   "batch_size")


# --- set-up ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """What the label maps and the crop make of the networks' shapes."""

    palette: palettes.Palette
    label_nc: int
    semantic_nc: int
    size: tuple[int, int]  # (H, W) of the crop and the output
    latent_hw: tuple[int, int]
    options: dict[str, Any]  # official option names, for resolve_hparams and opt.txt


def layout(cfg: SpadeConfig) -> Layout:
    try:
        palette = palettes.load(cfg.palette)
    except ValueError as exc:
        raise TrainError(str(exc)) from None
    label_nc = cfg.label_nc if cfg.label_nc is not None else max(palette.ids()) + 1
    if cfg.num_upsampling_layers not in arch.NUM_UPS:
        raise TrainError(f"num_upsampling_layers must be one of {list(arch.NUM_UPS)}")
    factor = 2 ** arch.NUM_UPS[cfg.num_upsampling_layers]
    h, w = crop_box(cfg.crop_size, cfg.aspect_ratio, factor)
    if h < factor or w < factor:
        raise TrainError(f"crop_size {cfg.crop_size} at aspect {cfg.aspect_ratio} is below the generator's "
                         f"{factor}x{factor} minimum for num_upsampling_layers '{cfg.num_upsampling_layers}'")
    if cfg.ignore_unknown_ids and not cfg.contain_dontcare_label:
        raise TrainError("ignore_unknown_ids maps unknown ids to dontcare: set contain_dontcare_label too")
    if cfg.batch_size * (h // factor) * (w // factor) < 2:
        raise TrainError(f"BatchNorm needs more than one value per channel: with a {h}x{w} crop the generator "
                         f"starts from 1x1, so use batch_size 2 or more, or crop_size {2 * factor}")
    semantic_nc = label_nc + int(cfg.contain_dontcare_label) + int(not cfg.no_instance)
    options = {"label_nc": label_nc, "contain_dontcare_label": cfg.contain_dontcare_label,
               "no_instance": cfg.no_instance, "num_upsampling_layers": cfg.num_upsampling_layers,
               "crop_size": cfg.crop_size, "aspect_ratio": cfg.aspect_ratio}
    return Layout(palette, label_nc, semantic_nc, (h, w), (h // factor, w // factor), options)


def scan(cfg: SpadeConfig, lay: Layout) -> tuple[list[Pair], Summary]:
    """(the usable pairs, summary) of this config's folders (trainers.datasets.scan_pairs)."""
    if not cfg.images or not cfg.labels:
        raise TrainError("--images DIR and --labels DIR are required")
    return scan_pairs(Path(cfg.images), Path(cfg.labels), Path(cfg.instances) if cfg.instances else None,
                      palette=lay.palette, label_nc=lay.label_nc, contain_dontcare_label=cfg.contain_dontcare_label,
                      max_images=cfg.max_images, ignore_unknown_ids=cfg.ignore_unknown_ids)


def init_weights(net: nn.Module, gain: float = 0.02) -> None:
    """Glorot (Xavier) normal init, gain 0.02 as the official code, on conv / linear weights; biases 0."""
    for module in net.modules():
        for name, p in module.named_parameters(recurse=False):
            if name in ("weight", "weight_orig") and p.ndim >= 2:
                nn.init.xavier_normal_(p, gain=gain)
            elif name == "bias":
                nn.init.zeros_(p)


class Translator(nn.Module):
    """netG with, for a VAE, netE and the reparameterisation: one module so DDP reduces both in one backward."""

    def __init__(self, netG: arch.SPADEGenerator, netE: arch.ConvEncoder | None,
                 latent_hw: tuple[int, int]) -> None:
        super().__init__()
        self.netG, self.netE, self.latent_hw = netG, netE, latent_hw

    def forward(self, seg: Tensor, real: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None]:
        if self.netE is None:
            return self.netG(seg, latent_hw=self.latent_hw), None, None
        mu, logvar = self.netE(real)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.netG(seg, z=z, latent_hw=self.latent_hw), mu, logvar


def perceptual_loss(cfg: SpadeConfig) -> tuple[VGGLoss | None, str]:
    """(loss or None, a note for the log). Without weights the term is off, and the note says so plainly."""
    if cfg.lambda_vgg == 0:
        return None, "perceptual (VGG-19) term off: lambda_vgg is 0"
    if cfg.vgg_weights == RANDOM_VGG:
        return VGGLoss(VGG19Features()), "VGG-19 with RANDOM weights (for tests): the perceptual term is meaningless"
    try:
        path = find_vgg19_weights(cfg.vgg_weights or None)
        if path is None:
            return None, ("VGG-19 weights not found (vgg19-dcbfe4f3.pth in $TORCH_HOME/hub/checkpoints, or the "
                          "vgg_weights option): training WITHOUT the perceptual loss, which the paper's quality "
                          "depends on")
        return VGGLoss(load_vgg19(path)), f"perceptual term on: VGG-19 weights from {path}"
    except (OSError, ValueError) as exc:
        raise TrainError(str(exc).splitlines()[0]) from None


# --- export to the official layout ---------------------------------------------------------------------


def export(source: Path, out: Path) -> list[Path]:
    """RUN (its latest checkpoint) or a checkpoint -> DIR/latest_net_G.pth (+ latest_net_E.pth) + opt.txt."""
    ckpt, _ = checkpoint_to_export(source, method=METHOD, title="SPADE")
    hp = ckpt.metadata["hparams"]
    config = ckpt.metadata.get("provenance", {}).get("config", {})
    options = {
        "name": ckpt.metadata.get("name", ckpt.path.stem), "model": "pix2pix", "netG": "spade",
        "norm_G": "spectralspadesyncbatch3x3", "ngf": hp["ngf"], "label_nc": hp["label_nc"],
        "contain_dontcare_label": hp["contain_dontcare_label"], "no_instance": hp["no_instance"],
        "semantic_nc": hp["semantic_nc"], "num_upsampling_layers": hp["num_upsampling_layers"],
        "crop_size": hp["crop_size"], "aspect_ratio": hp["aspect_ratio"], "use_vae": hp["use_vae"],
        "z_dim": hp["z_dim"] if hp["use_vae"] else config.get("z_dim", 256),
        "netD": "multiscale", "norm_D": "spectralinstance", "norm_E": "spectralinstance",
        **{k: config[k] for k in ("ndf", "num_D", "n_layers_D", "lambda_feat", "lambda_vgg", "lambda_kld",
                                  "beta1", "beta2") if k in config},
        "batchSize": config.get("batch_size", 1),
        "gan_mode": "hinge", "init_type": "xavier", "init_variance": 0.02, "dataset_mode": "custom",
    }
    with export_folder(out):
        written = [out / "latest_net_G.pth"]
        generator = dict(ckpt.state_dict)  # bare state dict, no prefix: the official layout
        atomic_write(written[0], lambda f: torch.save(generator, f))
        if "netE" in ckpt.parts:
            written.append(out / "latest_net_E.pth")
            encoder = dict(ckpt.parts["netE"])
            atomic_write(written[-1], lambda f: torch.save(encoder, f))
        written.append(out / SPADE_OPTIONS_FILE)
        atomic_write_bytes(written[-1], options_text(options, width=25))
    return written


# --- training -------------------------------------------------------------------------------------------


class SpadeLoop(TrainingLoop):
    arch = arch
    task = Task.LABEL_TO_IMAGE
    fixed_on_resume = FIXED_ON_RESUME
    export = staticmethod(export)
    export_help = "Write a checkpoint in the official SPADE layout (latest_net_G.pth + opt.txt)."
    items = "pairs"
    recipe = RECIPE
    check = staticmethod(layout)
    scan = staticmethod(scan)

    @classmethod
    def build(cls, cfg: SpadeConfig, plan: Layout, data: list[Pair], d: Dist, run_dir: Path,
              point: ResumePoint | None, state: Mapping[str, Any] | None) -> SpadeLoop:
        lay = plan
        seed_everything(cfg.seed)  # the same initial weights on every rank (DDP would broadcast rank 0's anyway)
        netG = arch.SPADEGenerator(ngf=cfg.ngf, semantic_nc=lay.semantic_nc, nhidden=cfg.nhidden,
                                   num_upsampling_layers=cfg.num_upsampling_layers,
                                   z_dim=cfg.z_dim if cfg.use_vae else None,
                                   latent_hw=lay.latent_hw if cfg.use_vae else None)
        netE = arch.ConvEncoder(ngf=cfg.ngf, z_dim=cfg.z_dim, crop_size=cfg.crop_size) if cfg.use_vae else None
        netD = MultiscaleDiscriminator(input_nc=lay.semantic_nc + 3, ndf=cfg.ndf, n_layers=cfg.n_layers_D,
                                       num_D=cfg.num_D)
        for net in (netG, netE, netD):
            if net is not None:
                init_weights(net)
        vgg, vgg_note = perceptual_loss(cfg)
        hparams = arch.resolve_hparams(netG.state_dict(), lay.options)
        if point is not None:
            model = read_checkpoint(point.model)
            netG.load_state_dict(model.state_dict)
            if netE is not None:
                netE.load_state_dict(model.parts["netE"])
        netG, synced = sync_batch_norm(netG.to(d.device), d)
        translator = Translator(netG, netE.to(d.device) if netE is not None else None, lay.latent_hw)
        netD.to(d.device)
        if vgg is not None:
            vgg.to(d.device)
        opt_G = torch.optim.Adam(translator.parameters(), lr=cfg.lr_G, betas=(cfg.beta1, cfg.beta2))
        opt_D = torch.optim.Adam(netD.parameters(), lr=cfg.lr_D, betas=(cfg.beta1, cfg.beta2))
        loop = cls(cfg, d, run_dir, point=point, state=state)  # per-rank noise (the VAE's) from here on
        loop.lay, loop.hparams, loop.translator, loop.netD, loop.vgg = lay, hparams, translator, netD, vgg
        loop.model_G, loop.model_D = wrap_ddp(translator, d), wrap_ddp(netD, d)
        loop.optimizers = {"G": opt_G, "D": opt_D}
        loop.schedulers = [torch.optim.lr_scheduler.LambdaLR(opt, linear_decay(cfg.total_steps))
                           for opt in (opt_G, opt_D)]
        loop.scalers = {"G": loop.precision.scaler(), "D": loop.precision.scaler()}
        loop.notes.append(vgg_note)
        if d.enabled:
            loop.notes.append("synchronized BatchNorm across GPUs" if synced else
                              "BatchNorm statistics per process (PyTorch synchronizes them on GPUs only)")
        if cfg.lambda_l1:
            loop.notes.append(f"pixel L1 loss weight {cfg.lambda_l1} (ours, not in the paper)")
        if vgg is None or cfg.vgg_weights == RANDOM_VGG:
            loop.warnings.append(vgg_note)
        loop.dataset = PairedFolder(palette=lay.palette, label_nc=lay.label_nc, size=lay.size, pairs=data,
                                    contain_dontcare_label=cfg.contain_dontcare_label, no_instance=cfg.no_instance,
                                    seed=cfg.seed, ignore_unknown_ids=cfg.ignore_unknown_ids)
        loop._val = None
        return loop

    def iteration(self, batch: dict[str, Any], epoch: int) -> None:
        cfg, dev = self.cfg, self.d.device
        self.report_skipped(batch["skipped"])
        seg = batch["seg"].to(dev, non_blocking=True)
        real = batch["image"].to(dev, non_blocking=True)
        # one generator forward serves both updates (pix2pix order: D, then G against the updated D)
        with self.precision.autocast():
            fake, mu, logvar = self.model_G(seg, real)

        self.netD.requires_grad_(True)
        with self.precision.autocast():
            fake_preds, real_preds = _halves(self.model_D(_pairs_for_D(seg, fake.detach(), real)))
        loss_D = hinge_d_loss(real_preds, fake_preds)
        self.update("D", loss_D)

        self.netD.requires_grad_(False)  # G's step: D only passes gradients through (no DDP sync needed)
        with self.precision.autocast():
            fake_preds, real_preds = _halves(self.netD(_pairs_for_D(seg, fake, real)))
        losses = {"G_GAN": hinge_g_loss(fake_preds)}
        if cfg.lambda_feat:
            losses["G_feat"] = feature_matching_loss(real_preds, fake_preds) * cfg.lambda_feat
        if self.vgg is not None:
            with self.precision.autocast():
                losses["G_VGG"] = self.vgg(fake, real).float() * cfg.lambda_vgg
        if mu is not None:
            losses["G_KLD"] = kld_loss(mu.float(), logvar.float()) * cfg.lambda_kld
        if cfg.lambda_l1:
            losses["G_L1"] = F.l1_loss(fake.float(), real) * cfg.lambda_l1
        loss_G = torch.stack(list(losses.values())).sum()
        self.update("G", loss_G)
        self.finish_step({"D": loss_D, **losses, "G": loss_G}, epoch)

    def sample_rows(self) -> list[list[np.ndarray]]:
        """Rows of [label map | generated | real] for up to 4 fixed examples."""
        if self._val is None:
            fixed = PairedFolder(palette=self.lay.palette, label_nc=self.lay.label_nc, size=self.lay.size,
                                 pairs=self.dataset.pairs[:SAMPLE_ROWS], contain_dontcare_label=self.cfg.contain_dontcare_label,
                                 no_instance=self.cfg.no_instance, augment=False,
                                 ignore_unknown_ids=self.cfg.ignore_unknown_ids)
            items = [fixed[i] for i in range(len(fixed))]
            self._val = {k: torch.stack([it[k] for it in items]) for k in ("image", "seg", "label")}
            if self.cfg.use_vae:  # a fixed style code, from its own generator: the run's RNG stream is untouched
                self._val["z"] = torch.randn(len(items), self.cfg.z_dim, generator=torch.Generator().manual_seed(self.cfg.seed))
        netG = self.translator.netG
        netG.eval()
        z = self._val["z"].to(self.d.device) if "z" in self._val else None
        fake = netG(self._val["seg"].to(self.d.device), z=z, latent_hw=self.lay.latent_hw).float().cpu()
        netG.train()
        return [[self.lay.palette.colorize(label.numpy()), to_uint8(gen), to_uint8(real)]
                for label, gen, real in zip(self._val["label"], fake, self._val["image"], strict=True)]

    def model_file(self) -> ModelFile:
        netE = self.translator.netE
        return self.translator.netG.state_dict(), {"netE": netE.state_dict()} if netE is not None else {}, self.hparams

    def state_parts(self) -> dict[str, Any]:
        return {"netD": self.netD, **super().state_parts()}

    def labels(self) -> dict[str, Any]:
        classes = [[c.id, c.name] for c in self.lay.palette.classes if c.id < self.lay.label_nc]
        return {"palette": self.cfg.palette, "classes": classes}

    def data_provenance(self) -> dict[str, Any]:
        return {"images": self.cfg.images, "labels": self.cfg.labels, "instances": self.cfg.instances}

    def data_description(self) -> str:
        return f"dataset {self.cfg.images}"


def _pairs_for_D(seg: Tensor, fake: Tensor, real: Tensor) -> Tensor:
    """Fake and real pairs in one batch: one discriminator pass (and one DDP reduction) per update."""
    return torch.cat([torch.cat([seg, fake.to(seg.dtype)], 1), torch.cat([seg, real], 1)], 0)


def _halves(preds: list[list[Tensor]]) -> tuple[list[list[Tensor]], list[list[Tensor]]]:
    fake = [[t[: t.shape[0] // 2].float() for t in scale] for scale in preds]
    real = [[t[t.shape[0] // 2:].float() for t in scale] for scale in preds]
    return fake, real


LOOP = SpadeLoop
train, validate = LOOP.train, LOOP.validate
