"""The DeepI2I trainer: the per-sample feature loss, a short run that learns to translate into the asked class, the
BigGAN start's phase 1 (only the adaptor trains) and phase 2, exact resume, a 2-step run through the command line
whose model the engine loads, the dataset check and bad input.

Everything is tiny: ch 8 without attention at the engine's fixed 128 px.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from engine import registry
from engine.api import Task, Variation
from engine.checkpoints import read_checkpoint
from engine.models import deepi2i as arch
from trainers import __main__ as cli
from trainers import checkpointing
from trainers import deepi2i as di
from trainers.configs import DeepI2IConfig
from trainers.events import EVENTS_FILE, read_events

REPO = Path(__file__).resolve().parents[2]
TINY = {"ch": 8, "attention": 0, "batch_size": 2, "log_every": 1, "sample_every": 1000, "checkpoint_every": 1000,
        "device": "cpu"}
TINTS = {"blue": (0.15, 0.25, 1.0), "red": (1.0, 0.25, 0.15)}  # class order: blue 0, red 1


def write_classes(root: Path, count: int = 6, size: int = 32) -> Path:
    """Two classes of the same layouts: smooth grey patterns tinted blue or red (a known answer per class)."""
    for name in TINTS:
        (root / name).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        low = np.random.default_rng(i).random((4, 4))
        grey = np.asarray(Image.fromarray((low * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC),
                          np.float32)[..., None] / 255
        for name, tint in TINTS.items():
            image = (0.15 + 0.85 * grey) * np.asarray(tint, np.float32)
            Image.fromarray((image * 255).astype(np.uint8)).save(root / name / f"{i:02d}.png")
    return root


def tiny(images: Path, out: Path, **over) -> DeepI2IConfig:
    return replace(DeepI2IConfig(images=str(images), out=str(out), total_steps=2, **TINY), **over)


def run(cfg: DeepI2IConfig, *, resume: bool = False, stop_after: int | None = None) -> list[dict]:
    events: list[dict] = []
    steps = iter(range(1, 10**6))
    di.train(cfg, emit=lambda type_, **f: events.append({"type": type_, **f}), resume=resume,
             should_stop=lambda: stop_after is not None and next(steps) >= stop_after)
    return events


def nets(ckpt_path: Path) -> tuple[arch.Generator, arch.Discriminator, arch.Adaptor, dict[int, float]]:
    ckpt = read_checkpoint(ckpt_path)
    hp = ckpt.metadata["hparams"]
    G = arch.Generator(hp["ch"], hp["dim_z"], hp["shared_dim"], hp["n_classes"], hp["attention"])
    E1 = arch.Discriminator(hp["ch"], hp["n_classes"], hp["attention"])
    A1 = arch.Adaptor(hp["ch"], hp["n_classes"])
    G.load_state_dict(ckpt.state_dict)
    E1.load_state_dict(ckpt.parts["E1"])
    A1.load_state_dict(ckpt.parts["A1"])
    return G.eval(), E1.eval(), A1.eval(), {int(k): v for k, v in hp["fea_w"].items()}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_classes(tmp_path_factory.mktemp("deepi2i-data"))


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- the losses ------------------------------------------------------------------------------------------


def test_feature_loss_pairs_each_translation_with_its_own_input():
    torch.manual_seed(0)
    target = {k: torch.randn(3, 4, k, k) for k in (4, 8, 16, 32)}
    assert di.feature_loss(target, target).item() == 0.0
    # each output equal to ITS input: 0; the same outputs in another order (the code's item 0 vs item 1): not 0
    shuffled = {k: v[[1, 2, 0]] for k, v in target.items()}
    assert di.feature_loss(shuffled, target).item() > 0.1
    # L1 per layer, weighted by D_fea_w, the mean over the batch of each item's own loss
    out = {k: v + torch.randn_like(v) for k, v in target.items()}
    per_item = [sum(w * (out[k][i] - target[k][i]).abs().mean() for k, w in di.D_FEA_W.items()) for i in range(3)]
    torch.testing.assert_close(di.feature_loss(out, target), torch.stack(per_item).mean())
    assert di.D_FEA_W == {4: 0.1, 8: 0.1, 16: 0.1, 32: 0.01}


def test_preprocessing_takes_the_centre_square_of_the_long_edge(tmp_path):
    image = np.zeros((40, 100, 3), np.uint8)
    image[:, 30:70] = 255  # the centre 40 x 40 square is white, the sides black
    Image.fromarray(image).save(tmp_path / "wide.png")
    x = di.load_square(tmp_path / "wide.png")
    assert x.shape == (3, 128, 128) and x.min() >= -1 and x.max() <= 1
    assert x[:, :, 4:-4].min().item() > 0.95  # all of it from the white centre


# --- learning --------------------------------------------------------------------------------------------


def test_a_short_run_translates_into_the_asked_class(data, tmp_path, one_thread):
    """Blue and red versions of the same layouts: after 20 steps (about 15 s on one core) the same inputs come out
    blue when asked for class 0 and red for class 1. Measured: mean(B - R) +0.9 for blue, -1.0 for red (at the
    start both are about 0)."""
    run(tiny(data, tmp_path / "run", total_steps=20, batch_size=4, lr_G=2e-3, lr_D=2e-3, log_every=20,
             checkpoint_every=20))
    G, E1, A1, weights = nets(tmp_path / "run/checkpoints/step_0000020.safetensors")
    x = torch.stack([di.load_square(p) for p in sorted(data.glob("*/*.png"))[::3]])
    z = torch.randn(len(x), G.dim_z, generator=torch.Generator().manual_seed(1))

    def blue_minus_red(target: int) -> float:
        with torch.no_grad():
            out = arch.translate(G, E1, A1, x, G.shared(torch.full((len(x),), target)), z, weights)
        return (out[:, 2] - out[:, 0]).mean().item()

    into_blue, into_red = blue_minus_red(0), blue_minus_red(1)
    assert into_blue > 0.3 and into_red < -0.3 and into_blue - into_red > 1.0, (into_blue, into_red)


# --- the BigGAN start: two phases ------------------------------------------------------------------------


def test_phase_1_trains_only_the_adaptor_then_phase_2_the_generator(data, tmp_path):
    torch.manual_seed(5)
    G = arch.Generator(8, n_classes=4, attention=0)
    D = arch.Discriminator(8, n_classes=4, attention=0)
    torch.save(G.state_dict(), tmp_path / "G.pth")
    torch.save(D.state_dict(), tmp_path / "D.pth")
    events = run(tiny(data, tmp_path / "run", biggan_G=str(tmp_path / "G.pth"), biggan_D=str(tmp_path / "D.pth"),
                      n_classes=4, phase1_steps=2, total_steps=3, checkpoint_every=1, keep_checkpoints=3))
    assert any("phase 1 trains A1 for 2 steps" in n for n in events[0]["notes"])
    ckpts = [read_checkpoint(tmp_path / f"run/checkpoints/step_000000{s}.safetensors") for s in (1, 2, 3)]
    params_G = [name for name, _ in G.named_parameters()]
    params_E1 = [name for name, _ in D.named_parameters()]
    for step, ckpt in enumerate(ckpts, 1):
        assert ckpt.metadata["hparams"]["fea_w"] == {"4": 0.1, "8": 0.1, "16": 0.1, "32": 0.1}
        for name in params_E1:  # E1 <- D.pth, frozen throughout
            torch.testing.assert_close(ckpt.parts["E1"][name], D.state_dict()[name], rtol=0, atol=0, msg=name)
        changed_G = [n for n in params_G if not torch.equal(ckpt.state_dict[n], G.state_dict()[n])]
        assert (changed_G == []) == (step <= 2), (step, changed_G[:3])  # phase 1: steps 1-2; phase 2: step 3
    changed_A1 = [n for n in ckpts[0].parts["A1"] if not torch.equal(ckpts[0].parts["A1"][n], ckpts[1].parts["A1"][n])]
    assert "blocks.0.0.conv1.weight" in changed_A1  # the adaptor trains in phase 1
    state = checkpointing.read_state(tmp_path / "run/checkpoints/step_0000003.state.safetensors")
    assert state["optimizer_E1"] is None and state["optimizer_G"]["state"] and state["D"]


# --- resume ----------------------------------------------------------------------------------------------


def test_resume_reaches_the_uninterrupted_state(data, tmp_path):
    run(tiny(data, tmp_path / "a", total_steps=3))
    first = run(tiny(data, tmp_path / "b", total_steps=3), stop_after=1)
    assert first[-1] == {"type": "done", "step": 1, "reason": "stopped"}
    second = run(tiny(data, tmp_path / "b", total_steps=3), resume=True)
    assert second[0]["step"] == 1 and "resumed from step 1" in second[0]["notes"]
    a = read_checkpoint(tmp_path / "a/checkpoints/step_0000003.safetensors")
    b = read_checkpoint(tmp_path / "b/checkpoints/step_0000003.safetensors")
    for part_a, part_b in ((a.state_dict, b.state_dict), (a.parts["E1"], b.parts["E1"]), (a.parts["A1"], b.parts["A1"])):
        for key, value in part_a.items():
            torch.testing.assert_close(part_b[key], value, rtol=1e-5, atol=1e-6, msg=key)


# --- the command line, the engine, the catalog -------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_run(data, tmp_path_factory) -> Path:
    """A 2-step run through `python -m trainers deepi2i` in a run folder named "looks run"."""
    out = tmp_path_factory.mktemp("cli") / "looks run"
    args = [a for k, v in {**TINY, "sample_every": 2}.items() for a in (f"--{k}", str(v))]
    proc = subprocess.run([sys.executable, "-m", "trainers", "deepi2i", "--images", str(data), "--out", str(out),
                           "--total_steps", "2", *args], cwd=REPO, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def engine_model(out: Path) -> tuple[Any, dict[str, Any], dict[str, torch.nn.Module]]:
    """(architecture, resolved hparams, nets) of the run's last checkpoint, as the engine reads it."""
    ckpt = read_checkpoint(out / "checkpoints/step_0000002.safetensors")
    found = registry.detect(ckpt.state_dict)
    resolved = found.resolve_hparams(ckpt.state_dict, ckpt.options)
    return found, resolved, found.load(ckpt, resolved)


