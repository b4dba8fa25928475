"""Training checkpoints: a model file the editor loads as it is, plus a training-state file, both safetensors.

RUN/checkpoints/
  step_0001000.safetensors        the networks to use (engine.checkpoints format: generator at top level in
                                  the official key layout, companions under "<part>/", JSON metadata)
  step_0001000.state.safetensors  what resuming needs besides: discriminator, optimisers, schedulers,
                                  step, RNG states. Nested state dicts are flattened to named tensors plus
                                  a JSON skeleton in the metadata (no pickle anywhere).
  latest.json                     {"step", "model", "state", "model_id", "published"}: written last,
                                  atomically, so it always names a complete pair; a torn newer file from a
                                  killed run is never used. "published" is the model file the run's catalog
                                  entry names, which pruning keeps.

`save_checkpoint` is the one order every trainer follows: the pair, latest.json, the catalog entry, and
only then pruning, which never deletes a file the catalog still names (a kill -9 or a failed catalog
write at any point leaves a resumable run and a catalog whose entries exist).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from engine import registry
from engine.api import ModelEntry
from engine.catalog import Catalog, CatalogError, slug
from engine.checkpoints import CheckpointError, read_checkpoint, write_checkpoint
from engine.errors import error_message
from engine.storage import atomic_write_json, pid_alive, sha256_file
from trainers.common import TrainError

CHECKPOINT_DIR = "checkpoints"
LATEST = "latest.json"
STATE_SUFFIX = ".state.safetensors"
_PAIR = re.compile(r"^step_(\d{7,})\.safetensors$")
_TEMP = re.compile(r"^\..+\.tmp$")  # engine.storage's temporary names: .<name>.<pid>.<random>.tmp
_TEMP_PID = re.compile(r"^\..+\.(\d+)\.\w+\.tmp$")


def step_stem(step: int) -> str:
    return f"step_{step:07d}"


# --- nested state <-> flat tensors + JSON skeleton ------------------------------------------------------


def flatten(tree: Any, prefix: str = "") -> tuple[dict[str, torch.Tensor], Any]:
    """Tensors out of a nested dict/list/tuple of tensors and JSON scalars.

    Returns ({name: tensor}, skeleton): the skeleton is JSON with {"tensor": name} in place of each tensor,
    {"dict": [[key, value], ...]} for dicts (keeping int keys such as optimiser param ids) and
    {"tuple": [...]} for tuples.
    """
    tensors: dict[str, torch.Tensor] = {}

    def walk(node: Any, path: str) -> Any:
        if isinstance(node, torch.Tensor):
            name = path or "tensor"
            while name in tensors:  # only when keys with dots collide with nesting
                name += "_"
            tensors[name] = node.detach().cpu().contiguous()
            return {"tensor": name}
        if isinstance(node, Mapping):
            return {"dict": [[k, walk(v, f"{path}.{k}" if path else str(k))] for k, v in node.items()]}
        if isinstance(node, tuple):
            return {"tuple": [walk(v, f"{path}.{i}") for i, v in enumerate(node)]}
        if isinstance(node, list):
            return [walk(v, f"{path}.{i}") for i, v in enumerate(node)]
        if node is None or isinstance(node, bool | int | float | str):
            return node
        raise TypeError(f"cannot store {type(node).__name__} at '{path}' in a checkpoint")

    return tensors, walk(tree, prefix)


def unflatten(skeleton: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    if isinstance(skeleton, list):
        return [unflatten(v, tensors) for v in skeleton]
    if isinstance(skeleton, dict):
        if "tensor" in skeleton:
            return tensors[skeleton["tensor"]]
        if "dict" in skeleton:
            return {k: unflatten(v, tensors) for k, v in skeleton["dict"]}
        if "tuple" in skeleton:
            return tuple(unflatten(v, tensors) for v in skeleton["tuple"])
        raise ValueError(f"unknown skeleton node {sorted(skeleton)}")
    return skeleton


# --- writing ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResumePoint:
    step: int
    model: Path
    state: Path
    info: dict[str, Any]  # latest.json as written (model_id, ...)


def write_pair(run_dir: Path, *, step: int, model: Mapping[str, torch.Tensor], metadata: Mapping[str, Any],
               parts: Mapping[str, Mapping[str, torch.Tensor]], state: Mapping[str, Any],
               latest_extra: Mapping[str, Any]) -> ResumePoint:
    """Model file, state file, then latest.json (atomically, last); the caller prunes old pairs after.

    A failure (a full disk) leaves the previous pair and latest.json as they were.
    """
    folder = run_dir / CHECKPOINT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    stem = step_stem(step)
    model_path, state_path = folder / f"{stem}.safetensors", folder / f"{stem}{STATE_SUFFIX}"
    write_checkpoint(model_path, dict(model), metadata, parts={k: dict(v) for k, v in parts.items()})
    tensors, skeleton = flatten(dict(state))
    write_checkpoint(state_path, tensors, {"kind": "training-state", "step": step, "skeleton": skeleton})
    info = {"step": step, "model": model_path.name, "state": state_path.name, **latest_extra}
    write_latest(run_dir, info)
    return ResumePoint(step, model_path, state_path, info)


def write_latest(run_dir: Path, info: Mapping[str, Any]) -> None:
    atomic_write_json(run_dir / CHECKPOINT_DIR / LATEST, dict(info))


def prune(run_dir: Path, *, keep: int, newest: int, protect: frozenset[str] | set[str] = frozenset()) -> None:
    """Delete all but the `keep` newest pairs up to step `newest` (never the one latest.json names), except
    the pairs whose model file is named in `protect` (the ones a catalog entry points at); then the
    temporary files of writers that were killed."""
    folder = run_dir / CHECKPOINT_DIR
    steps = sorted(s for s in _steps(folder) if s <= newest)
    for step in steps[:-max(keep, 1)]:
        if f"{step_stem(step)}.safetensors" in protect:
            continue
        # the state first: a kill in between leaves a model file, which the next prune still sees
        for path in (folder / f"{step_stem(step)}{STATE_SUFFIX}", folder / f"{step_stem(step)}.safetensors"):
            path.unlink(missing_ok=True)
    _sweep_dead_temps(folder)


def _sweep_dead_temps(folder: Path) -> None:
    for path in folder.glob(".*.tmp"):
        if (m := _TEMP_PID.match(path.name)) and not pid_alive(int(m.group(1))):
            path.unlink(missing_ok=True)


def _steps(folder: Path) -> list[int]:
    return [int(m.group(1)) for p in folder.glob("step_*.safetensors") if (m := _PAIR.match(p.name))]


# --- reading ----------------------------------------------------------------------------------------------


def find_resume_point(run_dir: Path) -> ResumePoint | None:
    """The pair latest.json names; without a usable latest.json, the newest pair whose files both read."""
    folder = run_dir / CHECKPOINT_DIR
    try:
        info = json.loads((folder / LATEST).read_text(encoding="utf-8"))
        point = ResumePoint(int(info["step"]), folder / info["model"], folder / info["state"], info)
        if point.model.is_file() and point.state.is_file():
            return point
    except (OSError, ValueError, KeyError, TypeError):
        pass
    for step in sorted(_steps(folder), reverse=True):
        stem = step_stem(step)
        point = ResumePoint(step, folder / f"{stem}.safetensors", folder / f"{stem}{STATE_SUFFIX}", {"step": step})
        try:
            read_checkpoint(point.model)
            read_checkpoint(point.state)
        except CheckpointError:
            continue
        return point
    return None


def read_state(path: Path) -> dict[str, Any]:
    try:
        ckpt = read_checkpoint(path)
    except CheckpointError as exc:
        raise TrainError(f"cannot resume: {exc}") from None
    if ckpt.metadata.get("kind") != "training-state":
        raise TrainError(f"cannot resume: {path.name} is not a training-state file")
    return unflatten(ckpt.metadata["skeleton"], ckpt.state_dict)


def remove_leftovers(run_dir: Path, *, after_step: int) -> list[str]:
    """Files a killed run left behind: temporary writes, and pairs newer than the checkpoint resumed from."""
    folder = run_dir / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    removed = []
    for path in sorted(folder.iterdir()):
        m = re.match(r"^step_(\d{7,})(\.state)?\.safetensors$", path.name)
        if _TEMP.match(path.name) or (m and int(m.group(1)) > after_step):
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed


# --- the model catalog ------------------------------------------------------------------------------------


def run_model_id(method: str, run_name: str) -> str:
    """A run's catalog id: its name's slug, prefixed with the method unless it starts with it."""
    run_slug = slug(run_name)
    return run_slug if run_slug.startswith(f"{method}-") else f"{method}-{run_slug}"


def publish(model_path: Path, *, model_id: str | None, run_name: str, method: str, task: str, size_rule: str,
            license: str, hparams: Mapping[str, Any], classes: list[list[Any]], palette: str,
            notes: str, added: str) -> str:
    """Add or refresh the run's one entry in the user's catalog, pointing at its newest checkpoint.

    The id is `<method>-<run slug>`, or the slug alone when it starts with the method already (the app's run
    names do: "spade-ds-…" must not become "spade-spade-ds-…"), unless another model already has it (then a free
    variant, which the caller keeps in latest.json so later checkpoints refresh the same entry). Returns the id.
    """
    catalog = Catalog()
    model_id = model_id or run_model_id(method, run_name)
    try:
        existing = next((e for e in catalog.entries() if e.id == model_id), None)
    except CatalogError as exc:
        raise TrainError(str(exc)) from None
    same_run = existing is not None and not existing.builtin and (
        Path(existing.source).resolve().parent == model_path.parent.resolve())
    if existing is not None and not same_run:
        model_id = catalog.unique_id(model_id)
    entry = ModelEntry(
        id=model_id, method=method, task=task, size_rule=size_rule, license=license,
        source=str(model_path.resolve()), sha256=sha256_file(model_path), name=run_name,
        hparams=dict(hparams), classes=tuple((int(i), str(n)) for i, n in classes), palette=palette,
        added=existing.added if same_run else added, notes=notes,
        capabilities=registry.by_method(method).capabilities(dict(hparams)),
    )
    catalog.upsert(entry)
    return model_id


def save_checkpoint(run_dir: Path, *, step: int, model: Mapping[str, torch.Tensor], metadata: Mapping[str, Any],
                    parts: Mapping[str, Mapping[str, torch.Tensor]], state: Mapping[str, Any], model_id: str | None,
                    listing: Mapping[str, Any], keep: int, emit: Callable[..., Any],
                    default_id: str | None = None) -> tuple[Path, str | None]:
    """One checkpoint of a run, in the order that keeps every file anyone points at: the pair and
    latest.json (`write_pair`), the run's catalog entry (`publish(**listing)`, under `model_id`, else
    `default_id`, else `<method>-<run slug>`), then pruning down to `keep` pairs.

    When the catalog cannot be updated (a full disk, an unreadable catalog, a held lock) a warning is emitted
    and the entry keeps naming an older checkpoint; pruning never deletes that one (nor any file another
    catalog entry names), and latest.json remembers it as "published" for when the catalog cannot even be
    read. Emits the "checkpoint" event. Returns (the model file, the catalog id or None when not published).
    A failure to write the pair itself raises OSError with the previous checkpoint untouched.
    """
    published = _latest_info(run_dir).get("published")  # the model file the catalog entry names so far
    point = write_pair(run_dir, step=step, model=model, metadata=metadata, parts=parts, state=state,
                       latest_extra={"model_id": model_id, "published": published})
    try:
        new_id: str | None = publish(point.model, model_id=model_id or default_id, **listing)
    except (TrainError, ValueError, OSError) as exc:
        reason = str(exc) if isinstance(exc, TrainError) else error_message(exc)
        emit("log", level="warning", message=f"the checkpoint is saved but not in the model catalog: {reason}")
        new_id = None
    else:
        published = point.model.name
        write_latest(run_dir, {**point.info, "model_id": new_id, "published": published})
    protect = _catalog_files(run_dir) | ({published} if isinstance(published, str) else set())
    prune(run_dir, keep=keep, newest=step, protect=protect)
    emit("checkpoint", step=step, path=f"{CHECKPOINT_DIR}/{point.model.name}", model_id=new_id)
    return point.model, new_id


def _latest_info(run_dir: Path) -> dict[str, Any]:
    try:
        info = json.loads((run_dir / CHECKPOINT_DIR / LATEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _catalog_files(run_dir: Path) -> set[str]:
    """Names of this run's checkpoint files that the user's catalog points at (none if it cannot be read)."""
    folder = (run_dir / CHECKPOINT_DIR).resolve()
    try:
        entries = Catalog().entries()
    except (CatalogError, OSError):
        return set()
    return {Path(e.source).name for e in entries if not e.builtin and Path(e.source).parent == folder}
