"""Label palettes in resources/palettes and the torch-free loader in engine.palettes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine import palettes
from engine.palettes import Palette

EXPECTED_COUNTS = {"cityscapes": 35, "ade20k": 151, "cocostuff": 182, "landscape": 15}
HEX = re.compile(r"^#[0-9a-f]{6}$")


@pytest.fixture(scope="module", params=sorted(EXPECTED_COUNTS))
def pal(request) -> Palette:
    return palettes.load(request.param)


def test_palette_dir_and_available():
    d = palettes.palette_dir()
    assert d.is_dir()
    assert d == Path(palettes.__file__).resolve().parent.parent / "resources" / "palettes"
    assert set(EXPECTED_COUNTS) <= set(palettes.available())


@pytest.mark.parametrize("name", sorted(EXPECTED_COUNTS))
def test_resource_file_schema(name):
    """The raw JSON follows the schema exactly (lowercase colours, all keys present)."""
    data = json.loads((palettes.palette_dir() / f"{name}.json").read_text(encoding="utf-8"))
    assert set(data) == {"name", "title", "source", "notes", "dontcare", "classes"}
    assert data["name"] == name
    assert data["title"] and data["source"] and data["notes"]
    for c in data["classes"]:
        assert set(c) == {"id", "name", "color", "group"}
        assert HEX.match(c["color"]), c
        assert c["group"], c
    ids = [c["id"] for c in data["classes"]]
    assert ids == sorted(ids)


def test_counts_and_uniqueness(pal):
    n = EXPECTED_COUNTS[pal.name]
    assert len(pal.classes) == n
    assert len(set(pal.ids())) == n
    assert len({c.name for c in pal.classes}) == n
    assert len({c.color for c in pal.classes}) == n
    assert all(0 <= i <= 255 for i in pal.ids())
    assert pal.dontcare is None or pal.dontcare not in pal.ids()


def test_contiguous_ids(pal):
    # SPADE one-hot channels index these directly: ids are 0..n-1 without gaps
    assert pal.ids() == tuple(range(EXPECTED_COUNTS[pal.name]))


def test_known_entries():
    cs = palettes.load("cityscapes")
    assert cs.by_id(0).name == "unlabeled"
    assert cs.by_id(7).name == "road" and cs.by_id(7).color == (128, 64, 128)
    assert cs.by_id(26).name == "car" and cs.by_id(26).color == (0, 0, 142)
    assert cs.by_id(23).name == "sky" and cs.by_id(23).group == "sky"
    assert cs.by_id(34).name == "license plate"
    assert cs.dontcare is None
    assert {c.group for c in cs.classes} == {
        "void",
        "flat",
        "construction",
        "object",
        "nature",
        "sky",
        "human",
        "vehicle",
    }

    ade = palettes.load("ade20k")
    assert ade.by_id(0).name == "other"
    assert ade.by_id(1).name == "wall" and ade.by_id(1).color == (120, 120, 120)
    assert ade.by_id(3).name == "sky"
    assert ade.by_id(13).name == "person"
    assert ade.by_id(150).name == "flag"
    assert ade.dontcare is None

    coco = palettes.load("cocostuff")
    assert coco.by_id(0).name == "person"
    assert coco.by_id(11).name.startswith("unused") and coco.by_id(11).group == "unused"
    assert coco.by_id(90).name.startswith("unused")
    assert coco.by_id(91).name == "banner"
    assert coco.by_id(156).name == "sky-other"
    assert coco.by_id(181).name == "wood"
    assert sum(c.group == "unused" for c in coco.classes) == 11
    assert coco.dontcare == 255

    land = palettes.load("landscape")
    assert land.by_id(0).name == "sky"
    assert {c.group for c in land.classes} == {"sky", "terrain", "water", "vegetation"}


def test_by_id_and_by_name_errors():
    cs = palettes.load("cityscapes")
    with pytest.raises(KeyError):
        cs.by_id(200)
    assert cs.by_name("road").id == 7
    with pytest.raises(KeyError):
        cs.by_name("no such class")


def test_lut(pal):
    lut = pal.lut()
    assert lut.shape == (256, 3) and lut.dtype == np.uint8
    for c in pal.classes:
        assert tuple(lut[c.id]) == c.color
    unused = [i for i in range(256) if i not in set(pal.ids())]
    assert not lut[unused].any()


def test_round_trip(pal):
    rng = np.random.default_rng(1234)
    ids = np.asarray(pal.ids(), dtype=np.uint8)
    labels = ids[rng.integers(0, len(ids), size=(37, 53))]
    rgb = pal.lut()[labels]
    back, unknown = pal.rgb_to_labels(rgb)
    assert unknown == []
    assert back.shape == labels.shape and back.dtype == np.uint8
    assert np.array_equal(back, labels)
    # RGBA input: alpha is ignored
    rgba = np.concatenate([rgb, np.full((*rgb.shape[:2], 1), 255, np.uint8)], axis=2)
    back2, unknown2 = pal.rgb_to_labels(rgba)
    assert unknown2 == [] and np.array_equal(back2, labels)


def test_unknown_colours_reported():
    pal = palettes.load("landscape")
    rgb = pal.lut()[np.full((4, 5), 9, np.uint8)]  # grass
    odd1, odd2 = (1, 2, 3), (250, 1, 1)
    assert odd1 not in {c.color for c in pal.classes} and odd2 not in {c.color for c in pal.classes}
    rgb[0, 0] = odd1
    rgb[1, 1] = odd2
    rgb[2, 2] = odd1
    labels, unknown = pal.rgb_to_labels(rgb)
    assert unknown == sorted([odd1, odd2])
    assert pal.dontcare is None
    assert labels[0, 0] == 0 and labels[1, 1] == 0 and labels[2, 2] == 0  # no dontcare -> 0
    assert labels[3, 3] == 9


def test_unknown_colours_get_dontcare():
    pal = palettes.load("cocostuff")
    rgb = pal.lut()[np.zeros((3, 3), np.uint8)]
    rgb[1, 1] = (1, 2, 3)
    labels, unknown = pal.rgb_to_labels(rgb)
    assert unknown == [(1, 2, 3)]
    assert labels[1, 1] == 255 and labels[0, 0] == 0


def test_dontcare_round_trips_as_black():
    pal = palettes.load("cocostuff")
    labels = np.array([[0, 255], [181, 91]], np.uint8)
    rgb = pal.lut()[labels]
    assert tuple(rgb[0, 1]) == (0, 0, 0)
    back, unknown = pal.rgb_to_labels(rgb)
    assert unknown == [] and np.array_equal(back, labels)


def test_black_is_a_class_where_defined():
    cs = palettes.load("cityscapes")
    labels, unknown = cs.rgb_to_labels(np.zeros((2, 2, 3), np.uint8))
    assert unknown == [] and not labels.any()


def test_rgb_to_labels_rejects_bad_shape():
    pal = palettes.load("landscape")
    with pytest.raises(ValueError):
        pal.rgb_to_labels(np.zeros((4, 4), np.uint8))


def test_for_semantic_config():
    assert palettes.for_semantic_config(150) == "ade20k"
    assert palettes.for_semantic_config(35) == "cityscapes"
    assert palettes.for_semantic_config(182) == "cocostuff"
    assert palettes.for_semantic_config(19) is None
    for n in (150, 35, 182):
        assert palettes.for_semantic_config(n) in palettes.available()


def _write(tmp_path: Path, data, name="p.json") -> Path:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return p


def _good():
    return {
        "name": "mine",
        "title": "Mine",
        "source": "test",
        "notes": "",
        "dontcare": None,
        "classes": [
            {"id": 0, "name": "a", "color": "#000000", "group": "g"},
            {"id": 1, "name": "b", "color": "#ff0000", "group": "g"},
        ],
    }


def test_load_from_path(tmp_path):
    p = _write(tmp_path, _good())
    pal = palettes.load(str(p))
    assert pal.name == "mine" and pal.ids() == (0, 1)
    assert palettes.load(p).by_id(1).color == (255, 0, 0)


def _mutations():
    def m(f):
        d = _good()
        f(d)
        return d

    return {
        "not an object": [1, 2],
        "no classes": m(lambda d: d.pop("classes")),
        "empty classes": m(lambda d: d.update(classes=[])),
        "no name": m(lambda d: d.pop("name")),
        "bad color": m(lambda d: d["classes"][1].update(color="red")),
        "short color": m(lambda d: d["classes"][1].update(color="#fff")),
        "dup id": m(lambda d: d["classes"][1].update(id=0)),
        "dup name": m(lambda d: d["classes"][1].update(name="a")),
        "dup color": m(lambda d: d["classes"][1].update(color="#000000")),
        "id out of range": m(lambda d: d["classes"][1].update(id=256)),
        "negative id": m(lambda d: d["classes"][1].update(id=-1)),
        "bool id": m(lambda d: d["classes"][1].update(id=True)),
        "string id": m(lambda d: d["classes"][1].update(id="1")),
        "bad dontcare": m(lambda d: d.update(dontcare="x")),
        "dontcare is a class": m(lambda d: d.update(dontcare=1)),
        "class not object": m(lambda d: d["classes"].append("c")),
    }


@pytest.mark.parametrize("case", sorted(_mutations()))
def test_malformed_raises_value_error(tmp_path, case):
    p = _write(tmp_path, _mutations()[case])
    with pytest.raises(ValueError) as ei:
        palettes.load(str(p))
    msg = str(ei.value)
    assert "\n" not in msg and str(p) in msg


def test_invalid_json_raises_value_error(tmp_path):
    p = _write(tmp_path, '{"name": "x", "classes": [')
    with pytest.raises(ValueError) as ei:
        palettes.load(str(p))
    assert "\n" not in str(ei.value) and "JSON" in str(ei.value)


def test_missing_file_and_unknown_name(tmp_path):
    with pytest.raises(ValueError):
        palettes.load(str(tmp_path / "nope.json"))
    with pytest.raises(ValueError) as ei:
        palettes.load("no-such-palette")
    assert "available" in str(ei.value)


def test_torch_free():
    code = "import sys, engine.palettes as p; p.load('ade20k'); assert 'torch' not in sys.modules"
    root = Path(palettes.__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
