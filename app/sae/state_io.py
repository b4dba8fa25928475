"""A SwapProject as extra members of an OpenRaster file: i2i-studio/sae/state.json plus .npy arrays and PNG
thumbnails. The photo and the result travel as ordinary .ora layers; this is what only we need to go on
editing (the embedding, so a reopened project is never re-embedded, and the layers with their arrays).

Arrays are read with allow_pickle=False and checked against the embedding's shapes, so a damaged or
foreign file gives one readable message, never a crash or code execution.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from io import BytesIO
from typing import Any

import numpy as np
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

PREFIX = "i2i-studio/sae/"
STATE = PREFIX + "state.json"
FORMAT_VERSION = 1
_MAX_ARRAY_BYTES = 512 * 1024 * 1024


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

    def fail(self, text: str) -> ProjectFormatError:
        return ProjectFormatError(f"{self.where}: {text}")

    def project(self) -> SwapProject:
        try:
            state = json.loads(self.members[STATE])
        except KeyError:
            raise self.fail("no Swap & Edit state in the file") from None
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise self.fail("the Swap & Edit state is unreadable") from None
        if not isinstance(state, dict) or state.get("format") != "i2i-studio-sae":
            raise self.fail("the Swap & Edit state is unreadable")
        if not isinstance(state.get("version"), int) or state["version"] > FORMAT_VERSION:
            raise self.fail("the project was saved by a newer I2I Studio")
        try:
            return self._build(state)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ProjectFormatError):
                raise
            raise self.fail(f"the Swap & Edit state is damaged ({exc})") from None

    def _build(self, state: dict[str, Any]) -> SwapProject:
        structure = self.array(state["structure"], np.float32, ndim=3)
        texture = self.array(state["texture"], np.float32, shape=None, ndim=1)
        size = tuple(int(v) for v in state["size"])
        cell = int(state["cell"])
        if len(size) != 2 or cell < 1 or -(-size[0] // cell) != structure.shape[1] or -(-size[1] // cell) != structure.shape[2]:
            raise self.fail("the embedding does not match the photo size")
        self.structure_shape, self.texture_shape = structure.shape, texture.shape
        references = {r["id"]: self.reference(r) for r in state.get("references", [])}
        layers = [self.layer(spec) for spec in state.get("layers", [])]
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
            thumbnail = np.asarray(Image.open(BytesIO(self.members[PREFIX + spec["thumbnail"]])).convert("RGB"))
        except (KeyError, OSError, SyntaxError, ValueError):
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
        try:
            value = np.load(BytesIO(data), allow_pickle=False)
        except (OSError, ValueError, EOFError):
            raise self.fail(f"{name} is damaged") from None
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "fbiu":
            raise self.fail(f"{name} is not a numeric array")
        if (shape is not None and value.shape != tuple(shape)) or (ndim is not None and value.ndim != ndim):
            raise self.fail(f"{name} has the shape {value.shape}, which does not fit the embedding")
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise self.fail(f"{name} holds values that are not finite")
        return value.astype(dtype)
