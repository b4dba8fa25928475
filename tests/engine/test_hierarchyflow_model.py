"""HierarchyFlow: official fixture, manifest layouts, weight types, the coupling algebra, fidelity, tiles, inputs."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch

from engine import inference, registry, stylize
from engine.api import (
    FIDELITY_PRESETS,
    MAX_TRANSLATE_PIXELS,
    JobRef,
    Mode,
    Progress,
    RemoveModel,
    StylizeImage,
)
from engine.catalog import Catalog
from engine.checkpoints import read_checkpoint
from engine.handlers import Engine
from engine.layers.resnet import InstanceNorm
from engine.models import hierarchyflow as hf
from engine.worker import JobCancelled, JobContext
from tests.conftest import FIXTURES
from tests.hierarchyflow_fixtures import official_run, ssim, tiny_flow, write_tiny_flow
from tests.translation_fixtures import photo

TOL = 1e-4  # the README's tolerance for CPU float32 (measured: 6e-7 on the outputs)
CPU = torch.device("cpu")
STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)


def ctx(on_progress=lambda event: None) -> JobContext:
    return JobContext(JobRef(0, "test", 0), on_progress)


@pytest.fixture
def engine() -> Engine:
    return Engine(Catalog(), CPU, mode=Mode.EXACT)


@pytest.fixture
def fixture(official):
    small = official / "hierarchyflow" / "small"
    ckpt = read_checkpoint(small / "0.ckpt.pth.tar")
    model = hf.load(ckpt.state_dict, hf.resolve_hparams(ckpt.state_dict, {}))["flow"]
    io = {k: torch.from_numpy(v) for k, v in np.load(small / "io_seed0.npz").items()}
    return model, io


def hwc(x: torch.Tensor) -> np.ndarray:
    return x[0].permute(1, 2, 0).numpy()


def chw(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1)[None]


# --- the official fixture and layouts ---------------------------------------------------------------


def test_fixture_matches_official(official, fixture):
    model, io = fixture
    meta = json.loads((official / "hierarchyflow" / "small" / "meta.json").read_text())["config"]
    assert [len(b.affine_net[6].weight) for b in model.blocks] == meta["out_channels"]
    assert torch.equal(torch.stack([b.fixed_weight.detach() for b in model.blocks]), io["alphas"])
    with torch.inference_mode():
        code = model.style_code(io["style"])
        assert (code - io["style_code"]).abs().max() < TOL
        for i, (mu, sigma) in enumerate(model.adain_targets(code)):
            assert (mu.flatten(1) - io[f"adain_mean_block{i}"]).abs().max() < TOL
            assert (sigma.flatten(1) - io[f"adain_std_block{i}"]).abs().max() < TOL
        assert (model.content_pass(io["content"]).latent - io["forward_latent"]).abs().max() < TOL
        for key, style in (("output_raw", "style"), ("output_style_b_raw", "style_b"),
                           ("output_self_style_raw", "content")):
            assert (model(io["content"], io[style]) - io[key]).abs().max() < TOL, key
        out = model(io["content"], io["style"]).clamp(0, 1)
    saved = (hwc(out) * 255 + 0.5).clip(0, 255).astype(np.uint8)  # torchvision save_image
    assert np.abs(saved.astype(int) - io["output_png_u8"].numpy()).max() <= 1


def _manifest() -> dict:
    path = FIXTURES / "hierarchyflow" / "manifest_full.json"
    if not path.is_file():
        pytest.skip(f"no {path}")
    return json.loads(path.read_text())


def _official_layout(keys: list[dict]) -> list[tuple[str, list[int]]]:
    return [(e["key"].removeprefix("module."), e["shape"]) for e in keys]


@pytest.mark.parametrize("variant", ["HF", "HF+", "HF++", "HF_dagger"])
def test_manifest_variants_build_with_the_official_keys(variant):
    entry = _manifest()["variants"][variant]
    with torch.device("meta"):  # HF-dagger has 90.7 M parameters: shapes only
        net = hf.HierarchyFlow(out_channels=entry["out_channels"], pad_size=entry["pad_size"],
                               weight_type=entry["weight_type"])
    assert [(k, list(v.shape)) for k, v in net.state_dict().items()] == _official_layout(entry["keys"])
    assert sum(p.numel() for p in net.parameters()) == entry["param_count_total"]
    assert sum(p.numel() for p in net.style_net.parameters()) == entry["param_count_style_net"]
    shapes = {k: torch.empty(s, device="meta") for k, s in _official_layout(entry["keys"])}
    assert registry.detect(shapes) is hf.ARCHITECTURE
    hp = hf.resolve_hparams(shapes, {})
    assert hp == hf.config_hparams(out_channels=entry["out_channels"])
    assert hp["receptive_radius"] == 3 * entry["num_blocks"]


@pytest.mark.parametrize("weight_type", ["fixed", "softmax", "attention"])
def test_weight_type_variants_have_the_official_keys(weight_type):
    manifest = _manifest()
    variant, base = manifest["HF_weight_type_variants"][weight_type], manifest["variants"]["HF"]
    expected = {k: s for k, s in _official_layout(base["keys"]) if not k.endswith("fixed_weight")}
    expected.update({k.removeprefix("module."): s for k, s in variant["shapes"].items()})
    with torch.device("meta"):
        net = hf.HierarchyFlow(out_channels=base["out_channels"], weight_type=weight_type)
    assert {k: list(v.shape) for k, v in net.state_dict().items()} == expected
    assert sum(p.numel() for p in net.parameters()) == variant["param_count_total"]
    shapes = {k: torch.empty(s, device="meta") for k, s in expected.items()}
    hp = hf.resolve_hparams(shapes, {})
    assert hp["weight_type"] == weight_type and hp.get("assumed", []) == (
        ["weight_type"] if weight_type == "softmax" else [])  # softmax and sigmoid share their keys
    assert hf.resolve_hparams(shapes, {"weight_type": "sigmoid"} if weight_type == "softmax" else {}) == (
        hf.config_hparams(out_channels=base["out_channels"],
                          weight_type="sigmoid" if weight_type == "softmax" else weight_type))


def test_wrong_layouts_and_options_are_refused():
    sd = tiny_flow().state_dict()
    with pytest.raises(ValueError, match="lacks keys: blocks.1.style_mlp.model.2.fc.weight"):
        hf.resolve_hparams({k: v for k, v in sd.items() if not k.startswith("blocks.1.style_mlp.model.2.")}, {})
    with pytest.raises(ValueError, match="options say weight_type 'softmax', but the weights have learned"):
        hf.resolve_hparams(sd, {"weight_type": "softmax"})
    with pytest.raises(ValueError, match=r"options say out_channels \[30, 120\], but the weights have \[6, 12\]"):
        hf.resolve_hparams(sd, {"out_channels": [30, 120]})
    with pytest.raises(ValueError, match="pad_size must be a whole number"):
        hf.resolve_hparams(sd, {"pad_size": -1})
    assert hf.resolve_hparams(sd, {"pad_size": 4})["min_size"] == 5


@pytest.mark.parametrize("weight_type", hf.WEIGHT_TYPES)
def test_every_weight_type_runs_round_trips_and_trains(weight_type):
    net = tiny_flow(weight_type=weight_type, seed=3)
    content, style = torch.rand(2, 3, 23, 31), torch.rand(2, 3, 17, 12)
    with torch.inference_mode():
        out = net(content, style)
    assert out.shape == content.shape and torch.isfinite(out).all()
    sd = net.state_dict()
    options = {"weight_type": weight_type} if weight_type == "sigmoid" else {}
    again = hf.load(sd, hf.resolve_hparams(sd, options))["flow"]
    with torch.inference_mode():
        assert torch.equal(again(content, style), out)
    # the trainer's path: train mode, autograd through every parameter that the forward uses
    net.train()
    net(content, style).square().mean().backward()
    unused = [name for name, p in net.named_parameters() if p.grad is None]
    assert unused == []


# --- the coupling algebra ----------------------------------------------------------------------------


def closed_form(x: torch.Tensor, a: list[torch.Tensor], alpha: float) -> tuple[torch.Tensor, float, list[float]]:
    """reverse(forward(x)) of the CODE's formulas, as c x + sum_j d_j a_j. Forward: h_i = x - a_1 - ... - a_i.
    Reverse: t = h_n + a_n = h_{n-1}; t = alpha (t + h_i) + (1 - alpha) a_i for i = n-1 .. 1. Tracked as
    coefficients of (x, a_1 .. a_n)."""
    n = len(a)

    def h(i: int) -> np.ndarray:  # coefficients of h_i
        return np.r_[1.0, [-1.0 if j < i else 0.0 for j in range(n)]]

    t = h(n) + np.r_[0.0, [1.0 if j == n - 1 else 0.0 for j in range(n)]]
    for i in range(n - 1, 0, -1):
        t = alpha * (t + h(i)) + (1 - alpha) * np.r_[0.0, [1.0 if j == i - 1 else 0.0 for j in range(n)]]
    value = t[0] * x + sum(float(d) * a_j for d, a_j in zip(t[1:], a, strict=True))
    return value, float(t[0]), [float(d) for d in t[1:]]


def paper_reverse(y: list[torch.Tensor], a: list[torch.Tensor], alpha: float) -> torch.Tensor:
    """The paper's Algorithm 2: h_n = y_n + a_n; h_i = alpha (y_i + a_i) + (1 - alpha) h_{i+1}."""
    t = y[-1] + a[-1]
    for i in range(len(y) - 2, -1, -1):
        t = alpha * (y[i] + a[i]) + (1 - alpha) * t
    return t


