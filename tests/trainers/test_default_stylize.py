"""The embedded default HierarchyFlow model: listed, stylises through the engine with every shelf style, the
fidelity slider is monotone in SSIM to the photo, and the style decides the look."""

from __future__ import annotations

import itertools

import numpy as np
import torch
from PIL import Image

from engine.api import FIDELITY_PRESETS, StylizeImage, Task
from engine.catalog import Catalog
from engine.handlers import Engine
from engine.storage import RESOURCES
from tests.hierarchyflow_fixtures import ssim
from trainers import default_stylize, landscapes

STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)


class _Ctx:
    def check(self) -> None:
        pass

    def progress(self, *args) -> None:
        pass


def _style(name: str) -> np.ndarray:
    with Image.open(RESOURCES / "styles" / name) as image:
        return np.asarray(image.convert("RGB"), np.float32) / 255


def test_the_shipped_flow_stylises_monotonically_and_after_its_style():
    entry = Catalog().get(default_stylize.MODEL_ID)
    assert entry.builtin and entry.task == Task.CONTENT_STYLE.value and "RANDOM-weights VGG-19" in entry.notes
    engine = Engine(Catalog(), torch.device("cpu"))
    looks = {}
    for seed, name in itertools.product(range(2), ("blue_mosaic.jpg", "ember_swirls.jpg")):  # unseen scenes
        photo = landscapes.make_scene(np.random.default_rng((4321, seed)), (96, 128))[1].astype(np.float32) / 255
        outputs = [engine(StylizeImage(default_stylize.MODEL_ID, photo, _style(name), s), _Ctx()) for s in STRENGTHS]
        scores = [ssim(photo, out) for out in outputs]
        # measured 1, .97, .91, .86, .80 (mosaic) and 1, .99, .97, .87, .78 (ember)
        assert scores[0] == 1.0 and all(b < a for a, b in itertools.pairwise(scores)), (name, scores)
        assert scores[-1] < 0.9
        looks.setdefault(name, []).append(outputs[-1])
    blue = {name: float(np.mean([(o[..., 2] - o[..., 0]).mean() for o in outs])) for name, outs in looks.items()}
    assert blue["blue_mosaic.jpg"] > 0.15 and blue["ember_swirls.jpg"] < -0.3  # measured 0.27 and -0.52


def test_every_shelf_style_and_preset_gives_a_photo_sized_result():
    engine = Engine(Catalog(), torch.device("cpu"))
    photo = landscapes.make_scene(np.random.default_rng((4321, 9)), (50, 70))[1].astype(np.float32) / 255
    for path in sorted((RESOURCES / "styles").glob("*.jpg")):
        for strength in FIDELITY_PRESETS.values():
            out = engine(StylizeImage(default_stylize.MODEL_ID, photo, _style(path.name), strength), _Ctx())
            assert out.shape == photo.shape and np.isfinite(out).all() and 0 <= out.min() and out.max() <= 1
