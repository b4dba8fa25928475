"""A test-only trainer's config and its line in the list, torch-free like trainers.configs and
trainers.registry: with tests/trainers/toy_trainer.py, everything adding a trainer takes."""

from __future__ import annotations

from dataclasses import dataclass

from trainers.configs import RunConfig, opt
from trainers.registry import TrainerSpec


@dataclass
class ToyConfig(RunConfig):
    images: str = opt("", "folder of photos, any sizes", "Data")
    crop_size: int = opt(16, "training crop size (square)", "Network", checks_data=True)
    width: int = opt(4, "hidden channels", "Network")
    lr: float = opt(1e-3, "Adam learning rate")


SPEC = TrainerSpec("toy", "Toy", ToyConfig, "photos", "tests.trainers.toy_trainer",
                   "A two-layer autoencoder that only the tests train. One folder of photos.")
