"""Choose the compute device at run time: CUDA, then MPS, then CPU, unless overridden."""

from __future__ import annotations

import os

import torch

from engine.api import DeviceInfo

DEVICE_ENV = "I2I_DEVICE"
CHOICES = ("auto", "cuda", "mps", "cpu")


def pick_device(override: str | None = None) -> torch.device:
    """`override` (or $I2I_DEVICE) is one of auto/cuda/mps/cpu or a torch device string like cuda:1."""
    choice = (override or os.environ.get(DEVICE_ENV) or "auto").strip().lower()
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(choice)  # raises a clear RuntimeError for nonsense strings
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device '{choice}' was asked for, but this machine has no CUDA device")
    if device.type == "mps" and not _mps_available():
        raise ValueError(f"device '{choice}' was asked for, but MPS is not available here")
    return device


def describe(device: torch.device) -> DeviceInfo:
    if device.type == "cuda":
        return DeviceInfo("cuda", f"CUDA: {torch.cuda.get_device_name(device)}")
    if device.type == "mps":
        return DeviceInfo("mps", "Apple MPS")
    threads = torch.get_num_threads()
    return DeviceInfo("cpu", f"CPU ({threads} thread{'s' if threads > 1 else ''})")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())
