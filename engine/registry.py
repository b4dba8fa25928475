"""The explicit, ordered list of architectures the engine knows, and detection by state-dict keys.

Each architecture lives in one file of engine/models/; this module only lists them and gives the
handlers one shape to call. Order matters: the first `detect` that accepts a state dict wins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
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
    # The import options resolve_hparams reads (official names, or ours): name -> check that returns the value
    # normalised or raises ValueError("must be ..."). An option not listed would be ignored, so it is refused.
    options: Mapping[str, OptionCheck] = field(default_factory=dict, hash=False, compare=False)


# --- import options: what each architecture takes, and the values that make sense ---------------------------

OptionCheck = Callable[[Any], Any]


def _whole(low: int = 1, high: int = 1 << 16) -> OptionCheck:
    def check(value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"must be a whole number from {low} to {high}")
        return value
    return check


def _real(low: float, high: float) -> OptionCheck:
    def check(value: Any) -> float:
        # compared, never converted first: a 400-digit int does not fit a float; NaN fails every comparison
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise ValueError(f"must be a number from {low:g} to {high:g}")
        return float(value)
    return check


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, str)) and str(value).strip().lower() in ("true", "false", "1", "0"):
        return str(value).strip().lower() in ("true", "1")
    raise ValueError("must be True or False")


def _word(choices: Iterable[str] = ()) -> OptionCheck:
    choices = tuple(choices)

    def check(value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"must be one of {', '.join(choices)}" if choices else "must be a word")
        if not choices:
            return value
        canonical = {c.lower(): c for c in choices}.get(value.strip().lower())
        if canonical is None:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return canonical
    return check


def _directions(value: Any) -> Any:
    ok = isinstance(value, str) or (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value))
    if not ok or not value:
        raise ValueError("must be AtoB, BtoA or AtoB,BtoA")
    return value


def _whole_list(value: Any) -> list[int]:
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, (list, tuple)) else [None]
    check = _whole()
    try:
        return [check(int(v.strip()) if isinstance(v, str) else v) for v in items]
    except ValueError:
        raise ValueError("must be whole numbers separated by commas, e.g. 30,120") from None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_option_names(arch: Architecture, names: Iterable[str]) -> None:
    """Refuse an option the architecture would ignore, naming those it takes."""
    if unknown := [name for name in names if name not in arch.options]:
        raise ValueError(f"option {unknown[0]} is not one that {arch.method} models take; they take: "
                         f"{', '.join(arch.options)}")


def check_option_values(arch: Architecture, options: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """The options with the values of those the architecture takes checked and normalised (None: not given);
    others pass unchanged (our own files carry derived hparams too). `where` prefixes the message."""
    out = dict(options)
    for name, value in options.items():
        if name in arch.options and value is not None:
            try:
                out[name] = arch.options[name](value)
            except ValueError as exc:
                raise ValueError(f"{where}option {name} {exc}, got {_shown(value)}") from None
    return out


_RESNET_OPTIONS: dict[str, OptionCheck] = {
    "ngf": _whole(), "n_blocks": _whole(0), "input_nc": _whole(), "output_nc": _whole(), "directions": _directions}


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
    options={"label_nc": _whole(1, 65536), "contain_dontcare_label": _flag, "no_instance": _flag,
             "num_upsampling_layers": _word(spade.NUM_UPS), "crop_size": _whole(1, 16384),
             "aspect_ratio": _real(1 / 16, 16), "ngf": _whole(), "semantic_nc": _whole(), "use_vae": _flag,
             "z_dim": _whole(), "netG": _word()},
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
    options={"spatial_code_ch": _whole(), "global_code_ch": _whole(), "netE_num_downsampling_sp": _whole(),
             "netE_num_downsampling_gl": _whole(), "netG_num_base_resnet_layers": _whole(), "netG_use_noise": _flag,
             "use_antialias": _flag, "num_downsampling_sp": _whole(), "num_downsampling_gl": _whole(),
             "num_head_blocks": _whole(), "use_noise": _flag, "encoder_channels": _whole_list,
             "head_channels": _whole_list, "upsampling_channels": _whole_list},
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
    options=_RESNET_OPTIONS,
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
    options={**_RESNET_OPTIONS, "mode": _word(cut.MODES), "CUT_mode": _word(cut.MODES)},
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
    options={"weight_type": _word(hierarchyflow.WEIGHT_TYPES), "pad_size": _whole(0, 1024),
             "out_channels": _whole_list, "in_channel": _whole()},
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
