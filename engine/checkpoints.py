"""The one place where checkpoint files are read and written.

Foreign `.pth` files are opened with `torch.load(weights_only=True)` only, so a file that would
run code is refused. Containers are unwrapped, DataParallel/compile prefixes stripped and keys
that official loaders ignore are dropped. Our own files are safetensors with JSON metadata.
"""

from __future__ import annotations

import json
import pickle
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file as load_safetensors
from safetensors.torch import save as safetensors_bytes

from engine.api import parse_option_value
from engine.storage import atomic_write_bytes

StateDict = dict[str, torch.Tensor]

METADATA_KEY = "i2i_studio"
# Containers that hold the network under a key (training snapshots, EMA copies, multi-net files).
CONTAINER_KEYS = ("state_dict", "model", "net_G", "netG", "G", "gen", "generator", "g_ema", "params_ema", "params")
PREFIXES = ("module.", "_orig_mod.")
SPADE_OPTIONS_FILE = "opt.txt"


class CheckpointError(ValueError):
    """A file that cannot be used as a checkpoint; the message is one line for the user."""


@dataclass
class Checkpoint:
    path: Path
    state_dict: StateDict
    options: dict[str, Any] = field(default_factory=dict)  # official option names from a sidecar file
    metadata: dict[str, Any] = field(default_factory=dict)  # ours: method, hparams, classes, provenance
    parts: dict[str, StateDict] = field(default_factory=dict)  # companion nets, e.g. SPADE's netE, CycleGAN's G_B
    hints: dict[str, Any] = field(default_factory=dict)  # hparams told by file names: a CycleGAN pair's directions


def read_checkpoint(path: str | Path) -> Checkpoint:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path.name}: the file is empty")
    if _is_safetensors(path):
        return _read_ours(path)
    ckpt = Checkpoint(path, _read_foreign(path), options=read_sidecar_options(path))
    if companion := _companion_encoder(path):
        ckpt.parts["netE"] = _read_foreign(companion)
    _pair_cyclegan_generators(ckpt)
    return ckpt


def _read_foreign(path: Path) -> StateDict:
    return canonicalize(unwrap(_torch_load(path), path.name))


def _looks_like_torch_file(path: Path) -> bool:
    """torch.save writes a zip archive, or (before PyTorch 1.6) a pickle stream."""
    with open(path, "rb") as f:
        head = f.read(4)
    return head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"