@pytest.mark.parametrize("splits", [2, 3, 4])
def test_reverse_of_forward_is_the_codes_closed_form_and_never_the_identity(splits):
    torch.manual_seed(splits)
    block = hf.CouplingBlock(2, 2 * splits, "learned").eval()
    x = torch.randn(1, 2, 9, 11)
    with torch.inference_mode():
        y, a = block(x)
        chunks_y, chunks_a = list(y.chunk(splits, 1)), list(a.chunk(splits, 1))
        for alpha in (0.3, 0.5, 0.65, 1.0):
            block.fixed_weight.fill_(alpha)
            back = block.reverse(y, a)
            expected, c, d = closed_form(x, chunks_a, alpha)
            assert (back - expected).abs().max() < 1e-5
            # the code's reverse undoes the forward for no alpha: x's coefficient and the a's cannot both fit
            assert abs(c - 1) > 0.1 or max(abs(v) for v in d) > 0.1
            # the paper's formula is exact at alpha = 1 only; at 0.5 the two formulas coincide
            paper = paper_reverse(chunks_y, chunks_a, alpha)
            assert ((paper - x).abs().max() < 1e-5) == (alpha == 1.0)
            if alpha == 0.5:
                assert (paper - back).abs().max() < 1e-5
    if splits == 2:  # n = 2: reverse(forward(x)) = 2 alpha x + (1 - 3 alpha) a_1 (a_2 cancels)
        _, c, d = closed_form(x, chunks_a, 0.3)
        assert c == pytest.approx(0.6) and d == pytest.approx([1 - 0.9, 0.0])


