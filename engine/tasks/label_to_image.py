"""The LabelToImage task: a label map (with a style image or seed where the model takes one) -> a photo."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, cast

import numpy as np
import torch

from engine.api import RenderLabels, Task
from engine.architecture import Architecture, Hparams, Nets
from engine.tasks import Job

if TYPE_CHECKING:  # the store imports the registry, whose architectures import this module
    from engine.model_store import ModelStore

NEEDS = "rendering a label map needs a LabelToImage model such as SPADE"


@dataclass(frozen=True, kw_only=True)
class LabelToImageArchitecture(Architecture):
    task: ClassVar[Task] = Task.LABEL_TO_IMAGE
    # (networks, hparams, request, device) -> HxWx3 float32 in [0, 1] at request.size (None: the model's own)
    render: Callable[[Nets, Hparams, RenderLabels, torch.device], np.ndarray]


class LabelToImage:
    def __init__(self, models: ModelStore) -> None:
        self.models = models

    def render(self, request: RenderLabels, job: Job) -> np.ndarray:
        self.models.entry(request.model_id, Task.LABEL_TO_IMAGE, NEEDS)
        model = self.models.load(request.model_id, job)
        job.check()
        arch = cast(LabelToImageArchitecture, model.arch)  # the store checked that it serves this task
        return arch.render(model.nets, model.hparams, request, self.models.device)
