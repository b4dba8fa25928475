"""The HierarchyFlow trainer: the aligned-style and content losses on their own, the vgg_normalised loader, one
step whose model the engine loads, the official export, exact resume, a short run that lowers the style loss, bad
input, recipes, DDP.

Everything is tiny (out_channels 6,12(,36), 32 px crops, a random VGG: no weights can be downloaded here).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from engine import registry
from engine.api import Task
from engine.catalog import Catalog
from engine.checkpoints import read_checkpoint
from engine.models import hierarchyflow as arch
from tests.trainers.unpaired_domains import write_domain
from trainers import __main__ as cli
from trainers import checkpointing
from trainers import hierarchyflow as hf
from trainers.configs import HierarchyFlowConfig
from trainers.events import EVENTS_FILE, read_events
from trainers.losses import VGG19Features
from trainers.style_losses import (
    TorchvisionVgg,
    VggNormalised,
    aligned_style_loss,
    content_loss,
    load_style_encoder,
    mean_std,
)

REPO = Path(__file__).resolve().parents[2]
TINY = {"out_channels": "6,12,36", "crop_height": 32, "crop_width": 32, "vgg_weights": "random", "log_every": 1,
        "sample_every": 1000, "checkpoint_every": 1000, "device": "cpu"}
# vgg_normalised.pth's convolutions: index -> (out, in, kernel); the whole file, to relu5_4
VGG_NORMALISED_CONVS = {0: (3, 3, 1), 2: (64, 3, 3), 5: (64, 64, 3), 9: (128, 64, 3), 12: (128, 128, 3),
                        16: (256, 128, 3), 19: (256, 256, 3), 22: (256, 256, 3), 25: (256, 256, 3),
                        29: (512, 256, 3), 32: (512, 512, 3), 35: (512, 512, 3), 38: (512, 512, 3),
                        42: (512, 512, 3), 45: (512, 512, 3), 48: (512, 512, 3), 51: (512, 512, 3)}


def tiny(content: Path, style: Path, out: Path, **over) -> HierarchyFlowConfig:
    return replace(HierarchyFlowConfig(content=str(content), style=str(style), out=str(out), total_steps=2, **TINY),
                   **over)


def run(cfg: HierarchyFlowConfig, *, resume: bool = False, stop_after: int | None = None) -> list[dict]:
    """train() in this process; returns the events it emitted."""
    events: list[dict] = []
    steps = iter(range(1, 10**6))
    hf.train(cfg, emit=lambda type_, **f: events.append({"type": type_, **f}), resume=resume,
             should_stop=lambda: stop_after is not None and next(steps) >= stop_after)
    return events


def write_styles(folder: Path, count: int, *, size: tuple[int, int] = (36, 44), seed: int = 3) -> Path:
    """Strongly coloured stripes of a random colour and its complement."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        colour = rng.uniform(0, 1, 3)
        image = np.broadcast_to(colour, (*size, 3)).copy()
        image[::4] = 1 - colour
        Image.fromarray((image * 255).round().astype(np.uint8)).save(folder / f"{i:03d}.png")
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("hf-data")
    return write_domain(root / "content", 5, seed=0, kind="textured", size=(40, 48)), write_styles(root / "style", 3)


@pytest.fixture(scope="module")
def smoke(data, tmp_path_factory) -> tuple[Path, list[dict], list]:
    """One step in a run named "hf run", the fixture's small network (out_channels 6,12,36)."""
    out = tmp_path_factory.mktemp("smoke") / "hf run"
    with pytest.MonkeyPatch.context() as mp:  # set up before the per-test private catalog: bring our own
        mp.setenv("I2I_STUDIO_DATA", str(tmp_path_factory.mktemp("smoke-data")))
        events = run(tiny(*data, out, total_steps=1, sample_every=1))
        return out, events, Catalog().entries()


