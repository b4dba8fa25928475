"""Importing what the official DeepI2I training leaves (an experiment folder), class names from the official pickle
read without unpickling, photos of any shape through VaryImage, and `main.py vary` as a user runs it."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine import checkpoints
from engine.api import JobRef, Variation, VaryImage
from engine.catalog import Catalog
from engine.checkpoints import CheckpointError, read_class_names
from engine.handlers import Engine
from engine.imageio import to_uint8
from engine.pickles import read_plain_dict
from engine.worker import JobCancelled, JobContext
from tests.cli.test_models_cli import _one_line_error, cli

CTX = JobContext(JobRef(0, "test", 0), lambda event: None)


class RunsShell:
    """Unpickling this would run a shell command that creates the marker file (never unpickled here)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def copy_experiment(official: Path, tmp_path: Path, name: str = "DeepI2I_animals", *, skip: str = "") -> Path:
    """The fixture laid out as the official training leaves it: <weights_root>/<experiment>/."""
    folder = tmp_path / "weights" / name
    folder.mkdir(parents=True)
    for file in (official / "deepi2i" / "small" / "DeepI2I_small").iterdir():
        if file.name != skip:
            shutil.copyfile(file, folder / file.name)
    return folder


@pytest.fixture
def engine() -> Engine:
    return Engine(Catalog(), torch.device("cpu"))


def test_the_restricted_reader_refuses_code_and_reads_plain_dicts(tmp_path):
    marker = tmp_path / "PWNED"
    for protocol in (0, 2, 4, 5):
        for hostile in (RunsShell(marker), {"lion": RunsShell(marker)}):
            with pytest.raises(ValueError, match="run code"):
                read_plain_dict(pickle.dumps(hostile, protocol=protocol))
        assert read_plain_dict(pickle.dumps({"tiger": 1, "lion": 0}, protocol=protocol)) == {"tiger": 1, "lion": 0}
    for other in ([1, 2], {"a": 1.5}, {"a": "b"}, b"\x80\x04garbage"):
        with pytest.raises(ValueError):
            read_plain_dict(other if isinstance(other, bytes) else pickle.dumps(other))
    assert not marker.exists()


def test_class_names_from_the_official_pickle_beside_the_nets(official, tmp_path, engine):
    folder = copy_experiment(official, tmp_path)
    (folder / "I128_imgs.pickle").write_bytes(pickle.dumps({"tiger": 1, "lion": 0, "zebra": 2}))
    entry = engine.import_model(str(folder), None, CTX)
    assert entry.name == "DeepI2I_animals" and entry.hparams["n_target"] == 3
    assert entry.capabilities.domains == ("lion", "tiger", "zebra")
    assert entry.classes == ((0, "lion"), (1, "tiger"), (2, "zebra"))
    assert Path(entry.source) == folder / "G.pth"  # the catalog points at a file; its siblings are read with it


def test_a_hostile_class_pickle_is_refused_without_running(official, tmp_path, engine):
    marker = tmp_path / "PWNED"
    folder = copy_experiment(official, tmp_path)
    before = engine.catalog.entries()
    evil = tmp_path / "I128_imgs.pickle"
    evil.write_bytes(pickle.dumps({"lion": 0, "tiger": RunsShell(marker)}, protocol=2))
    with pytest.raises(ValueError, match="run code"):
        engine.import_model(str(folder), {"classes": str(evil)}, CTX)
    shutil.copyfile(evil, folder / "I128_imgs.pickle")
    with pytest.raises(CheckpointError, match="run code"):
        engine.import_model(str(folder), None, CTX)
    assert not marker.exists() and engine.catalog.entries() == before


def test_state_dict_pth_is_never_opened(official, tmp_path, engine, monkeypatch):
    marker = tmp_path / "PWNED"
    folder = copy_experiment(official, tmp_path)
    (folder / "state_dict.pth").write_bytes(pickle.dumps({"itr": 1, "config": RunsShell(marker)}))
    (folder / "G_optim.pth").write_bytes(pickle.dumps(RunsShell(marker)))
    opened: list[str] = []
    real = checkpoints._open_regular
    monkeypatch.setattr(checkpoints, "_open_regular", lambda path: (opened.append(Path(path).name), real(path))[1])
    entry = engine.import_model(str(folder / "E1.pth"), None, CTX)  # any of the nets brings in the folder
    engine.vary_image(VaryImage(entry.id, np.zeros((40, 40, 3), np.float32), (Variation(0),)), CTX)
    assert set(opened) == {"G.pth", "E1.pth", "A1.pth"} and not marker.exists()


