"""The engine's request handlers: the catalog requests, and the task services (engine/tasks/) for the rest.

All model state lives here, touched only by the worker thread.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine import inference, palettes, registry
from engine.api import (
    ALLOW_NONFINITE,
    AddAttribute,
    CodeStats,
    ComputeCodeStats,
    DecodeCodes,
    DecodedPatch,
    DeviceInfo,
    Embedding,
    EncodeImage,
    GetCodeStats,
    GetDeviceInfo,
    ImportModel,
    ListModels,
    Mode,
    ModelEntry,
    RemoveAttribute,
    RemoveModel,
    RenderLabels,
    Request,
    StylizeImage,
    TranslateImage,
    VaryImage,
    pick_mode,
)
from engine.architecture import check_option_names, check_option_values
from engine.catalog import Catalog
from engine.checkpoints import (
    Checkpoint,
    CheckpointError,
    describe_nonfinite,
    nonfinite_weights,
    read_checkpoint,
)
from engine.device import describe
from engine.errors import error_message
from engine.model_store import ModelStore
from engine.storage import sha256_file
from engine.tasks import Job
from engine.tasks.content_style import ContentStyle
from engine.tasks.image_to_image import ImageToImage
from engine.tasks.label_to_image import LabelToImage
from engine.tasks.multi_domain import MultiDomain
from engine.tasks.structure_texture import StructureTexture

GENERIC_FILE_NAMES = {"latest_net_g", "net_g", "model", "checkpoint", "latest_checkpoint", "generator"}
# official training snapshots: <epoch>_net_G.pth, <epoch>_net_G_A.pth, iter_<n>_net_G_B.pth ...
# HierarchyFlow's <task_name>/model_save/<step>.ckpt.pth.tar: a bare step number
OFFICIAL_SNAPSHOT = re.compile(r"^(latest|\d+|iter_\d+)(_net_g(_[ab])?)?$")
RELEASE_SUFFIX = "_pretrained"  # official download folders: horse2zebra_pretrained, horse2zebra_cut_pretrained
SNAPSHOT_FOLDERS = {"model_save"}  # folders of snapshots inside a run folder that names the model (HierarchyFlow)


class Engine:
    """Dispatches requests: catalog requests here, the rest to one service per task (engine/tasks/)."""

    def __init__(self, catalog: Catalog, device: torch.device, *, mode: Mode | None = None,
                 cache_size: int = 2, wait_for_sessions: bool = False) -> None:
        """mode: None for $I2I_MODE, else the default (engine.api.pick_mode). wait_for_sessions: Fast mode's
        sessions are made before a model's first result instead of in the background while PyTorch serves it (the
        command line: its process ends after one request)."""
        self.catalog = catalog
        self.device = device
        mode = mode or pick_mode()
        sessions = inference.SessionBuilder(inference.cache_dir(), wait=wait_for_sessions)
        self.models = ModelStore(catalog, device, mode=mode, cache_size=cache_size, sessions=sessions)
        self.label_to_image = LabelToImage(self.models)
        self.image_to_image = ImageToImage(self.models)
        self.structure_texture = StructureTexture(self.models)
        self.content_style = ContentStyle(self.models)
        self.multi_domain = MultiDomain(self.models)
        # each returns what engine.api.RESULT_TYPES names for its request
        self.handlers: dict[type, Callable[[Any, Job], Any]] = {
            ListModels: self.list_models,
            GetDeviceInfo: self.get_device_info,
            ImportModel: self.import_request,
            RemoveModel: self.remove_model,
            RenderLabels: self.render_labels,
            EncodeImage: self.encode_image,
            DecodeCodes: self.decode_codes,
            GetCodeStats: self.get_code_stats,
            ComputeCodeStats: self.compute_code_stats,
            AddAttribute: self.add_attribute,
            RemoveAttribute: self.remove_attribute,
            TranslateImage: self.translate_image,
            StylizeImage: self.stylize_image,
            VaryImage: self.vary_image,
        }

    def close(self) -> None:
        """No more background work (Fast mode's sessions still being made are dropped)."""
        self.models.close()

    def __call__(self, request: Request, job: Job) -> Any:
        handler = self.handlers.get(type(request))
        if handler is None:
            raise ValueError(f"the engine cannot handle {type(request).__name__}")
        return handler(request, job)

    # --- the catalog ------------------------------------------------------------------------------------

    def list_models(self, request: ListModels, job: Job) -> tuple[ModelEntry, ...]:
        return self.models.entries()

    def get_device_info(self, request: GetDeviceInfo, job: Job) -> DeviceInfo:
        return describe(self.device)

    def import_request(self, request: ImportModel, job: Job) -> ModelEntry:
        return self.import_model(request.path, request.options, job)

    def import_model(self, path: str, options: dict[str, Any] | None, job: Job | None = None) -> ModelEntry:
        """Catalogue a checkpoint after proving it usable; on any failure the catalog is left as it was and the
        error's text is one line. `options` (see ImportModel) are checked against the detected architecture."""
        options = dict(options or {})
        allow_nonfinite = options.pop(ALLOW_NONFINITE, False)
        if type(allow_nonfinite) is not bool:  # a ValueError, as every bad option: one line, never a traceback
            raise ValueError(f"option {ALLOW_NONFINITE} must be True or False, got {allow_nonfinite!r}")
        source = _source_path(path)
        if job:
            job.progress(0.1, f"reading {source.name}")
        ckpt = read_checkpoint(source)
        source = ckpt.path  # a DeepI2I experiment folder is catalogued by its G.pth (its siblings are read with it)
        arch = _malformed_as_error(source, "the weights are malformed", lambda: registry.detect(ckpt.state_dict))
        check_option_names(arch, options)
        given = check_option_values(arch, options)
        found = check_option_values(arch, ckpt.options, f"{_options_origin(ckpt)}: ")
        hparams = _malformed_as_error(source, f"the weights do not fit a {arch.title}",
                                      lambda: arch.resolve_hparams(ckpt.state_dict, {**ckpt.hints, **found, **given}))
        if job:
            job.progress(0.5, f"checking {arch.title}")
        # a strict load proves the file is usable before it is catalogued
        _malformed_as_error(source, f"the weights do not fit a {arch.title}", lambda: arch.load(ckpt, hparams))
        warning = ""
        if bad := nonfinite_weights(ckpt):
            if not allow_nonfinite:
                raise CheckpointError(f"{source.name}: {describe_nonfinite(bad)}; such a model renders black or "
                                      "garbage: refused (import it anyway with --allow-nonfinite)")
            warning = f"WARNING: {describe_nonfinite(bad)}; renders may be black or garbage"
        sha = _sha256_of(ckpt)
        if (existing := self.catalog.find_by_sha(sha)) and existing.hparams == hparams:
            return self.models.get(existing.id)
        palette_name = ckpt.metadata.get("palette") or _palette_for(hparams)
        name = ckpt.metadata.get("name") or ckpt.hints.get("experiment") or _name_from_path(source)
        entry = ModelEntry(
            id=self.catalog.unique_id(f"{arch.method}-{name}"),
            method=arch.method,
            task=arch.task,
            size_rule=arch.size_rule(hparams),
            license=ckpt.metadata.get("license") or arch.license_note,
            source=str(source),
            sha256=sha,
            name=name,
            hparams=hparams,
            classes=_classes(ckpt, hparams, palette_name),
            palette=palette_name or "",
            added=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            notes=_notes(hparams, ckpt, name, warning),
            capabilities=arch.capabilities(hparams),
        )
        self.catalog.add(entry)
        return entry

    def remove_model(self, request: RemoveModel, job: Job) -> str:
        self.catalog.remove(request.model_id)
        self.models.forget(request.model_id)
        self.structure_texture.forget(request.model_id)
        self.content_style.forget(request.model_id)
        self.multi_domain.forget(request.model_id)
        return request.model_id

    def loaded(self, model_id: str, job: Job | None = None) -> tuple[dict[str, Any], dict[str, torch.nn.Module]]:
        """The model's hparams and eval-mode networks on the engine's device (cached)."""
        model = self.models.load(model_id, job)
        return model.hparams, model.nets

    # --- the tasks (the command line calls these too) -------------------------------------------------

    def render_labels(self, request: RenderLabels, job: Job) -> np.ndarray:
        return self.label_to_image.render(request, job)

    def translate_image(self, request: TranslateImage, job: Job) -> np.ndarray:
        return self.image_to_image.translate(request, job)

    def image_to_image_entry(self, model_id: str) -> ModelEntry:
        return self.image_to_image.entry(model_id)

    def stylize_image(self, request: StylizeImage, job: Job) -> np.ndarray:
        return self.content_style.stylize(request, job)

    def content_style_entry(self, model_id: str) -> ModelEntry:
        return self.content_style.entry(model_id)

    def vary_image(self, request: VaryImage, job: Job) -> tuple[np.ndarray, ...]:
        return self.multi_domain.vary(request, job)

    def multi_domain_entry(self, model_id: str) -> ModelEntry:
        return self.multi_domain.entry(model_id)

    def encode_image(self, request: EncodeImage, job: Job) -> Embedding:
        return self.structure_texture.encode(request, job)

    def decode_codes(self, request: DecodeCodes, job: Job) -> DecodedPatch:
        return self.structure_texture.decode(request, job)

    def structure_texture_entry(self, model_id: str) -> ModelEntry:
        return self.structure_texture.entry(model_id)

    def get_code_stats(self, request: GetCodeStats, job: Job) -> CodeStats | None:
        return self.code_stats(request.model_id)

    def code_stats(self, model_id: str) -> CodeStats | None:
        return self.structure_texture.code_stats(model_id)

    def compute_code_stats(self, request: ComputeCodeStats, job: Job) -> CodeStats:
        return self.structure_texture.compute_code_stats(request, job)

    def add_attribute(self, request: AddAttribute, job: Job) -> CodeStats:
        return self.structure_texture.add_attribute(request, job)

    def remove_attribute(self, request: RemoveAttribute, job: Job) -> CodeStats:
        return self.structure_texture.remove_attribute(request, job)


def _source_path(path: str) -> Path:
    """The absolute path of a file to import; a symbolic link loop is an OSError (Python < 3.13 raises
    RuntimeError from resolve())."""
    given = Path(path).expanduser()
    try:
        return given.resolve()
    except RuntimeError:
        raise CheckpointError(f"{given}: the path is a symbolic link loop") from None


_MALFORMED = (ArithmeticError, IndexError, KeyError, TypeError, AttributeError, RuntimeError)


def _malformed_as_error(source: Path, what: str, step: Callable[[], Any]) -> Any:
    """Run a step of reading foreign weights; what a malformed file makes the model code raise (a tensor of the wrong
    rank, a zero size...) is reported as one line about the file, not a traceback."""
    try:
        with warnings.catch_warnings():  # torch's warnings about odd shapes: noise on a one-line stderr
            warnings.simplefilter("ignore")
            return step()
    except _MALFORMED as exc:
        reason = error_message(exc)
        reason = reason if len(reason) <= 160 else reason[:157] + "..."
        raise CheckpointError(f"{source.name}: {what} ({reason})") from None


def _sha256_of(ckpt: Checkpoint) -> str:
    """The file's sha256; for several files read as one model (a DeepI2I experiment folder), the sha256 of their
    names and sha256s, so a change to any of them is a new model."""
    if len(ckpt.files) <= 1:
        return sha256_file(ckpt.path)
    return hashlib.sha256("".join(f"{f.name}:{sha256_file(f)}\n" for f in ckpt.files).encode()).hexdigest()


def _options_origin(ckpt: Checkpoint) -> str:
    return f"{ckpt.path.name} metadata" if ckpt.metadata else str(ckpt.path.parent / "opt.txt")


def _name_from_path(path: Path) -> str:
    """Official files have generic names (latest_net_G.pth, 200_net_G_A.pth, 500.ckpt.pth.tar): their folder names
    the model, without the release suffix (horse2zebra_pretrained -> horse2zebra); HierarchyFlow's run folder is
    the one above model_save/. Never empty (a file named '.pth' in /)."""
    stem = path.name.split(".")[0]
    if stem and stem.lower() not in GENERIC_FILE_NAMES and not OFFICIAL_SNAPSHOT.match(stem.lower()):
        return stem
    parent = path.parent.parent if path.parent.name in SNAPSHOT_FOLDERS else path.parent
    folder = parent.name
    return folder.removesuffix(RELEASE_SUFFIX) or folder or stem or "model"


def _palette_for(hparams: dict[str, Any]) -> str | None:
    label_nc = hparams.get("label_nc")
    return palettes.for_semantic_config(label_nc) if label_nc else None


def _classes(ckpt: Checkpoint, hparams: dict[str, Any], palette_name: str | None) -> tuple[tuple[int, str], ...]:
    if classes := ckpt.metadata.get("classes"):
        return tuple((int(i), str(n)) for i, n in classes)
    if names := hparams.get("class_names"):  # MultiDomain models: their target classes
        return tuple(enumerate(str(n) for n in names))
    label_nc = int(hparams.get("label_nc") or 0)
    top = label_nc + 1 if hparams.get("contain_dontcare_label") else label_nc  # the dontcare channel is an id too
    if palette_name:
        palette = palettes.load(palette_name)
        return tuple((c.id, c.name) for c in palette.classes if c.id < top)
    return tuple((i, f"class {i}") for i in range(top))


def _notes(hparams: dict[str, Any], ckpt: Checkpoint, name: str, warning: str = "") -> str:
    notes = [warning] if warning else []
    if (directions := hparams.get("directions")) and (note := _directions_note(name, directions)):
        notes.append(note)
    if assumed := hparams.get("assumed"):
        notes.append("assumed (not in the file; re-import with options to change): " + ", ".join(assumed))
    if ckpt.options and not ckpt.metadata:  # our own files carry their hparams, not an opt.txt
        notes.append(f"options read from {ckpt.path.parent / 'opt.txt'}")
    if "netE" in ckpt.parts:
        notes.append("includes an image encoder (style images)")
    if (names := hparams.get("class_names")) and names[0] == "class 0":
        notes.append(f"{len(names)} target classes, numbered: name them on import with -o classes=NAME,NAME,... or "
                     "a class file (-o classes=I128_imgs.pickle, or classes.txt beside the nets)")
    return "; ".join(notes)


def _directions_note(name: str, directions: list[str]) -> str:
    """'translates AtoB (horse -> zebra) and BtoA (zebra -> horse)' for the official X2Y dataset names, else ''."""
    domains = re.match(r"^([a-z]+)2([a-z]+)", name.lower())
    if not domains:
        return ""
    a, b = domains.groups()
    sides = {"AtoB": f"{a} -> {b}", "BtoA": f"{b} -> {a}"}
    return "translates " + " and ".join(f"{d} ({sides[d]})" for d in directions)