def test_the_flow_does_not_reconstruct_the_content(fixture):
    model, io = fixture
    with torch.inference_mode():
        cp = model.content_pass(io["content"])
        error = (model.reverse(cp, None, adain=False) - io["content"]).abs().mean()
        self_styled = model.self_styled(cp, model.style_code(io["content"]))
    assert 0.3 < error < 0.6  # the README: mean |err| ~ 0.4 on the fixtures
    assert (self_styled - io["output_self_style_raw"]).abs().max() < TOL  # the fidelity's residual term


# --- fidelity ----------------------------------------------------------------------------------------


def test_fidelity_ends_are_the_photo_and_the_official_output(fixture):
    model, io = fixture
    with torch.inference_mode():
        cp = model.content_pass(io["content"])
        content_code, style_code = model.style_code(io["content"]), model.style_code(io["style"])
        assert torch.equal(model.stylize(cp, content_code, style_code, 0.0), io["content"])
        official = model.stylize(cp, content_code, style_code, 1.0)
        assert torch.equal(official, model(io["content"], io["style"]))
        assert (official - io["output_raw"]).abs().max() < TOL
        near = [model.stylize(cp, content_code, style_code, s) for s in (1e-6, 1 - 1e-6)]
    assert (near[0] - io["content"]).abs().max() < 1e-4 and (near[1] - official).abs().max() < 1e-4


def _fidelity_curve(model: hf.HierarchyFlow, content: torch.Tensor, style: torch.Tensor) -> list[np.ndarray]:
    with torch.inference_mode():
        cp = model.content_pass(content)
        codes = model.style_code(content), model.style_code(style)
        return [hwc(model.stylize(cp, *codes, s).clamp(0, 1)) for s in STRENGTHS]


