"""The headless command line: `python main.py models ...`, `render ...`, `translate ...`, `stylize ...`, `vary ...`,
`swap ...`, `stats ...`.

This module is torch-free, so `models list/show/remove` answer at once; the commands that run a model live in
engine/commands.py, imported only when one is asked for. Every user error ends as one line on stderr and exit
status 2; nothing prints a traceback for a bad input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from engine.api import (
    MAX_TRANSLATE_PIXELS,
    MODE_ENV,
    NORMALIZATIONS,
    NORMALIZE_CLIP,
    OLD_PRESET_NAMES,
    STYLE_PRESETS,
    WORKING_SIDE,
    FullRes,
    Mode,
    ModelEntry,
)
from engine.catalog import Catalog
from engine.codes import MIN_STATS_PHOTOS
from engine.errors import USER_ERRORS, error_message


def _full_res_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--full-res", type=str.lower, choices=list(FullRes), default=FullRes.TILED,
                         help=f"how photos larger than {WORKING_SIDE} px reach full size: tiled (the network at full "
                              f"size: the official output; default) or detail (the network at {WORKING_SIDE} px, its "
                              "change carried onto the photo, which keeps its own finer detail: much faster)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="main.py", description="I2I Studio. Without a command, opens the GUI.")
    parser.add_argument("--device", help="compute device: auto, cuda, mps, cpu or e.g. cuda:1 (default: auto)")
    parser.add_argument("--mode", type=str.lower, choices=list(Mode),
                        help=f"exact: float32, the official outputs; fast: the fastest path within 3/255 of exact "
                             f"(default: ${MODE_ENV}, else fast)")
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
    export = models.add_parser("export", help="write a model's main network as an ONNX file")
    export.add_argument("model_id")
    export.add_argument("--onnx", required=True, metavar="OUT.onnx",
                        help="the ONNX file to write (float32; what it takes and gives is printed)")

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
    _full_res_option(translate)

    styl = commands.add_parser(
        "stylize", help="stylise photos after a style image with a ContentStyle model (HierarchyFlow); tiles if large")
    styl.add_argument("--model", required=True, help="model id of a ContentStyle model (see 'models list')")
    styl.add_argument("--content", required=True, nargs="+", action="extend", metavar="PATH",
                      help="photo(s) or folder(s) of photos; with several or a folder, --out is a folder")
    styl.add_argument("--style", required=True, metavar="PHOTO", help="style image (any size from 8 px a side)")
    amount = styl.add_mutually_exclusive_group()
    amount.add_argument("--strength", "--fidelity", dest="strength", type=float, metavar="S",
                        help="style strength, 0..1: 0 keeps the photo unchanged, 1 is the model's full "
                             "translation (the official output); default 1. An app extension, not in the paper "
                             "(--fidelity: its earlier name)")
    amount.add_argument("--preset", type=_style_preset, metavar="NAME",
                        help="style strength preset, increasing: " + ", ".join(
                            f"{name} = --strength {s}" for name, s in STYLE_PRESETS.items())
                        + " (the earlier names " + ", ".join(f"{old} = {new}" for old, new in OLD_PRESET_NAMES.items())
                        + " still work)")
    styl.add_argument("--out", required=True, help="output image, or a folder (PNGs named after the photos)")
    styl.add_argument("--tile", type=int, default=0,
                      help="tile side in px for large photos (default: chosen from the photo and memory)")
    _full_res_option(styl)

    vary = commands.add_parser(
        "vary", help="translate photos into target classes with a MultiDomain model (DeepI2I): a grid of targets "
                     "(rows) x seeds (columns)")
    vary.add_argument("--model", required=True, help="model id of a MultiDomain model (see 'models list')")
    vary.add_argument("--input", required=True, nargs="+", action="extend", metavar="PATH",
                      help="photo(s) or folder(s) of photos; with several or a folder, --out is a folder (one grid "
                           "per photo)")
    vary.add_argument("--crop", type=_crop, metavar="X,Y,SIZE",
                      help="the square the model sees, in the photo's pixels (default: the centre square, as the "
                           "official test crops)")
    vary.add_argument("--targets", required=True, type=_names, metavar="NAMES",
                      help="target classes by name or number, separated by commas (see 'models show ID --palette')")
    vary.add_argument("--seeds", type=_seeds, default=[0], metavar="LIST",
                      help="noise seeds, e.g. 0-7 or 0,3,9 (default 0)")
    vary.add_argument("--normalize", type=str.lower, choices=list(NORMALIZATIONS), default=NORMALIZE_CLIP,
                      help="clip: (y+1)/2, one mapping for every image (default); minmax: each image stretched to "
                           "its own range, as the official test saves")
    vary.add_argument("--weight", type=float, default=1.0,
                      help="strength of the photo's structure relative to the trained one (1 = official; lower gives "
                           "the class more say over the shape; an app extension)")
    vary.add_argument("--labels", action="store_true", help="write the class names and seeds beside the grid")
    vary.add_argument("--out", required=True, help="output image, or a folder (PNGs named after the photos)")

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



def _crop(text: str) -> tuple[int, int, int]:
    try:
        x, y, size = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a square like 40,0,300 (x, y, size in px)") from None
    if x < 0 or y < 0 or size < 1:
        raise argparse.ArgumentTypeError(f"'{text}': x and y must be >= 0 and the size positive")
    return x, y, size


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"'{text}' is not a list of class names or numbers separated by commas")
    return names


MAX_SEEDS = 256


def _seeds(text: str) -> list[int]:
    """'0-7' or '0,3,9' (or both, '0-3,10')."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            low, dash, high = part.strip().partition("-")
            first, last = int(low), int(high) if dash else int(low)
            if first < 0 or last < first or last - first >= MAX_SEEDS:
                raise ValueError
            seeds += range(first, last + 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a list of seeds like 0-7 or 0,3,9 (at most {MAX_SEEDS}, "
                                         "none negative)") from None
    if len(seeds) > MAX_SEEDS:
        raise argparse.ArgumentTypeError(f"'{text}': at most {MAX_SEEDS} seeds")
    return seeds


def _style_preset(text: str) -> str:
    """A style strength preset name (the earlier fidelity names map to the new ones)."""
    name = OLD_PRESET_NAMES.get(text.lower(), text.lower())
    if name not in STYLE_PRESETS:
        raise argparse.ArgumentTypeError(f"unknown preset '{text}': choose {', '.join(STYLE_PRESETS)}")
    return name


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
    from engine import commands  # torch: only for the commands that run a model

    return commands.dispatch(args, catalog)
