"""The embedded default model: how it is packaged, and that the shipped one paints what it is told."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine.api import JobRef, RenderLabels
from engine.catalog import Catalog
from engine.checkpoints import write_checkpoint
from engine.handlers import Engine
from engine.models import spade
from engine.storage import RESOURCES
from engine.worker import JobContext
from trainers import landscapes
from trainers.default_landscape import MODEL_FILE, MODEL_ID, package

CTX = JobContext(JobRef(0, "test", 0), lambda event: None)


def test_package_writes_a_half_precision_builtin_entry(tmp_path):
    torch.manual_seed(0)
    generator = spade.SPADEGenerator(ngf=2, semantic_nc=15, nhidden=8).eval()
    hparams = spade.resolve_hparams(generator.state_dict(), {"label_nc": 15, "crop_size": 64})
    ckpt = tmp_path / "step_0000010.safetensors"
    classes = [[i, f"c{i}"] for i in range(15)]
    write_checkpoint(ckpt, generator.state_dict(), {"method": "spade", "hparams": hparams, "classes": classes,
                                                     "palette": "landscape"})
    (tmp_path / "models.json").write_text(json.dumps({"format": 1, "models": []}))
    entry = package(ckpt, resources=tmp_path)
    assert entry.id == MODEL_ID and (tmp_path / MODEL_FILE).is_file()
    listed = Catalog(tmp_path / "user.json", tmp_path / "models.json").get(MODEL_ID)
    assert listed.builtin and listed.sha256 == entry.sha256 and listed.source == MODEL_FILE.as_posix()
    assert (tmp_path / MODEL_FILE).stat().st_size < ckpt.stat().st_size * 0.6  # float16


def shipped_engine() -> Engine:
    if not (RESOURCES / MODEL_FILE).is_file():
        pytest.skip("the embedded default model is not in resources/ yet")
    return Engine(Catalog(), torch.device("cpu"))


def test_the_shipped_model_paints_the_classes_it_is_given():
    engine = shipped_engine()
    labels = landscapes.starter_scene((256, 384))
    image = engine.render_labels(RenderLabels(MODEL_ID, labels, size=labels.shape), CTX)
    assert image.shape == (256, 384, 3)

    def mean(cls: int) -> np.ndarray:
        return image[labels == cls].mean(axis=0)

    sky, grass = mean(landscapes.SKY), mean(landscapes.GRASS)
    assert sky[2] > sky[0] + 0.1  # sky is blue
    assert grass[1] > grass[0] and grass[1] > grass[2]  # grass is green
    assert sky.mean() > grass.mean()  # and brighter than the meadow


def test_the_shipped_model_is_listed_first():
    shipped_engine()
    entry = Catalog().entries()[0]
    assert entry.id == MODEL_ID and entry.builtin and entry.palette == "landscape" and len(entry.classes) == 15
