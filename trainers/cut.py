"""CUT, FastCUT and SinCUT training (Park et al., ECCV 2020; thesis ch. 3.3), producing our engine's CUT model.

One generator G: A -> B (engine.models.cut.CutGenerator, the official layout) and a projection head H
(trainers.nets.patch_mlp: a 2-layer MLP of 256 units per encoder layer, L2-normalised). PatchNCE: the
features of G's layers 0, 4, 8, 12 and 16 (pixels, both downsampling convs, residual blocks 1 and 5) are
taken at 256 random locations per layer; each output location must pick its own input location among the
other locations of the same image (temperature 0.07). The modes (the `mode` option; SinCUT is the `sincut`
method) differ in training only:

- CUT: LSGAN with CUT's anti-aliased 70x70 PatchGAN, lambda_X = 1 on A -> B and lambda_Y = 1 on B -> B (the
  identity term); as the official code, the two PatchNCE terms are averaged when both are on.
- FastCUT: lambda_X = 10, lambda_Y = 0, flip equivariance: at random the generator's input is flipped
  horizontally and its output's features are flipped back before PatchNCE.
- SinCUT, one source and one target photo: each step scales both to a random width (384 to 1024 px) and
  cuts 16 random 128 px crops of each, the two domains; the crops are cut into 64 px tiles before the
  discriminator, which is StyleGAN2's (trainers.nets.stylegan2_d), with the non-saturating loss and R1 (the
  paper's choices). Where the paper is silent the official SinCUT's values: PatchNCE 4 on both terms with
  one location per crop and the other crops as negatives, an L1 identity term of 1, Adam lr 0.002, betas
  (0, 0.99). Ours: the generator is CUT's ResNet (the paper's SinCUT has a StyleGAN2-based one), so the
  model paints like every CUT brush.

CUT and FastCUT: Adam lr 2e-4, betas (0.5, 0.999) for G, D and H, constant then linear decay; weights
Glorot-normal with gain 0.02 (the official init); batch 1; random crops and flips of photos scaled to
286 / 256 of the crop. The model file is G's state dict with hparams["mode"] and ["directions"] ["AtoB"].

    python -m trainers cut (--dataroot DIR | --a DIR --b DIR) --mode CUT|FastCUT --out RUN [options]
    python -m trainers sincut --source PHOTO --target PHOTO --out RUN [options]
"""

from __future__ import annotations

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
from engine.checkpoints import read_checkpoint
from engine.imageio import upright_rgb
from engine.models import cut as arch
from trainers.checkpointing import ResumePoint, run_model_id
from trainers.common import TrainError, linear_decay
from trainers.configs import CutConfig, SinCutConfig
from trainers.distributed import Dist, seed_everything, wrap_ddp
from trainers.loop import ModelFile, Summary, TrainingLoop, fixed_photos, to_uint8
from trainers.losses import (
    logistic_d_loss,
    logistic_g_loss,
    lsgan_d_loss,
    lsgan_g_loss,
    patch_nce_loss,
    r1_penalty,
)
from trainers.nets.patch_mlp import PatchProjector
from trainers.nets.patchgan import PatchDiscriminator, init_weights
from trainers.nets.stylegan2_d import ImageDiscriminator
from trainers.stepping import Batches, step_batches
from trainers.translation import check_options, parse_layers, scan_domains, translation_load_size
from trainers.unpaired_datasets import SingleImageCrops, UnpairedFolders, domain_folders, scan_single_images