def test_a_two_step_command_line_run_makes_a_model_the_engine_loads(cli_run):
    events = read_events(cli_run / EVENTS_FILE)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and {"step", "sample", "checkpoint"} <= set(kinds)
    step = next(e for e in events if e["type"] == "step")
    assert set(step["losses"]) == {"D_real", "D_fake", "G_adv", "G_rec", "G"}
    assert all(np.isfinite(v) for v in step["losses"].values())
    sample = next(e for e in events if e["type"] == "sample")
    # 4 inputs spread over the data (2 of each class) x [input | blue | red]
    assert Image.open(cli_run / sample["path"]).size == (3 * 128 + 4, 4 * 128 + 6)

    ckpt = read_checkpoint(cli_run / "checkpoints/step_0000002.safetensors")
    hp = ckpt.metadata["hparams"]
    assert ckpt.metadata["method"] == "deepi2i" and ckpt.metadata["classes"] == [[0, "blue"], [1, "red"]]
    assert set(ckpt.parts) == {"E1", "A1"} and hp["class_names"] == ["blue", "red"] and hp["n_classes"] == 2
    assert hp["fea_w"] == {"4": 1.0, "8": 1.0, "16": 1.0, "32": 0.1}  # from scratch: the code's weights
    found, resolved, loaded = engine_model(cli_run)
    assert found.method == "deepi2i" and found.task is Task.MULTI_DOMAIN
    assert resolved["class_names"] == ["blue", "red"] and resolved["ch"] == 8
    x, z = torch.rand(1, 3, 128, 128) * 2 - 1, torch.randn(1, 120)
    G, E1, A1, weights = nets(cli_run / "checkpoints/step_0000002.safetensors")
    with torch.no_grad():
        ours = arch.translate(G, E1, A1, x, G.shared(torch.tensor([1])), z, weights)
        engine = arch.translate(loaded["G"], loaded["E1"], loaded["A1"], x, loaded["G"].shared(torch.tensor([1])), z,
                                weights)
    torch.testing.assert_close(engine, ours)


