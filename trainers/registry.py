"""The trainers this version offers, one line each: the list drives `python -m trainers`, the Training menu and
its set-up dialog.

Torch-free, so the GUI imports it: a trainer's module (which needs torch) is imported only when its method
runs. Adding a trainer: its config (a `RunConfig` in trainers/configs.py), its module (a `TrainingLoop`
subclass named `LOOP`, see trainers/loop.py) and one `TrainerSpec` below.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal

from trainers.configs import (
    CutConfig,
    CycleGanConfig,
    DeepI2IConfig,
    HierarchyFlowConfig,
    RunConfig,
    SaeConfig,
    SinCutConfig,
    SpadeConfig,
)

# What the set-up dialog asks for: photos with label maps, one folder of photos, a folder per domain, one
# source and one target photo, a folder of content photos and one of style images, or a folder of class folders.
DataKind = Literal["paired", "photos", "unpaired", "single", "content_style", "classes"]


@dataclass(frozen=True)
class TrainerSpec:
    method: str  # the `python -m trainers <method>` command, and run.json's "method"
    title: str  # menu text: "Train <title>…"
    config: type[RunConfig]  # its options: the command-line flags, the JSON keys and the dialog's form
    data: DataKind
    module: str  # the module whose `LOOP` trains it
    description: str

    def load(self) -> Any:
        """The trainer's TrainingLoop class (imports torch)."""
        return importlib.import_module(self.module).LOOP


TRAINERS: tuple[TrainerSpec, ...] = (
    TrainerSpec("spade", "SPADE", SpadeConfig, "paired", "trainers.spade",
                "Semantic image synthesis: label maps -> photos (GauGAN). Paired images and label maps."),
    TrainerSpec("sae", "Swapping Autoencoder", SaeConfig, "photos", "trainers.sae",
                "Structure and texture codes for editing photos (swap, blend, PCA directions). One folder of "
                "photos, no labels."),
    TrainerSpec("cyclegan", "CycleGAN", CycleGanConfig, "unpaired", "trainers.cyclegan",
                "Unpaired translation both ways (A -> B and B -> A) with cycle consistency. Two folders of photos, "
                "one per domain (or a dataset with trainA and trainB)."),
    TrainerSpec("cut", "CUT / FastCUT", CutConfig, "unpaired", "trainers.cut",
                "One-way unpaired translation (A -> B) with patchwise contrastive learning; FastCUT trains faster "
                "and changes less. Two folders of photos, one per domain (or a dataset with trainA and trainB)."),
    TrainerSpec("sincut", "SinCUT", SinCutConfig, "single", "trainers.cut",
                "Translation learned from one source photo and one target photo (e.g. a painting and a landscape "
                "photograph), then used as a brush on the source and similar photos."),
    TrainerSpec("hierarchyflow", "HierarchyFlow", HierarchyFlowConfig, "content_style", "trainers.hierarchyflow",
                "Style transfer that keeps the photo's content (a flow network with an aligned-style loss): any "
                "style image applied to any photo. A folder of content photos and a folder of style images."),
    TrainerSpec("deepi2i", "DeepI2I", DeepI2IConfig, "classes", "trainers.deepi2i",
                "Multi-class translation: a photo into any of the classes it was trained on (e.g. seasons, times of "
                "day, animals), keeping its layout. A folder of class folders; optionally BigGAN 128 px weights."),
)


def find(method: str) -> TrainerSpec | None:
    return next((spec for spec in TRAINERS if spec.method == method), None)


def spec_of(cfg: RunConfig) -> TrainerSpec:
    """The trainer a config belongs to (its config class is that trainer's)."""
    spec = next((spec for spec in TRAINERS if type(cfg) is spec.config), None)
    if spec is None:
        raise ValueError(f"{type(cfg).__name__} is no listed trainer's config")
    return spec