RECIPES = {
    "CUT": "CUT (Park et al. 2020): LSGAN, PatchNCE on layers 0,4,8,12,16 x 1 and identity PatchNCE x 1 (averaged), "
           "256 patches, tau 0.07, anti-aliased PatchGAN, Adam 2e-4 betas (0.5, 0.999), linear decay",
    "FastCUT": "FastCUT (Park et al. 2020): LSGAN, PatchNCE x 10 on layers 0,4,8,12,16, flip equivariance, 256 "
               "patches, tau 0.07, anti-aliased PatchGAN, Adam 2e-4 betas (0.5, 0.999), linear decay",
    "SinCUT": "SinCUT (Park et al. 2020): one photo per domain, 16 random 128 px crops at random scales, 64 px tiles "
              "to a StyleGAN2 discriminator, non-saturating GAN + R1, PatchNCE x 4 with the other crops as "
              "negatives, L1 identity, Adam 0.002 betas (0, 0.99), linear decay",
}
MODE_DEFAULTS = {"CUT": (1.0, 1.0, False), "FastCUT": (10.0, 0.0, True)}  # lambda_X, lambda_Y, flip equivariance
# Options that shape the saved networks or the data stream: a resumed run must keep them.
FIXED_ON_RESUME = ("ngf", "n_blocks", "ndf", "n_layers_D", "netF_nc", "nce_layers", "crop_size", "load_size", "seed",
                   "batch_size", "mode", "D_patch_size", "netD_scale_capacity")
F_PROBE = 32  # the side of the image whose features tell the projection head its input widths
Config = CutConfig | SinCutConfig


@dataclass(frozen=True)
class Plan:
    """What the options make of a run: the mode, its loss weights and the data."""

    mode: str  # "CUT", "FastCUT" or "SinCUT"
    lambda_x: float
    lambda_y: float
    flip: bool  # flip equivariance
    batch_negatives: bool  # every patch of the minibatch is a negative (SinCUT), or only the same image's
    layers: list[int]
    data: tuple[Path, Path]  # the A and B folders, or the source and target photos


def plan(cfg: Config) -> Plan:
    """Check the options against each other; every problem is one TrainError line."""
    check_options(cfg)
    layers = parse_layers(cfg.nce_layers)
    for name in ("num_patches", "netF_nc"):
        if getattr(cfg, name) < 1:
            raise TrainError(f"{name} must be at least 1")
    if cfg.nce_T <= 0:
        raise TrainError("nce_T must be positive")
    if isinstance(cfg, SinCutConfig):
        if cfg.D_patch_size < 8 or cfg.crop_size % cfg.D_patch_size:
            raise TrainError(f"D_patch_size must be at least 8 and divide crop_size ({cfg.crop_size}), got "
                             f"{cfg.D_patch_size}")
        if not 0 < cfg.min_width <= cfg.load_size:
            raise TrainError("min_width must be positive and at most load_size")
        if cfg.netD_scale_capacity <= 0:
            raise TrainError("netD_scale_capacity must be positive")
        weights = (cfg.lambda_NCE, cfg.lambda_NCE_Y, cfg.lambda_GAN, cfg.lambda_R1, cfg.lambda_identity)
        if min(weights) < 0:
            raise TrainError("the loss weights cannot be negative")
        if not cfg.source or not cfg.target:
            raise TrainError("--source PHOTO and --target PHOTO are required (one photo per domain)")
        return Plan("SinCUT", cfg.lambda_NCE, cfg.lambda_NCE_Y, False, True, layers,
                    (Path(cfg.source), Path(cfg.target)))
    for name in ("ndf", "n_layers_D"):
        if getattr(cfg, name) < 1:
            raise TrainError(f"{name} must be at least 1")
    lambda_x, lambda_y, flip = MODE_DEFAULTS[cfg.mode]
    lambda_x = lambda_x if cfg.lambda_NCE is None else cfg.lambda_NCE
    lambda_y = lambda_y if cfg.lambda_NCE_Y is None else cfg.lambda_NCE_Y
    flip = flip if cfg.flip_equivariance == "mode" else cfg.flip_equivariance == "on"
    if min(lambda_x, lambda_y, cfg.lambda_GAN) < 0:
        raise TrainError("the loss weights cannot be negative")
    try:
        data = domain_folders(cfg.dataroot, cfg.a, cfg.b)
    except ValueError as exc:
        raise TrainError(str(exc)) from None
    return Plan(cfg.mode, lambda_x, lambda_y, flip, False, layers, data)


def scan(cfg: Config, p: Plan) -> tuple[tuple[list[Path], list[Path]], Summary]:
    """(the A and B photos, summary) of the photo folders (CUT, FastCUT) or of the two photos (SinCUT)."""
    if p.mode == "SinCUT":
        return ([p.data[0]], [p.data[1]]), scan_single_images(*p.data, crop_size=cfg.crop_size)
    return scan_domains(cfg, p.data)