@pytest.mark.parametrize("out_channels", [(30, 120), (12, 60, 120), (30, 120, 480)])  # HF, HF+, HF++
def test_ssim_to_the_photo_falls_as_the_strength_rises(out_channels):
    torch.manual_seed(len(out_channels))
    model = hf.build(hf.config_hparams(out_channels=out_channels))
    for seed in (5, 6):
        content, style = photo(seed, (48, 64)), photo(seed + 10, (40, 40))
        scores = [ssim(content, out) for out in _fidelity_curve(model, chw(content), chw(style))]
        assert scores[0] == pytest.approx(1.0)
        assert all(b < a for a, b in itertools.pairwise(scores)), scores


def test_ssim_falls_on_the_fixture_too(fixture):
    """The fixture's sigmas are mostly negative: interpolating AdaIN statistics (an earlier design) made SSIM dip
    and rise again here; interpolating the style code does not."""
    model, io = fixture
    content = hwc(io["content"])
    outputs = _fidelity_curve(model, io["content"], io["style"])
    scores = [ssim(content, out) for out in outputs]
    assert scores[0] == pytest.approx(1.0) and all(b < a for a, b in itertools.pairwise(scores)), scores
    distances = [np.abs(out - content).mean() for out in outputs]
    assert distances[0] == 0 and all(b > a for a, b in itertools.pairwise(distances)), distances


def test_presets_run_from_light_to_full_stylisation():
    assert list(FIDELITY_PRESETS) == ["strong", "normal", "weak"]
    values = list(FIDELITY_PRESETS.values())
    assert 0 < values[0] < values[1] < values[2] == 1.0


# --- tiles -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strength", [1.0, 0.5])
def test_tiles_equal_one_pass(fixture, strength, monkeypatch):
    """The whole photo's InstanceNorm and AdaIN statistics, measured round by round over the tiles."""
    model, io = fixture
    caps = hf.capabilities(hf.config_hparams(out_channels=[6, 12, 36]))
    image, style = photo(1, (150, 190)), hwc(io["style"])
    codes = stylize.code_of(model, image, CPU), stylize.code_of(model, style, CPU)
    with torch.inference_mode():
        untiled = hwc(model.stylize(model.content_pass(chw(image)), *codes, strength).clamp(0, 1))
    tile = stylize.tiling.min_tile(caps)
    assert len(stylize.plan(caps, model.pad_size, image.shape[:2], tile)) >= 4
    tiled = stylize.stylize_tiled(model, caps, image, *codes, strength, tile=tile, device=CPU)
    assert tiled.shape == image.shape and np.abs(tiled - untiled).max() < TOL
    assert all(m.mode == "image" and m.stats is None for m in model.modules() if isinstance(m, InstanceNorm))

    # the margin is what makes them equal: one below the receptive radius (9 px) breaks it
    monkeypatch.setattr(stylize.tiling, "margin", lambda caps: 2)
    short = stylize.stylize_tiled(model, caps, image, *codes, strength, tile=tile, device=CPU)
    assert np.abs(short - untiled).max() > 100 * TOL


def test_fast_flow_tiles_on_pytorch_and_one_pass_on_onnx(fixture):
    """Fast mode's flow: tiles share the photo's statistics, which the PyTorch model holds; a photo that fits
    runs the three graphs. Both within Fast's 3/255 of Exact."""
    model, io = fixture
    fast = hf.ARCHITECTURE.fast({"flow": model}, {}, CPU)["flow"]
    caps = hf.capabilities(hf.config_hparams(out_channels=[6, 12, 36]))
    image, style = photo(1, (150, 190)), hwc(io["style"])
    codes = stylize.code_of(fast, image, CPU), stylize.code_of(fast, style, CPU)  # by the Style-Net graph
    exact_codes = stylize.code_of(model, image, CPU), stylize.code_of(model, style, CPU)
    with torch.inference_mode():
        exact = hwc(model.stylize(model.content_pass(chw(image)), *exact_codes, 0.5).clamp(0, 1))
        untiled = hwc(model.stylize(model.content_pass(chw(image)), *codes, 0.5).clamp(0, 1))
        one_pass = hwc(fast.stylize(fast.content_pass(chw(image)), *codes, 0.5).clamp(0, 1))
    assert all(s.state is inference.State.READY for s in fast.graph_sessions().values())
    assert np.abs(one_pass - exact).max() <= 3 / 255
    tiled = stylize.stylize_tiled(fast, caps, image, *codes, 0.5, tile=stylize.tiling.min_tile(caps), device=CPU)
    assert np.abs(tiled - untiled).max() < TOL


# --- through the engine ------------------------------------------------------------------------------


