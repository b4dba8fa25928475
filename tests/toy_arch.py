"""A toy image-to-image architecture that exists only in the tests, to prove the README's "Adding an architecture":
a tiny network with its own key layout, stated by one descriptor and added with engine.registry.register. The
engine, the command line and the GUI then detect, import, translate and list it; no engine or app file names it.

Its "official layout" is a bare state dict saved with torch.save, keys toy_in.* and toy_out.*.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine import registry
from engine.api import Capabilities
from engine.architecture import Hparams, Nets, check_layout, whole
from engine.checkpoints import Checkpoint
from engine.tasks.image_to_image import ImageToImageArchitecture

METHOD = "toy"
REACH = 2  # two 3x3 convs: a change reaches 2 px


class ToyNet(nn.Module):
    """RGB in [0, 1] -> RGB in [0, 1]: a reflect-padded 3x3 conv to `width` channels, ReLU, another back to 3,
    sigmoid. It normalises nothing per image, so tiles need no shared statistics. It is an engine.tiling.Translator."""

    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.width = width
        self.toy_in = nn.Conv2d(3, width, 3, padding=1, padding_mode="reflect")
        self.toy_out = nn.Conv2d(width, 3, 3, padding=1, padding_mode="reflect")

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.toy_out(F.relu(self.toy_in(x))))

    def translate(self, image: Tensor) -> Tensor:
        return self(image)

    def activation_floats(self, device: torch.device) -> float:
        return 3 + self.width + 3


def detect(state_dict: Mapping[str, Tensor]) -> bool:
    return "toy_in.weight" in state_dict and "toy_out.weight" in state_dict


def resolve_hparams(state_dict: Mapping[str, Tensor], options: Mapping[str, Any]) -> dict[str, Any]:
    width = int(state_dict["toy_in.weight"].shape[0])
    if options.get("width") not in (None, width):
        raise ValueError(f"options say width {options['width']!r}, but the weights have {width}")
    return {"width": width}


def capabilities(hparams: Hparams) -> Capabilities:
    return Capabilities(min_size=2, receptive_margin=REACH, directions=("AtoB",))  # reflect padding needs 2 px


def load(ckpt: Checkpoint, hparams: Hparams) -> Nets:
    net = ToyNet(int(hparams["width"]))
    check_layout(net, ckpt.state_dict, "toy")
    net.load_state_dict(ckpt.state_dict, strict=True)
    return {"AtoB": net.eval()}


ARCHITECTURE = ImageToImageArchitecture(
    method=METHOD, title="Toy translator (tests only)", license_note="random weights for tests", detect=detect,
    resolve_hparams=resolve_hparams, capabilities=capabilities, size_rule=lambda hp: "any size from 2 px a side",
    load=load, options={"width": whole()})


def write_toy(path: Path, *, seed: int = 0, width: int = 4) -> ToyNet:
    """A random toy net saved in its layout at `path`; returns the net (eval mode)."""
    torch.manual_seed(seed)
    net = ToyNet(width).eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    return net


@pytest.fixture
def toy_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The toy architecture known to the engine for one test (the registry's list is restored afterwards)."""
    monkeypatch.setattr(registry, "ARCHITECTURES", registry.ARCHITECTURES)
    registry.register(ARCHITECTURE)