@pytest.fixture
def one_thread():
    """The learning run's numbers depend on float summation order: one thread makes them the same everywhere."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- the losses --------------------------------------------------------------------------------------------


def plain_style_loss(outputs: list[torch.Tensor], styles: list[torch.Tensor]) -> torch.Tensor:
    total = torch.zeros(())
    for out, style in zip(outputs, styles, strict=True):
        (mo, so), (ms, ss) = mean_std(out), mean_std(style)
        total = total + F.mse_loss(mo, ms) + F.mse_loss(so, ss)
    return total


def test_aligned_style_loss_with_k_1_is_the_plain_style_loss():
    torch.manual_seed(0)
    outputs = [torch.randn(2, c, 6, 5) for c in (8, 16)]
    styles = [torch.randn(2, c, 6, 5) * 2 + 1 for c in (8, 16)]
    expected = plain_style_loss(outputs, styles)
    torch.testing.assert_close(aligned_style_loss(outputs, styles, 1.0), expected)
    torch.testing.assert_close(aligned_style_loss(outputs, styles, -1.0), expected)  # negative k: plain MSE
    assert aligned_style_loss(outputs, styles, 0.8) < expected


def test_aligned_style_loss_keeps_the_smaller_half_by_hand():
    """One sample, 4 channels of 2x2: channel c = mean m_c + a_c x (1, -1, 1, -1); the style is all zeros."""
    m, a = [3.0, 1.0, 2.0, 0.5], [1.0, 2.0, 0.0, 0.0]
    pattern = torch.tensor([[1.0, -1.0], [1.0, -1.0]])
    out = torch.stack([mc + ac * pattern for mc, ac in zip(m, a, strict=True)])[None]
    style = torch.zeros_like(out)
    # squared mean differences 9, 1, 4, 0.25: k = 0.5 keeps channels 1 and 3. Unbiased variance of +-a: 4/3 a^2
    d_std = [(math.sqrt(4 / 3 * ac**2 + 1e-5) - math.sqrt(1e-5)) ** 2 for ac in a]
    expected = (1.0 + 0.25) / 4 + (d_std[1] + d_std[3]) / 4
    assert aligned_style_loss([out], [style], 0.5).item() == pytest.approx(expected, rel=1e-5)
    # the dropped channels do not count, whatever they hold
    far = out.clone()
    far[0, 0] += 100
    assert aligned_style_loss([far], [style], 0.5).item() == pytest.approx(expected, rel=1e-5)
    # floor(k C): k = 0.74 still keeps 2 of 4, k = 0.75 keeps 3 (channel 2: mean 4, std 0)
    assert aligned_style_loss([out], [style], 0.74).item() == pytest.approx(expected, rel=1e-5)
    assert aligned_style_loss([out], [style], 0.75).item() == pytest.approx(expected + 4 / 4, rel=1e-5)


def test_aligned_style_loss_masks_each_sample_by_its_own_channels():
    """The released code's std mask takes the batch's indices for every sample; ours is per sample, so a batch's
    loss is the mean of its samples' losses."""
    torch.manual_seed(1)
    out, style = torch.randn(2, 10, 4, 4), torch.randn(2, 10, 4, 4)
    out[1] = out[1].flip(0) * 3  # the second sample drops other channels
    per_sample = [aligned_style_loss([out[i:i + 1]], [style[i:i + 1]], 0.6) for i in range(2)]
    torch.testing.assert_close(aligned_style_loss([out], [style], 0.6), (per_sample[0] + per_sample[1]) / 2)


def test_content_loss_compares_channel_normalised_features():
    content = torch.arange(4.0).view(1, 1, 2, 2)  # mean 1.5, unbiased variance 5/3
    # the reversed map normalises to minus the content's: MSE = 4 x mean((x - 1.5)^2) / (5/3 + 1e-5)
    expected = 4 * (5 / 4) / (5 / 3 + 1e-5)
    assert content_loss(content.flip(3).flip(2), content).item() == pytest.approx(expected, rel=1e-6)
    torch.manual_seed(0)
    feats = torch.rand(2, 8, 5, 6)
    scale, shift = torch.rand(1, 8, 1, 1) + 0.5, torch.randn(1, 8, 1, 1)
    assert content_loss(feats * scale + shift, feats).item() < 1e-4  # per-channel contrast and brightness are free
    assert content_loss(torch.rand(2, 8, 5, 6), feats).item() > 1.0


