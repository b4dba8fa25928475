"""The one place where checkpoint files are read and written.

Foreign `.pth` files are opened with `torch.load(weights_only=True)` only, so a file that would
run code is refused. Containers are unwrapped, DataParallel/compile prefixes stripped and keys
that official loaders ignore are dropped. Our own files are safetensors with JSON metadata.

Every file here is hostile until read: only regular files are opened (a folder, a pipe or a device is
named as such, and a FIFO is never opened, since that blocks), and whatever a malformed file makes the
parsers raise ends as a CheckpointError whose text is one line for the user. A pickle that is refused is
described by reading its opcodes (never running them; engine.pickles): code it would run, Python objects that
are not tensors, or no tensors at all.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import stat
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import torch
from safetensors import safe_open
from safetensors.torch import load_file as load_safetensors
from safetensors.torch import save as safetensors_bytes

from engine.api import NONFINITE_REFUSAL, parse_option_value
from engine.errors import describe_os_error
from engine.pickles import explain_old_pickle, explain_pickle, read_plain_dict
from engine.storage import atomic_write_bytes

StateDict = dict[str, torch.Tensor]

METADATA_KEY = "i2i_studio"
# Containers that hold the network under a key (training snapshots, EMA copies, multi-net files).
CONTAINER_KEYS = ("state_dict", "model", "net_G", "netG", "G", "gen", "generator", "g_ema", "params_ema", "params")
PREFIXES = ("module.", "_orig_mod.")
SPADE_OPTIONS_FILE = "opt.txt"
MAX_SIDECAR_BYTES = 1 << 20  # an official opt.txt is a few kB
MAX_SAFETENSORS_HEADER = 100 << 20  # the safetensors library's own limit


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
    files: tuple[Path, ...] = ()  # every file read, when more than `path` (an experiment folder's nets)


def read_checkpoint(path: str | Path, *, discriminator: bool = False) -> Checkpoint:
    """The checkpoint at `path`: one file, or a DeepI2I experiment folder (the folder or any of its net files).
    discriminator: also read an experiment folder's D.pth (training needs it, inference does not); our own files
    hold whatever parts were saved."""
    path = Path(path)
    if folder := experiment_folder(path):
        return read_experiment_folder(folder, discriminator=discriminator)
    with _open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(16)
    if size == 0:
        raise CheckpointError(f"{_label(path)}: the file is empty")
    if _is_safetensors(head):
        return _read_ours(path, head, size)
    obj = _torch_load(path)
    if pair := _munit_pair(obj):
        ckpt = Checkpoint(path, pair[0], parts={"b": pair[1]}, hints={"domains": ["A", "B"]})
    else:
        ckpt = Checkpoint(path, canonicalize(unwrap(obj, _label(path))), options=read_sidecar_options(path))
    if companion := _companion_encoder(path):
        ckpt.parts["netE"] = _read_foreign(companion)
    _pair_cyclegan_generators(ckpt)
    _hit_run(ckpt)
    return ckpt


def _label(path: Path) -> str:
    return path.name or str(path)


_NOT_REGULAR = {stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a device",
                stat.S_IFBLK: "a device"}


def _open_regular(path: Path) -> BinaryIO:
    """The file opened for reading, if it is a regular file (symbolic links followed). A folder, a pipe, a socket
    or a device is refused by name without being opened: opening a FIFO would block until someone writes."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except OSError as exc:  # a symbolic link loop, a path through a file, permission on a folder
        raise CheckpointError(describe_os_error(exc)) from None
    except ValueError as exc:  # an embedded NUL
        raise CheckpointError(f"{path!r}: not a usable file name ({exc})") from None
    _check_regular(path, mode)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise CheckpointError(describe_os_error(exc)) from None
    try:
        _check_regular(path, os.fstat(fd).st_mode)  # it may have been swapped since the stat
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _check_regular(path: Path, mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise CheckpointError(f"{_label(path)}: it is a folder, not a checkpoint file (give the file inside it)")
    if not stat.S_ISREG(mode):
        what = _NOT_REGULAR.get(stat.S_IFMT(mode), "not a regular file")
        raise CheckpointError(f"{_label(path)}: it is {what}, not a checkpoint file (not opened)")


def _read_foreign(path: Path) -> StateDict:
    return canonicalize(unwrap(_torch_load(path), _label(path)))


def _torch_load(path: Path) -> Any:
    """torch.save writes a zip archive, or (before PyTorch 1.6) a stream of pickles; weights_only=True refuses
    anything but tensors and plain containers. Whatever a malformed file makes the loader raise is reported."""
    name = _label(path)
    with _open_regular(path) as f:
        head = f.read(4)
        f.seek(0)
        is_zip = head.startswith(b"PK\x03\x04")
        if not is_zip and head[:1] != b"\x80":
            if what := explain_old_pickle(f):  # protocol 0 or 1: no torch.save file, but maybe a pickle
                raise CheckpointError(f"{name}: cannot be loaded: {what}")
            raise CheckpointError(f"{name}: not a PyTorch checkpoint or safetensors file")
        if is_zip:
            _check_archive(f, name)
        try:
            with warnings.catch_warnings():  # torch warns about pickle protocols: noise on a one-line stderr
                warnings.simplefilter("ignore")
                return torch.load(f, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            raise CheckpointError(f"{name}: cannot be loaded: {explain_pickle(f, is_zip)}") from None
        except MemoryError:
            raise CheckpointError(f"{name}: too large to load into this machine's memory") from None
        except Exception as exc:  # noqa: BLE001 - the parsers' errors on a malformed file, whatever their type
            text = " ".join(str(exc).split())
            if "magic number" in text.lower():  # a pickle, but not one that torch.save wrote
                raise CheckpointError(f"{name}: cannot be loaded: {explain_pickle(f, is_zip)}") from None
            if isinstance(exc, (EOFError, zipfile.BadZipFile)) or any(
                    word in text.lower() for word in ("zip archive", "central directory", "corrupt", "truncated",
                                                      "failed reading", "unexpected end", "pickle data was")):
                raise CheckpointError(f"{name}: the file is truncated or corrupt") from None
            raise CheckpointError(f"{name}: not a PyTorch checkpoint ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _check_archive(f: BinaryIO, name: str) -> None:
    """A zip that is readable and does not inflate far beyond its size (torch.save stores, never compresses)."""
    size = os.fstat(f.fileno()).st_size
    try:
        with zipfile.ZipFile(f) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError):
        raise CheckpointError(f"{name}: the file is truncated or corrupt") from None
    finally:
        f.seek(0)
    if not any(info.filename.endswith("/data.pkl") for info in infos):
        raise CheckpointError(f"{name}: a zip archive without data.pkl, not a PyTorch checkpoint")
    unpacked = sum(info.file_size for info in infos)
    if unpacked > max(8 * size, 256 << 20):
        raise CheckpointError(f"{name}: the archive would unpack to {unpacked / 2**30:.1f} GB from "
                              f"{size / 2**20:.1f} MB (torch.save does not compress): refused")


def unwrap(obj: Any, name: str) -> StateDict:
    """Find the tensor dictionary inside a container."""
    if not _holds_tensors(obj):
        raise CheckpointError(f"{name}: it holds no tensors ({_kind(obj)}), so no network weights")
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


def _holds_tensors(obj: Any, depth: int = 0) -> bool:
    if isinstance(obj, torch.Tensor):
        return True
    if depth > 20:
        return False
    values = obj.values() if isinstance(obj, Mapping) else obj if isinstance(obj, (list, tuple)) else ()
    return any(_holds_tensors(v, depth + 1) for v in values)


def _kind(obj: Any) -> str:
    if isinstance(obj, Mapping):
        keys = ", ".join(str(k)[:30] for k in list(obj)[:3]) + (" ..." if len(obj) > 3 else "")
        return f"a dict of {len(obj)} entries: {keys}" if obj else "an empty dict"
    return f"a {type(obj).__name__}"


def canonicalize(state_dict: StateDict) -> StateDict:
    """Strip wrapper prefixes and drop keys that the official loaders ignore."""
    out: StateDict = {}
    for key, value in state_dict.items():
        while key.startswith(PREFIXES):
            key = key.split(".", 1)[1]
        out[key] = value
    return _drop_munit_content_norm_stats(_drop_sae_discriminators(_drop_legacy_instance_norm_stats(out)))


_STAT = re.compile(r"^(.*\.\d+)\.(running_mean|running_var|num_batches_tracked)$")


def _drop_legacy_instance_norm_stats(sd: StateDict) -> StateDict:
    """PyTorch <= 0.4 saved running stats for InstanceNorm layers (inside nn.Sequential, so their
    names end in a number) that have no affine weight; InstanceNorm never uses them."""
    def legacy(key: str) -> bool:
        m = _STAT.match(key)
        return bool(m) and f"{m.group(1)}.weight" not in sd
    return {k: v for k, v in sd.items() if not legacy(k)}


_MUNIT_CONTENT_STAT = re.compile(r"^enc_content\..*\.norm\.(running_mean|running_var|num_batches_tracked)$")


def _drop_munit_content_norm_stats(sd: StateDict) -> StateDict:
    """MUNIT's released (PyTorch 0.3) generators carry InstanceNorm buffers in the content encoder, which the
    official test drops before its strict load."""
    if "mlp.model.0.fc.weight" not in sd:
        return sd
    return {k: v for k, v in sd.items() if not _MUNIT_CONTENT_STAT.match(k)}


def _drop_sae_discriminators(sd: StateDict) -> StateDict:
    """Swapping Autoencoder files store the whole model; inference needs only E and G."""
    if any(k.startswith("E.") for k in sd) and any(k.startswith("G.") for k in sd):
        return {k: v for k, v in sd.items() if not k.startswith(("D.", "Dpatch."))}
    return sd


def read_sidecar_options(path: Path) -> dict[str, Any]:
    """The official SPADE training writes opt.txt beside its checkpoints: `name: value [default: x]`."""
    sidecar = path.parent / SPADE_OPTIONS_FILE
    if not sidecar.is_file():  # False for a pipe or a folder: never opened
        return {}
    with _open_regular(sidecar) as f:
        data = f.read(MAX_SIDECAR_BYTES + 1)
    if len(data) > MAX_SIDECAR_BYTES:
        raise CheckpointError(f"{sidecar}: over {MAX_SIDECAR_BYTES >> 20} MB, not an options file (opt.txt)")
    options: dict[str, Any] = {}
    for line in data.decode("utf-8", errors="replace").splitlines():
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


# --- MUNIT and HIT runs ------------------------------------------------------------------------------------------
# Both trainers write outputs/<model_name>/checkpoints/gen_%08d.pt, MUNIT as {'a': gen_a, 'b': gen_b}, HIT as
# {'gen': gen}, and copy their config to outputs/<model_name>/config.yaml; HIT's config holds the `tree`.

HIT_CONFIGS = ("config.yaml", "../config.yaml")  # beside the checkpoint, or in the run's outputs folder


def _munit_pair(obj: Any) -> tuple[StateDict, StateDict] | None:
    """MUNIT's two generators, canonicalised, when the file holds exactly 'a' and 'b' tensor dicts."""
    if not (isinstance(obj, Mapping) and set(obj) == {"a", "b"}):
        return None
    if not all(isinstance(v, Mapping) and v and all(isinstance(t, torch.Tensor) for t in v.values())
               for v in obj.values()):
        return None
    return canonicalize(dict(obj["a"])), canonicalize(dict(obj["b"]))


def _hit_run(ckpt: Checkpoint) -> None:
    """A HIT or MUNIT generator from a training run: the run's name (outputs/<name>/checkpoints/) and HIT's tree
    from the run's config.yaml, as hints."""
    if "mlp.model.0.fc.weight" not in ckpt.state_dict:
        return
    if ckpt.path.parent.name == "checkpoints" and ckpt.path.parent.parent.name:
        ckpt.hints["experiment"] = ckpt.path.parent.parent.name
    if "distributions.tree_info.0.miu" not in ckpt.state_dict:
        return
    for name in HIT_CONFIGS:
        config = ckpt.path.parent / name
        if config.is_file():
            with _open_regular(config) as f:
                data = f.read(MAX_SIDECAR_BYTES + 1)
            if tree := read_yaml_tree(data.decode("utf-8", errors="replace")):
                ckpt.hints["config_tree"] = tree
                ckpt.hints["config"] = str(config.resolve())
                return


def read_yaml_tree(text: str) -> list[int] | None:
    """The top-level `tree` list of an official HIT config: `tree: [3, 4, 4, 4, 1, 3]` or a block list of
    `- 3` lines (the only key read; no YAML library needed). None when absent or not a list of whole numbers."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        key, sep, rest = line.partition(":")
        if not sep or key != "tree":
            continue
        rest = rest.split("#", 1)[0].strip()
        if rest.startswith("["):
            items = rest.strip("[]").split(",")
        elif rest:
            return None
        else:
            items = []
            for item in lines[i + 1:]:
                stripped = item.split("#", 1)[0].strip()
                if not stripped:
                    continue
                if not stripped.startswith("- "):
                    break
                items.append(stripped[2:])
        try:
            return [int(v) for v in items] or None
        except ValueError:
            return None
    return None


def _companion_encoder(path: Path) -> Path | None:
    m = re.match(r"^(.*)_net_G\.pth$", path.name)
    if not m:
        return None
    candidate = path.with_name(f"{m.group(1)}_net_E.pth")
    return candidate if candidate.is_file() else None


# --- DeepI2I experiment folders ------------------------------------------------------------------------------
# The official training saves plain state dicts G.pth, D.pth, E1.pth, A1.pth (+ *_optim.pth and a state_dict.pth
# that holds Python objects) into <weights_root>/<experiment>/ and a copy in <experiment>/<itr>/.

EXPERIMENT_NETS = ("G.pth", "E1.pth", "A1.pth")  # what translation needs
EXPERIMENT_FILES = (*EXPERIMENT_NETS, "D.pth")  # D: the discriminator, for fine-tuning only
CLASS_FILES = ("I128_imgs.pickle", "classes.txt")  # class names beside the nets: the official pickle, or ours
MAX_CLASS_FILE = 16 << 20


def experiment_folder(path: Path) -> Path | None:
    """The DeepI2I experiment folder that `path` is or is a net file of; None for anything else. A folder counts
    when it holds any of the nets; a file named G/D/E1/A1.pth when E1.pth or A1.pth lies beside it (a G.pth alone
    is some other generator)."""
    try:
        if path.is_dir():
            return path if any((path / name).exists() for name in EXPERIMENT_FILES) else None
        if path.name in EXPERIMENT_FILES and any((path.parent / n).exists() for n in ("E1.pth", "A1.pth")):
            return path.parent
    except (OSError, ValueError):  # unreadable or unusable paths: the plain file path reports them
        return None
    return None


def read_experiment_folder(folder: Path, *, discriminator: bool = False) -> Checkpoint:
    """G as the main state dict, E1 and A1 (and D when asked for and present) as parts; a missing net is named.
    The *_optim.pth files are not needed and state_dict.pth (Python objects) is never opened. Class names come from
    I128_imgs.pickle (the official class_to_index file; read without unpickling) or classes.txt beside the nets."""
    if missing := [name for name in EXPERIMENT_NETS if not (folder / name).exists()]:
        raise CheckpointError(f"{folder.name}: {missing[0]} is missing; a DeepI2I experiment folder holds "
                              f"{', '.join(EXPERIMENT_NETS)} (and D.pth, the optimiser states, state_dict.pth)")
    nets = {name.removesuffix(".pth"): folder / name for name in EXPERIMENT_NETS}
    if discriminator and (folder / "D.pth").exists():
        nets["D"] = folder / "D.pth"
    read = {role: _read_foreign(file) for role, file in nets.items()}
    ckpt = Checkpoint(nets["G"], read.pop("G"), parts=read, files=tuple(nets.values()))
    ckpt.hints["experiment"] = folder.parent.name if folder.name.isdigit() and folder.parent.name else folder.name
    for name in CLASS_FILES:
        if (folder / name).is_file():
            ckpt.hints["class_names"] = read_class_names(folder / name)
            break
    return ckpt


def read_class_names(path: str | Path) -> list[str]:
    """Class names in index order from an ImageFolder class_to_idx pickle ({name: index}, as the official
    class_to_index/<experiment>/I128_imgs.pickle; read from its opcodes, never unpickled) or a text file of one name
    per line. Raises CheckpointError naming the file."""
    path = Path(path)
    with _open_regular(path) as f:
        data = f.read(MAX_CLASS_FILE + 1)
    if len(data) > MAX_CLASS_FILE:
        raise CheckpointError(f"{_label(path)}: over {MAX_CLASS_FILE >> 20} MB, not a list of class names")
    if path.suffix.lower() in (".pickle", ".pkl"):
        try:
            mapping = read_plain_dict(data)
        except ValueError as exc:
            raise CheckpointError(f"{_label(path)}: cannot be read as class names: {exc}") from None
        order = sorted(mapping.values())
        if order != list(range(len(order))):
            raise CheckpointError(f"{_label(path)}: its class indices are not 0..{len(order) - 1}, each once")
        names = [name for name, _ in sorted(mapping.items(), key=lambda item: item[1])]
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CheckpointError(f"{_label(path)}: not a text file of class names (one per line)") from None
        names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise CheckpointError(f"{_label(path)}: it names no classes")
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise CheckpointError(f"{_label(path)}: the class {twice!r} is named twice")
    return names


# --- our own format ---------------------------------------------------------------------------------


def _is_safetensors(head: bytes) -> bool:
    """An 8-byte header length, then the JSON header: torch files start with PK or a pickle opcode instead."""
    return len(head) >= 9 and head[8:9] == b"{"


def _read_ours(path: Path, head: bytes, size: int) -> Checkpoint:
    name = _label(path)
    header = int.from_bytes(head[:8], "little")
    if header > size - 8:
        raise CheckpointError(f"{name}: the safetensors header claims {header} bytes but the file has {size}: "
                              "truncated or corrupt")
    if header > MAX_SAFETENSORS_HEADER:
        raise CheckpointError(f"{name}: the safetensors header is {header >> 20} MB, over the "
                              f"{MAX_SAFETENSORS_HEADER >> 20} MB limit: corrupt or hostile")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tensors = load_safetensors(str(path))
            with safe_open(str(path), framework="pt") as f:
                raw = (f.metadata() or {}).get(METADATA_KEY)
    except MemoryError:
        raise CheckpointError(f"{name}: too large to load into this machine's memory") from None
    except OSError as exc:
        raise CheckpointError(describe_os_error(exc) if exc.errno else f"{name}: {_first_line(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - SafetensorError, or a dtype this torch lacks
        text = _first_line(exc).removeprefix("Error while deserializing header: ")
        raise CheckpointError(f"{name}: the safetensors file is truncated or corrupt ({text})") from None
    metadata = _parse_metadata(raw, name)
    parts: dict[str, StateDict] = {}
    main: StateDict = {}
    for key, value in tensors.items():
        part, sep, rest = key.partition("/")
        if sep:
            parts.setdefault(part, {})[rest] = value
        else:
            main[key] = value
    return Checkpoint(path, main, options=dict(metadata.get("hparams") or {}), metadata=metadata, parts=parts)


_PALETTE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _parse_metadata(raw: Any, name: str) -> dict[str, Any]:
    """Our metadata: a JSON object whose fields that imports read have the types they need."""
    if raw is None:
        return {}
    try:
        metadata = json.loads(raw)
    except (ValueError, RecursionError):
        raise CheckpointError(f"{name}: its {METADATA_KEY} metadata is not valid JSON") from None
    if not isinstance(metadata, dict):
        raise CheckpointError(f"{name}: its {METADATA_KEY} metadata is a JSON {_json_kind(metadata)}, "
                              "not an object")
    for key in ("method", "name", "license", "palette", "kind"):
        if key in metadata and metadata[key] is not None and not isinstance(metadata[key], str):
            raise CheckpointError(f"{name}: its metadata field '{key}' is a JSON {_json_kind(metadata[key])}, "
                                  "not text")
    for key in ("hparams", "stats", "provenance"):
        if key in metadata and metadata[key] is not None and not isinstance(metadata[key], dict):
            raise CheckpointError(f"{name}: its metadata field '{key}' is a JSON {_json_kind(metadata[key])}, "
                                  "not an object")
    if (palette := metadata.get("palette")) and not _PALETTE_NAME.match(palette):
        raise CheckpointError(f"{name}: its metadata names the palette {palette[:40]!r}, which is not a "
                              "palette name")
    classes = metadata.get("classes")
    if classes is not None and not (isinstance(classes, list) and all(
            isinstance(c, list) and len(c) == 2 and type(c[0]) is int and 0 <= c[0] < 65536
            and isinstance(c[1], str) for c in classes)):
        raise CheckpointError(f"{name}: its metadata field 'classes' is not a list of [id, name] pairs")
    return metadata


def _json_kind(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", int: "number", float: "number",
            type(None): "null"}.get(type(value), type(value).__name__)


def nonfinite_weights(ckpt: Checkpoint) -> dict[str, int]:
    """{tensor name: how many of its values are NaN or infinite}, for the tensors that hold any (companion nets'
    as 'part/key'). Integer tensors cannot hold them; a float format torch cannot test is converted first."""
    found: dict[str, int] = {}
    tensors = [(k, t) for k, t in ckpt.state_dict.items()]
    tensors += [(f"{part}/{k}", t) for part, sd in ckpt.parts.items() for k, t in sd.items()]
    for key, tensor in tensors:
        if not (tensor.is_floating_point() or tensor.is_complex()):
            continue
        try:
            finite = torch.isfinite(tensor)
        except (RuntimeError, TypeError):  # float8 and other formats without isfinite
            try:
                finite = torch.isfinite(tensor.to(torch.float32))
            except (RuntimeError, TypeError):
                continue  # a format that cannot even be converted cannot be loaded either: the load says so
        if not bool(finite.all()):
            found[key] = int((~finite).sum())
    return found


def describe_nonfinite(found: Mapping[str, int]) -> str:
    """'12 weights are NaN or infinite (in fc.weight, conv_img.bias)'."""
    count = sum(found.values())
    keys = list(found)
    where = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more tensors" if len(keys) > 3 else "")
    return f"{count} weight{'s' if count != 1 else ''} {'are' if count != 1 else 'is'} {NONFINITE_REFUSAL} (in {where})"


def write_checkpoint(path: str | Path, state_dict: StateDict, metadata: Mapping[str, Any],
                     parts: Mapping[str, StateDict] | None = None) -> None:
    """Save as safetensors, atomically; companion nets go under `<part>/` key prefixes."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    for part, sd in (parts or {}).items():
        tensors.update({f"{part}/{k}": v.detach().cpu().contiguous() for k, v in sd.items()})
    blob = safetensors_bytes(tensors, metadata={METADATA_KEY: json.dumps(dict(metadata))})
    atomic_write_bytes(Path(path), blob)
