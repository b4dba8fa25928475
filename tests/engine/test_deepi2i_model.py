"""DeepI2I (BigGAN variant): the official fixture through the real import path reproduces every stored array; the
released config builds to exactly the manifest's keys and shapes; our own file round-trips; the z and class helpers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine.api import JobRef, Variation, VaryImage
from engine.catalog import Catalog
from engine.checkpoints import read_checkpoint, write_checkpoint
from engine.handlers import Engine
from engine.models import deepi2i
from engine.models.deepi2i import (
    Adaptor,
    Discriminator,
    Generator,
    class_embedding,
    noise,
    normalize_minmax,
    translate,
)
from engine.worker import JobContext

CTX = JobContext(JobRef(0, "test", 0), lambda event: None)
TOL = 1e-4


def experiment(official):
    return official / "deepi2i" / "small" / "DeepI2I_small"


@pytest.fixture
def io(official):
    return {k: torch.from_numpy(v) for k, v in np.load(official / "deepi2i" / "small" / "io_seed0.npz").items()}


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and float((a - b).abs().max()) < TOL


def test_the_official_folder_imports_and_reproduces_every_array(official, io):
    engine = Engine(Catalog(), torch.device("cpu"))
    entry = engine.import_model(str(experiment(official)), None, CTX)
    assert entry.method == "deepi2i" and entry.task == "MultiDomain"
    assert entry.hparams | {"class_names": None} == {
        "ch": 8, "dim_z": 120, "shared_dim": 128, "n_classes": 1000, "attention": 64, "resolution": 128,
        "n_target": 149, "class_names": None, "fea_w": {"4": 0.1, "8": 0.1, "16": 0.1, "32": 0.1}}
    assert entry.capabilities.fixed_size == (128, 128) and len(entry.capabilities.domains) == 149
    _, nets = engine.loaded(entry.id)
    G, E1, A1 = nets["G"], nets["E1"], nets["A1"]
    with torch.inference_mode():
        feats = E1.features(io["x"])
        for k in (32, 16, 8, 4):
            assert close(feats[k], io[f"E1_feat_{k}"]), k  # the 4 px map ReLU-ed like the official in-place ReLU
        adapted = A1(feats)
        for k in (32, 16, 8, 4):
            assert close(adapted[k], io[f"A1_out_{k}"]), k
        out = translate(G, E1, A1, io["x"], G.shared(io["y"]), io["z"], deepi2i.E1_FEA_W)
        assert close(out, io["output"])
        assert close(translate(G, E1, A1, io["x"], G.shared(io["y"]), io["z2"]), io["output_z2"])
        half = class_embedding(G, io["y"][:1], io["y"][1:], 0.5)
        one = {k: v[:1] for k, v in adapted.items()}
        assert close(G(io["z"][:1], half, one), io["output_interp_half"])
        assert close(normalize_minmax(out), io["output_saved_like_official"])


def test_the_official_preprocessing_and_min_max_through_vary_image(official, io):
    """VaryImage on the non-square source: the centre square resized as the official pipeline (within its 8-bit
    truncation), and the minmax normalisation of what G gives for that input."""
    from engine.tasks.multi_domain import square_input

    engine = Engine(Catalog(), torch.device("cpu"))
    entry = engine.import_model(str(experiment(official)), None, CTX)
    src = io["src_u8_0"].numpy()
    square = square_input(src, entry.capabilities)
    assert np.abs(np.rint(square * 255) - io["x_u8"][0].numpy().transpose(1, 2, 0)).max() <= 1
    got = engine.vary_image(VaryImage(entry.id, src, (Variation(3, seed=5),), normalize="minmax"), CTX)
    _, nets = engine.loaded(entry.id)
    x = torch.from_numpy(square).permute(2, 0, 1)[None] * 2 - 1
    with torch.inference_mode():
        y = translate(nets["G"], nets["E1"], nets["A1"], x, nets["G"].shared(torch.tensor([3])), noise(5)[None])
    assert np.abs(got[0] - normalize_minmax(y)[0].permute(1, 2, 0).numpy()).max() < TOL


def test_manifest_configs_build_with_exactly_the_official_keys(official):
    manifest = json.loads((official / "deepi2i" / "manifest_full.json").read_text())
    with torch.device("meta"):
        nets = {"G": Generator(96), "D": Discriminator(96), "E1": Discriminator(96), "A1": Adaptor(96)}
    for name, net in nets.items():
        spec = manifest["networks"][name]
        ours = [(k, list(v.shape)) for k, v in net.state_dict().items()]
        assert ours == [(k["key"], k["shape"]) for k in spec["keys"]], name
        assert deepi2i.count_params(net) == spec["param_count"], name


def test_our_file_round_trips_with_class_names(official, tmp_path, io):
    ckpt = read_checkpoint(experiment(official))
    hp = deepi2i.resolve_hparams(ckpt.state_dict, {"classes": "a,b,c"})
    path = tmp_path / "mine.safetensors"
    write_checkpoint(path, ckpt.state_dict, {"method": "deepi2i", "hparams": hp, "name": "mine"},
                     parts={"E1": ckpt.parts["E1"], "A1": ckpt.parts["A1"]})
    engine = Engine(Catalog(), torch.device("cpu"))
    entry = engine.import_model(str(path), None, CTX)
    assert entry.hparams == hp and entry.capabilities.domains == ("a", "b", "c")
    assert entry.classes == ((0, "a"), (1, "b"), (2, "c"))
    _, nets = engine.loaded(entry.id)
    with torch.inference_mode():
        out = translate(nets["G"], nets["E1"], nets["A1"], io["x"], nets["G"].shared(io["y"]), io["z"])
    assert close(out, io["output"])


def test_hierarchical_noise_and_chunk_seeds():
    base, other = noise(1), noise(2)
    assert torch.equal(noise(1, chunk_seeds=(2,) * 6), other)
    changed = noise(1, chunk_seeds=(None, 2))
    assert torch.equal(changed[20:40], other[20:40]) and torch.equal(changed[:20], base[:20])
    assert torch.equal(changed[40:], base[40:])
    assert torch.allclose(noise(1, seed_b=2, seed_mix=0.25), 0.75 * base + 0.25 * other)
    with pytest.raises(ValueError, match="6 chunks"):
        noise(1, chunk_seeds=(0,) * 7)


def test_spectral_norm_trains_like_biggan_and_evaluates_from_the_stored_u():
    torch.manual_seed(0)
    layer = deepi2i.SNLinear(5, 4)
    u = layer.u0.clone()
    layer.eval()
    with torch.no_grad():
        first = layer.sn_weight()
    assert torch.equal(layer.u0, u)  # eval never moves u
    sigma = torch.linalg.matrix_norm(layer.weight.detach(), ord=2)
    layer.train()
    for _ in range(30):
        layer(torch.zeros(1, 5))
    assert not torch.equal(layer.u0, u)
    assert abs(float(layer.sv0) - float(sigma)) < 1e-3  # the power iteration converged to the largest singular value
    layer.eval()
    with torch.no_grad():
        assert not torch.equal(layer.sn_weight(), first)  # the kept weight follows the updated u


def test_injection_weight_scales_the_structure(official, io):
    engine = Engine(Catalog(), torch.device("cpu"))
    entry = engine.import_model(str(experiment(official)), None, CTX)
    photo = io["src_u8_1"].numpy()
    full, zero, again = engine.vary_image(VaryImage(entry.id, photo, (
        Variation(3), Variation(3, weight=0.0), Variation(3))), CTX)
    assert np.array_equal(full, again) and not np.allclose(full, zero)
    _, nets = engine.loaded(entry.id)
    with torch.inference_mode():  # weight 0: G alone, the photo has no say
        alone = nets["G"](noise(0)[None], nets["G"].shared(torch.tensor([3])))
    assert np.abs(zero - ((alone[0].permute(1, 2, 0).numpy() + 1) / 2).clip(0, 1)).max() < TOL


def test_models_export_writes_the_official_translation_as_onnx(official, io, tmp_path, capsys):
    import onnxruntime as ort

    from engine.cli import run

    assert run(["models", "import", str(experiment(official))]) == 0
    model_id = capsys.readouterr().out.split("\t")[0]
    assert run(["models", "export", model_id, "--onnx", str(tmp_path / "deepi2i.onnx")]) == 0
    session = ort.InferenceSession(str(tmp_path / "deepi2i.onnx"), providers=["CPUExecutionProvider"])
    for i in range(2):
        (out,) = session.run(None, {"photo": io["x"][i:i + 1].numpy(), "classes": io["y"].numpy(),
                                    "z": io["z"].numpy()})
        assert np.abs(out[i] - io["output"][i].numpy()).max() < TOL
