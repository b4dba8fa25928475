"""The MultiDomain task: a photo + a target class (domain, node) + a seed -> an image, many of them side by side.

The photo is encoded once per (model file, photo) and kept, so a grid of targets x seeds, or a change of seed, class
mix, temperature or injection weight, reruns only the generator. Models with a fixed square size (DeepI2I) take the
photo's centre square (the official CenterCropLongEdge), resized to that size. Fully convolutional models (HIT,
MUNIT) take the whole photo: reflect-padded up to their size multiple, the results cropped back to the photo's size
(so any photo from min_size a side works and keeps its framing). A reference photo's style (VaryImage.style) is
encoded once per request and replaces the random draw.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, cast

import numpy as np
import torch
from PIL import Image

from engine import tiling
from engine.api import NORMALIZATIONS, NORMALIZE_MINMAX, Capabilities, ModelEntry, Task, Variation, VaryImage
from engine.architecture import Architecture, Hparams, Nets
from engine.tasks import Job

if TYPE_CHECKING:  # the store imports the registry, whose architectures import this module
    from engine.model_store import ModelStore

NEEDS = "translating a photo into target classes needs a MultiDomain model such as DeepI2I, HIT or MUNIT"
MAX_VARIATIONS = 1024  # one request; a grid of 32 targets x 32 seeds
ENCODED_KEPT = 4  # photos whose encodings are kept (per engine)


class Varier(Protocol):
    """A loaded MultiDomain model as the task drives it: encode a photo once, then generate from its encoding.
    Images are (N, 3, H, W) tensors in [-1, 1] on the model's device."""

    def encode(self, x: torch.Tensor) -> Any:
        """The photo's encoding, reused for every variation."""

    def generate(self, encoding: Any, variations: Sequence[Variation]) -> torch.Tensor:
        """One image per variation, in [-1, 1]."""


class StyleVarier(Varier, Protocol):
    """A Varier that also takes a reference style (capabilities.style_image): generate(..., style=encode_style(y))
    decodes every variation with that style instead of a random one."""

    def encode_style(self, x: torch.Tensor) -> Any:
        """The reference photo's style code."""

    def generate(self, encoding: Any, variations: Sequence[Variation], style: Any = None) -> torch.Tensor:
        """One image per variation, in [-1, 1]."""


@dataclass(frozen=True, kw_only=True)
class MultiDomainArchitecture(Architecture):
    task: ClassVar[Task] = Task.MULTI_DOMAIN
    varier: Callable[[Nets, Hparams], Varier]  # the loaded networks as the one model the task drives


def square_input(image: np.ndarray, caps: Capabilities) -> np.ndarray:
    """The photo's centre square (crop offsets rounded as torchvision's center_crop) resized to the model's fixed
    size with PIL's bilinear filter, as the official preprocessing does: float32 HxWx3 in [0, 1], through 8 bits
    (the official pipeline reads 8-bit images). Refused below caps.min_size a side."""
    photo = tiling.check_photo(image)
    h, w = photo.shape[:2]
    if min(h, w) < caps.min_size:
        raise ValueError(f"the photo is {w}x{h} px; this model needs at least {caps.min_size} px on each side "
                         f"(it works at {caps.fixed_size[1] if caps.fixed_size else caps.min_size} px)")
    side = min(h, w)
    top, left = round((h - side) / 2.0), round((w - side) / 2.0)  # center_crop rounds (half to even)
    crop = photo[top:top + side, left:left + side]
    size = caps.fixed_size or (side, side)
    u8 = np.clip(np.rint(crop * 255), 0, 255).astype(np.uint8)
    if (side, side) != size:
        u8 = np.asarray(Image.fromarray(u8).resize((size[1], size[0]), Image.Resampling.BILINEAR))
    return u8.astype(np.float32) / 255


def whole_input(image: np.ndarray, caps: Capabilities, what: str = "photo") -> np.ndarray:
    """The photo as it is (float32 HxWx3 in [0, 1]), for fully convolutional models; refused below caps.min_size."""
    photo = tiling.check_photo(image)
    h, w = photo.shape[:2]
    if min(h, w) < caps.min_size:
        raise ValueError(f"the {what} is {w}x{h} px; this model needs at least {caps.min_size} px on each side")
    return photo