def test_fixture_imports_from_its_run_folder_and_stylises(official, tmp_path, engine, fixture):
    _, io = fixture
    entry = engine.import_model(str(official_run(official, tmp_path)), None, ctx())
    assert (entry.id, entry.method, entry.task) == ("hierarchyflow-fixture_small", "hierarchyflow", "ContentStyle")
    assert entry.hparams == hf.config_hparams(out_channels=[6, 12, 36]) and "MIT" in entry.license
    u8 = io["output_png_u8"].numpy()
    content, style = hwc(io["content"]), hwc(io["style"])
    out = engine.stylize_image(StylizeImage(entry.id, content, style), ctx())
    assert out.dtype == np.float32 and np.abs(out - hwc(io["output"])).max() < TOL
    assert np.abs((out * 255 + 0.5).astype(np.uint8).astype(int) - u8).max() <= 1
    out_b = engine.stylize_image(StylizeImage(entry.id, content, hwc(io["style_b"])), ctx())
    assert np.abs(out_b - hwc(io["output_style_b"])).max() < TOL
    assert np.array_equal(engine.stylize_image(StylizeImage(entry.id, content, style, 0.0), ctx()), content)


@pytest.fixture
def flow_id(tmp_path, engine) -> str:
    return engine.import_model(str(write_tiny_flow(tmp_path / "flow.safetensors")), None).id


def test_slider_moves_reuse_the_content_pass(engine, flow_id, monkeypatch):
    calls = []
    original = hf.HierarchyFlow.content_pass

    def counted(self, content, **kw):
        calls.append(tuple(content.shape))
        return original(self, content, **kw)

    monkeypatch.setattr(hf.HierarchyFlow, "content_pass", counted)
    image, style = photo(1, (60, 80)), photo(2, (30, 30))
    first = {s: engine.stylize_image(StylizeImage(flow_id, image, style, s), ctx()) for s in STRENGTHS}
    assert len(calls) == 1
    assert np.array_equal(engine.stylize_image(StylizeImage(flow_id, image, photo(3, (20, 50)), 0.5), ctx()),
                          engine.stylize_image(StylizeImage(flow_id, image, photo(3, (20, 50)), 0.5), ctx()))
    assert len(calls) == 1  # another style: still the same content pass
    edited = image.copy()
    edited[30, 40] = 1 - edited[30, 40]  # one pixel: a different photo
    engine.stylize_image(StylizeImage(flow_id, edited, style, 0.5), ctx())
    assert len(calls) == 2
    assert 0 < engine.content_style.stylizer.cached_bytes() <= stylize.CACHE_BYTES
    # a fresh engine (no cache) gives the same images
    fresh = Engine(Catalog(), CPU, mode=Mode.EXACT)
    assert all(np.array_equal(fresh.stylize_image(StylizeImage(flow_id, image, style, s), ctx()), first[s])
               for s in (0.25, 1.0))
    small = Engine(Catalog(), CPU, mode=Mode.EXACT)
    small.content_style.stylizer.budget = 1000  # too small for any pass: nothing kept, still correct
    assert np.array_equal(small.stylize_image(StylizeImage(flow_id, image, style, 0.75), ctx()), first[0.75])
    assert small.content_style.stylizer.cached_bytes() == 0
    engine.remove_model(RemoveModel(flow_id), ctx())  # removing the model drops its passes
    assert engine.content_style.stylizer.cached_bytes() == 0


def test_previews_have_the_long_side_asked_for(engine, flow_id):
    image, style = photo(4, (300, 420)), photo(5, (64, 64))
    preview = engine.stylize_image(StylizeImage(flow_id, image, style, 0.5, max_side=105), ctx())
    assert preview.shape == (75, 105, 3)
    strip = engine.stylize_image(StylizeImage(flow_id, photo(4, (12, 400)), style, max_side=100), ctx())
    assert strip.shape == (11, 367, 3)  # never below the model's 11 px
    assert engine.stylize_image(StylizeImage(flow_id, photo(4, (40, 50)), style, max_side=500), ctx()).shape == (
        40, 50, 3)


