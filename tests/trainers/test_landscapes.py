"""The procedural landscape generator: deterministic, coherent label maps and class-consistent photos."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine import palettes
from trainers import landscapes

SIZE = (128, 128)  # small scenes keep the whole file well under a few seconds


@pytest.fixture(scope="module")
def scenes() -> list[tuple[np.ndarray, np.ndarray]]:
    return [landscapes.make_scene(np.random.default_rng((0, i)), SIZE) for i in range(40)]


def test_module_is_torch_free():
    # the painter imports it for starter scenes; pulling in torch there would cost seconds
    code = "import sys, trainers.landscapes; sys.exit('torch' in sys.modules)"
    repo = Path(landscapes.__file__).parents[1]
    assert subprocess.run([sys.executable, "-c", code], cwd=repo, check=False).returncode == 0


def test_deterministic_by_seed():
    a = landscapes.make_scene(np.random.default_rng(3), SIZE)
    b = landscapes.make_scene(np.random.default_rng(3), SIZE)
    c = landscapes.make_scene(np.random.default_rng(4), SIZE)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("size", [(32, 48), (128, 128), (256, 384)])
def test_shapes_and_dtypes(size):
    lab, img = landscapes.make_scene(np.random.default_rng(1), size)
    assert lab.shape == size and lab.dtype == np.uint8
    assert img.shape == (*size, 3) and img.dtype == np.uint8


def test_ids_are_palette_classes_and_all_appear(scenes):
    ids = set(palettes.load("landscape").ids())
    assert ids == set(range(15))
    seen: set[int] = set()
    for lab, _ in scenes:
        assert lab.max() <= 14
        seen |= set(np.unique(lab).tolist())
    assert seen == ids


def test_layout_is_coherent(scenes):
    for lab, _ in scenes:
        assert lab[0].tolist().count(landscapes.SKY) + lab[0].tolist().count(landscapes.CLOUD) > 0.5 * SIZE[1]
        assert not np.isin(lab[: SIZE[0] // 4], [landscapes.SEA, landscapes.GRASS, landscapes.SAND]).any()


def test_class_colours_are_distinct(scenes):
    sums, counts = np.zeros((15, 3)), np.zeros(15)
    for lab, img in scenes:
        np.add.at(sums, lab.ravel(), img.reshape(-1, 3).astype(np.float64))
        counts += np.bincount(lab.ravel(), minlength=15)
    mean = {c.name: sums[c.id] / counts[c.id] for c in palettes.load("landscape").classes}
    r, g, b = 0, 1, 2
    assert mean["sky"][b] > mean["sky"][r] + 40
    for name in ("water", "sea", "river"):
        assert mean[name][b] > mean[name][r] + 30, name
    for name in ("grass", "tree", "bush", "hill"):
        assert mean[name][g] > mean[name][r] and mean[name][g] > mean[name][b], name
    assert mean["sand"].sum() > mean["dirt"].sum() + 150
    assert mean["snow"].sum() > mean["mountain"].sum() + 200
    assert mean["tree"].sum() < mean["grass"].sum() - 80
    assert mean["flower"][r] > mean["grass"][r] + 15
    assert mean["mountain"][r] > mean["mountain"][b]  # grey-brown, not hazed into blue


def test_write_dataset_layout_and_exact_labels(tmp_path):
    landscapes.write_dataset(tmp_path / "ds", 3, size=(64, 96), seed=5)
    for sub, ext in (("images", "jpg"), ("labels", "png")):
        names = sorted(p.name for p in (tmp_path / "ds" / sub).iterdir())
        assert names == [f"0000{i}.{ext}" for i in range(3)]
    for i in range(3):
        want, _ = landscapes.make_scene(np.random.default_rng((5, i)), (64, 96))
        with Image.open(tmp_path / "ds" / "labels" / f"{i:05d}.png") as im:
            assert im.mode == "L"
            assert np.array_equal(np.asarray(im), want)
        with Image.open(tmp_path / "ds" / "images" / f"{i:05d}.jpg") as im:
            assert im.format == "JPEG" and im.mode == "RGB" and im.size == (96, 64)


def test_write_dataset_is_deterministic(tmp_path):
    for d in ("a", "b"):
        landscapes.write_dataset(tmp_path / d, 2, size=(48, 48), seed=9)
    for sub, name in (("labels", "00001.png"), ("images", "00001.jpg")):
        assert (tmp_path / "a" / sub / name).read_bytes() == (tmp_path / "b" / sub / name).read_bytes()


def test_cli_writes_pairs(tmp_path, capsys):
    landscapes.main(["--out", str(tmp_path / "cli"), "--count", "2", "--size", "32", "--seed", "1"])
    assert "2 pairs" in capsys.readouterr().out
    assert len(list((tmp_path / "cli" / "labels").glob("*.png"))) == 2


def test_starter_scene_is_fixed_and_varied():
    a, b = landscapes.starter_scene(), landscapes.starter_scene()
    assert a.shape == (256, 384) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert {landscapes.SKY, landscapes.GRASS, landscapes.MOUNTAIN} <= set(np.unique(a).tolist())


def test_a_winter_scene_is_the_same_layout_under_snow():
    summer_labels, summer = landscapes.make_scene(np.random.default_rng(3), (96, 128))
    winter_labels, winter = landscapes.make_scene(np.random.default_rng(3), (96, 128), winter=True)
    ground = np.isin(summer_labels, [landscapes.GRASS, landscapes.HILL, landscapes.FLOWER, landscapes.BUSH,
                                     landscapes.DIRT, landscapes.SAND])
    assert ground.any() and (winter_labels[ground] == landscapes.SNOW).all()
    assert (winter_labels[~ground] == summer_labels[~ground]).all()
    saturation = lambda image: (image.max(2).astype(int) - image.min(2)).mean()  # noqa: E731
    assert winter[ground].mean() > summer[ground].mean() + 40 and saturation(winter) < 0.75 * saturation(summer)