def padded(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """(N, C, H, W) reflect-padded on the bottom and right up to multiples of `multiple` (crop results back)."""
    h, w = x.shape[-2:]
    bottom, right = -h % multiple, -w % multiple
    return torch.nn.functional.pad(x, (0, right, 0, bottom), mode="reflect") if bottom or right else x


def check_variations(variations: Sequence[Variation], domains: int) -> None:
    """Refuse what no result could be made of, naming the variation."""
    if not variations:
        raise ValueError("no variations asked for")
    if len(variations) > MAX_VARIATIONS:
        raise ValueError(f"{len(variations)} variations in one request; at most {MAX_VARIATIONS}")
    for n, v in enumerate(variations, 1):
        for name in ("target", "target_b"):
            value = getattr(v, name)
            if value is not None and not (isinstance(value, (int, np.integer)) and 0 <= value < domains):
                raise ValueError(f"variation {n}: {name} {value!r} is not a class of this model (0..{domains - 1})")
        for name in ("mix", "seed_mix", "weight", "temperature"):
            value = getattr(v, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"variation {n}: {name} must be a number, got {value!r}")
        if not 0 <= v.mix <= 1 or not 0 <= v.seed_mix <= 1:
            raise ValueError(f"variation {n}: mix and seed_mix must be between 0 and 1")
        if not 0 <= v.weight <= 10:
            raise ValueError(f"variation {n}: weight must be between 0 and 10, got {v.weight}")
        if not 0 <= v.temperature <= 10:
            raise ValueError(f"variation {n}: temperature must be between 0 and 10, got {v.temperature}")
        seeds = (v.seed, v.seed_b, *v.chunk_seeds)
        if not all(s is None or (isinstance(s, (int, np.integer)) and not isinstance(s, bool) and 0 <= s < 2**63)
                   for s in seeds) or v.seed is None:
            raise ValueError(f"variation {n}: seeds must be whole numbers from 0 to 2**63 - 1")


def normalize(y: torch.Tensor, how: str) -> torch.Tensor:
    """[-1, 1] -> [0, 1]: (y + 1) / 2 clipped, or each image stretched to its own min..max (the official test)."""
    if how == NORMALIZE_MINMAX:
        low = y.amin(dim=(1, 2, 3), keepdim=True)
        high = y.amax(dim=(1, 2, 3), keepdim=True)
        return (y - low) / (high - low).clamp(min=1e-5)
    return ((y + 1) / 2).clamp(0, 1)


class MultiDomain:
    def __init__(self, models: ModelStore) -> None:
        self.models = models
        # (model id, model sha256, photo fingerprint) -> the photo's encoding, most recent last
        self._encoded: OrderedDict[tuple[str, str, str], Any] = OrderedDict()

    def entry(self, model_id: str) -> ModelEntry:
        """The catalog entry, refused unless the model translates a photo into target classes."""
        return self.models.entry(model_id, Task.MULTI_DOMAIN, NEEDS)

    def vary(self, request: VaryImage, job: Job) -> tuple[np.ndarray, ...]:
        entry = self.entry(request.model_id)
        caps = self.models.capabilities(entry)
        if request.normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {', '.join(NORMALIZATIONS)}, got {request.normalize!r}")
        check_variations(request.variations, len(caps.domains))
        if request.style is not None and not caps.style_image:
            raise ValueError("this model takes no reference style: leave the style photo out")
        # refused before the model is loaded
        photo = square_input(request.image, caps) if caps.fixed_size else whole_input(request.image, caps)
        style = None if request.style is None else whole_input(request.style, caps, "style photo")
        h, w = photo.shape[:2]
        model = self.models.load(request.model_id, job)
        varier = cast(MultiDomainArchitecture, model.arch).varier(model.nets, model.hparams)
        key = (entry.id, entry.sha256, _fingerprint(photo))
        with torch.inference_mode():
            reference = None
            if style is not None:
                job.check()
                x = padded(tiling.to_tensor(style, self.models.device) * 2 - 1, caps.size_multiple)
                reference = cast(StyleVarier, varier).encode_style(x)
            encoding = self._encoded.get(key)
            if encoding is None:
                job.check()
                x = padded(tiling.to_tensor(photo, self.models.device) * 2 - 1, caps.size_multiple)
                encoding = varier.encode(x)
                self._encoded[key] = encoding
                while len(self._encoded) > ENCODED_KEPT:
                    self._encoded.popitem(last=False)
            self._encoded.move_to_end(key)
            out = []
            for n, variation in enumerate(request.variations):
                job.check()
                if reference is None:
                    y = varier.generate(encoding, [variation])
                else:
                    y = cast(StyleVarier, varier).generate(encoding, [variation], style=reference)
                out.append(tiling.to_image(normalize(y[..., :h, :w], request.normalize)))
                job.progress((n + 1) / len(request.variations), f"variation {n + 1} of {len(request.variations)}")
        return tuple(out)

    def forget(self, model_id: str) -> None:
        for key in [k for k in self._encoded if k[0] == model_id]:
            del self._encoded[key]


def _fingerprint(image: np.ndarray) -> str:
    digest = hashlib.blake2b(str(image.shape).encode(), digest_size=16)
    digest.update(np.ascontiguousarray(image).data)
    return digest.hexdigest()
