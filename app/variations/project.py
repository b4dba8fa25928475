"""The Variations project: a photo, the square crop the model sees, and kept results as layers pasted back into
their crop with a feathered edge, each with the recipe that reproduces it. Plain Python + numpy (no Qt, no torch).

A LayerStack of the history kernel (app/history.py): keeping, removing, hiding a result and changing its feather
are undo steps. The composite (the photo with the visible kept layers) is a derived layer of the project's
Document at the photo's full resolution, never marking the project modified by itself.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
import numpy as np

from app.document import Document, Layer
from app.history import LayerStack
from engine.api import NORMALIZE_CLIP, Variation

PHOTO, RESULT = "photo", "result"
TOOL_SETTING = "variations"  # the document setting "tool" of our projects
CROP_SETTING = "crop"  # the document setting with the current crop, [x, y, side]
MIN_CROP = 16  # px: a smaller square has nothing for the model to see
FEATHER_SHARE = 12  # a new layer's feather is 1/12 of its crop's side
MAX_FEATHER = 512
MAX_CHUNKS = 64  # a draw's chunks: DeepI2I has six


@dataclass(frozen=True)
class Crop:
    """A square of the photo, in its pixels: left, top and side."""

    x: int
    y: int
    side: int

    @classmethod
    def centred(cls, height: int, width: int) -> Crop:
        """The default: the centre square of the short side (the whole short side, centred along the long one)."""
        side = min(height, width)
        return cls((width - side) // 2, (height - side) // 2, side)

    def fitted(self, height: int, width: int) -> Crop:
        """The same square moved and shrunk as little as needed to lie within a photo of this size."""
        side = max(min(MIN_CROP, height, width), min(self.side, height, width))
        return Crop(min(max(self.x, 0), width - side), min(max(self.y, 0), height - side), side)

    def to_json(self) -> list[int]:
        return [self.x, self.y, self.side]

    @classmethod
    def from_json(cls, data: object) -> Crop:
        x, y, side = (int(v) for v in data)  # type: ignore[union-attr]
        return cls(x, y, side)


@dataclass(frozen=True)
class Recipe:
    """What reproduces a result exactly with the same photo and crop: the model, the variation (target, seed and
    every knob) and how its colours were mapped."""

    model_id: str
    variation: Variation
    normalize: str = NORMALIZE_CLIP

    def to_json(self) -> dict:
        return {"model_id": self.model_id, "normalize": self.normalize,
                "variation": dataclasses.asdict(self.variation)}

    @classmethod
    def from_json(cls, data: dict) -> Recipe:
        v = dict(data["variation"])
        if len(v.get("chunk_seeds", ())) > MAX_CHUNKS:
            raise ValueError(f"more than {MAX_CHUNKS} chunk seeds")
        variation = Variation(
            target=int(v["target"]), seed=int(v.get("seed", 0)),
            target_b=None if v.get("target_b") is None else int(v["target_b"]), mix=_finite(v.get("mix", 0.0)),
            seed_b=None if v.get("seed_b") is None else int(v["seed_b"]), seed_mix=_finite(v.get("seed_mix", 0.0)),
            chunk_seeds=tuple(None if s is None else int(s) for s in v.get("chunk_seeds", ())),
            weight=_finite(v.get("weight", 1.0)))
        return cls(str(data["model_id"]), variation, str(data.get("normalize", NORMALIZE_CLIP)))


@dataclass(frozen=True, eq=False)
class KeptLayer:
    """A kept result pasted into `crop` of the photo; `image` is what the model made (uint8, its fixed size),
    scaled to the crop when composited. `feather`: px over which its edge fades into the photo."""

    id: str
    name: str
    recipe: Recipe
    crop: Crop
    image: np.ndarray
    feather: int = 0
    visible: bool = True
    opacity: float = 1.0


def project_document(photo: np.ndarray, crop: Crop | None = None) -> Document:
    """The photo and, on top, the composite (the photo until layers show)."""
    h, w = photo.shape[:2]
    crop = (crop or Crop.centred(h, w)).fitted(h, w)
    return Document(h, w, settings={"tool": TOOL_SETTING, CROP_SETTING: crop.to_json()}, layers=[
        Layer(PHOTO, "rgb", np.ascontiguousarray(photo, np.float32), editable=False),
        Layer(RESULT, "rgb", np.array(photo, np.float32), editable=False, derived=True)])


def feather_mask(side: int, feather: int) -> np.ndarray:
    """side x side float32: 1 inside, falling smoothly to 0 at the square's edge over `feather` px."""
    if feather <= 0:
        return np.ones((side, side), np.float32)
    ramp = (np.arange(side, dtype=np.float32) + 0.5) / feather
    edge = np.clip(np.minimum(ramp, ramp[::-1]), 0.0, 1.0)
    edge = edge * edge * (3 - 2 * edge)  # smoothstep: no visible line where the fade starts
    return np.minimum.outer(edge, edge)


