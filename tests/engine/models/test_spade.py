"""SPADE: official-fixture equivalence, full-config key layout, round trip, encoder/VAE path, input checks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.layers.spectral import SpectralNormConv2d
from engine.models import spade

REPO = Path(__file__).resolve().parents[3]
FIXTURES = Path(os.environ.get("I2I_FIXTURES", REPO.parent / "shared" / "fixtures" / "official"))
SPADE_DIR = FIXTURES / "spade"
SMALL = sorted(p.name for p in (SPADE_DIR / "small").glob("*") if p.is_dir())
MANIFEST = SPADE_DIR / "manifest_full.json"
FULL = sorted(json.loads(MANIFEST.read_text())["configs"]) if MANIFEST.is_file() else []
NO_FIXTURES = pytest.mark.skip(reason=f"official SPADE fixtures not found under {SPADE_DIR} (set I2I_FIXTURES)")


def _params(names: list[str]) -> list:
    return names or [pytest.param("missing", marks=NO_FIXTURES)]


@pytest.mark.parametrize("name", _params(SMALL))
def test_small_fixture_matches_official(name: str) -> None:
    folder = SPADE_DIR / "small" / name
    config = json.loads((folder / "small_config.json").read_text())["config"]
    state_dict = torch.load(folder / "latest_net_G.pth", map_location="cpu", weights_only=True)
    io = np.load(folder / "io_seed0.npz")

    assert spade.detect(state_dict)
    hp = spade.resolve_hparams(state_dict, config)
    assert hp["assumed"] == []
    assert hp["output_hw"] == list(io["output"].shape[-2:])
    generator = spade.load(state_dict, hp)

    with torch.no_grad():
        out = generator(torch.from_numpy(io["input_semantics"]), latent_hw=tuple(hp["latent_hw"]))
    assert (out - torch.from_numpy(io["output"])).abs().max().item() < 1e-4

    instances = io["instance_map"] if "instance_map" in io.files else None
    seg = spade.encode_labels(io["label_map"], label_nc=hp["label_nc"], instances=instances,
                              contain_dontcare_label=hp["contain_dontcare_label"], no_instance=hp["no_instance"])
    assert torch.equal(seg, torch.from_numpy(io["input_semantics"]))

    image = spade.render(generator, hp, io["label_map"], instances=instances)
    expected = np.clip((io["output"][0].transpose(1, 2, 0) + 1) / 2, 0, 1)
    assert image.dtype == np.float32 and image.shape == expected.shape
    assert np.abs(image - expected).max() < 1e-4


@pytest.mark.parametrize("name", _params(FULL))
def test_full_config_layout_matches_manifest(name: str) -> None:
    entry = json.loads(MANIFEST.read_text())["configs"][name]
    shapes = {e["key"]: torch.empty(e["shape"], device="meta") for e in entry["state_dict"]}
    hp = spade.resolve_hparams(shapes, entry["config"])
    assert hp["assumed"] == [] and hp["matched_release"] == name
    assert hp["latent_hw"] == entry["latent_grid_hw"] and hp["output_hw"] == entry["output_hw"]
    with torch.device("meta"):
        generator = spade.build(hp)
    got = [{"key": k, "shape": list(v.shape), "dtype": str(v.dtype).removeprefix("torch.")}
           for k, v in generator.state_dict().items()]
    assert got == entry["state_dict"]
    assert sum(p.numel() for p in generator.parameters()) == entry["total_params"]
    # the released conventions come from the table when only the weights are known
    assert spade.resolve_hparams(shapes, {}) == hp


def _small_generator(**kw) -> spade.SPADEGenerator:
    torch.manual_seed(0)
    generator = spade.SPADEGenerator(ngf=2, semantic_nc=6, **kw)
    for name, p in generator.named_parameters():  # default init leaves biases tiny; make every weight matter
        if name.endswith("bias"):
            torch.nn.init.normal_(p, std=0.1)
    return generator.eval()


def test_round_trip_random_generator() -> None:
    original = _small_generator(num_upsampling_layers="more")
    options = {"label_nc": 4, "contain_dontcare_label": True, "no_instance": False,
               "num_upsampling_layers": "more", "crop_size": 128, "aspect_ratio": 2.0}
    state_dict = original.state_dict()
    assert spade.detect(state_dict)
    hp = spade.resolve_hparams(state_dict, options)
    assert hp["latent_hw"] == [1, 2] and hp["output_hw"] == [64, 128] and hp["assumed"] == []
    assert json.loads(json.dumps(hp)) == hp
    loaded = spade.load(state_dict, hp)
    assert spade.resolve_hparams(loaded.state_dict(), options) == hp
    assert spade.resolve_hparams(state_dict, hp) == hp  # hparams are valid options themselves

    labels = np.random.default_rng(0).integers(0, 5, (64, 128)).astype(np.uint8)
    seg = spade.encode_labels(labels, label_nc=4, contain_dontcare_label=True, no_instance=False)
    with torch.no_grad():
        a = original(seg, latent_hw=(2, 4))
        b = loaded(seg, latent_hw=(2, 4))
    assert a.shape == (1, 3, 128, 256) and torch.equal(a, b)
    assert spade.render(loaded, hp, labels, size=(128, 64)).shape == (128, 64, 3)


def test_most_and_defaults() -> None:
    state_dict = _small_generator(num_upsampling_layers="most").state_dict()
    hp = spade.resolve_hparams(state_dict, {})
    assert hp["num_upsampling_layers"] == "most" and hp["latent_hw"] == [2, 2] and hp["output_hw"] == [256, 256]
    assert hp["label_nc"] == 6 and not hp["contain_dontcare_label"] and hp["no_instance"]
    assert set(hp["assumed"]) == {"label_nc", "contain_dontcare_label", "no_instance", "crop_size", "aspect_ratio"}
    assert spade.size_rule(hp) == "H, W multiples of 128 (default 256x256)"
    with pytest.raises(ValueError, match="up_4"):
        spade.resolve_hparams(state_dict, {"num_upsampling_layers": "normal"})
    plain = _small_generator().state_dict()
    with pytest.raises(ValueError, match="no up_4"):
        spade.resolve_hparams(plain, {"num_upsampling_layers": "most"})
    with pytest.raises(ValueError, match="contradict"):
        spade.resolve_hparams(plain, {"label_nc": 5, "contain_dontcare_label": True, "no_instance": False})
    with pytest.raises(ValueError, match="ngf"):
        spade.resolve_hparams(plain, {"ngf": 64})
    # label_nc alone settles the flags when the channel count leaves no choice
    hp = spade.resolve_hparams(plain, {"label_nc": 4})
    assert hp["contain_dontcare_label"] and not hp["no_instance"] and "label_nc" not in hp["assumed"]


def test_detect_rejects_other_state_dicts() -> None:
    assert not spade.detect({})
    assert not spade.detect({"fc.weight": torch.zeros(1), "conv_img.weight": torch.zeros(1)})
    paths = [FIXTURES / p for p in ("cyclegan/small/latest_net_G.pth", "cut/small/latest_net_G.pth",
                                    "sae/small/latest_checkpoint.pth")]
    if not all(p.is_file() for p in paths):
        pytest.skip(f"CycleGAN/CUT/SAE fixtures not found under {FIXTURES}")
    for path in paths:
        assert not spade.detect(torch.load(path, map_location="cpu", weights_only=True)), path


def test_vae_encoder_render_is_seeded() -> None:
    generator = _small_generator(z_dim=8, latent_hw=(2, 4))
    hp = spade.resolve_hparams(generator.state_dict(), {"aspect_ratio": 2.0})
    assert hp["use_vae"] and hp["z_dim"] == 8 and hp["latent_hw"] == [2, 4] and hp["output_hw"] == [64, 128]
    assert spade.size_rule(hp) == "fixed 64x128 (the VAE latent fixes the size)"
    torch.manual_seed(1)
    encoder = spade.ConvEncoder(ngf=2, z_dim=8, crop_size=256).eval()
    assert [k for k in encoder.state_dict() if k.startswith("layer6")] == [
        "layer6.0.weight_orig", "layer6.0.weight_u", "layer6.0.weight_v"]
    assert "layer6.0.weight_orig" not in spade.ConvEncoder(ngf=2, crop_size=128).state_dict()

    labels = np.random.default_rng(1).integers(0, 6, (64, 128)).astype(np.int64)
    style = np.random.default_rng(2).random((40, 56, 3), dtype=np.float32)

    def render(**kw) -> np.ndarray:
        return spade.render(generator, hp, labels, encoder=encoder, **kw)

    assert np.array_equal(render(style=style, seed=3), render(style=style, seed=3))
    assert not np.array_equal(render(style=style, seed=3), render(style=style, seed=4))
    assert np.array_equal(render(style=style), render(style=style))  # the mean, no noise
    assert not np.array_equal(render(style=style), render(style=style, seed=3))
    assert np.array_equal(render(), render(seed=0))
    assert not np.array_equal(render(seed=1), render(seed=2))
    image = render(seed=5)
    assert image.shape == (64, 128, 3) and image.dtype == np.float32 and 0 <= image.min() <= image.max() <= 1
    with pytest.raises(ValueError, match="fixes the size"):
        spade.latent_for_size(hp, (128, 128))
    with pytest.raises(ValueError, match="encoder"):
        spade.render(generator, hp, labels, style=style)


def test_size_and_label_errors() -> None:
    generator = _small_generator()
    hp = spade.resolve_hparams(generator.state_dict(), {"label_nc": 6})
    assert spade.latent_for_size(hp, None) == (8, 8)
    assert spade.latent_for_size(hp, (64, 96)) == (2, 3)
    for bad in [(100, 160), (16, 32), (0, 64)]:
        with pytest.raises(ValueError, match="multiples of 32"):
            spade.latent_for_size(hp, bad)
    labels = np.zeros((32, 32), dtype=np.uint8)
    with pytest.raises(ValueError, match="no style input"):
        spade.render(generator, hp, labels, style=np.zeros((32, 32, 3), np.float32))

    with pytest.raises(ValueError, match=r"\[7, 9\].*0\.\.6"):
        spade.encode_labels(np.array([[0, 7], [9, 1]]), label_nc=7, contain_dontcare_label=False, no_instance=True)
    with pytest.raises(ValueError, match="255"):
        spade.encode_labels(np.array([[0, 255]], np.uint8), label_nc=7, contain_dontcare_label=False,
                            no_instance=True)
    with pytest.raises(ValueError, match=r"\[-1\]"):
        spade.encode_labels(np.array([[0, -1]]), label_nc=7, contain_dontcare_label=True, no_instance=True)


def test_encode_labels_resize_dontcare_and_edges() -> None:
    labels = np.array([[0, 1, 255], [2, 2, 1], [0, 0, 0]], dtype=np.uint8)
    seg = spade.encode_labels(labels, label_nc=3, contain_dontcare_label=True, no_instance=False, size=(6, 6))
    ids = seg[0, :4].argmax(0).numpy()
    assert np.array_equal(ids, np.array([[0, 1, 3], [2, 2, 1], [0, 0, 0]]).repeat(2, 0).repeat(2, 1))
    assert seg.shape == (1, 5, 6, 6) and torch.equal(seg[0, :4].sum(0), torch.ones(6, 6))
    # no instances given: class boundaries are the edges; both pixels of a differing pair are marked
    edges = seg[0, 4].numpy().astype(int)
    assert edges[0].tolist() == [0, 1, 1, 1, 1, 0] and edges[5].tolist() == [0, 0, 0, 0, 0, 0]
    # Pillow NEAREST samples pixel centres: 3 -> 2 keeps rows/cols 0 and 2
    small = spade.encode_labels(np.arange(9).reshape(3, 3), label_nc=9, contain_dontcare_label=False,
                                no_instance=True, size=(2, 2))
    assert small[0].argmax(0).tolist() == [[0, 2], [6, 8]]


def test_encode_labels_scatter_equals_the_one_hot_it_replaced() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 151, (40, 56)).astype(np.uint8)
    labels[rng.random(labels.shape) < 0.05] = 255
    instances = rng.integers(0, 4, labels.shape).astype(np.uint16)
    for no_instance in (True, False):
        seg = spade.encode_labels(labels, label_nc=150, contain_dontcare_label=True, no_instance=no_instance,
                                  instances=instances)
        ids = torch.from_numpy(np.where(labels == 255, 150, labels).astype(np.int64))
        channels = [torch.nn.functional.one_hot(ids, 151).permute(2, 0, 1).float()]
        if not no_instance:
            channels.append(torch.from_numpy(spade._edges(instances)).float()[None])
        assert torch.equal(seg, torch.cat(channels)[None])


def test_spectral_conv_keeps_its_eval_weight_until_the_weights_change() -> None:
    conv = SpectralNormConv2d(3, 4, 3).eval()
    with torch.no_grad():
        first = conv.weight
        assert conv.weight is first  # computed once while nothing changes
        conv.weight_orig.mul_(2)
        assert torch.allclose(conv.weight, first)  # sigma scales with the weight: the same normalised weight
        conv.load_state_dict({**conv.state_dict(), "weight_u": -conv.weight_u})
        assert torch.allclose(conv.weight, -first)
    assert conv.weight is not first and conv.weight.requires_grad  # with autograd: computed on every call


def test_spectral_conv_matches_torch_spectral_norm() -> None:
    torch.manual_seed(0)
    reference = torch.nn.utils.spectral_norm(torch.nn.Conv2d(3, 5, 3, padding=1))
    ours = SpectralNormConv2d(3, 5, 3, padding=1)
    assert list(ours.state_dict()) == list(reference.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(2, 3, 8, 8)
    for _ in range(3):  # train mode: one power iteration per call, u and v updated in place
        assert torch.allclose(ours(x), reference(x), atol=1e-6)
    assert torch.allclose(ours.weight_u, reference.weight_u) and torch.allclose(ours.weight_v, reference.weight_v)
    ours.eval()
    reference.eval()
    u = ours.weight_u.clone()
    assert torch.allclose(ours(x), reference(x), atol=1e-6) and torch.equal(ours.weight_u, u)
    ours.train()
    ours(x).square().mean().backward()  # the training graph stays valid after the in-place buffer update
    assert ours.weight_orig.grad is not None
