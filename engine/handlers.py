"""The engine's request handlers: all model state lives here, touched only by the worker thread."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import warnings
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine import code_stats, palettes, registry, stylize, tiling
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
    ModelEntry,
    RemoveAttribute,
    RemoveModel,
    RenderLabels,
    Request,
    StylizeImage,
    Task,
    TranslateImage,
)
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
from engine.models import sae, spade
from engine.storage import sha256_file
from engine.worker import JobContext

GENERIC_FILE_NAMES = {"latest_net_g", "net_g", "model", "checkpoint", "latest_checkpoint", "generator"}
# official training snapshots: <epoch>_net_G.pth, <epoch>_net_G_A.pth, iter_<n>_net_G_B.pth ...
# HierarchyFlow's <task_name>/model_save/<step>.ckpt.pth.tar: a bare step number
OFFICIAL_SNAPSHOT = re.compile(r"^(latest|\d+|iter_\d+)(_net_g(_[ab])?)?$")
RELEASE_SUFFIX = "_pretrained"  # official download folders: horse2zebra_pretrained, horse2zebra_cut_pretrained
SNAPSHOT_FOLDERS = {"model_save"}  # folders of snapshots inside a run folder that names the model (HierarchyFlow)


class Engine:
    """Dispatches requests; keeps the few most recently used models loaded on the device."""

    def __init__(self, catalog: Catalog, device: torch.device, *, cache_size: int = 2) -> None:
        self.catalog = catalog
        self.device = device
        # model id -> (sha256 of the file it was loaded from, hparams, networks)
        self._cache: OrderedDict[str, tuple[str, dict[str, Any], dict[str, torch.nn.Module]]] = OrderedDict()
        self._cache_size = cache_size
        self._handlers: dict[type, Callable[[Any, JobContext], Any]] = {
            ListModels: lambda r, ctx: self.catalog.entries(),
            GetDeviceInfo: lambda r, ctx: self.device_info(),
            ImportModel: lambda r, ctx: self.import_model(r.path, r.options, ctx),
            RemoveModel: self.remove_model,
            RenderLabels: self.render_labels,
            EncodeImage: self.encode_image,
            DecodeCodes: self.decode_codes,
            GetCodeStats: lambda r, ctx: self.code_stats(r.model_id),
            ComputeCodeStats: self.compute_code_stats,
            AddAttribute: self.add_attribute,
            RemoveAttribute: self.remove_attribute,
            TranslateImage: self.translate_image,
            StylizeImage: self.stylize_image,
        }
        self._stylizer = stylize.Stylizer()  # the slider cache: content passes and style codes
        # model id -> (sha256 of its file, the statistics that file ships or None): read once per file
        self._shipped_stats: dict[str, tuple[str, CodeStats | None]] = {}

    def __call__(self, request: Request, ctx: JobContext) -> Any:
        handler = self._handlers.get(type(request))
        if handler is None:
            raise ValueError(f"the engine cannot handle {type(request).__name__}")
        return handler(request, ctx)

    def device_info(self) -> DeviceInfo:
        return describe(self.device)

    def import_model(self, path: str, options: dict[str, Any] | None, ctx: JobContext | None = None) -> ModelEntry:
        """Catalogue a checkpoint after proving it usable; on any failure the catalog is left as it was and the
        error's text is one line. `options` (see ImportModel) are checked against the detected architecture."""
        options = dict(options or {})
        allow_nonfinite = options.pop(ALLOW_NONFINITE, False)
        if type(allow_nonfinite) is not bool:  # a ValueError, as every bad option: one line, never a traceback
            raise ValueError(f"option {ALLOW_NONFINITE} must be True or False, got {allow_nonfinite!r}")
        source = _source_path(path)
        if ctx:
            ctx.progress(0.1, f"reading {source.name}")
        ckpt = read_checkpoint(source)
        arch = _malformed_as_error(source, "the weights are malformed", lambda: registry.detect(ckpt.state_dict))
        registry.check_option_names(arch, options)
        given = registry.check_option_values(arch, options)
        found = registry.check_option_values(arch, ckpt.options, f"{_options_origin(ckpt)}: ")
        hparams = _malformed_as_error(source, f"the weights do not fit a {arch.title}",
                                      lambda: arch.resolve_hparams(ckpt.state_dict, {**ckpt.hints, **found, **given}))
        if ctx:
            ctx.progress(0.5, f"checking {arch.title}")
        # a strict load proves the file is usable before it is catalogued
        _malformed_as_error(source, f"the weights do not fit a {arch.title}", lambda: arch.load(ckpt, hparams))
        warning = ""
        if bad := nonfinite_weights(ckpt):
            if not allow_nonfinite:
                raise CheckpointError(f"{source.name}: {describe_nonfinite(bad)}; such a model renders black or "
                                      "garbage: refused (import it anyway with --allow-nonfinite)")
            warning = f"WARNING: {describe_nonfinite(bad)}; renders may be black or garbage"
        sha = sha256_file(source)
        if (existing := self.catalog.find_by_sha(sha)) and existing.hparams == hparams:
            return existing
        palette_name = ckpt.metadata.get("palette") or _palette_for(hparams)
        name = ckpt.metadata.get("name") or _name_from_path(source)
        entry = ModelEntry(
            id=self.catalog.unique_id(f"{arch.method}-{name}"),
            method=arch.method,
            task=arch.task.value,
            size_rule=arch.size_rule(hparams),
            license=ckpt.metadata.get("license") or arch.license_note,
            source=str(source),
            sha256=sha,
            name=name,
            hparams=hparams,
            classes=_classes(ckpt, hparams, palette_name),
            palette=palette_name or "",
            added=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            notes=_notes(hparams, ckpt, name, warning),
        )
        self.catalog.add(entry)
        return entry

    def remove_model(self, request: RemoveModel, ctx: JobContext) -> str:
        self.catalog.remove(request.model_id)
        self._cache.pop(request.model_id, None)
        self._shipped_stats.pop(request.model_id, None)
        self._stylizer.forget(request.model_id)
        return request.model_id

    def render_labels(self, request: RenderLabels, ctx: JobContext):
        hparams, nets = self.loaded(request.model_id, ctx)
        ctx.check()
        return spade.render(
            nets["netG"], hparams, request.labels, instances=request.instances, size=request.size,
            style=request.style, seed=request.seed, encoder=nets.get("netE"), device=self.device,
        )

    # --- ImageToImage models (CycleGAN, CUT): style brushes ----------------------------------------------

    def translate_image(self, request: TranslateImage, ctx: JobContext) -> np.ndarray:
        entry = self.image_to_image_entry(request.model_id)
        direction = pick_direction(entry, request.direction)
        image = tiling.check_photo(request.image)  # refused before the model is loaded
        if request.tile < 0:
            raise ValueError(f"tile must be 0 (automatic) or a size in px, got {request.tile}")
        hparams, nets = self.loaded(request.model_id, ctx)
        generator = nets[direction]
        tile = request.tile or tiling.default_tile(generator, hparams, image.shape[:2], self.device)
        # the statistics pass is never larger than a tile, so a tile's memory bounds the whole job
        return tiling.translate(generator, hparams, image, tile=tile, device=self.device,
                                stats_side=min(tiling.STATS_SIDE, tile), ctx=ctx)

    def image_to_image_entry(self, model_id: str) -> ModelEntry:
        """The catalog entry, refused unless the model translates whole photos."""
        entry = self.catalog.get(model_id)
        if entry.task != Task.IMAGE_TO_IMAGE.value:
            raise ValueError(f"model '{model_id}' is a {entry.task} model ({entry.method}); translating a photo "
                             "needs an ImageToImage model such as CycleGAN or CUT")
        return entry

    # --- ContentStyle models (HierarchyFlow) -------------------------------------------------------------

    def stylize_image(self, request: StylizeImage, ctx: JobContext) -> np.ndarray:
        entry = self.content_style_entry(request.model_id)
        min_size = int(entry.hparams["min_size"])
        content = stylize.check_content(request.content, min_size)  # refused before the model is loaded
        style = stylize.check_style(request.style)
        strength = stylize.check_strength(request.strength)
        if request.max_side < 0 or request.tile < 0:
            raise ValueError(f"max_side and tile must be 0 (none / automatic) or sizes in px, got "
                             f"{request.max_side} and {request.tile}")
        if request.max_side:
            content = stylize.shrink(content, max(request.max_side, min_size), min_size)
        hparams, nets = self.loaded(request.model_id, ctx)
        tile = request.tile or stylize.default_tile(hparams, content.shape[:2], self.device)
        # the statistics pass is never larger than a tile, so a tile's memory bounds the whole job
        return self._stylizer((entry.id, entry.sha256), nets["flow"], hparams, content, style, strength,
                              tile=tile, device=self.device, stats_side=min(stylize.STATS_SIDE, tile), ctx=ctx)

    def content_style_entry(self, model_id: str) -> ModelEntry:
        """The catalog entry, refused unless the model stylises a photo after a style image."""
        entry = self.catalog.get(model_id)
        if entry.task != Task.CONTENT_STYLE.value:
            raise ValueError(f"model '{model_id}' is a {entry.task} model ({entry.method}); stylising a photo "
                             "needs a ContentStyle model such as HierarchyFlow")
        return entry

    # --- StructureTexture models (Swapping Autoencoder) ------------------------------------------------

    def encode_image(self, request: EncodeImage, ctx: JobContext) -> Embedding:
        hparams, encoder = self._encoder(request.model_id, ctx)
        size = _image_size(request.image)
        ctx.check()
        ctx.progress(0.5, "embedding the photo")
        structure, texture = sae.encode(encoder, request.image, device=self.device)
        return Embedding(structure, texture, size=size, cell=int(hparams["size_multiple"]))

    def decode_codes(self, request: DecodeCodes, ctx: JobContext) -> DecodedPatch:
        hparams, nets = self._structure_texture(request.model_id, ctx)
        if not (np.isfinite(request.structure).all() and np.isfinite(request.texture).all()):
            raise ValueError("the codes contain NaN or infinite values")
        ctx.check()
        ctx.progress(0.5, "generating")
        # the model checks the codes' shapes against its hparams, the size and the region
        image, top, left = sae.decode(
            nets["netG"], hparams, request.structure, request.texture, tuple(request.size), region=request.region,
            scale=request.scale, noise_seed=request.noise_seed, device=self.device)
        return DecodedPatch(image, int(top), int(left))

    def code_stats(self, model_id: str) -> CodeStats | None:
        """The model's editing statistics: the user's if valid for its file, else those it ships, else None."""
        entry = self.structure_texture_entry(model_id)
        return code_stats.load(entry, self._shipped_stats_of(entry))

    def compute_code_stats(self, request: ComputeCodeStats, ctx: JobContext) -> CodeStats:
        entry, encode, min_size = self._photo_encoder(request.model_id, ctx)
        current = code_stats.load(entry, self._shipped_stats_of(entry), note=False)
        stats = code_stats.compute(request.paths, encode, ctx, min_size=min_size,
                                   attributes=current.attributes if current else ())
        code_stats.save(entry, stats)
        return stats

    def add_attribute(self, request: AddAttribute, ctx: JobContext) -> CodeStats:
        name = code_stats.check_attribute_name(request.name)
        entry, encode, min_size = self._photo_encoder(request.model_id, ctx)
        direction, codes = code_stats.attribute_direction(request.group_a, request.group_b, encode, ctx,
                                                          min_size=min_size)
        current = code_stats.load(entry, self._shipped_stats_of(entry), note=False)
        stats = code_stats.with_attribute(current or code_stats.without_directions(codes), name, direction)
        code_stats.save(entry, stats)
        return stats

    def remove_attribute(self, request: RemoveAttribute, ctx: JobContext) -> CodeStats:
        entry = self.structure_texture_entry(request.model_id)
        current = code_stats.load(entry, self._shipped_stats_of(entry), note=False)
        if current is None:
            raise ValueError(f"model '{entry.id}' has no attributes")
        stats = code_stats.without_attribute(current, request.name.strip())
        code_stats.save(entry, stats)
        return stats

    def structure_texture_entry(self, model_id: str) -> ModelEntry:
        """The catalog entry, refused unless the model works on structure and texture codes."""
        entry = self.catalog.get(model_id)
        if entry.task != Task.STRUCTURE_TEXTURE.value:
            raise ValueError(f"model '{model_id}' is a {entry.task} model ({entry.method}); structure and texture "
                             "codes need a StructureTexture model such as a Swapping Autoencoder")
        return entry

    def _structure_texture(self, model_id: str, ctx: JobContext) -> tuple[dict[str, Any], dict[str, torch.nn.Module]]:
        self.structure_texture_entry(model_id)
        return self.loaded(model_id, ctx)

    def _encoder(self, model_id: str, ctx: JobContext) -> tuple[dict[str, Any], torch.nn.Module]:
        hparams, nets = self._structure_texture(model_id, ctx)
        if "netE" not in nets:
            raise ValueError(f"model '{model_id}' has no encoder (a generator-only file), so it cannot embed photos")
        return hparams, nets["netE"]

    def _photo_encoder(self, model_id: str, ctx: JobContext) -> tuple[ModelEntry, code_stats.Encode, int]:
        hparams, encoder = self._encoder(model_id, ctx)
        return (self.catalog.get(model_id), lambda image: sae.encode(encoder, image, device=self.device),
                int(hparams["min_size"]))

    def _shipped_stats_of(self, entry: ModelEntry) -> CodeStats | None:
        cached = self._shipped_stats.get(entry.id)
        if cached is None or cached[0] != entry.sha256:
            source = self.catalog.resolve_source(entry)
            if not source.is_file():
                raise FileNotFoundError(f"the file of model '{entry.id}' is gone ({source}); import it again")
            cached = (entry.sha256, code_stats.shipped(read_checkpoint(source)))
            self._shipped_stats[entry.id] = cached
        return cached[1]

    def loaded(self, model_id: str, ctx: JobContext | None = None) -> tuple[dict[str, Any], dict[str, torch.nn.Module]]:
        """The model's hparams and eval-mode networks on the engine's device (cached)."""
        entry = self.catalog.get(model_id)
        cached = self._cache.get(model_id)
        if cached is not None and cached[0] == entry.sha256:  # a training run may have refreshed the file
            self._cache.move_to_end(model_id)
            return cached[1], cached[2]
        source = self.catalog.resolve_source(entry)
        if not source.is_file():
            raise FileNotFoundError(f"the file of model '{model_id}' is gone ({source}); import it again")
        if ctx:
            ctx.progress(0.0, f"loading {entry.name or entry.id}")
        arch = registry.by_method(entry.method)
        ckpt = read_checkpoint(source)
        nets = {role: net.to(self.device) for role, net in arch.load(ckpt, entry.hparams).items()}
        if arch.task is Task.STRUCTURE_TEXTURE:  # the file is read anyway: keep its statistics too
            with contextlib.suppress(CheckpointError):  # broken statistics must not stop decoding; GetCodeStats says why
                self._shipped_stats[model_id] = (entry.sha256, code_stats.shipped(ckpt))
        self._cache[model_id] = (entry.sha256, entry.hparams, nets)
        self._cache.move_to_end(model_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return entry.hparams, nets


def _image_size(image: np.ndarray) -> tuple[int, int]:
    shape = np.shape(image)
    if len(shape) != 3 or shape[2] != 3:
        raise ValueError(f"a photo must be an HxWx3 RGB array, got shape {shape}")
    return int(shape[0]), int(shape[1])


def pick_direction(entry: ModelEntry, direction: str) -> str:
    """The model's direction to translate in: `direction`, or its first when empty; refused if it lacks it."""
    directions = list(entry.hparams.get("directions") or ["AtoB"])
    if not direction:
        return directions[0]
    if direction not in directions:
        raise ValueError(f"direction {direction!r} is not available: model '{entry.id}' translates "
                         f"{' and '.join(directions)} only")
    return direction


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
    return "; ".join(notes)


def _directions_note(name: str, directions: list[str]) -> str:
    """'translates AtoB (horse -> zebra) and BtoA (zebra -> horse)' for the official X2Y dataset names, else ''."""
    domains = re.match(r"^([a-z]+)2([a-z]+)", name.lower())
    if not domains:
        return ""
    a, b = domains.groups()
    sides = {"AtoB": f"{a} -> {b}", "BtoA": f"{b} -> {a}"}
    return "translates " + " and ".join(f"{d} ({sides[d]})" for d in directions)
