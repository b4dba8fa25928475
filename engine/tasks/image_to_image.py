"""The ImageToImage task: a photo -> the photo in another domain, through one generator per direction: at full size
(in overlapping tiles when memory requires, engine.tiling) or, as a request may ask, at the working size with the
photo's own detail carried to full size (engine.detail)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, cast

import numpy as np

from engine import detail, tiling
from engine.api import DIRECTIONS, WORKING_SIDE, FullRes, ModelEntry, Task, TranslateImage
from engine.architecture import Architecture
from engine.tasks import Job

if TYPE_CHECKING:  # the store imports the registry, whose architectures import this module
    from engine.model_store import ModelStore

NEEDS = "translating a photo needs an ImageToImage model such as CycleGAN or CUT"


@dataclass(frozen=True, kw_only=True)
class ImageToImageArchitecture(Architecture):
    """`load` gives one engine.tiling.Translator per direction the model holds, keyed "AtoB" / "BtoA" (the
    capabilities' directions)."""

    task: ClassVar[Task] = Task.IMAGE_TO_IMAGE


class ImageToImage:
    def __init__(self, models: ModelStore) -> None:
        self.models = models

    def entry(self, model_id: str) -> ModelEntry:
        """The catalog entry, refused unless the model translates whole photos."""
        return self.models.entry(model_id, Task.IMAGE_TO_IMAGE, NEEDS)

    def translate(self, request: TranslateImage, job: Job) -> np.ndarray:
        direction = pick_direction(self.entry(request.model_id), request.direction)
        image = tiling.check_photo(request.image)  # refused before the model is loaded
        full_res = detail.check_method(request.full_res)
        if request.tile < 0:
            raise ValueError(f"tile must be 0 (automatic) or a size in px, got {request.tile}")
        model = self.models.load(request.model_id, job)
        translator = cast(tiling.Translator, model.nets[direction])
        caps, device = model.capabilities, self.models.device
        small = image
        if full_res is FullRes.DETAIL:
            small = detail.downscale(image, detail.working_size(image.shape[:2], WORKING_SIDE))
        budget = tiling.memory_budget(device)
        tile = request.tile or tiling.default_tile(translator, caps, small.shape[:2], budget, device)
        out = tiling.translate(translator, caps, small, tile=tile, device=device, checkpoint_bytes=budget // 2,
                               job=job)
        return out if small is image else detail.carry_detail(image, small, out)


def pick_direction(entry: ModelEntry, direction: str) -> str:
    """The model's direction to translate in: `direction`, or its first when empty; refused if it lacks it."""
    held = entry.capabilities.directions if entry.capabilities else ()
    directions = list(held or DIRECTIONS[:1])
    if not direction:
        return directions[0]
    if direction not in directions:
        raise ValueError(f"direction {direction!r} is not available: model '{entry.id}' translates "
                         f"{' and '.join(directions)} only")
    return direction