def test_progress_per_tile_and_cancel_between_tiles(engine, flow_id):
    caps = engine.models.get(flow_id).capabilities
    image, style = photo(3, (200, 260)), photo(4, (40, 40))
    tile = stylize.tiling.min_tile(caps)
    n = len(stylize.plan(caps, hf.PAD_SIZE, image.shape[:2], tile))
    events: list[Progress] = []
    result = engine.stylize_image(StylizeImage(flow_id, image, style, 0.65, tile=tile), ctx(events.append))
    tiles = [e for e in events if e.message.startswith("tile ")]
    assert n >= 4 and [e.message for e in tiles] == [f"tile {i} of {n}" for i in range(1, n + 1)]
    assert any(e.message.startswith("statistics") for e in events)
    assert np.abs(result - engine.stylize_image(StylizeImage(flow_id, image, style, 0.65), ctx())).max() < TOL

    def cancel_after_two_tiles(event: Progress) -> None:
        if event.message == f"tile 2 of {n}":
            job.cancel()

    job = ctx(cancel_after_two_tiles)
    with pytest.raises(JobCancelled):
        engine.stylize_image(StylizeImage(flow_id, image, style, 0.65, tile=tile), job)
    _, nets = engine.loaded(flow_id)
    assert all(m.mode == "image" and m.stats is None for m in nets["flow"].modules() if isinstance(m, InstanceNorm))
    assert np.array_equal(engine.stylize_image(StylizeImage(flow_id, image, style, 0.65, tile=tile), ctx()), result)


def test_tile_size_from_the_photo_and_the_budget():
    hp = hf.config_hparams(out_channels=[30, 120])
    model, caps = tiny_flow(out_channels=[30, 120]), hf.capabilities(hp)
    per_pixel = stylize.bytes_per_pixel(model)
    assert stylize.default_tile(model, caps, (300, 400), int(per_pixel * 320 * 420)) == 420  # fits: one pass
    assert stylize.default_tile(model, caps, (300, 400), int(per_pixel * 200**2)) == 200
    assert stylize.default_tile(model, caps, (300, 400), 1) == stylize.tiling.min_tile(caps)


def test_style_and_content_of_any_kind(engine, flow_id):
    def run(content: np.ndarray, style: np.ndarray, **kw) -> np.ndarray:
        return engine.stylize_image(StylizeImage(flow_id, content, style, **kw), ctx())

    content, style = photo(5, (40, 56)), photo(6, (33, 21))
    expected = run(content, style)
    assert np.array_equal(run(content, np.concatenate([style, np.ones((33, 21, 1), np.float32)], axis=2)), expected)
    grey = style.mean(axis=2)
    assert np.array_equal(run(content, grey), run(content, np.repeat(grey[..., None], 3, axis=2)))
    assert np.abs(run(content, (style * 65535).round().astype(np.uint16)) - expected).max() < 1e-3
    assert np.abs(run((content * 255).round().astype(np.uint8), style) - expected).max() < 0.05
    assert run(content, photo(7, (8, 8))).shape == (40, 56, 3)  # the smallest style
    assert run(photo(8, (11, 11)), style).shape == (11, 11, 3)  # the smallest photo
    big_style = photo(9, (1500, 90))
    assert np.array_equal(run(content, big_style), run(content, stylize.shrink(big_style, stylize.STYLE_SIDE)))


def test_bad_inputs_are_refused_with_a_message(engine, flow_id):
    def refused(content: np.ndarray, style: np.ndarray, **kw) -> str:
        with pytest.raises(ValueError) as info:
            engine.stylize_image(StylizeImage(flow_id, content, style, **kw), ctx())
        return str(info.value)

    content, style = photo(1, (40, 50)), photo(2, (30, 30))
    assert refused(content, photo(3, (5, 5))) == "the style image is 5x5 px; it must be at least 8 px on each side"
    assert refused(photo(4, (10, 50)), style) == "the photo is 50x10 px; this model needs at least 11 px on each side"
    assert "the photo is 1x40 px" in refused(photo(4, (40, 2))[:, :1], style)
    huge = np.broadcast_to(np.zeros((1, 1, 3), np.float32), (20_000, 20_000, 3))  # no memory behind it
    assert refused(huge, style) == ("the photo is 20000x20000 px (400 megapixels); translation takes at most "
                                    f"{MAX_TRANSLATE_PIXELS // 1_000_000} megapixels: scale it down first")
    assert "the style image is 20000x20000 px" in refused(content, huge)
    assert "strength must be between 0" in refused(content, style, strength=1.5)
    assert "max_side and tile must be 0" in refused(content, style, max_side=-1)
    assert "NaN" in refused(content, np.full((9, 9, 3), np.nan, np.float32))
    assert "tile 50 px is too small" in refused(photo(1, (200, 200)), style, tile=50)
    with pytest.raises(ValueError, match="is a LabelToImage model .* needs a ContentStyle model"):
        engine.stylize_image(StylizeImage("spade-landscape-default", content, style), ctx())
