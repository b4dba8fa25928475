"""CycleGAN and CUT generators: official fixtures, full-size layouts, file variants, pairing, our format, detection."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import registry, tiling
from engine.api import JobRef, Mode, TranslateImage
from engine.catalog import Catalog
from engine.checkpoints import read_checkpoint, write_checkpoint
from engine.handlers import Engine
from engine.layers.resnet import shared_statistics
from engine.models import cut, cyclegan
from engine.worker import JobContext
from tests.conftest import FIXTURES
from tests.translation_fixtures import TINY, photo, tiny_generator, write_tiny_cut, write_tiny_cyclegan

TOL = 1e-4  # the README's tolerance for float32 CPU results (measured: 5e-6 for both)
CTX = JobContext(JobRef(0, "test", 0), lambda event: None)
CPU = torch.device("cpu")
MODULES = {"cyclegan": cyclegan, "cut": cut}
ARCHS = {"cyclegan": cyclegan.ARCHITECTURE, "cut": cut.ARCHITECTURE}


def manifest(method: str) -> dict:
    path = FIXTURES / method / "manifest_full.json"
    if not path.is_file():
        pytest.skip(f"no {path}")
    return json.loads(path.read_text())


@pytest.fixture
def engine() -> Engine:
    return Engine(Catalog(), CPU, mode=Mode.EXACT)


def run(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return net(x)


# --- the official fixtures ------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["cyclegan", "cut"])
def test_small_fixture_matches_official(official, tmp_path, engine, method):
    small = official / method / "small"
    config = json.loads((small / "small_config.json").read_text())
    io = np.load(small / "io_seed0.npz")
    ckpt = read_checkpoint(small / "latest_net_G.pth")
    arch = registry.detect(ckpt.state_dict)
    assert arch is ARCHS[method]
    hp = arch.resolve_hparams(ckpt.state_dict, ckpt.options)
    assert hp == MODULES[method].config_hparams(ngf=config["config"]["ngf"], n_blocks=9)
    assert hp["directions"] == ["AtoB"] and hp["size_multiple"] == 4
    nets = arch.load(ckpt, hp)
    assert list(nets) == ["AtoB"] and not nets["AtoB"].training
    assert sum(p.numel() for p in nets["AtoB"].parameters()) == config["total_params"]
    out = run(nets["AtoB"], torch.from_numpy(io["input"]))
    assert (out - torch.from_numpy(io["output"])).abs().max().item() < TOL

    # the whole engine path: 8-bit photo in, [0, 1] out, the official tensor2im within one level
    folder = tmp_path / f"{method}_small_pretrained"
    folder.mkdir()
    shutil.copy(small / "latest_net_G.pth", folder / "latest_net_G.pth")
    entry = engine.import_model(str(folder / "latest_net_G.pth"), None, CTX)
    assert (entry.id, entry.task) == (f"{method}-{method}_small", "ImageToImage")
    image = engine.translate_image(TranslateImage(entry.id, io["input_uint8_hwc"]), CTX)
    expected = (io["output"][0].transpose(1, 2, 0) + 1) / 2
    assert image.shape == expected.shape and np.abs(image - expected).max() < TOL
    tensor2im = np.clip(image * 255, 0, 255).astype(np.uint8).astype(int)
    assert np.abs(tensor2im - io["output_uint8_hwc_tensor2im"]).max() <= 1


def test_cut_features_are_the_layer_outputs(official):
    ckpt = read_checkpoint(official / "cut" / "small" / "latest_net_G.pth")
    net = cut.load(ckpt.state_dict, cut.resolve_hparams(ckpt.state_dict, {}))["AtoB"]
    x = torch.from_numpy(np.load(official / "cut" / "small" / "io_seed0.npz")["input"])
    with torch.inference_mode():
        feats = net.features(x, cut.NCE_LAYERS)
        expected, y = {}, x
        for i, layer in enumerate(net.model):
            y = layer(y)
            expected[i] = y
    assert [tuple(f.shape) for f in feats] == [(1, 3, 102, 166), (1, 32, 96, 160), (1, 64, 48, 80),
                                                (1, 64, 24, 40), (1, 64, 24, 40)]
    for f, i in zip(feats, cut.NCE_LAYERS, strict=True):
        assert torch.equal(f, expected[i])
    assert [f.shape[1] for f in net.features(x, [8, 0])] == [64, 3]  # in the order asked
    with pytest.raises(ValueError, match="0..31"):
        net.features(x, [32])


# --- full-size official layouts -------------------------------------------------------------------


def _layout(net: torch.nn.Module) -> list[tuple[str, list[int]]]:
    return [(k, list(v.shape)) for k, v in net.state_dict().items()]


@pytest.mark.parametrize("method", ["cyclegan", "cut"])
def test_full_configs_match_the_manifest(method):
    module = MODULES[method]
    configs = manifest(method)["configs"]
    for name, entry in configs.items():
        config = entry["config"]
        assert config["netG"] == "resnet_9blocks" and config["no_dropout"]
        with torch.device("meta"):
            net = module.build(module.config_hparams(ngf=config["ngf"], n_blocks=9))
        params = sum(p.numel() for p in net.parameters())
        if "state_dict" not in entry:  # the cycle_gan model's G_A and G_B: the test model's layout
            assert entry["state_dict_identical_to_test_model_G"] and params == entry["total_params_per_generator"]
            continue
        assert _layout(net) == [(e["key"], e["shape"]) for e in entry["state_dict"]], name
        assert len(net.state_dict()) == entry["num_keys"] and params == entry["total_params"]
        assert sum(b.numel() for b in net.buffers()) == entry["total_buffer_elems"]
        shapes = {e["key"]: torch.empty(e["shape"], device="meta") for e in entry["state_dict"]}
        assert registry.detect(shapes) is ARCHS[method]
        hp = module.resolve_hparams(shapes, config)
        expected = module.config_hparams(ngf=64, n_blocks=9)
        if method == "cut":
            expected["mode"] = config["CUT_mode"]  # the official option name is understood
        assert hp == expected
        assert hp["receptive_radius"] == {"cyclegan": 84, "cut": 93}[method]


def test_cut_buffers_are_the_documented_filters():
    net = cut.CutGenerator(ngf=2, n_blocks=1)
    down, up = net.model[7].filt, net.model[13].filt
    assert down.shape == (4, 1, 3, 3) and up.shape == (8, 1, 4, 4)
    assert torch.allclose(down[0, 0], torch.outer(torch.tensor([1., 2, 1]), torch.tensor([1., 2, 1])) / 16)
    assert torch.allclose(up[0, 0], torch.outer(torch.tensor([1., 3, 3, 1]), torch.tensor([1., 3, 3, 1])) / 16)
    x = torch.randn(1, 8, 5, 7)
    assert net.model[13](x).shape == (1, 8, 10, 14) and net.model[11](torch.randn(1, 8, 10, 14)).shape == (1, 8, 5, 7)


# --- file variants --------------------------------------------------------------------------------


def test_legacy_instance_norm_statistics_are_dropped(official, tmp_path):
    """Released CycleGAN files (PyTorch <= 0.4) carry running stats for every InstanceNorm: 69 extra keys."""
    legacy = manifest("cyclegan")["legacy_keys_in_released_pretrained_files"]["possible_extra_keys"]
    small = official / "cyclegan" / "small"
    sd = torch.load(small / "latest_net_G.pth", weights_only=True)
    extra = {e["key"]: torch.ones([s // 4 for s in e["shape"]]) if e["shape"] else torch.tensor(7)
             for e in legacy}  # the small file has ngf 16 instead of 64
    assert len(extra) == 69
    path = tmp_path / "horse2zebra_pretrained" / "latest_net_G.pth"
    path.parent.mkdir()
    torch.save({**sd, **extra}, path)
    x = torch.from_numpy(np.load(small / "io_seed0.npz")["input"])
    expected = run(cyclegan.load(sd, cyclegan.resolve_hparams(sd, {}))["AtoB"], x)
    ckpt = read_checkpoint(path)
    assert set(ckpt.state_dict) == set(sd)
    for state_dict in (ckpt.state_dict, {**sd, **extra}):  # read_checkpoint drops them; so does load itself
        hp = cyclegan.resolve_hparams(state_dict, {})
        assert torch.equal(run(cyclegan.load(state_dict, hp)["AtoB"], x), expected)


def test_module_prefix_of_cpu_training_runs_is_stripped(official, tmp_path):
    small = official / "cut" / "small"
    sd = torch.load(small / "latest_net_G.pth", weights_only=True)
    path = tmp_path / "latest_net_G.pth"
    torch.save({f"module.{k}": v for k, v in sd.items()}, path)
    ckpt = read_checkpoint(path)
    assert registry.detect(ckpt.state_dict) is cut.ARCHITECTURE
    net = cut.ARCHITECTURE.load(ckpt, cut.resolve_hparams(ckpt.state_dict, {}))["AtoB"]
    io = np.load(small / "io_seed0.npz")
    assert (run(net, torch.from_numpy(io["input"])) - torch.from_numpy(io["output"])).abs().max() < TOL


def test_dropout_layout_loads_as_the_same_network():
    """`--model test` without --no_dropout puts the second conv of each block at conv_block.6."""
    net = tiny_generator("cyclegan")
    moved = {k.replace(".conv_block.5.", ".conv_block.6."): v for k, v in net.state_dict().items()}
    hp = cyclegan.resolve_hparams(moved, {})
    x = torch.rand(1, 3, 32, 36) * 2 - 1
    assert torch.equal(run(cyclegan.load(moved, hp)["AtoB"], x), run(net, x))


def test_wrong_layouts_and_contradicting_options_are_refused():
    sd = tiny_generator("cyclegan").state_dict()
    with pytest.raises(ValueError, match="lacks keys: model.15.weight"):
        cyclegan.resolve_hparams({k: v for k, v in sd.items() if not k.startswith("model.15.")}, {})
    with pytest.raises(ValueError, match="wrongly shaped keys: model.7.weight"):
        cyclegan.resolve_hparams({**sd, "model.7.weight": torch.zeros(16, 8, 5, 5)}, {})
    with pytest.raises(ValueError, match="options say ngf 64, but the weights have 4"):
        cyclegan.resolve_hparams(sd, {"ngf": 64})
    with pytest.raises(ValueError, match="directions must be"):
        cyclegan.resolve_hparams(sd, {"directions": "sideways"})
    cut_sd = tiny_generator("cut").state_dict()
    with pytest.raises(ValueError, match="one generator"):
        cut.resolve_hparams(cut_sd, {"directions": ["AtoB", "BtoA"]})
    with pytest.raises(ValueError, match="mode must be one of CUT, FastCUT, SinCUT"):
        cut.resolve_hparams(cut_sd, {"mode": "SlowCUT"})
    four = {**sd, "model.1.weight": torch.zeros(4, 4, 7, 7)}
    with pytest.raises(ValueError, match="4 input channels; photos need 1"):
        cyclegan.resolve_hparams(four, {})


# --- CycleGAN pairs and our own files -------------------------------------------------------------


def _save_pair(folder: Path, epoch: str = "latest", sides: str = "AB") -> dict[str, torch.nn.Module]:
    folder.mkdir(parents=True, exist_ok=True)
    nets = {side: tiny_generator("cyclegan", seed=ord(side)) for side in sides}
    for side, net in nets.items():
        torch.save(net.state_dict(), folder / f"{epoch}_net_G_{side}.pth")
    return nets


@pytest.mark.parametrize("imported", ["A", "B"])
def test_either_file_of_a_training_run_brings_both_generators(tmp_path, engine, imported):
    nets = _save_pair(tmp_path / "horse2zebra_cyclegan", epoch="200")
    (tmp_path / "horse2zebra_cyclegan" / "200_net_D_A.pth").write_bytes(b"not read")
    entry = engine.import_model(str(tmp_path / "horse2zebra_cyclegan" / f"200_net_G_{imported}.pth"), None, CTX)
    assert entry.id == "cyclegan-horse2zebra_cyclegan" and entry.hparams["directions"] == ["AtoB", "BtoA"]
    assert "AtoB (horse -> zebra) and BtoA (zebra -> horse)" in entry.notes
    _, loaded = engine.loaded(entry.id)
    x = torch.rand(1, 3, 40, 44) * 2 - 1
    assert torch.equal(run(loaded["AtoB"], x), run(nets["A"], x))
    assert torch.equal(run(loaded["BtoA"], x), run(nets["B"], x))
    image = photo(1, (40, 44))
    a_to_b = engine.translate_image(TranslateImage(entry.id, image, "AtoB"), CTX)
    assert np.array_equal(engine.translate_image(TranslateImage(entry.id, image), CTX), a_to_b)  # the default
    assert np.abs(engine.translate_image(TranslateImage(entry.id, image, "BtoA"), CTX) - a_to_b).mean() > 0.01


def test_a_lone_generator_file_is_one_direction(tmp_path, engine):
    b = _save_pair(tmp_path / "zebra_only", sides="B")["B"]
    entry = engine.import_model(str(tmp_path / "zebra_only" / "latest_net_G_B.pth"), None, CTX)
    assert entry.hparams["directions"] == ["BtoA"] and entry.capabilities.directions == ("BtoA",)
    image = photo(2, (36, 40))
    x = torch.from_numpy(image).permute(2, 0, 1)[None] * 2 - 1
    expected = ((run(b, x)[0] + 1) / 2).clamp(0, 1).permute(1, 2, 0).numpy()
    assert np.abs(engine.translate_image(TranslateImage(entry.id, image), CTX) - expected).max() < 1e-6
    with pytest.raises(ValueError, match="direction 'AtoB' is not available: .* translates BtoA only"):
        engine.translate_image(TranslateImage(entry.id, image, "AtoB"), CTX)

    _save_pair(tmp_path / "horse_only", sides="A")
    entry = engine.import_model(str(tmp_path / "horse_only" / "latest_net_G_A.pth"), None, CTX)
    assert entry.hparams["directions"] == ["AtoB"]


def test_released_folder_names_the_model(official, tmp_path, engine):
    folder = tmp_path / "horse2zebra_pretrained"
    folder.mkdir()
    shutil.copy(official / "cyclegan" / "small" / "latest_net_G.pth", folder / "latest_net_G.pth")
    entry = engine.import_model(str(folder / "latest_net_G.pth"), None, CTX)
    assert (entry.id, entry.name, entry.method) == ("cyclegan-horse2zebra", "horse2zebra", "cyclegan")
    assert entry.notes == "translates AtoB (horse -> zebra)"
    assert "multiples of 4" in entry.size_rule and "BSD" in entry.license


def test_our_cyclegan_file_round_trips_with_its_g_b_part(tmp_path):
    path = write_tiny_cyclegan(tmp_path / "pair.safetensors", seed=3)
    ckpt = read_checkpoint(path)
    assert set(ckpt.parts) == {"G_B"}
    arch = registry.detect(ckpt.state_dict)
    assert arch is cyclegan.ARCHITECTURE
    hp = arch.resolve_hparams(ckpt.state_dict, ckpt.options)
    assert hp == cyclegan.config_hparams(**TINY, directions=["AtoB", "BtoA"]) == ckpt.metadata["hparams"]
    nets = arch.load(ckpt, hp)
    x = torch.rand(1, 3, 24, 28) * 2 - 1
    assert torch.equal(run(nets["AtoB"], x), run(tiny_generator("cyclegan", seed=3), x))
    assert torch.equal(run(nets["BtoA"], x), run(tiny_generator("cyclegan", seed=4), x))

    write_checkpoint(tmp_path / "broken.safetensors", ckpt.state_dict, ckpt.metadata)  # G_B left out
    broken = read_checkpoint(tmp_path / "broken.safetensors")
    with pytest.raises(ValueError, match="G_B"):
        arch.load(broken, arch.resolve_hparams(broken.state_dict, broken.options))


@pytest.mark.parametrize("mode", ["CUT", "FastCUT", "SinCUT"])
def test_our_cut_file_round_trips_with_its_mode(tmp_path, engine, mode):
    path = write_tiny_cut(tmp_path / f"{mode}.safetensors", seed=5, mode=mode)
    entry = engine.import_model(str(path), None, CTX)
    assert entry.method == "cut" and entry.hparams["mode"] == mode and entry.hparams["directions"] == ["AtoB"]
    _, nets = engine.loaded(entry.id)
    x = torch.rand(1, 3, 28, 24) * 2 - 1
    assert torch.equal(run(nets["AtoB"], x), run(tiny_generator("cut", seed=5), x))


# --- the receptive radius that tiling relies on ---------------------------------------------------


@pytest.mark.parametrize("method", ["cyclegan", "cut"])
@pytest.mark.parametrize("n_blocks", [1, 2])
def test_receptive_radius_is_exact(method, n_blocks):
    """A change of one input pixel reaches exactly `receptive_radius` px in the output (norm statistics held
    fixed, as in tiles), for pixels at every phase of the 4-px grid."""
    module = MODULES[method]
    hp = module.config_hparams(ngf=2, n_blocks=n_blocks)
    torch.manual_seed(0)
    net = module.build(hp).double()
    x = torch.rand(1, 3, 128, 128, dtype=torch.float64) * 2 - 1
    reach = 0
    with torch.inference_mode(), shared_statistics(net, x):
        base = net(x)
        for c in range(60, 64):
            y = x.clone()
            y[0, :, c, c] += 1
            changed = ((net(y) - base).abs().amax(dim=(0, 1)) > 0).nonzero()
            reach = max(reach, c - changed.min().item(), changed.max().item() - c)
    caps = module.capabilities(hp)
    assert reach == hp["receptive_radius"] == module.receptive_radius(n_blocks) == caps.receptive_margin
    assert tiling.margin(caps) >= reach
