"""The explicit, ordered list of architectures the engine knows, and detection by state-dict keys.

Each architecture lives in one file of engine/models/; this module only lists them and gives the
handlers one shape to call. Order matters: the first `detect` that accepts a state dict wins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from engine.api import Task
from engine.checkpoints import Checkpoint, CheckpointError, StateDict
from engine.models import cut, cyclegan, hierarchyflow, sae, spade


@dataclass(frozen=True)
class Architecture:
    method: str
    title: str
    task: Task
    license_note: str
    detect: Callable[[StateDict], bool]
    resolve_hparams: Callable[[StateDict, Mapping[str, Any]], dict[str, Any]]
    size_rule: Callable[[dict[str, Any]], str]
    # Build the inference modules from a checkpoint: a dict of eval-mode nn.Modules by role.
    load: Callable[[Checkpoint, dict[str, Any]], dict[str, torch.nn.Module]]


def _load_spade(ckpt: Checkpoint, hparams: dict[str, Any]) -> dict[str, torch.nn.Module]:
    nets: dict[str, torch.nn.Module] = {"netG": spade.load(ckpt.state_dict, hparams)}
    if "netE" in ckpt.parts:
        nets["netE"] = spade.load_encoder(ckpt.parts["netE"], hparams)
    return nets


SPADE = Architecture(
    method=spade.METHOD,
    title="SPADE / GauGAN generator",
    task=Task.LABEL_TO_IMAGE,
    license_note=spade.LICENSE_NOTE,
    detect=spade.detect,
    resolve_hparams=spade.resolve_hparams,
    size_rule=spade.size_rule,
    load=_load_spade,
)


def _load_sae(ckpt: Checkpoint, hparams: dict[str, Any]) -> dict[str, torch.nn.Module]:
    return sae.load(ckpt.state_dict, hparams)


SAE = Architecture(
    method=sae.METHOD,
    title="Swapping Autoencoder",
    task=Task.STRUCTURE_TEXTURE,
    license_note=sae.LICENSE_NOTE,
    detect=sae.detect,
    resolve_hparams=sae.resolve_hparams,
    size_rule=sae.size_rule,
    load=_load_sae,
)



def _load_cyclegan(ckpt: Checkpoint, hparams: dict[str, Any]) -> dict[str, torch.nn.Module]:
    return cyclegan.load(ckpt.state_dict, hparams, ckpt.parts)  # {direction: generator}


CYCLEGAN = Architecture(
    method=cyclegan.METHOD,
    title="CycleGAN ResNet generator",
    task=Task.IMAGE_TO_IMAGE,
    license_note=cyclegan.LICENSE_NOTE,
    detect=cyclegan.detect,
    resolve_hparams=cyclegan.resolve_hparams,
    size_rule=cyclegan.size_rule,
    load=_load_cyclegan,
)


def _load_cut(ckpt: Checkpoint, hparams: dict[str, Any]) -> dict[str, torch.nn.Module]:
    return cut.load(ckpt.state_dict, hparams)  # {"AtoB": generator}


CUT = Architecture(
    method=cut.METHOD,
    title="CUT / FastCUT / SinCUT ResNet generator",
    task=Task.IMAGE_TO_IMAGE,
    license_note=cut.LICENSE_NOTE,
    detect=cut.detect,
    resolve_hparams=cut.resolve_hparams,
    size_rule=cut.size_rule,
    load=_load_cut,
)



def _load_hierarchyflow(ckpt: Checkpoint, hparams: dict[str, Any]) -> dict[str, torch.nn.Module]:
    return hierarchyflow.load(ckpt.state_dict, hparams)  # {"flow": model}


HIERARCHYFLOW = Architecture(
    method=hierarchyflow.METHOD,
    title="HierarchyFlow",
    task=Task.CONTENT_STYLE,
    license_note=hierarchyflow.LICENSE_NOTE,
    detect=hierarchyflow.detect,
    resolve_hparams=hierarchyflow.resolve_hparams,
    size_rule=hierarchyflow.size_rule,
    load=_load_hierarchyflow,
)

# CUT before CycleGAN: both are `model.N` ResNets; CUT's anti-aliasing `filt` buffers tell them apart.
# HierarchyFlow's keys (blocks.N.affine_net, style_net) share nothing with the others.
ARCHITECTURES: tuple[Architecture, ...] = (SPADE, SAE, CUT, CYCLEGAN, HIERARCHYFLOW)


def detect(state_dict: StateDict) -> Architecture:
    for arch in ARCHITECTURES:
        if arch.detect(state_dict):
            return arch
    sample = ", ".join(list(state_dict)[:3]) or "no keys"
    known = ", ".join(a.method for a in ARCHITECTURES)
    raise CheckpointError(f"unknown architecture: the weights ({sample}, ...) match none of: {known}")


def by_method(method: str) -> Architecture:
    for arch in ARCHITECTURES:
        if arch.method == method:
            return arch
    raise CheckpointError(f"this version of I2I Studio has no '{method}' architecture")
