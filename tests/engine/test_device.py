"""Device choice: CUDA, then MPS, then CPU, with an override."""

from __future__ import annotations

import pytest
import torch

from engine import device as dev


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.delenv(dev.DEVICE_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert dev.pick_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: True)
    assert dev.pick_device().type == "mps"
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    assert dev.pick_device().type == "cpu"


def test_override_by_argument_and_environment(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert dev.pick_device("cpu").type == "cpu"
    monkeypatch.setenv(dev.DEVICE_ENV, "cpu")
    assert dev.pick_device().type == "cpu"
    assert dev.pick_device("cuda:1") == torch.device("cuda", 1)


def test_unavailable_device_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA device"):
        dev.pick_device("cuda")
    assert "CPU" in dev.describe(torch.device("cpu")).name