@pytest.mark.parametrize("missing", ["E1.pth", "A1.pth", "G.pth"])
def test_a_folder_missing_a_net_names_it(official, tmp_path, missing, capsys):
    folder = copy_experiment(official, tmp_path, skip=missing)
    error = _one_line_error(capsys, "models", "import", folder)
    assert f"{missing} is missing" in error


def test_class_options(official, tmp_path, engine):
    folder = copy_experiment(official, tmp_path)
    text = tmp_path / "names.txt"
    text.write_text("lion\ntiger\n\n")
    assert engine.import_model(str(folder), {"classes": str(text)}, CTX).capabilities.domains == ("lion", "tiger")
    assert len(read_class_names(text)) == 2
    entry = engine.import_model(str(folder), {"N_target_cate": 10}, CTX)
    assert entry.capabilities.domains[-1] == "class 9"
    with pytest.raises(ValueError, match="2 class names are given but N_target_cate is 5"):
        engine.import_model(str(folder), {"classes": "a,b", "N_target_cate": 5}, CTX)
    with pytest.raises(ValueError, match="twice"):
        engine.import_model(str(folder), {"classes": "a,a"}, CTX)
    with pytest.raises(ValueError, match="1000 rows"):
        engine.import_model(str(folder), {"N_target_cate": 1001}, CTX)


def test_photos_of_any_shape_and_variation_checks(official, tmp_path, engine):
    entry = engine.import_model(str(copy_experiment(official, tmp_path)), {"classes": "lion,tiger"}, CTX)
    rng = np.random.default_rng(0)
    wide = rng.random((60, 100, 3), dtype=np.float32)
    v = (Variation(1, seed=3),)
    centre = engine.vary_image(VaryImage(entry.id, wide[:, 20:80].copy(), v), CTX)[0]
    assert np.array_equal(engine.vary_image(VaryImage(entry.id, wide, v), CTX)[0], centre)  # the centre square
    assert centre.shape == (128, 128, 3) and centre.dtype == np.float32 and 0 <= centre.min() <= centre.max() <= 1
    with pytest.raises(ValueError, match="at least 16 px"):
        engine.vary_image(VaryImage(entry.id, wide[:10], v), CTX)
    with pytest.raises(ValueError, match="not a class of this model"):
        engine.vary_image(VaryImage(entry.id, wide, (Variation(2),)), CTX)
    with pytest.raises(ValueError, match="normalize"):
        engine.vary_image(VaryImage(entry.id, wide, v, normalize="gamma"), CTX)
    mixed = engine.vary_image(VaryImage(entry.id, wide, (Variation(0, target_b=1, mix=1.0),)), CTX)[0]
    assert np.abs(mixed - engine.vary_image(VaryImage(entry.id, wide, (Variation(1),)), CTX)[0]).max() < 1e-5


def test_the_photo_is_encoded_once_and_cancel_stops_between_variations(official, tmp_path, engine, monkeypatch):
    from engine.models.deepi2i import DeepI2IVarier

    entry = engine.import_model(str(copy_experiment(official, tmp_path)), None, CTX)
    calls: list[int] = []
    real = DeepI2IVarier.encode
    monkeypatch.setattr(DeepI2IVarier, "encode", lambda self, x: (calls.append(1), real(self, x))[1])
    photo = np.random.default_rng(1).random((64, 64, 3), dtype=np.float32)
    first = engine.vary_image(VaryImage(entry.id, photo, (Variation(0, 0),)), CTX)
    again = engine.vary_image(VaryImage(entry.id, photo, (Variation(1, 4), Variation(0, 0))), CTX)
    assert len(calls) == 1 and np.array_equal(first[0], again[1])

    ctx = JobContext(JobRef(1, "test", 0), lambda event: ctx.cancel())  # cancelled at the first progress report
    with pytest.raises(JobCancelled):
        engine.vary_image(VaryImage(entry.id, photo, tuple(Variation(0, s) for s in range(20))), ctx)


# --- main.py vary ---------------------------------------------------------------------------------------------


