"""The command-line commands that run a model: import, export, render, translate, stylize, vary, swap, stats (see
engine/cli.py).

They drive the same Engine handlers as the GUI, synchronously. Arguments (values, output paths) are checked
before any model is loaded; in a batch, a photo that fails is reported on its own `error:` line and the others
are still made, and the command exits 2 at the end.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine import inference, registry
from engine.api import (
    ALLOW_NONFINITE,
    MAX_TRANSLATE_PIXELS,
    STYLE_PRESETS,
    AddAttribute,
    CodeStats,
    ComputeCodeStats,
    DecodeCodes,
    EncodeImage,
    JobRef,
    RemoveAttribute,
    RenderLabels,
    StylizeImage,
    TranslateImage,
    Variation,
    VaryImage,
    parse_import_options,
    pick_mode,
)
from engine.catalog import Catalog
from engine.checkpoints import read_checkpoint
from engine.cli import format_entry_line
from engine.code_stats import gather, resize_short_side
from engine.codes import blend_texture
from engine.device import pick_device
from engine.errors import USER_ERRORS, error_message
from engine.handlers import Engine
from engine.imageio import check_output, read_label_map, read_rgb, write_rgb
from engine.storage import atomic_write_bytes
from engine.stylize import check_style
from engine.tasks.image_to_image import pick_direction
from engine.worker import JobContext


def dispatch(args: argparse.Namespace, catalog: Catalog) -> int:
    """Run a model command; the exit status."""
    # one request per process: Fast's sessions are made (or read from the disk cache) before it, not beside it
    engine = Engine(catalog, pick_device(args.device), mode=pick_mode(args.mode), wait_for_sessions=True)
    ctx = JobContext(JobRef(0, "cli", 0), _progress_to_stderr)
    if args.command == "models" and args.action == "export":
        return export_onnx(engine, args)
    if args.command == "models":  # import
        options = parse_import_options(args.option)
        if args.allow_nonfinite:
            options[ALLOW_NONFINITE] = True
        entry = engine.import_model(args.path, options, ctx)
        print(format_entry_line(entry))
        if entry.notes:
            print(f"note: {entry.notes}", file=sys.stderr)
        return 0
    if args.command == "translate":
        return translate(engine, ctx, args)
    if args.command == "stylize":
        return stylize(engine, ctx, args)
    if args.command == "vary":
        return vary(engine, ctx, args)
    if args.command == "swap":
        return swap(engine, ctx, args)
    if args.command == "stats":
        result = stats(engine, ctx, args)
        print(format_stats(result) if result else
              f"no editing statistics yet; compute them with: main.py stats --model {args.model} PHOTOS...")
        return 0
    return render(engine, ctx, args)


def render(engine: Engine, ctx: JobContext, args: argparse.Namespace) -> int:
    """A photo from a label map (SPADE); the exit status."""
    check_output(args.out)
    request = RenderLabels(
        model_id=args.model, labels=read_label_map(args.labels),
        instances=read_label_map(args.instances) if args.instances else None, size=args.size,
        style=read_rgb(args.style, max_pixels=MAX_TRANSLATE_PIXELS) if args.style else None, seed=args.seed)
    write_rgb(args.out, engine.render_labels(request, ctx))
    print(args.out)
    return 0


def export_onnx(engine: Engine, args: argparse.Namespace) -> int:
    """The model's main network written as an ONNX file (float32, the PyTorch networks whatever the mode); what
    it takes and gives is printed after the path. The exit status."""
    target = Path(args.onnx)
    if target.suffix.lower() != ".onnx":
        raise ValueError(f"{target.name}: the file to write must end in .onnx")
    if not target.parent.is_dir():
        raise ValueError(f"{target.parent}: no such folder")
    entry = engine.models.get(args.model_id)
    arch = registry.by_method(entry.method)
    if arch.onnx is None:
        raise ValueError(f"{arch.title} models cannot be exported to ONNX")
    graph = arch.onnx(arch.load(read_checkpoint(engine.models.file_of(entry)), entry.hparams), entry.hparams)
    buffer = io.BytesIO()
    inference.export(graph, buffer)
    try:
        atomic_write_bytes(target, buffer.getvalue())
    except OSError as exc:
        raise ValueError(f"{target.name}: cannot save ({error_message(exc)}); nothing was written") from None
    print(target)
    print(graph.summary)
    return 0


def _progress_to_stderr(event: Any) -> None:
    # Only for a person at a terminal: scripts get clean stderr with just the error line.
    if getattr(event, "message", "") and sys.stderr.isatty():
        print(event.message, file=sys.stderr)


def swap(engine: Engine, ctx: JobContext, args: argparse.Namespace) -> int:
    """Each structure photo decoded with its texture code blended towards the texture photo's; the exit status."""
    if not 0.0 <= args.alpha <= 1.0:
        raise ValueError(f"--alpha must be between 0 and 1, got {args.alpha}")
    engine.structure_texture_entry(args.model)  # a wrong model is named as such, not blamed on a photo
    targets = _output_targets([Path(p) for p in args.structure], Path(args.out), "--structure")
    texture_photo = read_rgb(args.texture, max_pixels=MAX_TRANSLATE_PIXELS)
    textures: dict[int, np.ndarray] = {}  # texture code per short side (the texture photo is resized to match)

    def one(source: Path, target: Path) -> None:
        own = engine.encode_image(EncodeImage(args.model, read_rgb(source, max_pixels=MAX_TRANSLATE_PIXELS)), ctx)
        short = min(own.size)
        if short not in textures:
            try:
                textures[short] = engine.encode_image(
                    EncodeImage(args.model, resize_short_side(texture_photo, short)), ctx).texture
            except ValueError as exc:
                raise ValueError(_about(Path(args.texture), exc)) from None
        texture = blend_texture(own.texture, textures[short], args.alpha)
        patch = engine.decode_codes(
            DecodeCodes(args.model, own.structure, texture, own.size, noise_seed=args.seed), ctx)
        write_rgb(target, patch.image)

    return _each(targets, one)