def tiles(images: Tensor, size: int) -> Tensor:
    """(B, C, k * size, m * size) -> (B * k * m, C, size, size): the non-overlapping tiles, image-major."""
    c = images.shape[1]
    cut = images.unfold(2, size, size).unfold(3, size, size)  # (B, C, k, m, size, size)
    return cut.permute(0, 2, 3, 1, 4, 5).reshape(-1, c, size, size)


class ContrastiveTranslator(nn.Module):
    """G and the projection head H in one module, so DDP reduces both in one backward.

    forward(real_a, real_b, flip) -> (G(a), G(b) or None, PatchNCE of a -> G(a), PatchNCE of b -> G(b) or None);
    real_b is None when neither identity term is on, and its PatchNCE is computed only with `nce_identity`.
    The PatchNCE values are means over locations and layers (unweighted).
    """

    def __init__(self, generator: arch.CutGenerator, head: PatchProjector, *, layers: list[int], num_patches: int,
                 temperature: float, batch_negatives: bool, nce_identity: bool) -> None:
        super().__init__()
        self.G, self.H = generator, head
        self.layers, self.num_patches, self.temperature = layers, num_patches, temperature
        self.batch_negatives, self.nce_identity = batch_negatives, nce_identity

    def forward(self, real_a: Tensor, real_b: Tensor | None, flip: bool) -> tuple[Tensor, Tensor | None, Tensor,
                                                                                   Tensor | None]:
        n = len(real_a)
        real = real_a if real_b is None else torch.cat([real_a, real_b])
        fake = self.G(real.flip(3) if flip else real)
        # PatchNCE: the output's features (flipped back) are the queries, the input's the keys (same locations)
        compared = real if self.nce_identity else real_a
        queries = self.G.features(fake[:len(compared)], self.layers)
        if flip:
            queries = [q.flip(3) for q in queries]
        keys, ids = self.H(self.G.features(compared, self.layers), self.num_patches)
        queries, _ = self.H(queries, self.num_patches, ids)
        nce_a = self._nce([q[:n * len(i)] for q, i in zip(queries, ids, strict=True)],
                          [k[:n * len(i)] for k, i in zip(keys, ids, strict=True)], n)
        nce_b = None
        if self.nce_identity:
            nce_b = self._nce([q[n * len(i):] for q, i in zip(queries, ids, strict=True)],
                              [k[n * len(i):] for k, i in zip(keys, ids, strict=True)], len(real) - n)
        return fake[:n], (fake[n:] if real_b is not None else None), nce_a, nce_b

    def _nce(self, queries: list[Tensor], keys: list[Tensor], images: int) -> Tensor:
        groups = 1 if self.batch_negatives else images
        return torch.stack([patch_nce_loss(q.float(), k.float(), temperature=self.temperature, images=groups).mean()
                            for q, k in zip(queries, keys, strict=True)]).mean()


# --- training -------------------------------------------------------------------------------------------