@pytest.fixture
def model_id(official, tmp_path, capsys) -> str:
    folder = copy_experiment(official, tmp_path)
    code, out, err = cli(capsys, "models", "import", folder, "-o", "classes=lion,tiger,cat")
    assert code == 0, err
    return out.split("\t")[0]


def save(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def test_vary_writes_a_grid_of_targets_by_seeds(model_id, tmp_path, capsys):
    rng = np.random.default_rng(2)
    photo = save(tmp_path / "dog.png", rng.integers(0, 256, (90, 150, 3), dtype=np.uint8))
    code, out, err = cli(capsys, "vary", "--model", model_id, "--input", photo, "--targets", "lion,Cat",
                         "--seeds", "0-2", "--out", tmp_path / "grid.png")
    assert code == 0, err
    assert out.strip() == str(tmp_path / "grid.png")
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    assert grid.shape == (2 * 128 + 2, 3 * 128 + 4, 3)

    engine = Engine(Catalog(), torch.device("cpu"))
    pixels = np.asarray(Image.open(photo)).astype(np.float32) / 255
    cell = engine.vary_image(VaryImage(model_id, pixels, (Variation(2, seed=1),)), CTX)[0]
    assert np.abs(grid[130:258, 130:258].astype(int) - to_uint8(cell, rounded=True)).max() <= 1

    code, _, err = cli(capsys, "vary", "--model", model_id, "--input", photo, "--targets", "1", "--crop", "0,0,90",
                       "--normalize", "minmax", "--out", tmp_path / "one.png")
    assert code == 0, err
    single = np.asarray(Image.open(tmp_path / "one.png"))
    assert single.shape == (128, 128, 3) and single.min() == 0 and single.max() == 255  # stretched to its range

    code, _, err = cli(capsys, "vary", "--model", model_id, "--input", photo, "--targets", "tiger", "--labels",
                       "--out", tmp_path / "labelled.png")
    assert code == 0, err
    labelled = np.asarray(Image.open(tmp_path / "labelled.png"))
    assert labelled.shape[0] > 128 and labelled.shape[1] > 128  # the names and seeds' margins


def test_vary_a_folder_and_one_line_errors(model_id, tmp_path, capsys):
    rng = np.random.default_rng(3)
    for name in ("a", "b"):
        save(tmp_path / "photos" / f"{name}.jpg", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    code, _, err = cli(capsys, "vary", "--model", model_id, "--input", tmp_path / "photos", "--targets", "lion",
                       "--seeds", "0,5", "--out", tmp_path / "grids")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "grids").iterdir()) == ["a.png", "b.png"]
    assert np.asarray(Image.open(tmp_path / "grids" / "a.png")).shape == (128, 2 * 128 + 2, 3)
    photo = tmp_path / "photos" / "a.jpg"
    assert "no class 'zebra'" in _one_line_error(capsys, "vary", "--model", model_id, "--input", photo,
                                                 "--targets", "zebra", "--out", tmp_path / "x.png")
    assert "outside" in _one_line_error(capsys, "vary", "--model", model_id, "--input", photo, "--targets", "lion",
                                        "--crop", "10,10,64", "--out", tmp_path / "x.png")
    tiny = save(tmp_path / "tiny.png", np.zeros((8, 30, 3), np.uint8))
    assert "at least 16 px" in _one_line_error(capsys, "vary", "--model", model_id, "--input", tiny,
                                               "--targets", "lion", "--out", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_bad_variations_are_refused_before_the_model_runs(official, tmp_path, engine):
    entry = engine.import_model(str(copy_experiment(official, tmp_path)), {"classes": "lion,tiger"}, CTX)
    photo = np.zeros((32, 32, 3), np.float32)
    for bad, words in ((Variation(0, seed=-1), "seeds"), (Variation(0, chunk_seeds=(None, 1.5)), "seeds"),
                       (Variation(0, mix=2.0, target_b=1), "between 0 and 1"), (Variation(0, weight=float("nan")),
                                                                               "number"), (Variation(5), "not a class")):
        with pytest.raises(ValueError, match=words):
            engine.vary_image(VaryImage(entry.id, photo, (bad,)), CTX)
    with pytest.raises(ValueError, match="no variations"):
        engine.vary_image(VaryImage(entry.id, photo, ()), CTX)
    with pytest.raises(ValueError, match="needs a MultiDomain model"):
        engine.vary_image(VaryImage("spade-landscape-default", photo, (Variation(0),)), CTX)