def translate(engine: Engine, ctx: JobContext, args: argparse.Namespace) -> int:
    """Each input photo translated at full resolution; the exit status."""
    # a wrong model or direction is named before any photo is read
    direction = pick_direction(engine.image_to_image_entry(args.model), args.direction)
    if args.tile < 0:
        raise ValueError(f"--tile must be a size in px (0: automatic), got {args.tile}")
    folder = any(Path(p).is_dir() for p in args.input)
    targets = _output_targets(gather(args.input), Path(args.out), "--input", folder=folder)

    def one(source: Path, target: Path) -> None:
        photo = read_rgb(source, max_pixels=MAX_TRANSLATE_PIXELS)
        write_rgb(target, engine.translate_image(
            TranslateImage(args.model, photo, direction, args.tile, full_res=args.full_res), ctx))

    return _each(targets, one)


def stylize(engine: Engine, ctx: JobContext, args: argparse.Namespace) -> int:
    """Each content photo stylised after the style image at full resolution; the exit status."""
    entry = engine.content_style_entry(args.model)  # a wrong model is named before any photo is read
    strength = STYLE_PRESETS[args.preset] if args.preset else 1.0 if args.strength is None else args.strength
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"--strength must be between 0 (the photo) and 1 (the full style), got {strength}")
    if args.tile < 0:
        raise ValueError(f"--tile must be a size in px (0: automatic), got {args.tile}")
    folder = any(Path(p).is_dir() for p in args.content)
    targets = _output_targets(gather(args.content), Path(args.out), "--content", folder=folder)
    style = read_rgb(args.style, max_pixels=MAX_TRANSLATE_PIXELS)
    try:
        check_style(style, entry.capabilities.min_style_size)
    except ValueError as exc:
        raise ValueError(_about(Path(args.style), exc)) from None

    def one(source: Path, target: Path) -> None:
        photo = read_rgb(source, max_pixels=MAX_TRANSLATE_PIXELS)
        # rounded to 8 bits as HierarchyFlow's official eval saves (torchvision save_image), not truncated
        write_rgb(target, engine.stylize_image(
            StylizeImage(args.model, photo, style, strength, tile=args.tile, full_res=args.full_res), ctx),
            rounded=True)

    return _each(targets, one)


