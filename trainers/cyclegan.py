"""CycleGAN training (Zhu et al., ICCV 2017; thesis ch. 3.2), producing our engine's two-direction CycleGAN model.

Two ResNet generators, G_A: A -> B and G_B: B -> A (engine.models.cyclegan, the official layout), and two
70x70 PatchGAN discriminators (trainers.nets.patchgan), named as the official code: D_A judges G_A's
translations against real B photos, D_B judges G_B's against real A photos. Losses of the generators:
LSGAN, cycle consistency L1 |G_B(G_A(a)) - a| + |G_A(G_B(b)) - b| times lambda_cycle (10), and the identity
mapping |G_A(b) - b| + |G_B(a) - a| times lambda_identity x lambda_cycle (0.5 x 10). The discriminators
(LSGAN, halved) see translations drawn from a pool of the last 50. Each step updates the generators,
then the discriminators (the official order). Adam lr 2e-4, betas (0.5, 0.999), constant, then linearly
to 0 over decay_steps; weights N(0, 0.02); batch 1; random crops of photos scaled to 286 / 256 of the
crop (short side, aspect kept; the official resize makes the photo square) and random flips.

The model file: G_A's state dict, G_B as the part "G_B", hparams["directions"] ["AtoB", "BtoA"].

    python -m trainers cyclegan (--dataroot DIR | --a DIR --b DIR) --out RUN [options] [--resume] [--validate-only]
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.api import Task
from engine.checkpoints import read_checkpoint
from engine.models import cyclegan as arch
from trainers.checkpointing import ResumePoint
from trainers.common import TrainError, linear_decay
from trainers.configs import CycleGanConfig
from trainers.distributed import Dist, seed_everything, wrap_ddp
from trainers.loop import ModelFile, TrainingLoop, fixed_photos, to_uint8
from trainers.losses import lsgan_d_loss, lsgan_g_loss
from trainers.nets.patchgan import PatchDiscriminator, init_weights
from trainers.translation import ImagePool, check_options, scan_domains, translation_load_size
from trainers.unpaired_datasets import UnpairedFolders, domain_folders

METHOD = "cyclegan"
RECIPE = ("CycleGAN (Zhu et al. 2017): LSGAN, cycle L1 x 10, identity x 0.5 x 10, image pool 50, 70x70 PatchGAN, "
          "Adam 2e-4 betas (0.5, 0.999), linear decay")
# Options that shape the saved networks, the pools or the data stream: a resumed run must keep them.
FIXED_ON_RESUME = ("ngf", "n_blocks", "ndf", "n_layers_D", "crop_size", "load_size", "seed", "batch_size",
                   "pool_size")


def plan(cfg: CycleGanConfig) -> tuple[Path, Path]:
    """Check the options; returns the A and B folders. Every problem is one TrainError line."""
    check_options(cfg)
    for name in ("ndf", "n_layers_D"):
        if getattr(cfg, name) < 1:
            raise TrainError(f"{name} must be at least 1")
    if cfg.pool_size < 0 or cfg.lambda_cycle < 0 or cfg.lambda_identity < 0:
        raise TrainError("pool_size, lambda_cycle and lambda_identity cannot be negative")
    try:
        return domain_folders(cfg.dataroot, cfg.a, cfg.b)
    except ValueError as exc:
        raise TrainError(str(exc)) from None


class CycleGenerators(nn.Module):
    """G_A and G_B in one module, so DDP reduces both in one backward. forward(a, b) -> the translations,
    the cycles back and, with `identity`, each generator applied to its own target domain."""

    def __init__(self, g_a: arch.ResnetGenerator, g_b: arch.ResnetGenerator) -> None:
        super().__init__()
        self.G_A, self.G_B = g_a, g_b

    def forward(self, real_a: Tensor, real_b: Tensor, identity: bool) -> dict[str, Tensor]:
        n = len(real_a)
        # one pass per generator on [input; identity input] (InstanceNorm is per image: batching changes nothing)
        out_a = self.G_A(torch.cat([real_a, real_b]) if identity else real_a)
        out_b = self.G_B(torch.cat([real_b, real_a]) if identity else real_b)
        fake_b, fake_a = out_a[:n], out_b[:n]
        result = {"fake_B": fake_b, "fake_A": fake_a, "rec_A": self.G_B(fake_b), "rec_B": self.G_A(fake_a)}
        if identity:
            result |= {"idt_A": out_a[n:], "idt_B": out_b[n:]}
        return result


class CycleGanLoop(TrainingLoop):
    arch = arch
    task = Task.IMAGE_TO_IMAGE
    fixed_on_resume = FIXED_ON_RESUME
    recipe = RECIPE
    sample_caption = "A | A→B | B | B→A"
    lost_on_fewer_processes = "new random streams and empty image pools"
    check = staticmethod(plan)
    scan = staticmethod(scan_domains)

    @classmethod
    def build(cls, cfg: CycleGanConfig, plan: tuple[Path, Path], data: tuple[list[Path], list[Path]], d: Dist,
              run_dir: Path, point: ResumePoint | None, state: Mapping[str, Any] | None) -> CycleGanLoop:
        seed_everything(cfg.seed)  # the same initial weights on every rank (DDP would broadcast rank 0's anyway)
        hp = arch.config_hparams(ngf=cfg.ngf, n_blocks=cfg.n_blocks, directions=("AtoB", "BtoA"))
        generators = CycleGenerators(*(init_weights(arch.build(hp).train(), "normal") for _ in range(2)))
        discriminators = [init_weights(PatchDiscriminator(ndf=cfg.ndf, n_layers=cfg.n_layers_D), "normal")
                          for _ in range(2)]
        if point is not None:
            ckpt = read_checkpoint(point.model)
            generators.G_A.load_state_dict(ckpt.state_dict)
            generators.G_B.load_state_dict(ckpt.parts[arch.G_B_PART])
        generators.to(d.device)
        for net in discriminators:
            net.to(d.device)
        betas = (cfg.beta1, cfg.beta2)
        opt_G = torch.optim.Adam(generators.parameters(), lr=cfg.lr, betas=betas)
        opt_D = torch.optim.Adam([p for net in discriminators for p in net.parameters()], lr=cfg.lr, betas=betas)
        schedule = linear_decay(cfg.total_steps, cfg.decay_steps)
        loop = cls(cfg, d, run_dir, point=point, state=state)
        loop.generators, loop.model_G = generators, wrap_ddp(generators, d)
        loop.netD_A, loop.netD_B = discriminators
        loop.model_D_A, loop.model_D_B = (wrap_ddp(net, d) for net in discriminators)
        loop.optimizers = {"G": opt_G, "D": opt_D}
        loop.schedulers = [torch.optim.lr_scheduler.LambdaLR(opt, schedule) for opt in (opt_G, opt_D)]
        loop.scalers = {"G": loop.precision.scaler(), "D": loop.precision.scaler()}
        loop.pools = {"A": ImagePool(cfg.pool_size), "B": ImagePool(cfg.pool_size)}
        loop.notes = [f"photos: {len(data[0])} in A, {len(data[1])} in B"]
        loop.dataset = UnpairedFolders(*data, crop_size=cfg.crop_size, load_size=translation_load_size(cfg),
                                       seed=cfg.seed)
        loop._val = None
        return loop

    def iteration(self, batch: dict[str, Any], epoch: int) -> None:
        cfg, dev = self.cfg, self.d.device
        self.report_skipped(batch["skipped"])
        real_a = batch["A"].to(dev, non_blocking=True)
        real_b = batch["B"].to(dev, non_blocking=True)
        identity = cfg.lambda_identity > 0
        with self.precision.autocast():
            out = self.model_G(real_a, real_b, identity)

        # the generators, against the current discriminators (which only pass gradients through)
        for net in (self.netD_A, self.netD_B):
            net.requires_grad_(False)
        with self.precision.autocast():
            logits_a, logits_b = self.netD_A(out["fake_B"]).float(), self.netD_B(out["fake_A"]).float()
        losses = {"G_A": lsgan_g_loss(logits_a), "G_B": lsgan_g_loss(logits_b),
                  "cycle_A": F.l1_loss(out["rec_A"].float(), real_a) * cfg.lambda_cycle,
                  "cycle_B": F.l1_loss(out["rec_B"].float(), real_b) * cfg.lambda_cycle}
        if identity:
            weight = cfg.lambda_cycle * cfg.lambda_identity
            losses["idt_A"] = F.l1_loss(out["idt_A"].float(), real_b) * weight
            losses["idt_B"] = F.l1_loss(out["idt_B"].float(), real_a) * weight
        loss_G = torch.stack(list(losses.values())).sum()
        self.update("G", loss_G)

        # the discriminators: real photos against translations from the pools
        for net in (self.netD_A, self.netD_B):
            net.requires_grad_(True)
        n = len(real_a)
        with self.precision.autocast():
            pred_a = self.model_D_A(torch.cat([real_b, self.pools["B"].query(out["fake_B"]).to(real_b.dtype)])).float()
            pred_b = self.model_D_B(torch.cat([real_a, self.pools["A"].query(out["fake_A"]).to(real_a.dtype)])).float()
        losses_D = {"D_A": lsgan_d_loss(pred_a[:n], pred_a[n:]), "D_B": lsgan_d_loss(pred_b[:n], pred_b[n:])}
        self.update("D", losses_D["D_A"] + losses_D["D_B"])
        self.finish_step({**losses_D, **losses, "G": loss_G}, epoch)

    def sample_rows(self) -> list[list[np.ndarray]]:
        """Per fixed pair: [A | G_A(A) | B | G_B(B)], centre crops of photos spread over each folder."""
        if self._val is None:
            self._val = {k: fixed_photos(folder.paths, self.cfg.crop_size)
                         for k, folder in (("A", self.dataset.a), ("B", self.dataset.b))}
        a, b = self._val["A"], self._val["B"]
        fake_b = self.generators.G_A(a.to(self.d.device)).cpu()
        fake_a = self.generators.G_B(b.to(self.d.device)).cpu()
        return [[to_uint8(a[i % len(a)]), to_uint8(fake_b[i % len(a)]), to_uint8(b[i % len(b)]),
                 to_uint8(fake_a[i % len(b)])] for i in range(max(len(a), len(b)))]

    def model_file(self) -> ModelFile:
        g_a = self.generators.G_A.state_dict()
        hparams = arch.resolve_hparams(g_a, {"directions": ["AtoB", "BtoA"]})
        return g_a, {arch.G_B_PART: self.generators.G_B.state_dict()}, hparams

    def state_parts(self) -> dict[str, Any]:
        return {"netD_A": self.netD_A, "netD_B": self.netD_B, **super().state_parts()}

    def training_state(self) -> dict[str, Any]:
        return {**super().training_state(), "pools": {k: pool.gathered(self.d) for k, pool in self.pools.items()}}

    def restore(self, state: Mapping[str, Any]) -> bool:
        same_streams = super().restore(state)
        same_pools = all(pool.restore(state["pools"].get(k), self.d) for k, pool in self.pools.items())
        return same_streams and same_pools

    def data_description(self) -> str:
        return f"A {self.dataset.a.paths[0].parent}, B {self.dataset.b.paths[0].parent}"


LOOP = CycleGanLoop
train, validate = LOOP.train, LOOP.validate