class CutLoop(TrainingLoop):
    arch = arch
    task = Task.IMAGE_TO_IMAGE
    fixed_on_resume = FIXED_ON_RESUME
    check = staticmethod(plan)
    scan = staticmethod(scan)

    @classmethod
    def build(cls, cfg: Config, plan: Plan, data: tuple[list[Path], list[Path]], d: Dist, run_dir: Path,
              point: ResumePoint | None, state: Mapping[str, Any] | None) -> CutLoop:
        p, single = plan, plan.mode == "SinCUT"
        seed_everything(cfg.seed)  # the same initial weights on every rank (DDP would broadcast rank 0's anyway)
        hp = arch.config_hparams(ngf=cfg.ngf, n_blocks=cfg.n_blocks, mode=p.mode)
        generator = init_weights(arch.build(hp).train(), "xavier")
        try:
            with torch.no_grad():
                widths = [f.shape[1] for f in generator.features(torch.zeros(1, 3, F_PROBE, F_PROBE), p.layers)]
        except ValueError as exc:
            raise TrainError(f"nce_layers: {exc}") from None
        head = init_weights(PatchProjector(widths, nc=cfg.netF_nc), "xavier")
        translator = ContrastiveTranslator(generator, head, layers=p.layers, num_patches=cfg.num_patches,
                                           temperature=cfg.nce_T, batch_negatives=p.batch_negatives,
                                           nce_identity=p.lambda_y > 0)
        if single:
            netD: nn.Module = ImageDiscriminator(size=cfg.D_patch_size, capacity=cfg.netD_scale_capacity)
        else:
            netD = init_weights(PatchDiscriminator(ndf=cfg.ndf, n_layers=cfg.n_layers_D, antialias=True), "xavier")
        if point is not None:
            translator.G.load_state_dict(read_checkpoint(point.model).state_dict)
        translator.to(d.device)
        netD.to(d.device)
        betas = (cfg.beta1, cfg.beta2)
        opt_G = torch.optim.Adam(translator.parameters(), lr=cfg.lr, betas=betas)  # G and H: Adam is per parameter
        opt_D = torch.optim.Adam(netD.parameters(), lr=cfg.lr, betas=betas)
        schedule = linear_decay(cfg.total_steps, cfg.decay_steps)
        loop = cls(cfg, d, run_dir, point=point, state=state)
        loop.default_id = run_model_id(p.mode.lower(), loop.name)
        loop.plan, loop.recipe = p, RECIPES[p.mode]
        loop.translator, loop.model_G = translator, wrap_ddp(translator, d)
        loop.netD, loop.model_D = netD, wrap_ddp(netD, d)
        loop.optimizers = {"G": opt_G, "D": opt_D}
        loop.schedulers = [torch.optim.lr_scheduler.LambdaLR(opt, schedule) for opt in (opt_G, opt_D)]
        loop.scalers = {"G": loop.precision.scaler(), "D": loop.precision.scaler()}
        terms = f"lambda_X {p.lambda_x:g}, lambda_Y {p.lambda_y:g}, flip equivariance {'on' if p.flip else 'off'}"
        loop.notes = [f"{p.mode}: {terms}", f"crops of {data[0][0].name} and {data[1][0].name}" if single
                      else f"photos: {len(data[0])} in A, {len(data[1])} in B"]
        if single:
            loop.dataset = SingleImageCrops(*p.data, crop_size=cfg.crop_size, count=cfg.batch_size,
                                            min_width=cfg.min_width, max_width=cfg.load_size, seed=cfg.seed,
                                            rank=d.rank)
            loop.sample_caption = "source | translated | target"
        else:
            loop.dataset = UnpairedFolders(*data, crop_size=cfg.crop_size, load_size=translation_load_size(cfg),
                                           seed=cfg.seed)
            loop.sample_caption = "input (A) | translated (A→B) | a B photo"
        loop._val = None
        return loop

    def batches(self) -> Batches:
        if self.plan.mode == "SinCUT":  # a stream of crops, one batch per step
            return step_batches(self.dataset, workers=self.cfg.workers, d=self.d, start_step=self.step,
                                total_steps=self.cfg.total_steps)
        return super().batches()

    def iteration(self, batch: dict[str, Any], epoch: int) -> None:
        cfg, p, dev = self.cfg, self.plan, self.d.device
        self.report_skipped(batch["skipped"])
        real_a = batch["A"].to(dev, non_blocking=True)
        real_b = batch["B"].to(dev, non_blocking=True)
        single = p.mode == "SinCUT"
        identity = p.lambda_y > 0 or (single and cfg.lambda_identity > 0)
        flip = p.flip and bool(torch.rand(()) < 0.5)
        # one generator pass serves both updates (the official order: D, then G against the updated D)
        with self.precision.autocast():
            fake_b, idt_b, nce_a, nce_b = self.model_G(real_a, real_b if identity else None, flip)

        self.netD.requires_grad_(True)
        losses_D = self._sincut_d_step(real_b, fake_b.detach()) if single else self._d_step(real_b, fake_b.detach())

        self.netD.requires_grad_(False)  # G's step: D only passes gradients through (no DDP sync needed)
        with self.precision.autocast():
            if single:
                logits = self.netD(tiles(fake_b, cfg.D_patch_size)).float()
                losses = {"G_GAN": logistic_g_loss(logits) * cfg.lambda_GAN}
            else:
                losses = {"G_GAN": lsgan_g_loss(self.netD(fake_b).float()) * cfg.lambda_GAN}
        both = 0.5 if nce_b is not None else 1.0  # the official average of the two PatchNCE terms
        losses["NCE"] = nce_a * (p.lambda_x * both)
        if nce_b is not None:
            losses["NCE_Y"] = nce_b * (p.lambda_y * both)
        if single and cfg.lambda_identity > 0:
            losses["idt"] = F.l1_loss(idt_b.float(), real_b) * cfg.lambda_identity
        loss_G = torch.stack(list(losses.values())).sum()
        self.update("G", loss_G)
        self.finish_step({**losses_D, **losses, "G": loss_G}, epoch)

    def _d_step(self, real: Tensor, fake: Tensor) -> dict[str, Tensor]:
        """LSGAN (halved, as the official): the PatchGAN on real B photos against the translations."""
        n = len(real)
        with self.precision.autocast():
            logits = self.model_D(torch.cat([real, fake.to(real.dtype)])).float()
        loss = lsgan_d_loss(logits[:n], logits[n:])
        self.update("D", loss)
        return {"D": loss}

    def _sincut_d_step(self, real: Tensor, fake: Tensor) -> dict[str, Tensor]:
        """Non-saturating loss (halved, as the official) on 64 px tiles, plus R1 on the real tiles (gamma / 2
        x |grad|^2). In float32: the double backward is where reduced precision hurts."""
        cfg = self.cfg
        real_tiles = tiles(real, cfg.D_patch_size).requires_grad_(cfg.lambda_R1 > 0)
        fake_tiles = tiles(fake.float(), cfg.D_patch_size)
        logits = self.model_D(torch.cat([real_tiles, fake_tiles]))
        n = len(real_tiles)
        losses = {"D": 0.5 * logistic_d_loss(logits[:n], logits[n:])}
        loss = losses["D"]
        if cfg.lambda_R1 > 0:
            losses["D_R1"] = r1_penalty(logits[:n], real_tiles)
            loss = loss + losses["D_R1"] * (cfg.lambda_R1 / 2)
        self.update("D", loss)
        return losses

    def sample_rows(self) -> list[list[np.ndarray]]:
        G, dev = self.translator.G, self.d.device
        if self.plan.mode == "SinCUT":
            if self._val is None:
                self._val = [_sample_photo(path, self.cfg.min_width) for path in self.plan.data]
            source, target = self._val
            return [[to_uint8(source), to_uint8(G(source[None].to(dev))[0].cpu()), to_uint8(target)]]
        if self._val is None:
            self._val = {k: fixed_photos(folder.paths, self.cfg.crop_size)
                         for k, folder in (("A", self.dataset.a), ("B", self.dataset.b))}
        a, b = self._val["A"], self._val["B"]
        fake = G(a.to(dev)).cpu()
        return [[to_uint8(a[i]), to_uint8(fake[i]), to_uint8(b[i % len(b)])] for i in range(len(a))]

    def model_file(self) -> ModelFile:
        g = self.translator.G.state_dict()
        return g, {}, arch.resolve_hparams(g, {"mode": self.plan.mode})

    def state_parts(self) -> dict[str, Any]:
        return {"netF": self.translator.H, "netD": self.netD, **super().state_parts()}

    def data_description(self) -> str:
        a, b = self.plan.data
        roles = ("source", "target") if self.plan.mode == "SinCUT" else ("A", "B")
        return f"{self.plan.mode}, {roles[0]} {a}, {roles[1]} {b}"


def _sample_photo(path: Path, width: int) -> Tensor:
    """The whole photo scaled to `width` (at most its own, a multiple of 4), as (3, H, W) in [-1, 1]."""
    image = upright_rgb(path)
    w = max(4, min(width, image.width) // 4 * 4)
    h = max(4, round(image.height * w / image.width / 4) * 4)
    image = image.resize((w, h), Image.BICUBIC)
    return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).float().div_(127.5).sub_(1.0)


LOOP = CutLoop
train, validate = LOOP.train, LOOP.validate