def vary(engine: Engine, ctx: JobContext, args: argparse.Namespace) -> int:
    """Each photo translated into every target with every seed: one grid per photo, rows = targets, columns =
    seeds (one target and one seed: that image alone); the exit status."""
    entry = engine.multi_domain_entry(args.model)  # a wrong model or class is named before any photo is read
    domains = entry.capabilities.domains if entry.capabilities else ()
    targets = [target_index(name, domains) for name in args.targets]
    if not 0.0 <= args.weight <= 10.0:
        raise ValueError(f"--weight must be between 0 and 10, got {args.weight}")
    folder = any(Path(p).is_dir() for p in args.input)
    outputs = _output_targets(gather(args.input), Path(args.out), "--input", folder=folder)
    variations = tuple(Variation(t, seed, weight=args.weight) for t in targets for seed in args.seeds)

    def one(source: Path, target: Path) -> None:
        photo = read_rgb(source, max_pixels=MAX_TRANSLATE_PIXELS)
        if args.crop:
            photo = crop_square(photo, *args.crop)
        images = engine.vary_image(VaryImage(args.model, photo, variations, args.normalize), ctx)
        rows = [[images[r * len(args.seeds) + c] for c in range(len(args.seeds))] for r in range(len(targets))]
        labels = ([domains[t] for t in targets], [f"seed {s}" for s in args.seeds]) if args.labels else None
        # rounded to 8 bits as the official test saves (torchvision save_image), not truncated
        write_rgb(target, grid(rows, labels), rounded=True)

    return _each(outputs, one)


def target_index(name: str, domains: tuple[str, ...]) -> int:
    """A target class by name (case-insensitive) or number; refused with examples of the model's names."""
    lowered = {d.lower(): i for i, d in enumerate(domains)}
    if (found := lowered.get(name.lower())) is not None:
        return found
    if name.isdigit() and int(name) < len(domains):
        return int(name)
    shown = ", ".join(domains[:5]) + (f" ... ({len(domains)} in all)" if len(domains) > 5 else "")
    raise ValueError(f"the model has no class '{name}'; its classes: {shown}")


def crop_square(photo: np.ndarray, x: int, y: int, size: int) -> np.ndarray:
    h, w = photo.shape[:2]
    if x + size > w or y + size > h:
        raise ValueError(f"the square {x},{y},{size} reaches outside the {w}x{h} photo")
    return photo[y:y + size, x:x + size]


GAP = 2  # px between the cells of a grid
LABEL_COLOUR = (235, 235, 235)


