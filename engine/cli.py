"""The headless command line: `python main.py models ...`, `render ...`, `translate ...`, `stylize ...`, `swap ...`,
`stats ...`.

It drives the same Engine handlers as the GUI, synchronously. Every user error ends as one line
on stderr and exit status 2; nothing prints a traceback for a bad input. Arguments (values, output paths)
are checked before any model is loaded; in a batch, a photo that fails is reported on its own `error:` line
and the others are still made, and the command exits 2 at the end.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.api import (
    ALLOW_NONFINITE,
    FIDELITY_PRESETS,
    MAX_TRANSLATE_PIXELS,
    AddAttribute,
    CodeStats,
    ComputeCodeStats,
    DecodeCodes,
    EncodeImage,
    JobRef,
    ModelEntry,
    RemoveAttribute,
    RenderLabels,
    StylizeImage,
    TranslateImage,
    parse_import_options,
)
from engine.catalog import Catalog
from engine.code_stats import gather, resize_short_side
from engine.codes import MIN_STATS_PHOTOS, blend_texture
from engine.device import CHOICES, pick_device
from engine.errors import USER_ERRORS, error_message
from engine.handlers import Engine, pick_direction
from engine.imageio import check_output, read_label_map, read_rgb, write_rgb
from engine.stylize import check_style
from engine.worker import JobContext


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="main.py", description="I2I Studio. Without a command, opens the GUI.")
    parser.add_argument("--device", help=f"compute device: {', '.join(CHOICES)} or e.g. cuda:1 (default: auto)")
    commands = parser.add_subparsers(dest="command", required=True)

    models = commands.add_parser("models", help="list, inspect and import models").add_subparsers(
        dest="action", required=True)
    imp = models.add_parser("import", help="import a checkpoint file (the architecture is detected)")
    imp.add_argument("path")
    imp.add_argument("--option", "-o", action="append", default=[], metavar="NAME=VALUE",
                     help="dataset convention the weights cannot tell, with official option names, "
                          "e.g. -o label_nc=150 -o contain_dontcare_label=True -o num_upsampling_layers=more")
    imp.add_argument("--allow-nonfinite", action="store_true",
                     help="import weights that hold NaN or infinite values (refused otherwise; they render black "
                          "or garbage), with a warning in the model's notes")
    models.add_parser("list", help="one model per line: id, method, task, size rule, licence, source, sha256")
    show = models.add_parser("show", help="details of one model")
    show.add_argument("model_id")
    show.add_argument("--palette", action="store_true", help="print one 'ID NAME' line per class")
    remove = models.add_parser("remove", help="remove an imported model from the catalog (keeps the file)")
    remove.add_argument("model_id")

    render = commands.add_parser("render", help="render an image with a model").add_subparsers(
        dest="method", required=True)
    spade = render.add_parser("spade", help="photo from a label map (SPADE / GauGAN)")
    spade.add_argument("--model", required=True, help="model id (see 'models list')")
    spade.add_argument("--labels", required=True, help="label map: indexed or greyscale PNG of class ids")
    spade.add_argument("--instances", help="instance map (PNG, 8 or 16 bit) for models that use instances")
    spade.add_argument("--size", type=_size, help="output HxW, e.g. 256x512 (default: the model's size)")
    spade.add_argument("--style", help="style image (models with an image encoder)")
    spade.add_argument("--seed", type=int, help="random style seed (models with a style code)")
    spade.add_argument("--out", required=True, help="output image (.png, .jpg, .tif, .webp)")

    translate = commands.add_parser(
        "translate", help="translate whole photos with an ImageToImage model (CycleGAN, CUT), tiled when large")
    translate.add_argument("--model", required=True, help="model id of an ImageToImage model (see 'models list')")
    translate.add_argument("--direction", default="",
                           help="AtoB or BtoA, for CycleGAN models that hold both (default: the model's first)")
    translate.add_argument("--input", required=True, nargs="+", action="extend", metavar="PATH",
                           help="photo(s) or folder(s) of photos; with several or a folder, --out is a folder")
    translate.add_argument("--out", required=True, help="output image, or a folder (PNGs named after the inputs)")
    translate.add_argument("--tile", type=int, default=0,
                           help="tile side in px for large photos (default: chosen from the photo and memory)")

    styl = commands.add_parser(
        "stylize", help="stylise photos after a style image with a ContentStyle model (HierarchyFlow); tiles if large")
    styl.add_argument("--model", required=True, help="model id of a ContentStyle model (see 'models list')")
    styl.add_argument("--content", required=True, nargs="+", action="extend", metavar="PATH",
                      help="photo(s) or folder(s) of photos; with several or a folder, --out is a folder")
    styl.add_argument("--style", required=True, metavar="PHOTO", help="style image (any size from 8 px a side)")
    amount = styl.add_mutually_exclusive_group()
    amount.add_argument("--fidelity", type=float, metavar="S",
                        help="STRENGTH of the stylisation, 0..1: 0 keeps the photo unchanged, 1 is the model's full "
                             "translation (the official output); default 1. An app extension, not in the paper")
    amount.add_argument("--preset", choices=list(FIDELITY_PRESETS),
                        help="fidelity to the photo: " + ", ".join(f"{name} = --fidelity {s}"
                                                                   for name, s in FIDELITY_PRESETS.items()))
    styl.add_argument("--out", required=True, help="output image, or a folder (PNGs named after the photos)")
    styl.add_argument("--tile", type=int, default=0,
                      help="tile side in px for large photos (default: chosen from the photo and memory)")

    swap = commands.add_parser(
        "swap", help="Swapping Autoencoder: the layout of one photo with the texture of another")
    swap.add_argument("--model", required=True, help="model id of a StructureTexture model (see 'models list')")
    swap.add_argument("--structure", required=True, nargs="+", action="extend", metavar="PHOTO",
                      help="photo(s) whose layout is kept; with several, --out is a folder")
    swap.add_argument("--texture", required=True, metavar="PHOTO",
                      help="photo whose texture is taken (any size: it is resized so its short side matches the "
                           "structure photo's, as the official evaluation does)")
    swap.add_argument("--alpha", type=float, default=1.0,
                      help="0 keeps the structure photo's own texture, 1 takes the texture photo's (default 1)")
    swap.add_argument("--seed", type=int, default=0, help="seed of the generator's per-pixel noise (default 0)")
    swap.add_argument("--out", required=True, help="output image, or a folder (PNGs named after the structure photos)")

    stats = commands.add_parser(
        "stats", help="editing directions of a StructureTexture model: show, compute from photos, name attributes")
    stats.add_argument("--model", required=True, help="model id (see 'models list')")
    stats.add_argument("paths", nargs="*", metavar="PATH",
                       help=f"photos or folders to compute the principal directions from (at least {MIN_STATS_PHOTOS})")
    stats.add_argument("--attribute", metavar="NAME", help="add or replace the texture direction from group A to B")
    stats.add_argument("--group-a", nargs="+", action="extend", default=[], metavar="PATH",
                       help="photos or folders of group A (e.g. summer)")
    stats.add_argument("--group-b", nargs="+", action="extend", default=[], metavar="PATH",
                       help="photos or folders of group B (e.g. snow)")
    stats.add_argument("--remove-attribute", metavar="NAME", help="forget a named attribute")
    return parser


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size like 256x512 (height x width)") from None
    if h < 1 or w < 1 or h * w > MAX_TRANSLATE_PIXELS:
        raise argparse.ArgumentTypeError(f"'{text}': the size must be positive and at most "
                                         f"{MAX_TRANSLATE_PIXELS // 1_000_000} megapixels")
    return h, w



def format_entry_line(entry: ModelEntry) -> str:
    return "\t".join([entry.id, entry.method, entry.task, entry.size_rule, entry.license, entry.source, entry.sha256])


def format_entry_details(entry: ModelEntry) -> str:
    lines = [f"id:        {entry.id}", f"name:      {entry.name}", f"method:    {entry.method}",
             f"task:      {entry.task}", f"size rule: {entry.size_rule}", f"licence:   {entry.license}",
             f"source:    {entry.source}", f"sha256:    {entry.sha256}",
             f"built-in:  {'yes' if entry.builtin else 'no'}", f"palette:   {entry.palette or '-'}",
             f"classes:   {len(entry.classes)}", f"added:     {entry.added or '-'}"]
    lines += [f"  {key} = {value}" for key, value in entry.hparams.items()]
    if entry.notes:
        lines.append(f"notes:     {entry.notes}")
    return "\n".join(lines)


def _progress_to_stderr(event: Any) -> None:
    # Only for a person at a terminal: scripts get clean stderr with just the error line.
    if getattr(event, "message", "") and sys.stderr.isatty():
        print(event.message, file=sys.stderr)


def run(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except USER_ERRORS as exc:
        print(f"error: {error_message(exc)}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    catalog = Catalog()
    if args.command == "models" and args.action == "list":
        for entry in catalog.entries():
            print(format_entry_line(entry))
        return 0
    if args.command == "models" and args.action == "show":
        entry = catalog.get(args.model_id)
        print("\n".join(f"{i} {name}" for i, name in entry.classes) if args.palette else format_entry_details(entry))
        return 0
    if args.command == "models" and args.action == "remove":
        catalog.remove(args.model_id)
        print(f"removed {args.model_id}")
        return 0
    engine = Engine(catalog, pick_device(args.device))
    ctx = JobContext(JobRef(0, "cli", 0), _progress_to_stderr)
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
    if args.command == "swap":
        return swap(engine, ctx, args)
    if args.command == "stats":
        result = stats(engine, ctx, args)
        print(format_stats(result) if result else
              f"no editing statistics yet; compute them with: main.py stats --model {args.model} PHOTOS...")
        return 0
    check_output(args.out)
    request = RenderLabels(
        model_id=args.model, labels=read_label_map(args.labels),
        instances=read_label_map(args.instances) if args.instances else None, size=args.size,
        style=read_rgb(args.style) if args.style else None, seed=args.seed)
    write_rgb(args.out, engine.render_labels(request, ctx))
    print(args.out)
    return 0


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
        write_rgb(target, engine.translate_image(TranslateImage(args.model, photo, direction, args.tile), ctx))

    return _each(targets, one)


def stylize(engine: Engine, ctx: JobContext, args: argparse.Namespace) -> int:
    """Each content photo stylised after the style image at full resolution; the exit status."""
    engine.content_style_entry(args.model)  # a wrong model is named before any photo is read
    strength = FIDELITY_PRESETS[args.preset] if args.preset else 1.0 if args.fidelity is None else args.fidelity
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"--fidelity must be between 0 (the photo) and 1 (full stylisation), got {strength}")
    if args.tile < 0:
        raise ValueError(f"--tile must be a size in px (0: automatic), got {args.tile}")
    folder = any(Path(p).is_dir() for p in args.content)
    targets = _output_targets(gather(args.content), Path(args.out), "--content", folder=folder)
    style = read_rgb(args.style, max_pixels=MAX_TRANSLATE_PIXELS)
    try:
        check_style(style)
    except ValueError as exc:
        raise ValueError(_about(Path(args.style), exc)) from None

    def one(source: Path, target: Path) -> None:
        photo = read_rgb(source, max_pixels=MAX_TRANSLATE_PIXELS)
        write_rgb(target, engine.stylize_image(StylizeImage(args.model, photo, style, strength, tile=args.tile), ctx))

    return _each(targets, one)


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
