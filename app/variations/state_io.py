"""A Variations project in an OpenRaster file: the photo and the composite travel as ordinary .ora layers (what
other programs show); the kept layers ride along under i2i-studio/variations/: state.json with each layer's
recipe (model, target, seed, every knob, normalisation), crop and feather, and each result as a PNG. A reopened
project shows at once, without the model, and each layer can be made again from its recipe.

Read as hostile until checked: counts, sizes (from the PNG header, before decoding) and numbers are bounded and
spent from the project's Budget, so a damaged file gives one readable message, never a crash."""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from io import BytesIO
from typing import Any

import numpy as np
from PIL import Image

from app.fileio.labels import FileError
from app.fileio.ora_reader import MAX_LAYERS, Budget
from app.variations.project import MAX_FEATHER, Crop, KeptLayer, Recipe, VariationsProject
from engine.api import NORMALIZATIONS
from engine.errors import error_message

PREFIX = "i2i-studio/variations/"
STATE = PREFIX + "state.json"
FORMAT, FORMAT_VERSION = "i2i-studio-variations", 1
MAX_RESULT_SIDE = 2048  # results are a model's fixed size (128 for DeepI2I): far below this
_MAX_STATE_BYTES = 4 * 1024 * 1024


class ProjectFormatError(ValueError):
    pass


def is_variations_project(members: Mapping[str, bytes]) -> bool:
    return STATE in members


def project_members(project: VariationsProject) -> dict[str, bytes]:
    """The members to add to the .ora (encoded where it is called: on the file lane for a save)."""
    layers = []
    members: dict[str, bytes] = {}
    for layer in project.layers:
        name = f"{layer.id}.png"
        buffer = BytesIO()
        Image.fromarray(np.ascontiguousarray(layer.image, np.uint8)).save(buffer, "PNG")
        members[PREFIX + name] = buffer.getvalue()
        layers.append({"id": layer.id, "name": layer.name, "recipe": layer.recipe.to_json(),
                       "crop": layer.crop.to_json(), "feather": layer.feather, "visible": layer.visible,
                       "opacity": layer.opacity, "image": name})
    state = {"format": FORMAT, "version": FORMAT_VERSION, "size": list(project.size),
             "crop": project.crop.to_json(), "layers": layers}
    members[STATE] = json.dumps(state, indent=1, ensure_ascii=False).encode()
    return members


def layers_from_members(members: Mapping[str, bytes], size: tuple[int, int], where: str,
                        budget: Budget | None = None) -> tuple[tuple[KeptLayer, ...], Crop | None]:
    """The kept layers and the crop stored in the members; ProjectFormatError (one line) when damaged."""
    budget = budget or Budget(where)
    data = members.get(STATE)
    if data is None:
        raise ProjectFormatError(f"{where}: no Variations state in the file")
    try:
        if len(data) > _MAX_STATE_BYTES:
            raise ProjectFormatError(f"{where}: the Variations state is implausibly large")
        state = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ProjectFormatError(f"{where}: the Variations state is unreadable") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ProjectFormatError(f"{where}: the Variations state is unreadable")
    if not isinstance(state.get("version"), int) or state["version"] > FORMAT_VERSION:
        raise ProjectFormatError(f"{where}: the project was saved by a newer I2I Studio")
    try:
        return _build(state, members, size, where, budget)
    except (ProjectFormatError, FileError):
        raise
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, RecursionError) as exc:
        raise ProjectFormatError(f"{where}: the Variations state is damaged ({error_message(exc)})") from None


def _build(state: dict[str, Any], members: Mapping[str, bytes], size: tuple[int, int], where: str,
           budget: Budget) -> tuple[tuple[KeptLayer, ...], Crop | None]:
    if tuple(int(v) for v in state["size"]) != size:
        raise ProjectFormatError(f"{where}: the kept layers do not fit the photo's size")
    specs = list(state.get("layers", []))
    if len(specs) > MAX_LAYERS:
        raise ProjectFormatError(f"{where}: {len(specs)} kept layers, over the {MAX_LAYERS} a project may have")
    h, w = size
    layers = []
    for spec in specs:
        recipe = Recipe.from_json(spec["recipe"])
        if recipe.normalize not in NORMALIZATIONS:
            raise ValueError(f"unknown colour mapping {recipe.normalize!r}")
        crop = Crop.from_json(spec["crop"])
        if crop.fitted(h, w) != crop:
            raise ProjectFormatError(f"{where}: the square of {spec['name']} lies outside the photo")
        image = _image(members, PREFIX + str(spec["image"]), where, budget)
        opacity = float(spec.get("opacity", 1.0))
        layers.append(KeptLayer(str(spec["id"]), str(spec["name"]), recipe, crop, image,
                                min(max(int(spec.get("feather", 0)), 0), MAX_FEATHER),
                                bool(spec.get("visible", True)), min(max(opacity, 0.0), 1.0)))
    if len({la.id for la in layers}) != len(layers):
        raise ProjectFormatError(f"{where}: two kept layers share an id")
    crop = Crop.from_json(state["crop"]).fitted(h, w) if "crop" in state else None
    return tuple(layers), crop


def _image(members: Mapping[str, bytes], name: str, where: str, budget: Budget) -> np.ndarray:
    data = members.get(name)
    if data is None:
        raise ProjectFormatError(f"{where}: {name.removeprefix(PREFIX)} is missing from the file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked first
            with Image.open(BytesIO(data)) as image:
                if not 0 < max(image.size) <= MAX_RESULT_SIDE:
                    raise ProjectFormatError(f"{where}: {name.removeprefix(PREFIX)} is not a result I2I Studio wrote")
                budget.spend(image.width * image.height, "kept results")
                pixels = np.asarray(image.convert("RGB"), np.uint8).copy()
    except (OSError, SyntaxError, Image.DecompressionBombError):
        raise ProjectFormatError(f"{where}: {name.removeprefix(PREFIX)} is damaged") from None
    pixels.flags.writeable = False
    return pixels
