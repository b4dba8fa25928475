"""The headless command line: `python main.py models ...` and `python main.py render ...`.

It drives the same Engine handlers as the GUI, synchronously. Every user error ends as one line
on stderr and exit status 2; nothing prints a traceback for a bad input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from engine.api import JobRef, ModelEntry, RenderLabels, parse_import_options
from engine.catalog import Catalog
from engine.device import CHOICES, pick_device
from engine.handlers import Engine
from engine.imageio import read_label_map, read_rgb, write_rgb
from engine.worker import USER_ERRORS, JobContext, error_message



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
    return parser


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size like 256x512 (height x width)") from None
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
    except (*USER_ERRORS, MemoryError) as exc:
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
        entry = engine.import_model(args.path, parse_import_options(args.option), ctx)
        print(format_entry_line(entry))
        if entry.notes:
            print(f"note: {entry.notes}", file=sys.stderr)
        return 0
    request = RenderLabels(
        model_id=args.model, labels=read_label_map(args.labels),
        instances=read_label_map(args.instances) if args.instances else None, size=args.size,
        style=read_rgb(args.style) if args.style else None, seed=args.seed)
    write_rgb(args.out, engine.render_labels(request, ctx))
    print(args.out)
    return 0
