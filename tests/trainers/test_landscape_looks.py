"""One procedural layout in six looks (the embedded DeepI2I default's data): deterministic, the same layout in every
look, and each look reads as its name (measured on the label regions of the layout)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from trainers import landscape_looks as looks
from trainers import landscapes

SIZE = (96, 96)
SCENES = 12


@pytest.fixture(scope="module")
def scenes() -> list[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """(label map, {look: image}) per scene."""
    out = []
    for i in range(SCENES):
        labels = landscapes.layout(np.random.default_rng((7, i)), *SIZE)[0]
        out.append((labels, looks.render_looks((7, i), SIZE)))
    return out


def test_module_is_torch_free():
    code = "import sys, trainers.landscape_looks; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(looks.__file__).parents[1], check=False).returncode == 0


def test_deterministic_and_each_look_independent_of_the_others():
    a, b = looks.render_looks((1, 2), SIZE), looks.render_looks((1, 2), SIZE)
    assert list(a) == list(looks.LOOKS) and len(looks.LOOKS) >= 5
    assert all(np.array_equal(a[k], b[k]) and a[k].shape == (*SIZE, 3) and a[k].dtype == np.uint8 for k in a)
    assert np.array_equal(looks.render_looks((1, 2), SIZE, ("night",))["night"], a["night"])
    assert not np.array_equal(looks.render_looks((1, 3), SIZE)["summer"], a["summer"])


def edges(image: np.ndarray) -> np.ndarray:
    grey = cv2.GaussianBlur(image.astype(np.float32).mean(2), (0, 0), 1.5)
    grey = (grey - grey.mean()) / (grey.std() + 1e-6)  # the night's contrast is low: compare shapes, not strength
    return np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)).ravel()


def test_every_look_keeps_the_layout(scenes):
    """Edges of one layout's looks line up far better than those of different layouts in the same look."""
    same, other = [], []
    for i, (_, images) in enumerate(scenes):
        base = edges(images["summer"])
        same += [np.corrcoef(base, edges(images[k]))[0, 1] for k in looks.LOOKS if k != "summer"]
        other.append(np.corrcoef(base, edges(scenes[(i + 1) % SCENES][1]["summer"]))[0, 1])
    assert np.mean(same) > 0.45 and np.mean(same) > np.mean(other) + 0.3, (np.mean(same), np.mean(other))


def mean_rgb(scenes, look: str, classes: tuple[int, ...]) -> np.ndarray:
    pixels = [images[look][np.isin(labels, classes)] for labels, images in scenes]
    return np.concatenate(pixels).astype(np.float32).mean(0)


def test_each_look_reads_as_its_name(scenes):
    sky, ground = (landscapes.SKY,), (landscapes.GRASS, landscapes.HILL, landscapes.FLOWER)
    foliage = (landscapes.TREE, landscapes.BUSH)
    summer_sky, summer_ground = mean_rgb(scenes, "summer", sky), mean_rgb(scenes, "summer", ground)
    assert summer_sky[2] > summer_sky[0] + 40 and summer_ground[1] > summer_ground[2] + 40  # blue sky, green grass
    autumn = mean_rgb(scenes, "autumn", foliage)
    assert autumn[0] > autumn[1] + 20 and autumn[0] > mean_rgb(scenes, "summer", foliage)[0] + 50  # orange leaves
    winter = mean_rgb(scenes, "winter", ground)
    assert winter.min() > 200 and winter.max() - winter.min() < 40  # white snow
    sunset_sky = mean_rgb(scenes, "sunset", sky)
    assert sunset_sky[0] > sunset_sky[2] + 30  # an orange sky
    night = np.mean([images["night"].mean() for _, images in scenes])
    assert night < 40 and mean_rgb(scenes, "night", ground).argmax() == 2  # dark and blue
    desert = mean_rgb(scenes, "desert", ground)
    assert desert[0] > 190 and desert[0] > desert[2] + 40  # sand


def test_write_dataset_is_a_folder_of_class_folders(tmp_path):
    from trainers.deepi2i import scan_classes

    looks.write_dataset(tmp_path / "looks", 2, size=(32, 32))
    items, names, summary = scan_classes(tmp_path / "looks")
    assert names == sorted(looks.LOOKS) and len(items) == 2 * len(looks.LOOKS) and not summary["errors"]
    assert summary["classes"] == [[name, 2] for name in sorted(looks.LOOKS)]
