"""The trainers this version offers (torch-free, so the GUI can build its Training menu from it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainerInfo:
    method: str  # the `python -m trainers <method>` command and the model method it produces
    title: str  # menu text: "Train <title>…"
    description: str


TRAINERS: tuple[TrainerInfo, ...] = (
    TrainerInfo("spade", "SPADE",
                "Semantic image synthesis: label maps -> photos (GauGAN). Paired images and label maps."),
    TrainerInfo("sae", "Swapping Autoencoder",
                "Structure and texture codes for editing photos (swap, blend, PCA directions). One folder of "
                "photos, no labels."),
    TrainerInfo("cyclegan", "CycleGAN",
                "Unpaired translation both ways (A -> B and B -> A) with cycle consistency. Two folders of photos, "
                "one per domain (or a dataset with trainA and trainB)."),
    TrainerInfo("cut", "CUT / FastCUT",
                "One-way unpaired translation (A -> B) with patchwise contrastive learning; FastCUT trains faster "
                "and changes less. Two folders of photos, one per domain (or a dataset with trainA and trainB)."),
    TrainerInfo("sincut", "SinCUT",
                "Translation learned from one source photo and one target photo (e.g. a painting and a landscape "
                "photograph), then used as a brush on the source and similar photos."),
    TrainerInfo("hierarchyflow", "HierarchyFlow",
                "Style transfer that keeps the photo's content (a flow network with an aligned-style loss): any "
                "style image applied to any photo. A folder of content photos and a folder of style images."),
)