def pasted(image: np.ndarray, side: int) -> np.ndarray:
    """A result (HxWx3 uint8 or float) as float32 at side x side: bicubic when enlarging, area when shrinking."""
    pixels = np.asarray(image, np.float32) / (255.0 if image.dtype == np.uint8 else 1.0)
    if pixels.shape[:2] == (side, side):
        return pixels
    grow = side > pixels.shape[0]
    out = cv2.resize(pixels, (side, side), interpolation=cv2.INTER_CUBIC if grow else cv2.INTER_AREA)
    return np.clip(out, 0.0, 1.0)


def composite(photo: np.ndarray, layers: tuple[KeptLayer, ...]) -> np.ndarray:
    """The photo (HxWx3 float32) with the visible layers pasted bottom to top, at its full resolution."""
    out = np.array(photo, np.float32)
    h, w = photo.shape[:2]
    for layer in layers:
        if not layer.visible or layer.opacity <= 0:
            continue
        crop = layer.crop.fitted(h, w)
        region = out[crop.y:crop.y + crop.side, crop.x:crop.x + crop.side]
        alpha = (feather_mask(crop.side, layer.feather) * layer.opacity)[..., None]
        region += alpha * (pasted(layer.image, crop.side) - region)
    return out


class VariationsProject(LayerStack[tuple[KeptLayer, ...]]):
    def __init__(self, document: Document, layers: tuple[KeptLayer, ...] = ()) -> None:
        super().__init__(tuple(layers))
        self.document = document
        self._selected = self.layers[-1].id if self.layers else None

    @property
    def layers(self) -> tuple[KeptLayer, ...]:
        return self._value

    def _with_layers(self, layers: tuple[KeptLayer, ...]) -> tuple[KeptLayer, ...]:
        return layers

    @property
    def size(self) -> tuple[int, int]:
        return self.document.height, self.document.width

    @property
    def photo(self) -> np.ndarray:
        return self.document.layer(PHOTO).data

    @property
    def crop(self) -> Crop:
        h, w = self.size
        try:
            return Crop.from_json(self.document.settings[CROP_SETTING]).fitted(h, w)
        except (KeyError, TypeError, ValueError):
            return Crop.centred(h, w)

    def set_crop(self, crop: Crop) -> None:
        """Where the model looks next; no undo step (what was kept keeps its own crop), but saved with the project."""
        h, w = self.size
        self.document.set_setting(CROP_SETTING, crop.fitted(h, w).to_json())

    def crop_pixels(self, side: int, crop: Crop | None = None) -> np.ndarray:
        """The crop (default: the current one) as side x side float32, what the model is given."""
        c = crop or self.crop
        return pasted(self.photo[c.y:c.y + c.side, c.x:c.x + c.side], side)

    def keep(self, recipe: Recipe, image: np.ndarray, name: str, crop: Crop | None = None,
             feather: int | None = None) -> KeptLayer:
        """A result pasted into the crop, on top, selected: one undo step."""
        crop = crop or self.crop
        feather = max(1, crop.side // FEATHER_SHARE) if feather is None else feather
        taken = {la.id for la in self.layers}
        n = 1
        while f"k{n}" in taken:
            n += 1
        pixels = np.ascontiguousarray(image, np.uint8)
        pixels.flags.writeable = False
        layer = KeptLayer(f"k{n}", name, recipe, crop, pixels, min(int(feather), MAX_FEATHER))
        self._apply(self.layers + (layer,), f"Keep {name}")
        self.select(layer.id)
        return layer

    def remove_layer(self, layer_id: str) -> None:
        layer, index = self.layer(layer_id), self.index(layer_id)
        self._apply(tuple(la for la in self.layers if la.id != layer_id), f"Remove {layer.name}")
        if self._selected == layer_id:
            self.select(self.layers[max(0, index - 1)].id if self.layers else None)

    def set_feather(self, layer_id: str, feather: int) -> None:
        layer = self.layer(layer_id)
        feather = min(max(int(feather), 0), MAX_FEATHER)
        if feather != layer.feather:
            self._replace(dataclasses.replace(layer, feather=feather), f"Feather of {layer.name}")

    def mark_opened(self) -> None:
        """As opened: nothing to undo, nothing unsaved."""
        self.history.clear()
        self.document.modified = False
        self.modified = False

    def recomposite(self) -> None:
        """Bring the composite layer up to date with the visible layers (derived: no unsaved work)."""
        self.document.replace_pixels(RESULT, composite(self.photo, self.layers))


def _finite(value: object) -> float:
    number = float(value)  # type: ignore[arg-type]
    if not np.isfinite(number):
        raise ValueError("a number is not finite")
    return number
