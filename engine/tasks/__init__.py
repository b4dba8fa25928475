"""One service per task, working on any architecture of that task through its descriptor.

label_to_image (LabelToImage), image_to_image (ImageToImage, tiled), structure_texture (StructureTexture),
content_style (ContentStyle), multi_domain (MultiDomain: a photo + a target class/domain/node + a seed -> an
image, the photo's encoding kept across variations; DeepI2I). Each module also defines the descriptor class its
architectures declare, with what the service calls on their networks.
"""

from __future__ import annotations

from typing import Protocol


class Job(Protocol):
    """What a task sees of its job (engine.worker.JobContext is one): cooperative cancel and progress."""

    def check(self) -> None:
        """Raises when the job should stop; call between tiles, steps and photos."""

    def progress(self, fraction: float, message: str = "") -> None:
        """Report how far the job is, 0..1."""