# --- the VGG encoders --------------------------------------------------------------------------------------


def official_vgg_state(seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for index, (cout, cin, kernel) in VGG_NORMALISED_CONVS.items():
        scale = (2 / (cin * kernel**2)) ** 0.5  # He-normal: features keep their size through the layers
        state[f"{index}.weight"] = torch.randn(cout, cin, kernel, kernel, generator=gen) * scale
        state[f"{index}.bias"] = torch.randn(cout, generator=gen) * 0.1
    return state


def reference_features(state: dict[str, torch.Tensor], x: torch.Tensor) -> list[torch.Tensor]:
    """vgg_normalised to relu4_1 with plain functions: the 1x1 conv, then reflect-pad 1 + 3x3 conv + ReLU, max-pool
    2x2 (ceil) after conv 5, 12 and 25; relu1_1 .. relu4_1 follow convs 2, 9, 16 and 29."""
    x = F.conv2d(x, state["0.weight"], state["0.bias"])
    out = []
    for index in (2, 5, 9, 12, 16, 19, 22, 25, 29):
        x = F.relu(F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), state[f"{index}.weight"], state[f"{index}.bias"]))
        if index in (2, 9, 16, 29):
            out.append(x)
        if index in (5, 12, 25):
            x = F.max_pool2d(x, 2, 2, ceil_mode=True)
    return out


def test_vgg_normalised_loader_takes_the_official_layout_and_matches_a_hand_built_reference(tmp_path):
    state = official_vgg_state()
    torch.save(state, tmp_path / "vgg_normalised.pth")
    encoder, kind = load_style_encoder(tmp_path / "vgg_normalised.pth")
    assert isinstance(encoder, VggNormalised) and kind == "vgg_normalised (AdaIN)"
    assert len(encoder) == 31 and not any(p.requires_grad for p in encoder.parameters())
    x = torch.rand(1, 3, 19, 13)  # odd sizes: the pools round up
    got, want = encoder(x), reference_features(state, x)
    assert [f.shape[1:] for f in got] == [(64, 19, 13), (128, 10, 7), (256, 5, 4), (512, 3, 2)]
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w)
    encoder.train()
    assert not encoder.training  # stays frozen inside a module put in training mode


def test_torchvision_vgg19_file_is_taken_with_imagenet_normalisation(tmp_path):
    torch.manual_seed(0)
    vgg = VGG19Features()
    torch.save({**vgg.state_dict(), "classifier.0.weight": torch.zeros(2, 2)}, tmp_path / "vgg19.pth")
    encoder, kind = load_style_encoder(tmp_path / "vgg19.pth")
    assert isinstance(encoder, TorchvisionVgg) and kind == "torchvision VGG-19"
    x = torch.rand(1, 3, 16, 16)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    expected = vgg((x - mean) / std)[:4]
    for g, w in zip(encoder(x), expected, strict=True):
        torch.testing.assert_close(g, w)


def test_a_file_of_another_layout_is_one_clear_line(tmp_path):
    torch.save({"0.weight": torch.zeros(3, 3, 1, 1)}, tmp_path / "half.pth")
    with pytest.raises(ValueError, match=r"neither the AdaIN vgg_normalised.pth nor torchvision's .* e.g. 0.bias"):
        load_style_encoder(tmp_path / "half.pth")
    (tmp_path / "text.pth").write_text("not weights")
    with pytest.raises(ValueError, match="not a torch weights file"):
        load_style_encoder(tmp_path / "text.pth")


# --- recipes and data --------------------------------------------------------------------------------------