def test_the_app_translates_with_the_injection_weights_the_model_was_trained_with(cli_run):
    found, resolved, loaded = engine_model(cli_run)
    G, E1, A1, weights = nets(cli_run / "checkpoints/step_0000002.safetensors")
    x = torch.rand(1, 3, 128, 128) * 2 - 1
    varier = found.varier(loaded, resolved)
    with torch.no_grad():
        app = varier.generate(varier.encode(x), [Variation(target=1, seed=3)])
        ours = arch.translate(G, E1, A1, x, G.shared(torch.tensor([1])), arch.noise(3, 120)[None], weights)
    torch.testing.assert_close(app, ours)


def test_sample_grids_show_every_class_or_eight_spread_over_them():
    assert di.DeepI2ILoop.sample_columns(SimpleNamespace(names=list("abcdef"))) == [0, 1, 2, 3, 4, 5]
    assert di.DeepI2ILoop.sample_columns(SimpleNamespace(names=[str(i) for i in range(149)])) == [
        0, 18, 37, 55, 74, 93, 111, 130]


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["deepi2i", "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and "python -m trainers deepi2i" in out
    assert all(f"--{name}" in out for name in ("images", "biggan_G", "biggan_D", "phase1_steps", "lambda_rec"))


# --- the dataset check and bad input -----------------------------------------------------------------------


def test_validate_only_counts_photos_per_class(data, capsys):
    code = cli.main(["deepi2i", "--images", str(data), "--validate-only"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and not summary["errors"]
    assert summary["images"] == 12 and summary["classes"] == [["blue", 6], ["red", 6]]
    assert summary["sizes"] == {"32x32": 12}


def bad_folders(root: Path, data: Path) -> dict[str, str]:
    (root / "one" / "cats").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(root / "one" / "cats" / "a.png")
    (root / "loose").mkdir()
    for i in range(3):
        Image.new("RGB", (8, 8)).save(root / "loose" / f"{i}.png")
    (root / "empty" / "cats").mkdir(parents=True)
    (root / "empty" / "dogs").mkdir()
    Image.new("RGB", (8, 8)).save(root / "empty" / "dogs" / "a.png")
    (root / "empty" / "dogs" / "b.png").write_bytes(b"not a png")
    (root / "G.pth").write_bytes(b"")
    return {"{DATA}": str(data), "{ONE}": str(root / "one"), "{LOOSE}": str(root / "loose"),
            "{EMPTY}": str(root / "empty"), "{MISSING}": str(root / "nowhere"), "{G}": str(root / "G.pth")}


@pytest.mark.parametrize(("args", "message"), [
    ([], "--images DIR is required"),
    (["--images", "{MISSING}"], "does not exist"),
    (["--images", "{ONE}"], "needs one subfolder of photos per class, at least 2 classes; it holds 1 subfolder"),
    (["--images", "{LOOSE}"], "it holds 3 loose photos and 0 subfolders"),
    (["--images", "{EMPTY}"], "1 class folder has no readable photos: cats"),
    (["--images", "{DATA}", "--biggan_G", "{G}"], "give both biggan_G (G.pth) and biggan_D (D.pth)"),
    (["--images", "{DATA}", "--biggan_G", "{G}", "--biggan_D", "{MISSING}"], "biggan_D: no file at"),
    (["--images", "{DATA}", "--biggan_G", "{G}", "--biggan_D", "{G}"], "biggan_G: G.pth: the file is empty"),
    (["--images", "{DATA}", "--ch", "12"], "ch must be a positive multiple of 8"),
    (["--images", "{DATA}", "--n_classes", "1"], "n_classes must be between 2 and 1000"),
])
def test_bad_input_is_one_clear_line(args, message, data, tmp_path, capsys):
    names = bad_folders(tmp_path, data)
    code = cli.main(["deepi2i", *[names.get(a, a) for a in args], "--out", str(tmp_path / "run"), "--device", "cpu",
                     "--total_steps", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_biggan_file_of_another_width_is_one_clear_line(data, tmp_path, capsys):
    torch.save(arch.Generator(16, n_classes=4, attention=0).state_dict(), tmp_path / "G.pth")
    torch.save(arch.Discriminator(16, n_classes=4, attention=0).state_dict(), tmp_path / "D.pth")
    code = cli.main(["deepi2i", "--images", str(data), "--out", str(tmp_path / "run"), "--biggan_G",
                     str(tmp_path / "G.pth"), "--biggan_D", str(tmp_path / "D.pth"), "--n_classes", "4",
                     *[a for k, v in TINY.items() for a in (f"--{k}", str(v))], "--total_steps", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "biggan_G does not fit a BigGAN 128 px network with ch 8" in err, err


@pytest.mark.slow
def test_two_ddp_processes_train(data, tmp_path):
    """gloo on the CPU: the translator and D in DDP (E1's and A1's unused heads left out), losses averaged."""
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = [a for k, v in TINY.items() for a in (f"--{k}", str(v))]
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "trainers", "deepi2i", "--images", str(data), "--out", str(out), *args,
                           "--total_steps", "2", "--checkpoint_every", "1"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = read_events(out / EVENTS_FILE)
    assert [e["type"] for e in events].count("start") == 1 and events[0]["world_size"] == 2
    assert events[-1] == {**events[-1], "type": "done", "step": 2, "reason": "finished"}
    state = checkpointing.read_state(out / "checkpoints/step_0000002.state.safetensors")
    assert state["rng"]["torch_cpu"].shape[0] == 2
    nets(out / "checkpoints/step_0000002.safetensors")


# --- the embedded default (trainers/default_variations.py) -------------------------------------------------


class _Job:
    def check(self) -> None:
        pass

    def progress(self, *args) -> None:
        pass


def test_the_shipped_looks_model_varies_an_unseen_scene_into_each_look():
    """Through the engine as the app asks: every look differs from the others in the named way, and the sky stays
    above the ground (the layout is kept)."""
    from engine.api import VaryImage
    from engine.catalog import Catalog
    from engine.handlers import Engine
    from trainers import default_variations, landscape_looks

    entry = Catalog().get(default_variations.MODEL_ID)
    assert entry.builtin and entry.task == Task.MULTI_DOMAIN.value and "demonstration" in entry.notes
    names = [name for _, name in entry.classes]
    assert names == sorted(landscape_looks.LOOKS)
    photo = landscape_looks.render_looks((99, 7), looks=("summer",))["summer"].astype(np.float32) / 255
    engine = Engine(Catalog(), torch.device("cpu"))
    request = VaryImage(default_variations.MODEL_ID, photo, tuple(Variation(target=i) for i in range(len(names))))
    out = dict(zip(names, engine.vary_image(request, _Job()), strict=True))
    assert all(image.shape == (128, 128, 3) for image in out.values())
    brightness = {name: image.mean() for name, image in out.items()}
    assert brightness["night"] < 0.2 < brightness["winter"] - 0.3  # measured: night 0.12, winter 0.76
    assert brightness["night"] == min(brightness.values()) and brightness["winter"] == max(brightness.values())
    sunset_sky, summer_sky = out["sunset"][:24].mean((0, 1)), out["summer"][:24].mean((0, 1))
    # a warmer sky at sunset (measured red 0.48 vs 0.33), a blue one in summer (blue 0.80, red 0.33)
    assert sunset_sky[0] > summer_sky[0] + 0.1 and summer_sky[2] > summer_sky[0] + 0.3
    summer = out["summer"]
    assert summer[:32].mean((0, 1))[2] > summer[-32:].mean((0, 1))[2] + 0.1  # blue sky above, not below
