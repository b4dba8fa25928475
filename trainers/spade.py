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

import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine import palettes
from engine.checkpoints import SPADE_OPTIONS_FILE, CheckpointError, read_checkpoint
from engine.models import spade as arch
from engine.registry import SPADE as SPADE_ARCH
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
    linear_decay,
    no_emit,
    now_iso,
    prepare_run_dir,
    save_grid,
)
from trainers.configs import SpadeConfig, find_vgg19_weights
from trainers.datasets import Pair, PairedFolder, crop_box, scan, validate_pairs
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
    sync_batch_norm,
    wrap_ddp,
)
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
from trainers.stepping import begin_run, checkpoint_on_main, drive, epoch_batches

METHOD = "spade"
LICENSE = "ours (trained by the user with I2I Studio)"
RECIPE = ("SPADE (Park et al. 2019): hinge GAN + feature matching + VGG-19 perceptual loss, multi-scale "
          "spectral-norm PatchGAN, Adam (0, 0.999), TTUR lr G 1e-4 / D 4e-4, linear decay over the second half")
SAMPLE_ROWS = 4
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


def validate(cfg: SpadeConfig) -> dict[str, Any]:
    """The `--validate-only` summary (trainers.datasets.validate_pairs) for this config's folders."""
    if not cfg.images or not cfg.labels:
        raise TrainError("--images DIR and --labels DIR are required")
    lay = layout(cfg)
    return validate_pairs(Path(cfg.images), Path(cfg.labels), Path(cfg.instances) if cfg.instances else None,
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


# --- training -------------------------------------------------------------------------------------------


def train(cfg: SpadeConfig, *, emit: Emit, should_stop: Callable[[], bool], resume: bool = False) -> Path:
    """Train (or continue, with resume) the run in cfg.out; returns the final model checkpoint."""
    d = setup_distributed(cfg.device)
    run_dir = prepare_run_dir(Path(cfg.out))
    lay = layout(cfg)
    for name in ("total_steps", "batch_size", "log_every", "sample_every", "checkpoint_every", "keep_checkpoints"):
        if getattr(cfg, name) < 1:
            raise TrainError(f"{name} must be at least 1")
    pairs, summary = scan(Path(cfg.images), Path(cfg.labels), Path(cfg.instances) if cfg.instances else None,
                          palette=lay.palette, label_nc=lay.label_nc, contain_dontcare_label=cfg.contain_dontcare_label,
                          max_images=cfg.max_images, ignore_unknown_ids=cfg.ignore_unknown_ids)
    if summary["errors"]:
        raise TrainError("; ".join(summary["errors"]))
    point, notes = begin_run(cfg, d, run_dir, method=METHOD, resume=resume)

    loop = _Loop.build(cfg, d, run_dir, lay, pairs, point, notes)
    emit("start", step=loop.step, total_steps=cfg.total_steps, method=METHOD, world_size=d.world_size,
         device=str(d.device), config=asdict(cfg), notes=notes)
    loop.emit = emit
    if loop.vgg is None or cfg.vgg_weights == RANDOM_VGG:
        emit("log", level="warning", message=loop.vgg_note)
    for warning in summary["warnings"]:
        emit("log", level="warning", message=warning)

    batches = epoch_batches(loop.dataset, batch_size=cfg.batch_size, workers=cfg.workers, seed=cfg.seed, d=d,
                            start_step=loop.step, items="pairs")
    return drive(loop, batches, point=point, should_stop=should_stop)


@dataclass
class _Loop:
    """One iteration, logging, samples and checkpoints; the state a run carries from step to step."""

    cfg: SpadeConfig
    d: Dist
    run_dir: Path
    name: str
    lay: Layout
    hparams: dict[str, Any]
    translator: Translator
    netD: MultiscaleDiscriminator
    model_G: nn.Module  # the translator, or its DDP wrapper
    model_D: nn.Module
    vgg: VGGLoss | None
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    sched_G: torch.optim.lr_scheduler.LambdaLR
    sched_D: torch.optim.lr_scheduler.LambdaLR
    scaler_G: torch.amp.GradScaler | None
    scaler_D: torch.amp.GradScaler | None
    precision: Precision
    dataset: PairedFolder
    step: int
    model_id: str | None  # the run's catalog entry, once it has one
    vgg_note: str = ""
    emit: Emit = no_emit
    last_logged: dict[str, float] | None = None

    @classmethod
    def build(cls, cfg: SpadeConfig, d: Dist, run_dir: Path, lay: Layout, pairs: list[Pair],
              point: ResumePoint | None, notes: list[str]) -> _Loop:
        """Networks, optimisers and schedulers, fresh or restored from `point`; appends to `notes`."""
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
        state: dict[str, Any] | None = None
        if point is not None:
            model = read_checkpoint(point.model)
            netG.load_state_dict(model.state_dict)
            if netE is not None:
                netE.load_state_dict(model.parts["netE"])
            state = read_state(point.state)
            netD.load_state_dict(state["netD"])

        netG, synced = sync_batch_norm(netG.to(d.device), d)
        translator = Translator(netG, netE.to(d.device) if netE is not None else None, lay.latent_hw)
        netD.to(d.device)
        if vgg is not None:
            vgg.to(d.device)
        opt_G = torch.optim.Adam(translator.parameters(), lr=cfg.lr_G, betas=(cfg.beta1, cfg.beta2))
        opt_D = torch.optim.Adam(netD.parameters(), lr=cfg.lr_D, betas=(cfg.beta1, cfg.beta2))
        sched_G = torch.optim.lr_scheduler.LambdaLR(opt_G, linear_decay(cfg.total_steps))
        sched_D = torch.optim.lr_scheduler.LambdaLR(opt_D, linear_decay(cfg.total_steps))
        precision = choose_precision(d.device, cfg.amp)
        scaler_G, scaler_D = precision.scaler(), precision.scaler()
        if d.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # a fixed crop size: let cuDNN pick its fastest kernels
        torch.manual_seed(cfg.seed + d.rank)  # per-rank noise (the VAE's) from here on
        notes[:0] = [f"precision: {precision.name}", vgg_note]
        if d.enabled:
            notes.append("synchronized BatchNorm across GPUs" if synced else
                         "BatchNorm statistics per process (PyTorch synchronizes them on GPUs only)")
        if cfg.lambda_l1:
            notes.append(f"pixel L1 loss weight {cfg.lambda_l1} (ours, not in the paper)")
        if state is not None:
            opt_G.load_state_dict(state["optimizer_G"])
            opt_D.load_state_dict(state["optimizer_D"])
            sched_G.load_state_dict(state["scheduler_G"])
            sched_D.load_state_dict(state["scheduler_D"])
            for scaler, key in ((scaler_G, "scaler_G"), (scaler_D, "scaler_D")):
                if scaler is not None and state.get(key):
                    scaler.load_state_dict(state[key])
            same_streams = restore_rng(state["rng"], d)
            notes.append(f"resumed from step {state['step']}" + (
                "" if same_streams else " (new random streams: the run was saved with fewer processes)"))
        dataset = PairedFolder(palette=lay.palette, label_nc=lay.label_nc, size=lay.size, pairs=pairs,
                               contain_dontcare_label=cfg.contain_dontcare_label, no_instance=cfg.no_instance,
                               seed=cfg.seed, ignore_unknown_ids=cfg.ignore_unknown_ids)
        return cls(cfg=cfg, d=d, run_dir=run_dir, name=cfg.name or run_dir.name, lay=lay, hparams=hparams,
                   translator=translator, netD=netD, model_G=wrap_ddp(translator, d), model_D=wrap_ddp(netD, d),
                   vgg=vgg, opt_G=opt_G, opt_D=opt_D, sched_G=sched_G, sched_D=sched_D, scaler_G=scaler_G,
                   scaler_D=scaler_D, precision=precision, dataset=dataset, vgg_note=vgg_note,
                   step=int(state["step"]) if state else 0, model_id=point.info.get("model_id") if point else None)

    def __post_init__(self) -> None:
        self._sums: dict[str, Tensor] = {}
        self._count = 0
        self._clock = (time.perf_counter(), self.step)
        self._reported: set[str] = set()
        self._val: dict[str, Tensor] | None = None

    def iteration(self, batch: dict[str, Any], epoch: int) -> None:
        cfg, dev = self.cfg, self.d.device
        self._report_skipped(batch["skipped"])
        seg = batch["seg"].to(dev, non_blocking=True)
        real = batch["image"].to(dev, non_blocking=True)
        # one generator forward serves both updates (pix2pix order: D, then G against the updated D)
        with self.precision.autocast():
            fake, mu, logvar = self.model_G(seg, real)

        self.netD.requires_grad_(True)
        with self.precision.autocast():
            fake_preds, real_preds = _halves(self.model_D(_pairs_for_D(seg, fake.detach(), real)))
        loss_D = hinge_d_loss(real_preds, fake_preds)
        optimizer_step(loss_D, self.opt_D, self.scaler_D)

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
        optimizer_step(loss_G, self.opt_G, self.scaler_G)
        with warnings.catch_warnings():  # fp16's GradScaler skips steps with inf gradients: the schedule
            warnings.simplefilter("ignore", UserWarning)  # still follows the iterations, as intended
            self.sched_G.step()
            self.sched_D.step()
        self.step += 1

        for key, value in {"D": loss_D, **losses, "G": loss_G}.items():
            self._sums[key] = self._sums.get(key, 0) + value.detach().float()
        self._count += 1
        if self.step % cfg.log_every == 0 or self.step == cfg.total_steps:
            self._log(epoch)

    def _log(self, epoch: int) -> None:
        names = list(self._sums)
        means = mean_over_ranks(torch.stack([self._sums[k] for k in names]) / self._count, self.d).tolist()
        now = time.perf_counter()
        it_s = (self.step - self._clock[1]) / max(now - self._clock[0], 1e-9)
        self._clock, self._sums, self._count = (now, self.step), {}, 0
        self.last_logged = dict(zip(names, means, strict=True))
        self.emit("step", step=self.step, epoch=epoch, losses=self.last_logged,
                  lr={"G": self.opt_G.param_groups[0]["lr"], "D": self.opt_D.param_groups[0]["lr"]},
                  it_s=round(it_s, 4), samples_s=round(it_s * self.cfg.batch_size * self.d.world_size, 4),
                  eta_s=round((self.cfg.total_steps - self.step) / it_s, 1) if it_s > 0 else None)

    def _report_skipped(self, skipped: list[str]) -> None:
        for text in skipped:
            for item in filter(None, text.split("; ")):
                if item not in self._reported:
                    self._reported.add(item)
                    self.emit("log", level="warning", message=f"skipped an unreadable file: {item}")

    def sample(self) -> None:
        """RUN/samples/step_N.png: rows of [label map | generated | real] for up to 4 fixed examples."""
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
        with torch.no_grad():
            z = self._val["z"].to(self.d.device) if "z" in self._val else None
            fake = netG(self._val["seg"].to(self.d.device), z=z, latent_hw=self.lay.latent_hw).float().cpu()
        netG.train()
        rows = [[self.lay.palette.colorize(label.numpy()), _to_uint8(gen), _to_uint8(real)]
                for label, gen, real in zip(self._val["label"], fake, self._val["image"], strict=True)]
        rel = f"samples/{step_stem(self.step)}.png"
        save_grid(self.run_dir / rel, rows)
        self.emit("sample", step=self.step, path=rel)

    def checkpoint(self) -> Path:
        """Write the pair (rank 0; every rank contributes its RNG state) and refresh the catalog entry.

        All ranks learn whether it worked, so a full disk stops every process with the same message.
        """
        rng = rng_rows(self.d)
        return checkpoint_on_main(self.d, self.run_dir, self.step, lambda: self._write(rng))

    def _write(self, rng: dict[str, Tensor]) -> Path:
        cfg, date = self.cfg, now_iso()
        classes = [[c.id, c.name] for c in self.lay.palette.classes if c.id < self.lay.label_nc]
        provenance = {"run": str(self.run_dir.resolve()), "step": self.step, "images": cfg.images,
                      "labels": cfg.labels, "instances": cfg.instances, "date": date, "recipe": RECIPE,
                      "config": asdict(cfg)}
        metadata = {"method": METHOD, "name": self.name, "hparams": self.hparams, "palette": cfg.palette,
                    "classes": classes, "license": LICENSE, "provenance": provenance}
        netG = self.translator.netG
        parts = {"netE": self.translator.netE.state_dict()} if self.translator.netE is not None else {}
        state = {"step": self.step, "netD": self.netD.state_dict(), "optimizer_G": self.opt_G.state_dict(),
                 "optimizer_D": self.opt_D.state_dict(), "scheduler_G": self.sched_G.state_dict(),
                 "scheduler_D": self.sched_D.state_dict(),
                 "scaler_G": self.scaler_G.state_dict() if self.scaler_G else None,
                 "scaler_D": self.scaler_D.state_dict() if self.scaler_D else None, "rng": rng}
        path, model_id = save_checkpoint(
            self.run_dir, step=self.step, model=netG.state_dict(), metadata=metadata, parts=parts, state=state,
            model_id=self.model_id, keep=cfg.keep_checkpoints, emit=self.emit,
            listing={"run_name": self.name, "method": METHOD, "task": SPADE_ARCH.task.value,
                     "size_rule": arch.size_rule(self.hparams), "license": LICENSE, "hparams": self.hparams,
                     "classes": classes, "palette": cfg.palette, "added": date,
                     "notes": f"step {self.step} of run {self.name}, dataset {cfg.images}, {date[:10]}"})
        self.model_id = model_id or self.model_id  # later checkpoints refresh this entry
        return path


def _pairs_for_D(seg: Tensor, fake: Tensor, real: Tensor) -> Tensor:
    """Fake and real pairs in one batch: one discriminator pass (and one DDP reduction) per update."""
    return torch.cat([torch.cat([seg, fake.to(seg.dtype)], 1), torch.cat([seg, real], 1)], 0)


def _halves(preds: list[list[Tensor]]) -> tuple[list[list[Tensor]], list[list[Tensor]]]:
    fake = [[t[: t.shape[0] // 2].float() for t in scale] for scale in preds]
    real = [[t[t.shape[0] // 2:].float() for t in scale] for scale in preds]
    return fake, real


def _to_uint8(image: Tensor) -> np.ndarray:
    return ((image.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()


# --- export to the official layout ---------------------------------------------------------------------


def export(source: Path, out: Path) -> list[Path]:
    """RUN (its latest checkpoint) or a checkpoint -> DIR/latest_net_G.pth (+ latest_net_E.pth) + opt.txt."""
    if source.is_dir():
        point = find_resume_point(source)
        if point is None:
            raise TrainError(f"{source} has no complete checkpoint to export")
        source = point.model
    try:
        ckpt = read_checkpoint(source)
    except CheckpointError as exc:
        raise TrainError(str(exc)) from None
    if ckpt.metadata.get("method") != METHOD or "hparams" not in ckpt.metadata:
        raise TrainError(f"{source.name} is not a SPADE checkpoint written by this trainer")
    hp = ckpt.metadata["hparams"]
    config = ckpt.metadata.get("provenance", {}).get("config", {})
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = [out / "latest_net_G.pth"]
        generator = dict(ckpt.state_dict)  # bare state dict, no prefix: the official layout
        atomic_write(written[0], lambda f: torch.save(generator, f))
        if "netE" in ckpt.parts:
            written.append(out / "latest_net_E.pth")
            encoder = dict(ckpt.parts["netE"])
            atomic_write(written[-1], lambda f: torch.save(encoder, f))
        options = {
            "name": ckpt.metadata.get("name", source.stem), "model": "pix2pix", "netG": "spade",
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
        lines = ["----------------- Options ---------------"]
        lines += [f"{k:>25}: {v!s:<30}" for k, v in sorted(options.items())]
        lines += ["----------------- End -------------------"]
        written.append(out / SPADE_OPTIONS_FILE)
        atomic_write_bytes(written[-1], ("\n".join(lines) + "\n").encode("utf-8"))
    except OSError as exc:
        raise TrainError(f"cannot write the export to {out}: {exc.strerror or exc}") from None
    return written


# --- command line ---------------------------------------------------------------------------------------

CLI = runner.MethodCLI(method=METHOD, config_type=SpadeConfig, train=train, validate=validate,
                       fixed_on_resume=FIXED_ON_RESUME)


def main(argv: list[str]) -> int:
    if argv[:1] != ["export"]:
        return runner.run(CLI, argv)
    parser = runner.OneLineParser(prog="python -m trainers spade export",
                                  description="Write a checkpoint in the official SPADE layout "
                                              "(latest_net_G.pth + opt.txt).")
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