def _torch_load(path: Path) -> Any:
    if not _looks_like_torch_file(path):
        raise CheckpointError(f"{path.name}: not a PyTorch checkpoint or safetensors file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        unsafe = "Unsupported global" in str(exc) or "Unsupported operand" in str(exc)
        what = "it contains code or Python objects, not just tensors (refused for safety)" if unsafe else (
            "not a PyTorch checkpoint")
        raise CheckpointError(f"{path.name}: cannot be loaded: {what}") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        text = str(exc)
        if "zip archive" in text or "central directory" in text or isinstance(exc, EOFError):
            raise CheckpointError(f"{path.name}: the file is truncated or corrupt") from None
        raise CheckpointError(f"{path.name}: not a PyTorch checkpoint ({text.splitlines()[0][:120]})") from None


def unwrap(obj: Any, name: str) -> StateDict:
    """Find the tensor dictionary inside a container."""
    for _ in range(3):
        if not isinstance(obj, Mapping):
            break
        tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
        if tensors and len(tensors) >= len(obj) - 1:
            return {str(k): v for k, v in tensors.items()}
        inner = next((obj[k] for k in CONTAINER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            dicts = [v for v in obj.values() if isinstance(v, Mapping)]
            inner = dicts[0] if len(dicts) == 1 else None
        obj = inner
    raise CheckpointError(f"{name}: no network weights found in the file")


def canonicalize(state_dict: StateDict) -> StateDict:
    """Strip wrapper prefixes and drop keys that the official loaders ignore."""
    out: StateDict = {}
    for key, value in state_dict.items():
        while key.startswith(PREFIXES):
            key = key.split(".", 1)[1]
        out[key] = value
    return _drop_sae_discriminators(_drop_legacy_instance_norm_stats(out))


_STAT = re.compile(r"^(.*\.\d+)\.(running_mean|running_var|num_batches_tracked)$")


def _drop_legacy_instance_norm_stats(sd: StateDict) -> StateDict:
    """PyTorch <= 0.4 saved running stats for InstanceNorm layers (inside nn.Sequential, so their
    names end in a number) that have no affine weight; InstanceNorm never uses them."""
    def legacy(key: str) -> bool:
        m = _STAT.match(key)
        return bool(m) and f"{m.group(1)}.weight" not in sd
    return {k: v for k, v in sd.items() if not legacy(k)}


def _drop_sae_discriminators(sd: StateDict) -> StateDict:
    """Swapping Autoencoder files store the whole model; inference needs only E and G."""
    if any(k.startswith("E.") for k in sd) and any(k.startswith("G.") for k in sd):
        return {k: v for k, v in sd.items() if not k.startswith(("D.", "Dpatch."))}
    return sd


def read_sidecar_options(path: Path) -> dict[str, Any]:
    """The official SPADE training writes opt.txt beside its checkpoints: `name: value [default: x]`."""
    sidecar = path.parent / SPADE_OPTIONS_FILE
    if not sidecar.is_file():
        return {}
    options: dict[str, Any] = {}
    for line in sidecar.read_text(encoding="utf-8", errors="replace").splitlines():
        key, sep, rest = line.partition(":")
        if not sep or not key.strip() or key.strip().startswith("-"):
            continue
        options[key.strip()] = parse_option_value(rest.split("\t[default")[0].strip())
    return options




_CYCLEGAN_GENERATOR = re.compile(r"^(.*)_net_G_([AB])\.pth$")


def _pair_cyclegan_generators(ckpt: Checkpoint) -> None:
    """CycleGAN training writes <epoch>_net_G_A.pth (A->B) and <epoch>_net_G_B.pth (B->A) side by side: either
    file brings in both, G_A as the main state dict and G_B as the part "G_B". A G_B file alone is B->A only."""
    m = _CYCLEGAN_GENERATOR.match(ckpt.path.name)
    if not m:
        return
    sibling = ckpt.path.with_name(f"{m.group(1)}_net_G_{'B' if m.group(2) == 'A' else 'A'}.pth")
    if not sibling.is_file():
        ckpt.hints["directions"] = ["AtoB"] if m.group(2) == "A" else ["BtoA"]
        return
    other = _read_foreign(sibling)
    if m.group(2) == "A":
        ckpt.parts["G_B"] = other
    else:
        ckpt.parts["G_B"], ckpt.state_dict = ckpt.state_dict, other
    ckpt.hints["directions"] = ["AtoB", "BtoA"]


def _companion_encoder(path: Path) -> Path | None:
    m = re.match(r"^(.*)_net_G\.pth$", path.name)
    if not m:
        return None
    candidate = path.with_name(f"{m.group(1)}_net_E.pth")
    return candidate if candidate.is_file() else None


# --- our own format ---------------------------------------------------------------------------------


def _is_safetensors(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < (1 << 30)


def _read_ours(path: Path) -> Checkpoint:
    try:
        tensors = load_safetensors(str(path))
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get(METADATA_KEY, "{}")
        metadata = json.loads(raw)
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path.name}: the safetensors file is truncated or corrupt ({exc})") from None
    parts: dict[str, StateDict] = {}
    main: StateDict = {}
    for key, value in tensors.items():
        part, sep, rest = key.partition("/")
        if sep:
            parts.setdefault(part, {})[rest] = value
        else:
            main[key] = value
    return Checkpoint(path, main, options=dict(metadata.get("hparams", {})), metadata=metadata, parts=parts)


def write_checkpoint(path: str | Path, state_dict: StateDict, metadata: Mapping[str, Any],
                     parts: Mapping[str, StateDict] | None = None) -> None:
    """Save as safetensors, atomically; companion nets go under `<part>/` key prefixes."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    for part, sd in (parts or {}).items():
        tensors.update({f"{part}/{k}": v.detach().cpu().contiguous() for k, v in sd.items()})
    blob = safetensors_bytes(tensors, metadata={METADATA_KEY: json.dumps(dict(metadata))})
    atomic_write_bytes(Path(path), blob)