def test_recipes_and_variants_set_the_documented_values(data, tmp_path):
    official = hf.plan(tiny(*data, tmp_path, out_channels=""))
    assert (official.k, official.lr, official.layers, official.out_channels) == (0.8, 1e-4, (0, 1, 2, 3), (30, 120))
    paper = hf.plan(tiny(*data, tmp_path, recipe="paper", variant="HF++", out_channels=""))
    assert (paper.k, paper.lr, paper.layers, paper.out_channels) == (0.7, 1e-5, (0, 1, 2), (30, 120, 480))
    custom = hf.plan(tiny(*data, tmp_path, recipe="paper", k=-1.0, lr=3e-4, style_layers="relu4_1,relu1_1"))
    assert (custom.k, custom.lr, custom.layers, custom.out_channels) == (-1.0, 3e-4, (3, 0), (6, 12, 36))
    defaults = HierarchyFlowConfig()
    assert (defaults.crop_height, defaults.crop_width, defaults.scale_min, defaults.batch_size) == (256, 512, 0.8, 1)
    assert (defaults.lambda_style, defaults.beta1, defaults.beta2, defaults.pad_size) == (0.1, 0.9, 0.999, 10)
    assert (defaults.total_steps, defaults.checkpoint_every, defaults.weight_type) == (300_000, 500, "learned")
    assert hf.cosine(100)(0) == 1 and hf.cosine(100)(50) == pytest.approx(0.5) and hf.cosine(100)(100) == 0


def test_random_resized_crops_follow_torchvision_rules():
    rng = np.random.default_rng(0)
    boxes = {hf.random_resized_box((64, 48), rng, (0.8, 1.0)) for _ in range(50)}
    assert len(boxes) > 20
    for left, top, w, h in boxes:  # area 80-100 %, aspect 3/4 to 4/3, inside the image
        assert 0 <= left <= 64 - w and 0 <= top <= 48 - h
        assert 0.8 * 64 * 48 * 0.97 <= w * h <= 64 * 48 and 3 / 4 * 0.97 <= w / h <= 4 / 3 * 1.03
    # no such box fits a 2:1 image: the centre crop at the nearest aspect
    assert hf.random_resized_box((80, 40), rng, (0.8, 1.0)) == (13, 0, 53, 40)
    assert hf.random_resized_box((40, 300), rng, (0.8, 1.0)) == (0, 123, 40, 53)
    dataset = hf.ContentStyleCrops([Path("missing.png")], [Path("missing.png")], size=(8, 8), batch=1,
                                   scale=(0.8, 1.0))
    with pytest.raises(ValueError, match="no image of the folder can be read"):
        dataset[0]


# --- one step, the model in the engine, the export ---------------------------------------------------------


