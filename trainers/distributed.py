"""Process set-up shared by the trainers: torchrun's environment, device, seeding, mixed precision and
the few collectives a training loop needs.

One process is the plain case of many: every helper works with world_size 1 and no process group.
"""

from __future__ import annotations

import os
import random
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from engine.device import pick_device
from trainers.common import TrainError


@dataclass(frozen=True)
class Dist:
    rank: int
    local_rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup_distributed(device: str = "auto") -> Dist:
    """This process's place in the run, from torchrun's RANK / WORLD_SIZE / LOCAL_RANK (absent: one process).

    Under torchrun with CUDA each process takes cuda:LOCAL_RANK and the group uses NCCL; otherwise gloo.
    Calling it again returns the same answer, so the CLI and a trainer can both call it.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    try:
        chosen = pick_device(None if device == "auto" else device)
    except (ValueError, RuntimeError) as exc:
        raise TrainError(str(exc).splitlines()[0]) from None
    if world > 1:
        if chosen.type == "cuda":
            chosen = torch.device("cuda", local % torch.cuda.device_count())
            torch.cuda.set_device(chosen)
        elif chosen.type != "cpu":
            raise TrainError(f"training with several processes needs CUDA or the CPU, not {chosen.type}")
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if chosen.type == "cuda" else "gloo",
                                    rank=rank, world_size=world)
    return Dist(rank=rank, local_rank=local, world_size=world, device=chosen)


def teardown_distributed(*, synchronize: bool = False) -> None:
    """Leave the process group; `synchronize` (a run that ended normally on every rank) first waits for the
    others, so no rank tears down gloo while a peer is still in a collective (an abort at exit otherwise)."""
    if dist.is_available() and dist.is_initialized():
        if synchronize:
            dist.barrier()
        dist.destroy_process_group()


def seed_everything(seed: int) -> None:
    """Python, NumPy and torch (all devices). Data augmentation has its own per-sample generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# --- collectives (no-ops in one process) ----------------------------------------------------------------


def any_rank(flag: bool, d: Dist) -> bool:
    """True on every rank when it is true on one: ranks must agree to stop, or the others would hang."""
    if not d.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=d.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def mean_over_ranks(values: torch.Tensor, d: Dist) -> torch.Tensor:
    if not d.enabled:
        return values
    t = values.detach().to(d.device, torch.float32).clone()
    dist.all_reduce(t)
    return t / d.world_size


def gather_rows(row: torch.Tensor, d: Dist) -> torch.Tensor:
    """(world_size, n): every rank's 1-D tensor of the same length, in rank order, on the CPU."""
    if not d.enabled:
        return row[None].cpu()
    # NCCL moves only CUDA tensors, and bytes travel as int32 to stay off backend-specific dtypes
    local = row.to(d.device, torch.int32) if row.dtype == torch.uint8 else row.to(d.device)
    rows = [torch.empty_like(local) for _ in range(d.world_size)]
    dist.all_gather(rows, local)
    return torch.stack(rows).to("cpu", row.dtype)


def barrier(d: Dist) -> None:
    if d.enabled:
        dist.barrier()


# --- random state -----------------------------------------------------------------------------------------


def rng_rows(d: Dist) -> dict[str, torch.Tensor]:
    """Every rank's torch RNG state (CPU, and the CUDA device's), gathered as uint8 rows for a checkpoint."""
    rows = {"torch_cpu": gather_rows(torch.get_rng_state(), d)}
    if d.device.type == "cuda":
        rows["torch_cuda"] = gather_rows(torch.cuda.get_rng_state(d.device), d)
    return rows


def restore_rng(rows: dict[str, torch.Tensor], d: Dist) -> bool:
    """Put back this rank's saved RNG state; False when the run was saved with fewer processes."""
    cpu = rows.get("torch_cpu")
    if cpu is None or d.rank >= cpu.shape[0]:
        return False
    torch.set_rng_state(cpu[d.rank].clone())
    cuda = rows.get("torch_cuda")
    if d.device.type == "cuda" and cuda is not None and d.rank < cuda.shape[0]:
        torch.cuda.set_rng_state(cuda[d.rank].clone(), d.device)
    return True


# --- mixed precision ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Precision:
    """Autocast on CUDA only (bf16 where the GPU has it, else fp16 with a GradScaler per optimiser)."""

    device_type: str
    dtype: torch.dtype | None  # None: float32 throughout

    def autocast(self) -> AbstractContextManager:
        if self.dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)

    def scaler(self) -> torch.amp.GradScaler | None:
        return torch.amp.GradScaler(self.device_type) if self.dtype == torch.float16 else None

    @property
    def name(self) -> str:
        return {None: "float32", torch.bfloat16: "bf16 autocast", torch.float16: "fp16 autocast"}[self.dtype]


def choose_precision(device: torch.device, amp: bool) -> Precision:
    if not amp or device.type != "cuda":
        return Precision(device.type, None)
    bf16 = torch.cuda.is_bf16_supported()
    return Precision(device.type, torch.bfloat16 if bf16 else torch.float16)


def optimizer_step(loss: torch.Tensor, optimizer: torch.optim.Optimizer,
                   scaler: torch.amp.GradScaler | None) -> None:
    """backward + step, through the GradScaler when fp16 needs one."""
    optimizer.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        optimizer.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()


# --- wrapping -----------------------------------------------------------------------------------------------


def wrap_ddp(module: nn.Module, d: Dist) -> nn.Module:
    """DistributedDataParallel around a module that trains, or the module itself in one process."""
    if not d.enabled:
        return module
    ids = [d.device.index] if d.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids, broadcast_buffers=True)


def sync_batch_norm(module: nn.Module, d: Dist) -> tuple[nn.Module, bool]:
    """Batch statistics over all processes (the paper's synchronized BatchNorm); PyTorch has it on GPUs only,
    so CPU processes keep per-process statistics. Keys and buffers are unchanged, so checkpoints stay official."""
    if d.enabled and d.device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module), True
    return module, False
