"""Swapping Autoencoder: official-fixture equivalence, full-config layouts, round trip, sizes, regions, noise."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import registry
from engine.checkpoints import read_checkpoint, write_checkpoint
from engine.codes import normalize
from engine.models import sae

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("I2I_FIXTURES", REPO.parent / "shared" / "fixtures" / "official"))
SAE_DIR = FIXTURES / "sae"
SMALL = SAE_DIR / "small"
MANIFEST = SAE_DIR / "manifest_full.json"
FULL = sorted(json.loads(MANIFEST.read_text())["configs"]) if MANIFEST.is_file() else []
needs_fixture = pytest.mark.skipif(not (SMALL / "latest_checkpoint.pth").is_file(),
                                   reason=f"official SAE fixtures not found under {SAE_DIR} (set I2I_FIXTURES)")
OPTION_NAMES = ("spatial_code_ch", "global_code_ch", "netE_scale_capacity", "netE_num_downsampling_sp",
                "netE_num_downsampling_gl", "netE_nc_steepness", "netG_scale_capacity",
                "netG_num_base_resnet_layers", "use_antialias", "netG_use_noise")
TOL = 1e-4


def _tiny_hparams(**options) -> dict:
    return sae.config_hparams(global_code_ch=16, netE_scale_capacity=0.125, netG_scale_capacity=0.03125, **options)


def _jittered(hparams: dict, seed: int = 0) -> tuple[torch.nn.Module, torch.nn.Module]:
    """A random model whose constant-initialised tensors (biases, noise strengths) are made non-trivial."""
    torch.manual_seed(seed)
    encoder, generator = sae.build(hparams)
    with torch.no_grad():
        for net in (encoder, generator):
            for p in net.parameters():
                if torch.all(p == p.flatten()[0]):
                    p.add_(0.3 * torch.randn_like(p))
    return encoder.eval(), generator.eval()


def _state_dict(encoder: torch.nn.Module, generator: torch.nn.Module) -> dict[str, torch.Tensor]:
    sd = {f"E.{k}": v for k, v in encoder.state_dict().items()}
    return sd | {f"G.{k}": v for k, v in generator.state_dict().items()}


def _random_codes(hparams: dict, cells: tuple[int, int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    structure = rng.standard_normal((hparams["spatial_code_ch"], *cells)).astype(np.float32)
    texture = rng.standard_normal(hparams["global_code_ch"]).astype(np.float32)
    return normalize(structure), normalize(texture)


# --- the official fixture -------------------------------------------------------------------------


@needs_fixture
def test_small_fixture_matches_official() -> None:
    config = json.loads((SMALL / "small_config.json").read_text())
    io = np.load(SMALL / "io_seed0.npz")
    ckpt = read_checkpoint(SMALL / "latest_checkpoint.pth")
    arch = registry.detect(ckpt.state_dict)
    assert arch is sae.ARCHITECTURE
    hp = arch.resolve_hparams(ckpt.state_dict, ckpt.options)
    assert hp == sae.config_hparams(**{k: config["config"][k] for k in OPTION_NAMES})
    assert (hp["size_multiple"], hp["min_size"]) == (16, 112)
    nets = arch.load(ckpt, hp)
    encoder, generator = nets["netE"], nets["netG"]
    assert not encoder.training and not generator.training

    with torch.no_grad():
        sp1, gl1 = encoder(torch.from_numpy(io["input_structure"]))
        sp2, gl2 = encoder(torch.from_numpy(io["input_texture"]))
    for got, name in ((sp1, "structure_code_structure_img"), (gl1, "texture_code_structure_img"),
                      (sp2, "structure_code_texture_img"), (gl2, "texture_code_texture_img")):
        assert (got - torch.from_numpy(io[name])).abs().max().item() < TOL, name

    noise = [torch.from_numpy(io[f"noise__{name}"]) for name in config["noise_modules_in_order"]]
    assert [tuple(n.shape) for n in noise] == generator.noise_shapes((7, 11))
    outputs = {}
    for alpha, name in ((0.0, "reconstruction_alpha0"), (0.5, "mix_alpha0_5"), (1.0, "swap_alpha1")):
        with torch.no_grad():
            outputs[name] = generator(sp1, gl1 * (1 - alpha) + gl2 * alpha, noise)
        assert (outputs[name] - torch.from_numpy(io[name])).abs().max().item() < TOL, name

    png = ((outputs["swap_alpha1"][0].clamp(-1, 1) + 1) / 2 * 255).to(torch.uint8).permute(1, 2, 0).numpy()
    assert np.abs(png.astype(int) - io["swap_alpha1_png_uint8_hwc"].astype(int)).max() <= 1


@needs_fixture
def test_uint8_encode_and_decode_api_match_the_fixture() -> None:
    io = np.load(SMALL / "io_seed0.npz")
    ckpt = read_checkpoint(SMALL / "latest_checkpoint.pth")
    hp = sae.resolve_hparams(ckpt.state_dict, {})
    nets = sae.load(torch.load(SMALL / "latest_checkpoint.pth", weights_only=True), hp)  # with num_discriminator_iters
    structure, texture = sae.encode(nets["netE"], io["input_structure_uint8_hwc"])
    assert structure.dtype == np.float32 and structure.shape == (8, 7, 11) and texture.shape == (128,)
    assert np.abs(structure - io["structure_code_structure_img"][0]).max() < TOL
    assert np.abs(texture - io["texture_code_structure_img"][0]).max() < TOL

    image, top, left = sae.decode(nets["netG"], hp, structure, texture, (112, 176), noise_seed=3)
    noise = sae.make_noise(hp, (7, 11), 3, torch.device("cpu"))
    with torch.no_grad():
        direct = nets["netG"](torch.from_numpy(structure)[None], torch.from_numpy(texture)[None], noise)
    expected = ((direct[0] + 1) / 2).clamp(0, 1).permute(1, 2, 0).numpy()
    assert (top, left) == (0, 0) and image.shape == (112, 176, 3)
    assert np.abs(image - expected).max() < TOL


# --- full-size official layouts -------------------------------------------------------------------


@pytest.mark.parametrize("name", FULL or [pytest.param("missing", marks=pytest.mark.skip(reason="no manifest"))])
def test_full_config_layout_matches_manifest(name: str) -> None:
    entry = json.loads(MANIFEST.read_text())["configs"][name]
    hp = sae.config_hparams(**{k: entry["config"][k] for k in OPTION_NAMES})
    with torch.device("meta"):
        encoder, generator = sae.build(hp)
    ours = [(k, list(v.shape)) for k, v in _state_dict(encoder, generator).items()]
    official = [(e["key"], e["shape"]) for e in entry["state_dict"] if e["key"].startswith(("E.", "G."))]
    assert ours == official
    assert sum(p.numel() for p in encoder.parameters()) == entry["params"]["E"]
    assert sum(p.numel() for p in generator.parameters()) == entry["params"]["G"]
    shapes = {e["key"]: torch.empty(e["shape"], device="meta") for e in entry["state_dict"]}
    assert registry.detect(shapes) is sae.ARCHITECTURE
    assert sae.resolve_hparams(shapes, entry["config"]) == hp


# --- our own files, options, variants -------------------------------------------------------------


@pytest.mark.parametrize("options", [{}, {"use_antialias": False}, {"netG_use_noise": False},
                                     {"netE_num_downsampling_sp": 3, "netE_num_downsampling_gl": 1}])
def test_random_init_round_trip(tmp_path: Path, options: dict) -> None:
    hp = _tiny_hparams(**options)
    encoder, generator = _jittered(hp)
    path = tmp_path / "model.safetensors"
    write_checkpoint(path, _state_dict(encoder, generator), {"method": "sae", "hparams": hp})
    ckpt = read_checkpoint(path)
    arch = registry.detect(ckpt.state_dict)
    assert arch is sae.ARCHITECTURE
    assert arch.resolve_hparams(ckpt.state_dict, ckpt.options) == hp
    nets = arch.load(ckpt, hp)

    image = np.random.default_rng(1).random((hp["min_size"] + 5, hp["min_size"] + 21, 3), dtype=np.float32)
    codes = sae.encode(encoder, image)
    loaded = sae.encode(nets["netE"], image)
    assert all(np.array_equal(a, b) for a, b in zip(codes, loaded))
    size = image.shape[:2]
    assert np.array_equal(sae.decode(generator, hp, *codes, size)[0], sae.decode(nets["netG"], hp, *codes, size)[0])


def test_options_that_contradict_the_weights_are_refused() -> None:
    encoder, generator = _jittered(_tiny_hparams())
    sd = _state_dict(encoder, generator)
    with pytest.raises(ValueError, match="global_code_ch"):
        sae.resolve_hparams(sd, {"global_code_ch": 2048})
    with pytest.raises(ValueError, match="num_downsampling_sp"):
        sae.resolve_hparams(sd, {"netE_num_downsampling_sp": 5})
    assert sae.resolve_hparams(sd, {"netE_num_downsampling_sp": 4, "netE_scale_capacity": 0.125})["num_downsampling_sp"] == 4


def test_load_ignores_discriminators_and_rejects_foreign_keys() -> None:
    hp = _tiny_hparams()
    sd = _state_dict(*_jittered(hp))
    extra = {"num_discriminator_iters": torch.zeros(1, dtype=torch.long), "D.convs.0.weight": torch.zeros(1),
             "Dpatch.x": torch.zeros(1)}
    assert set(sae.load(sd | extra, hp)) == {"netE", "netG"}
    with pytest.raises(ValueError, match="unexpected key"):
        sae.load(sd | {"F.weight": torch.zeros(1)}, hp)
    with pytest.raises(ValueError, match="generator weights lack"):
        sae.load({k: v for k, v in sd.items() if k != "G.ToRGB.bias"}, hp)


def test_generator_only_weights_load_without_an_encoder() -> None:
    sd = {k: v for k, v in _state_dict(*_jittered(_tiny_hparams())).items() if k.startswith("G.")}
    hp = sae.resolve_hparams(sd, {})
    assert not hp["has_encoder"] and hp["encoder_channels"] == [] and hp["size_multiple"] == 16
    assert set(sae.load(sd, hp)) == {"netG"}


# --- sizes ----------------------------------------------------------------------------------------


def test_non_multiple_sizes_are_padded_and_cropped_back() -> None:
    hp = _tiny_hparams()
    encoder, generator = _jittered(hp)
    image = np.random.default_rng(2).random((130, 200, 3), dtype=np.float32)
    structure, texture = sae.encode(encoder, image)
    assert structure.shape == (8, 9, 13)
    out, top, left = sae.decode(generator, hp, structure, texture, (130, 200))
    assert out.shape == (130, 200, 3) and (top, left) == (0, 0) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1
    with pytest.raises(ValueError, match="code has"):
        sae.decode(generator, hp, structure, texture, (160, 200))


def test_too_small_photo_names_the_minimum() -> None:
    hp = _tiny_hparams()
    encoder, _ = _jittered(hp)
    with pytest.raises(ValueError, match="at least 112 px"):
        sae.encode(encoder, np.zeros((100, 300, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="HxWx3"):
        sae.encode(encoder, np.zeros((200, 300), dtype=np.float32))
    assert "112" in sae.size_rule(hp)


def test_full_hd_decode_keeps_the_size() -> None:
    hp = _tiny_hparams()
    _, generator = _jittered(hp)
    structure, texture = _random_codes(hp, (68, 120))
    out, _, _ = sae.decode(generator, hp, structure, texture, (1080, 1920))
    assert out.shape == (1080, 1920, 3)


# --- regions, previews, noise ---------------------------------------------------------------------

REGIONS = [(0, 0, 3, 3), (0, 19, 2, 22), (18, 0, 20, 2), (17, 19, 20, 22),  # corners
           (0, 9, 1, 12), (9, 0, 12, 1), (19, 8, 20, 10), (8, 21, 10, 22),  # edges (bottom/right in padding)
           (9, 9, 11, 12), (5, 6, 6, 7), (0, 0, 20, 22)]  # middle, one cell, everything


@pytest.fixture(scope="module")
def region_setup() -> tuple:
    hp = _tiny_hparams()
    _, generator = _jittered(hp, seed=4)
    structure, texture = _random_codes(hp, (20, 22), seed=4)
    size = (20 * 16 - 5, 22 * 16 - 9)
    full, _, _ = sae.decode(generator, hp, structure, texture, size, noise_seed=7)
    return hp, generator, structure, texture, size, full


@pytest.mark.parametrize("region", REGIONS)
def test_region_decode_equals_full_decode(region_setup: tuple, region: tuple) -> None:
    hp, generator, structure, texture, size, full = region_setup
    patch, top, left = sae.decode(generator, hp, structure, texture, size, region=region, noise_seed=7)
    bottom, right = min(region[2] * 16, size[0]), min(region[3] * 16, size[1])
    assert (top, left) == (region[0] * 16, region[1] * 16)
    assert patch.shape == (bottom - top, right - left, 3)
    assert np.abs(patch - full[top:bottom, left:right]).max() <= TOL


def test_a_smaller_margin_would_show(region_setup: tuple) -> None:
    """The equality above is a real check: two cells less margin changes the middle patch."""
    hp, generator, structure, texture, size, full = region_setup
    smaller = {**hp, "receptive_margin": hp["receptive_margin"] - 2}
    patch, top, left = sae.decode(generator, smaller, structure, texture, size, region=(9, 9, 11, 12), noise_seed=7)
    assert np.abs(patch - full[top:top + patch.shape[0], left:left + patch.shape[1]]).max() > 1e-3


def test_bad_regions_and_scales_are_refused(region_setup: tuple) -> None:
    hp, generator, structure, texture, size, _ = region_setup
    for region in ((3, 3, 3, 5), (0, 0, 21, 5), (-1, 0, 2, 2)):
        with pytest.raises(ValueError, match="region"):
            sae.decode(generator, hp, structure, texture, size, region=region)
    with pytest.raises(ValueError, match="scale"):
        sae.decode(generator, hp, structure, texture, size, scale=1.5)


def _generated_cells(generator: torch.nn.Module, call) -> list[tuple[int, int]]:
    """The structure-code sizes the generator ran on during `call()`."""
    seen: list[tuple[int, int]] = []
    handle = generator.register_forward_hook(lambda m, args, out: seen.append(tuple(args[0].shape[-2:])))
    try:
        call()
    finally:
        handle.remove()
    return seen


def test_preview_is_generated_small_and_returned_full_size(region_setup: tuple) -> None:
    hp, generator, structure, texture, size, full = region_setup
    result = []
    cells = _generated_cells(generator, lambda: result.append(
        sae.decode(generator, hp, structure, texture, size, scale=0.5, region=(0, 0, 1, 1))))
    preview, top, left = result[0]
    assert cells == [(10, 11)]
    assert preview.shape == full.shape and (top, left) == (0, 0)
    assert 0 <= preview.min() and preview.max() <= 1
    # never below the code of the smallest photo (7 cells), never above the code itself
    cells = _generated_cells(generator, lambda: sae.decode(generator, hp, structure[:, :8, :20], texture,
                                                           (128, 320), scale=0.25))
    assert cells == [(7, 7)]


def test_noise_is_deterministic_per_seed_and_cached() -> None:
    hp = _tiny_hparams()
    _, generator = _jittered(hp)
    maps = sae.make_noise(hp, (7, 9), 5, torch.device("cpu"))
    assert [tuple(m.shape) for m in maps] == generator.noise_shapes((7, 9))
    assert len(maps) == 12 and maps[-1].shape == (1, 1, 112, 144)
    again = sae.make_noise(hp, (7, 9), 5, torch.device("cpu"))
    assert all(a is b for a, b in zip(maps, again))  # from the cache
    sae._NOISE_CACHE.clear()
    redrawn = sae.make_noise(hp, (7, 9), 5, torch.device("cpu"))
    assert all(torch.equal(a, b) for a, b in zip(maps, redrawn))
    other = sae.make_noise(hp, (7, 9), 6, torch.device("cpu"))
    assert not torch.equal(maps[0], other[0])
    assert sae.make_noise(_tiny_hparams(netG_use_noise=False), (7, 9), 5, torch.device("cpu")) == []
