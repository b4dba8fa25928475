"""The ContentStyle task: a photo + a style image -> the photo in that style, at a strength, at full size (in
overlapping tiles when memory requires) or at the working size with the photo's detail carried (engine.detail),
with the slider cache of engine.stylize."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, cast

import numpy as np

from engine import detail, stylize, tiling
from engine.api import WORKING_SIDE, FullRes, ModelEntry, StylizeImage, Task
from engine.architecture import Architecture, Nets
from engine.tasks import Job

if TYPE_CHECKING:  # the store imports the registry, whose architectures import this module
    from engine.model_store import ModelStore

NEEDS = "stylising a photo needs a ContentStyle model such as HierarchyFlow"


@dataclass(frozen=True, kw_only=True)
class ContentStyleArchitecture(Architecture):
    task: ClassVar[Task] = Task.CONTENT_STYLE
    stylist: Callable[[Nets], stylize.Stylist]  # the loaded networks as the one model that stylises


class ContentStyle:
    def __init__(self, models: ModelStore) -> None:
        self.models = models
        self.stylizer = stylize.Stylizer()  # the slider cache: content passes and style codes

    def entry(self, model_id: str) -> ModelEntry:
        """The catalog entry, refused unless the model stylises a photo after a style image."""
        return self.models.entry(model_id, Task.CONTENT_STYLE, NEEDS)

    def stylize(self, request: StylizeImage, job: Job) -> np.ndarray:
        entry = self.entry(request.model_id)
        caps = self.models.capabilities(entry)
        content = stylize.check_content(request.content, caps.min_size)  # refused before the model is loaded
        style = stylize.check_style(request.style, caps.min_style_size)
        strength = stylize.check_strength(request.strength)
        full_res = detail.check_method(request.full_res)
        if request.max_side < 0 or request.tile < 0:
            raise ValueError(f"max_side and tile must be 0 (none / automatic) or sizes in px, got "
                             f"{request.max_side} and {request.tile}")
        if request.max_side:
            content = stylize.shrink(content, max(request.max_side, caps.min_size), caps.min_size)
        small = content
        if full_res is FullRes.DETAIL:
            small = stylize.shrink(content, max(WORKING_SIDE, caps.min_size), caps.min_size)
        model = self.models.load(request.model_id, job)
        stylist = cast(ContentStyleArchitecture, model.arch).stylist(model.nets)
        device = self.models.device
        tile = request.tile or stylize.default_tile(stylist, caps, small.shape[:2], tiling.memory_budget(device))
        out = self.stylizer((entry.id, entry.sha256), stylist, caps, small, style, strength, tile=tile,
                            device=device, job=job)
        return out if small is content else detail.carry_detail(content, small, out)

    def forget(self, model_id: str) -> None:
        self.stylizer.forget(model_id)
