"""The embedded default style brush (summer -> winter): listed, loads through the engine, and does what its
name says on scenes it never saw."""

from __future__ import annotations

import numpy as np
import torch

from engine.api import Task, TranslateImage
from engine.catalog import Catalog
from engine.handlers import Engine
from trainers import default_brush, landscapes


class _Ctx:
    def check(self) -> None:
        pass

    def progress(self, *args) -> None:
        pass


def test_the_shipped_brush_turns_summer_meadows_to_snow():
    entry = Catalog().get(default_brush.MODEL_ID)
    assert entry.builtin and entry.task == Task.IMAGE_TO_IMAGE.value
    engine = Engine(Catalog(), torch.device("cpu"))
    for seed in range(2):  # seeds outside the training set's
        labels, photo = landscapes.make_scene(np.random.default_rng((1234, seed)), (128, 192))
        image = photo.astype(np.float32) / 255
        winter = engine(TranslateImage(default_brush.MODEL_ID, image), _Ctx())
        assert winter.shape == image.shape
        meadow = np.isin(labels, [landscapes.GRASS, landscapes.HILL])
        assert meadow.sum() > 500
        saturation = lambda im: (im.max(2) - im.min(2))[meadow].mean()  # noqa: E731
        assert winter[meadow].mean() > image[meadow].mean() + 0.2  # green grass -> bright snow
        assert saturation(winter) < 0.5 * saturation(image)