def test_one_step_smoke_writes_a_content_style_model_the_engine_loads(smoke):
    out, events, entries = smoke
    kinds = [e["type"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and {"step", "sample", "checkpoint"} <= set(kinds)
    assert events[0]["method"] == "hierarchyflow" and any("recipe official" in n for n in events[0]["notes"])
    assert any("RANDOM" in e.get("message", "") for e in events if e["type"] == "log")
    step = next(e for e in events if e["type"] == "step")
    assert set(step["losses"]) == {"loss", "loss_c", "loss_s"} and all(np.isfinite(v) for v in step["losses"].values())
    assert step["losses"]["loss"] == pytest.approx(step["losses"]["loss_c"] + 0.1 * step["losses"]["loss_s"])
    assert step["lr"]["flow"] == 0.0  # the cosine reaches 0 at total_steps (1)
    sample = next(e for e in events if e["type"] == "sample")
    assert sample["caption"] == "content | style | stylised"
    assert Image.open(out / sample["path"]).size == (3 * 32 + 4, 4 * 32 + 6)

    ckpt = read_checkpoint(out / "checkpoints" / "step_0000001.safetensors")
    hparams = ckpt.metadata["hparams"]
    assert ckpt.metadata["method"] == "hierarchyflow" and ckpt.metadata["name"] == "hf run" and not ckpt.parts
    assert hparams == arch.config_hparams(out_channels=(6, 12, 36), weight_type="learned", pad_size=10)
    found = registry.detect(ckpt.state_dict)
    assert found.method == "hierarchyflow" and found.task is Task.CONTENT_STYLE
    flow = found.load(ckpt, found.resolve_hparams(ckpt.state_dict, {}))["flow"]
    assert flow(torch.rand(1, 3, 24, 24), torch.rand(1, 3, 16, 16)).shape == (1, 3, 24, 24)
    entry = next(e for e in entries if e.id == "hierarchyflow-hf-run")
    assert entry.method == "hierarchyflow" and entry.task == "ContentStyle" and entry.hparams == hparams
    state = checkpointing.read_state(out / "checkpoints/step_0000001.state.safetensors")
    assert state["step"] == 1 and state["optimizer"]["state"] and state["scheduler"]["last_epoch"] == 1


def test_export_writes_the_official_container(smoke, official, tmp_path, capsys):
    """The export of the 6,12,36 network matches the fixture written by the official trainer: keys, shapes and
    the Adam state's layout (so the parameter order is the official one)."""
    out = smoke[0]
    assert cli.main(["hierarchyflow", "export", str(out), "--out", str(tmp_path / "official")]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path == tmp_path / "official" / "1.ckpt.pth.tar"
    ours = torch.load(path, weights_only=True)
    theirs = torch.load(official / "hierarchyflow/small/0.ckpt.pth.tar", weights_only=True)
    assert set(ours) == {"step", "state_dict", "optimizer"} and ours["step"] == 1
    assert {k: v.shape for k, v in ours["state_dict"].items()} == {k: v.shape for k, v in theirs["state_dict"].items()}
    assert list(ours["state_dict"]) == list(theirs["state_dict"])
    assert ours["optimizer"]["param_groups"][0]["params"] == theirs["optimizer"]["param_groups"][0]["params"]
    for index, slots in theirs["optimizer"]["state"].items():
        assert {k: v.shape for k, v in ours["optimizer"]["state"][index].items()} == {k: v.shape for k, v in
                                                                                     slots.items()}
    reread = read_checkpoint(path)  # the engine reads it back as any official file
    model = read_checkpoint(out / "checkpoints/step_0000001.safetensors")
    assert all(torch.equal(reread.state_dict[k], v) for k, v in model.state_dict.items())
    # a model file without its training state: a fresh Adam's state dict (the weights are what matters)
    alone = tmp_path / "alone" / "step_0000001.safetensors"
    alone.parent.mkdir()
    alone.write_bytes((out / "checkpoints/step_0000001.safetensors").read_bytes())
    fresh = torch.load(hf.export(alone, tmp_path / "fresh")[0], weights_only=True)["optimizer"]
    assert fresh["state"] == {} and fresh["param_groups"][0]["params"] == list(range(47))
    assert fresh["param_groups"][0]["lr"] == 1e-4


# --- learning and resume -----------------------------------------------------------------------------------


def test_a_short_run_lowers_the_style_loss(tmp_path, one_thread):
    """One style image, lambda 10 and lr 1e-3 so the style term leads within 200 steps (about 20 s on one core).
    Measured (one thread): the mean style loss of steps 1-20 is 0.073, of steps 181-200 0.026 (0.029 by step 60)."""
    content = write_domain(tmp_path / "content", 8, seed=0, kind="textured", size=(48, 48))
    style = write_styles(tmp_path / "style", 1, size=(48, 48))
    events = run(tiny(content, style, tmp_path / "run", out_channels="6,12", total_steps=200, log_every=20,
                      lr=1e-3, lambda_style=10.0, checkpoint_every=200))
    style_losses = [e["losses"]["loss_s"] for e in events if e["type"] == "step"]
    assert len(style_losses) == 10 and style_losses[-1] < 0.5 * style_losses[0], style_losses


def test_resume_reaches_the_uninterrupted_state(data, tmp_path):
    def config(out: Path) -> HierarchyFlowConfig:
        return tiny(*data, out, out_channels="6,12", total_steps=5, batch_size=2)

    run(config(tmp_path / "a"))
    first = run(config(tmp_path / "b"), stop_after=2)
    assert first[-1] == {"type": "done", "step": 2, "reason": "stopped"}
    second = run(config(tmp_path / "b"), resume=True)
    assert second[0]["type"] == "start" and second[0]["step"] == 2
    assert any(n == "resumed from step 2" for n in second[0]["notes"])
    ckpt_a = read_checkpoint(tmp_path / "a/checkpoints/step_0000005.safetensors")
    ckpt_b = read_checkpoint(tmp_path / "b/checkpoints/step_0000005.safetensors")
    for key, value in ckpt_a.state_dict.items():
        torch.testing.assert_close(ckpt_b.state_dict[key], value, rtol=1e-5, atol=1e-6, msg=key)
    state_a = checkpointing.read_state(tmp_path / "a/checkpoints/step_0000005.state.safetensors")
    state_b = checkpointing.read_state(tmp_path / "b/checkpoints/step_0000005.state.safetensors")
    for index, slots in state_a["optimizer"]["state"].items():
        for key, value in slots.items():
            torch.testing.assert_close(state_b["optimizer"]["state"][index][key], value, rtol=1e-5, atol=1e-7)
    assert state_b["scheduler"] == state_a["scheduler"]


# --- bad input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (["--content", "{EMPTY}", "--style", "{S}"], "content: no images"),
    (["--content", "{C}", "--style", "{MISSING}"], "style: the style folder"),
    (["--content", "{C}"], "--content DIR and --style DIR are required"),
    (["--content", "{C}", "--style", "{S}", "--k", "1.5"], "k must be in (0, 1]"),
    (["--content", "{C}", "--style", "{S}", "--k", "0"], "k must be in (0, 1]"),
    (["--content", "{C}", "--style", "{S}", "--out_channels", "6,9"], "out_channels: each width must be a multiple"),
    (["--content", "{C}", "--style", "{S}", "--style_layers", "relu5_1"], "style_layers must name distinct layers"),
    (["--content", "{C}", "--style", "{S}", "--crop_height", "8"], "crop_height and crop_width must be at least 16"),
    (["--content", "{C}", "--style", "{S}", "--vgg_weights", "{MISSING}"], "VGG19 weights not found at"),
    (["--content", "{C}", "--style", "{S}", "--vgg_weights", ""], "no VGG-19 weights: put the AdaIN encoder"),
])
def test_bad_input_is_one_clear_line(args, message, data, tmp_path, capsys, monkeypatch):
    for name in ("TORCH_HOME", "XDG_CACHE_HOME", "HOME"):  # every place torch.hub may keep VGG weights
        monkeypatch.setenv(name, str(tmp_path / name))
    (tmp_path / "empty").mkdir()
    names = {"{C}": str(data[0]), "{S}": str(data[1]), "{EMPTY}": str(tmp_path / "empty"),
             "{MISSING}": str(tmp_path / "nowhere")}
    tiny_args = [a for k, v in TINY.items() for a in (f"--{k}", str(v))]
    code = cli.main(["hierarchyflow", *tiny_args, *[names.get(a, a) for a in args], "--out", str(tmp_path / "run"),
                     "--total_steps", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_validate_only_counts_content_and_style(data, capsys):
    code = cli.main(["hierarchyflow", "--content", str(data[0]), "--style", str(data[1]), "--validate-only"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and (summary["images_A"], summary["images_B"]) == (5, 3) and not summary["errors"]
    assert summary["sizes"] == {"48x40": 5, "44x36": 3} and summary["crop_size"] == "256x512"


@pytest.mark.slow
def test_two_ddp_processes_train(data, tmp_path):
    """gloo on the CPU: the flow in DDP, per-rank pairs, losses averaged over the ranks."""
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = [a for k, v in {**TINY, "out_channels": "6,12"}.items() for a in (f"--{k}", str(v))]
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "trainers", "hierarchyflow", "--content", str(data[0]), "--style", str(data[1]),
                           "--out", str(out), *args, "--total_steps", "2", "--checkpoint_every", "1"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = read_events(out / EVENTS_FILE)
    assert [e["type"] for e in events].count("start") == 1 and events[0]["world_size"] == 2
    assert events[-1] == {**events[-1], "type": "done", "step": 2, "reason": "finished"}
    steps = [e for e in events if e["type"] == "step"]
    assert len(steps) == 2 and steps[0]["samples_s"] == pytest.approx(2 * steps[0]["it_s"], rel=1e-3)
    state = checkpointing.read_state(out / "checkpoints/step_0000002.state.safetensors")
    assert state["rng"]["torch_cpu"].shape[0] == 2
    ckpt = read_checkpoint(out / "checkpoints/step_0000002.safetensors")
    arch.load(ckpt.state_dict, ckpt.metadata["hparams"])
