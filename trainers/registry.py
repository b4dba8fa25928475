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
)