def grid(rows: list[list[np.ndarray]], labels: tuple[list[str], list[str]] | None = None) -> np.ndarray:
    """Images (equal HxWx3) in rows, GAP px of dark grey between; with labels (row names, column names) a margin
    at the left and top carries them. One image without labels comes back as it is."""
    if len(rows) == 1 and len(rows[0]) == 1 and labels is None:
        return rows[0][0]
    h, w = rows[0][0].shape[:2]
    left, top = (112, 18) if labels else (0, 0)
    out = np.full((top + len(rows) * (h + GAP) - GAP, left + len(rows[0]) * (w + GAP) - GAP, 3), 0.12, np.float32)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            y, x = top + r * (h + GAP), left + c * (w + GAP)
            out[y:y + h, x:x + w] = image
    if labels is None:
        return out
    from PIL import Image, ImageDraw

    canvas = Image.fromarray(np.clip(np.rint(out * 255), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    for r, name in enumerate(labels[0]):
        draw.text((4, top + r * (h + GAP) + h // 2 - 6), name[:18], fill=LABEL_COLOUR)
    for c, name in enumerate(labels[1]):
        draw.text((left + c * (w + GAP) + 4, 3), name, fill=LABEL_COLOUR)
    return np.asarray(canvas).astype(np.float32) / 255


def _each(targets: list[tuple[Path, Path]], make: Callable[[Path, Path], None]) -> int:
    """`make(photo, output)` for every pair, printing each output made. A photo that fails is reported on its own
    `error:` line and the rest are still made; returns the exit status (2 when any failed)."""
    failed = 0
    for source, target in targets:
        try:
            make(source, target)
        except USER_ERRORS as exc:
            failed += 1
            print(f"error: {_about(source, exc)}", file=sys.stderr, flush=True)
            continue
        print(target, flush=True)
    if failed and len(targets) > 1:
        print(f"error: {failed} of {len(targets)} photos failed; the others were written", file=sys.stderr)
    return 2 if failed else 0


def _about(source: Path, exc: BaseException) -> str:
    """The message, naming the photo it concerns unless it already does."""
    message = error_message(exc)
    return message if source.name in message else f"{source.name}: {message}"


def _output_targets(sources: list[Path], out: Path, option: str, *, folder: bool = False) -> list[tuple[Path, Path]]:
    """(photo, output file) pairs; several photos, an input folder or an existing folder make `out` a folder.
    Output paths are checked here, before any model runs."""
    if not sources:
        raise ValueError(f"no photos found in {option}")
    if len(sources) == 1 and not folder and not out.is_dir():
        return [(sources[0], check_output(out))]
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: with several {option} photos, --out must be a folder")
    targets = [(source, out / f"{source.stem}.png") for source in sources]
    names = [target.name for _, target in targets]
    if clash := next((name for name in names if names.count(name) > 1), None):
        raise ValueError(f"two {option} photos would both be written to {out / clash}; rename one")
    out.mkdir(parents=True, exist_ok=True)
    return targets


def stats(engine: Engine, ctx: JobContext, args: argparse.Namespace) -> CodeStats | None:
    """Compute, add an attribute, remove one, or (with none of these) show the model's statistics."""
    actions = [bool(args.paths), args.attribute is not None, args.remove_attribute is not None]
    if sum(actions) > 1:
        raise ValueError("give one of: PATHs to compute statistics, --attribute, --remove-attribute")
    if (args.group_a or args.group_b) and args.attribute is None:
        raise ValueError("--group-a and --group-b need --attribute NAME")
    if args.paths:
        return engine.compute_code_stats(ComputeCodeStats(args.model, tuple(args.paths)), ctx)
    if args.attribute is not None:
        if not args.group_a or not args.group_b:
            raise ValueError("--attribute needs photos for both --group-a and --group-b")
        request = AddAttribute(args.model, args.attribute, tuple(args.group_a), tuple(args.group_b))
        return engine.add_attribute(request, ctx)
    if args.remove_attribute is not None:
        return engine.remove_attribute(RemoveAttribute(args.model, args.remove_attribute), ctx)
    return engine.code_stats(args.model)


def format_stats(stats: CodeStats) -> str:
    def spread(std: np.ndarray) -> str:
        return f"{len(std)} (std {std[0]:.4f} .. {std[-1]:.4f})" if len(std) else "none"

    names = ", ".join(name for name, _ in stats.attributes) or "none"
    return "\n".join([f"source:     {stats.source}", f"photos:     {stats.count}",
                      f"texture:    {spread(stats.texture_std)} directions of {stats.texture_mean.shape[0]}",
                      f"structure:  {spread(stats.structure_std)} directions of {stats.structure_mean.shape[0]}",
                      f"attributes: {names}"])
