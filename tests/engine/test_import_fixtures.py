"""Official-format SPADE files through the generic import path: detect, hparams, load, same outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.api import JobRef, RenderLabels
from engine.catalog import Catalog
from engine.handlers import Engine
from engine.models import spade
from engine.worker import JobContext
from tests.cli.test_models_cli import official_dir

CTX = JobContext(JobRef(0, "test", 0), lambda event: None)


@pytest.fixture
def engine() -> Engine:
    return Engine(Catalog(), torch.device("cpu"))


@pytest.mark.parametrize("name", ["ade20k_like", "cityscapes_like"])
def test_fixture_imports_without_hints_and_matches(official, tmp_path, engine, name):
    ref = np.load(official / "spade" / "small" / name / "io_seed0.npz")
    entry = engine.import_model(str(official_dir(official, name, tmp_path)), None, CTX)
    assert entry.method == "spade" and entry.task == "LabelToImage"
    hparams, nets = engine.loaded(entry.id)
    assert hparams["latent_hw"] == {"ade20k_like": [3, 5], "cityscapes_like": [2, 3]}[name]
    with torch.inference_mode():
        out = nets["netG"](torch.from_numpy(ref["input_semantics"]), latent_hw=tuple(hparams["latent_hw"]))
    assert float((out - torch.from_numpy(ref["output"])).abs().max()) < 1e-4

    instances = ref["instance_map"].astype(np.uint16) if "instance_map" in ref.files else None
    image = engine.render_labels(RenderLabels(entry.id, ref["label_map"], instances=instances), CTX)
    expected = np.clip((ref["output"][0].transpose(1, 2, 0) + 1) / 2, 0, 1)
    assert image.shape == expected.shape and np.abs(image - expected).max() < 1e-4


def test_style_encoder_beside_the_generator_is_imported(tmp_path, engine):
    """A --use_vae training run leaves latest_net_E.pth next to latest_net_G.pth."""
    torch.manual_seed(0)
    folder = tmp_path / "landscape_vae"
    folder.mkdir()
    generator = spade.SPADEGenerator(ngf=2, semantic_nc=5, z_dim=16, latent_hw=(4, 4))
    encoder = spade.ConvEncoder(ngf=2, z_dim=16, crop_size=128)
    torch.save(generator.state_dict(), folder / "latest_net_G.pth")
    torch.save(encoder.state_dict(), folder / "latest_net_E.pth")
    entry = engine.import_model(str(folder / "latest_net_G.pth"), {"label_nc": 5, "crop_size": 128}, CTX)
    assert entry.hparams["use_vae"] and "encoder" in entry.notes

    labels = np.random.default_rng(0).integers(0, 5, (128, 128))
    style_a = np.random.default_rng(1).random((90, 70, 3), dtype=np.float32)
    style_b = np.zeros((64, 64, 3), np.float32)
    render = lambda **kw: engine.render_labels(RenderLabels(entry.id, labels, **kw), CTX)  # noqa: E731
    a, a_again, b = render(style=style_a), render(style=style_a), render(style=style_b)
    assert np.array_equal(a, a_again) and not np.allclose(a, b)
    assert not np.allclose(render(seed=1), render(seed=2))
    assert np.array_equal(render(seed=3), render(seed=3))


def test_a_refreshed_model_file_is_reloaded(tmp_path, engine):
    """A training run replaces its catalog entry's file: the engine must not keep the old weights."""
    import dataclasses

    from engine.storage import sha256_file

    folder = tmp_path / "run"
    folder.mkdir()
    path = folder / "latest_net_G.pth"
    torch.manual_seed(0)
    torch.save(spade.SPADEGenerator(ngf=2, semantic_nc=4).state_dict(), path)
    entry = engine.import_model(str(path), {"label_nc": 4, "crop_size": 64}, CTX)
    labels = np.arange(64 * 64).reshape(64, 64) % 4
    before = engine.render_labels(RenderLabels(entry.id, labels), CTX)
    torch.save(spade.SPADEGenerator(ngf=2, semantic_nc=4).state_dict(), path)
    engine.catalog.upsert(dataclasses.replace(entry, sha256=sha256_file(path)))
    after = engine.render_labels(RenderLabels(entry.id, labels), CTX)
    assert not np.allclose(before, after)
