"""A SwapProject as extra members of an OpenRaster file: i2i-studio/sae/state.json plus .npy arrays and PNG
thumbnails. The photo and the result travel as ordinary .ora layers; this is what only we need to go on
editing (the embedding, so a reopened project is never re-embedded, and the layers with their arrays).

Arrays are read with allow_pickle=False and checked against the embedding's shapes from their headers before
any is read (a header may claim any size); layers, references and the bytes of all arrays together are
capped and thumbnails checked from their headers, so a damaged or hostile file gives one readable message,
never a crash, a memory blow-up or code execution.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping
from io import BytesIO
from typing import Any

import numpy as np
from numpy.lib import format as npy
from PIL import Image

from app.sae.stack import (
    CLONE,
    REGION,
    SWAP,
    TEXTURE,
    CloneLayer,
    EditLayer,
    Reference,
    RegionLayer,
    SwapLayer,
    SwapProject,
    TextureLayer,
)
from engine.api import Embedding
from engine.errors import error_message

PREFIX = "i2i-studio/sae/"
STATE = PREFIX + "state.json"
FORMAT_VERSION = 1
_MAX_ARRAY_BYTES = 512 * 1024 * 1024
_MAX_ALL_ARRAYS = 1024 * 1024 * 1024  # every array of a project together, once read
_MAX_STATE_BYTES = 4 * 1024 * 1024  # state.json
_MAX_ITEMS = 1000  # edit layers, and references
_MAX_THUMBNAIL_SIDE = 1024  # we write them at 96


class ProjectFormatError(ValueError):
    pass


def is_swap_project(members: Mapping[str, bytes]) -> bool:
    return STATE in members


# --- writing ------------------------------------------------------------------------------------------------


def project_members(project: SwapProject) -> dict[str, bytes]:
    """Every member to add to the .ora (names under i2i-studio/sae/)."""
    members: dict[str, bytes] = {}

    def array(name: str, value: np.ndarray) -> str:
        buffer = BytesIO()
        np.save(buffer, np.ascontiguousarray(value), allow_pickle=False)
        members[PREFIX + name] = buffer.getvalue()
        return name

    emb = project.embedding
    layers = [_layer_json(layer, array) for layer in project.layers]
    references = []
    for ref in project.references.values():
        thumb = BytesIO()
        Image.fromarray(ref.thumbnail).save(thumb, "PNG")
        members[PREFIX + f"{ref.id}_thumbnail.png"] = thumb.getvalue()
        references.append({"id": ref.id, "name": ref.name, "texture": array(f"{ref.id}_texture.npy", ref.texture),
                           "thumbnail": f"{ref.id}_thumbnail.png"})
    state = {
        "format": "i2i-studio-sae", "version": FORMAT_VERSION, "model_id": project.model_id,
        "size": list(emb.size), "cell": emb.cell, "noise_seed": project.noise_seed,
        "structure": array("embedding_structure.npy", emb.structure),
        "texture": array("embedding_texture.npy", emb.texture),
        "layers": layers, "references": references,
    }
    members[STATE] = json.dumps(state, indent=1, ensure_ascii=False).encode("utf-8")
    return members


def _layer_json(layer: EditLayer, array) -> dict[str, Any]:
    out: dict[str, Any] = {"id": layer.id, "kind": layer.kind, "name": layer.name, "visible": layer.visible}
    if isinstance(layer, SwapLayer):
        out.update(reference=layer.reference, alpha=layer.alpha)
    elif isinstance(layer, TextureLayer):
        out.update(gains=list(layer.gains), attributes=[[n, a] for n, a in layer.attributes],
                   offset=array(f"{layer.id}_offset.npy", layer.offset))
    elif isinstance(layer, CloneLayer):
        out.update(cells=array(f"{layer.id}_cells.npy", layer.cells), codes=array(f"{layer.id}_codes.npy", layer.codes))
    elif isinstance(layer, RegionLayer):
        out.update(seed=list(layer.seed), threshold=layer.threshold, gains=list(layer.gains),
                   added=array(f"{layer.id}_added.npy", layer.added),
                   removed=array(f"{layer.id}_removed.npy", layer.removed),
                   weights=array(f"{layer.id}_weights.npy", layer.weights),
                   step=array(f"{layer.id}_step.npy", layer.step))
    return out


# --- reading ------------------------------------------------------------------------------------------------


def project_from_members(members: Mapping[str, bytes], where: str) -> SwapProject:
    """Rebuild the project; ProjectFormatError names what is wrong (`where`: the file, for the message)."""
    return _Reader(members, where).project()


class _Reader:
    def __init__(self, members: Mapping[str, bytes], where: str) -> None:
        self.members, self.where = members, where
        self.array_bytes = 0

    def fail(self, text: str) -> ProjectFormatError:
        return ProjectFormatError(f"{self.where}: {text}")

    def project(self) -> SwapProject:
        try:
            data = self.members[STATE]
            if len(data) > _MAX_STATE_BYTES:
                raise self.fail("the Swap & Edit state is implausibly large")
            state = json.loads(data)
        except KeyError:
            raise self.fail("no Swap & Edit state in the file") from None
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise self.fail("the Swap & Edit state is unreadable") from None
        if not isinstance(state, dict) or state.get("format") != "i2i-studio-sae":
            raise self.fail("the Swap & Edit state is unreadable")
        if not isinstance(state.get("version"), int) or state["version"] > FORMAT_VERSION:
            raise self.fail("the project was saved by a newer I2I Studio")
        try:
            return self._build(state)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError, RecursionError) as exc:
            if isinstance(exc, ProjectFormatError):
                raise
            raise self.fail(f"the Swap & Edit state is damaged ({error_message(exc)})") from None

    def _build(self, state: dict[str, Any]) -> SwapProject:
        structure = self.array(state["structure"], np.float32, ndim=3)
        texture = self.array(state["texture"], np.float32, shape=None, ndim=1)
        size = tuple(int(v) for v in state["size"])
        cell = int(state["cell"])
        if len(size) != 2 or cell < 1 or -(-size[0] // cell) != structure.shape[1] or -(-size[1] // cell) != structure.shape[2]:
            raise self.fail("the embedding does not match the photo size")
        self.structure_shape, self.texture_shape = structure.shape, texture.shape
        listed = {what: list(state.get(what, [])) for what in ("references", "layers")}
        for what, items in listed.items():
            if len(items) > _MAX_ITEMS:
                raise self.fail(f"{len(items)} {what}, over the {_MAX_ITEMS} a project may have")
        references = {r["id"]: self.reference(r) for r in listed["references"]}
        layers = [self.layer(spec) for spec in listed["layers"]]
        for layer in layers:
            if isinstance(layer, SwapLayer) and layer.reference not in references:
                raise self.fail(f"layer '{layer.name}' names a missing reference")
        if len({la.id for la in layers}) != len(layers):
            raise self.fail("two layers share an id")
        return SwapProject(str(state["model_id"]), Embedding(structure, texture, size, cell),
                           noise_seed=int(state.get("noise_seed", 0)), layers=layers, references=references)

    def reference(self, spec: dict[str, Any]) -> Reference:
        texture = self.array(spec["texture"], np.float32, shape=self.texture_shape)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked below
                with Image.open(BytesIO(self.members[PREFIX + str(spec["thumbnail"])])) as image:
                    if max(image.size) > _MAX_THUMBNAIL_SIDE:
                        raise ValueError("too large")
                    thumbnail = np.asarray(image.convert("RGB"))
        except (KeyError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            raise self.fail(f"the thumbnail of reference '{spec.get('name')}' is missing or damaged") from None
        return Reference(str(spec["id"]), str(spec["name"]), texture, thumbnail)

    def layer(self, spec: dict[str, Any]) -> EditLayer:
        common = {"id": str(spec["id"]), "name": str(spec["name"]), "visible": bool(spec.get("visible", True))}
        kind = spec.get("kind")
        cells = self.structure_shape[1:]
        if kind == SWAP:
            return SwapLayer(**common, reference=str(spec["reference"]), alpha=float(spec["alpha"]))
        if kind == TEXTURE:
            return TextureLayer(**common, offset=self.array(spec["offset"], np.float32, shape=self.texture_shape),
                                gains=tuple(float(g) for g in spec.get("gains", ())),
                                attributes=tuple((str(n), float(a)) for n, a in spec.get("attributes", ())))
        if kind == CLONE:
            return CloneLayer(**common, cells=self.array(spec["cells"], bool, shape=cells),
                              codes=self.array(spec["codes"], np.float32, shape=self.structure_shape))
        if kind == REGION:
            seed = tuple(int(v) for v in spec["seed"])
            if len(seed) != 2 or not (0 <= seed[0] < cells[0] and 0 <= seed[1] < cells[1]):
                raise self.fail(f"region layer '{common['name']}' has its seed outside the photo")
            return RegionLayer(**common, seed=seed, threshold=float(spec["threshold"]),  # type: ignore[arg-type]
                               added=self.array(spec["added"], bool, shape=cells),
                               removed=self.array(spec["removed"], bool, shape=cells),
                               weights=self.array(spec["weights"], np.float32, shape=cells),
                               step=self.array(spec["step"], np.float32, shape=self.structure_shape[:1]),
                               gains=tuple(float(g) for g in spec.get("gains", ())))
        raise self.fail(f"a layer of unknown kind '{kind}'")

    def array(self, name: str, dtype: type, *, shape: tuple[int, ...] | None = None, ndim: int | None = None
              ) -> np.ndarray:
        data = self.members.get(PREFIX + str(name))
        if data is None:
            raise self.fail(f"{name} is missing from the file")
        if len(data) > _MAX_ARRAY_BYTES:
            raise self.fail(f"{name} is implausibly large")
        stored_shape, dtype_kind, nbytes = self.header(name, data)  # before np.load allocates what it claims
        if dtype_kind not in "fbiu":
            raise self.fail(f"{name} is not a numeric array")
        if (shape is not None and stored_shape != tuple(shape)) or (ndim is not None and len(stored_shape) != ndim):
            raise self.fail(f"{name} has the shape {stored_shape}, which does not fit the embedding")
        if nbytes > len(data):
            raise self.fail(f"{name} is damaged")
        self.array_bytes += nbytes + math.prod(stored_shape) * np.dtype(dtype).itemsize  # as read, as kept
        if self.array_bytes > _MAX_ALL_ARRAYS:
            raise self.fail("the Swap & Edit arrays are implausibly large")
        try:
            value = np.load(BytesIO(data), allow_pickle=False)
        except (OSError, ValueError, EOFError):
            raise self.fail(f"{name} is damaged") from None
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "fbiu" or value.shape != stored_shape:
            raise self.fail(f"{name} is not a numeric array")
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise self.fail(f"{name} holds values that are not finite")
        return value.astype(dtype)

    def header(self, name: str, data: bytes) -> tuple[tuple[int, ...], str, int]:
        """(shape, dtype kind, bytes of data) from a .npy header, nothing allocated for what it claims."""
        try:
            fp = BytesIO(data)
            version = npy.read_magic(fp)
            if version not in ((1, 0), (2, 0)):
                raise ValueError("an unknown .npy version")
            read = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, _fortran, dtype = read(fp)
            if not all(isinstance(n, int) and 0 <= n < 1 << 40 for n in shape) or len(shape) > 8:
                raise ValueError("an implausible shape")
        except (OSError, ValueError, EOFError, TypeError, SyntaxError, OverflowError, MemoryError):
            raise self.fail(f"{name} is damaged") from None
        if dtype.hasobject or dtype.itemsize == 0:
            raise self.fail(f"{name} is not a numeric array")
        return tuple(shape), dtype.kind, math.prod(shape) * dtype.itemsize
