"""The CycleGAN trainer: the PatchGAN and the image pool, one step, the model in the engine, learning a known
translation, exact resume, the official dataset layout, bad input, DDP.

Everything is tiny (ngf 8, 2 residual blocks, ndf 8, 32 px crops of 40 px photos) so the file runs in about a
minute and a half on two cores; the learning run is the long one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine import registry
from engine.api import Task
from engine.catalog import Catalog
from engine.checkpoints import read_checkpoint
from engine.models import cyclegan as arch
from tests.trainers.unpaired_domains import (
    baselines,
    held_out,
    swap_red_blue,
    translation_error,
    write_domain,
)
from trainers import __main__ as cli
from trainers import checkpointing, cyclegan
from trainers.events import EVENTS_FILE, read_events
from trainers.nets.patchgan import PatchDiscriminator, init_weights
from trainers.translation import ImagePool

REPO = Path(__file__).resolve().parents[2]
TINY = {"ngf": 8, "n_blocks": 2, "ndf": 8, "crop_size": 32, "log_every": 1, "sample_every": 1000,
        "checkpoint_every": 1000, "device": "cpu"}
ALL_LOSSES = {"D_A", "D_B", "G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B", "G"}


def tiny(a: Path, b: Path, out: Path, **over) -> cyclegan.CycleGanConfig:
    return replace(cyclegan.CycleGanConfig(a=str(a), b=str(b), out=str(out), total_steps=2, **TINY), **over)


def run(cfg: cyclegan.CycleGanConfig, *, resume: bool = False, stop_after: int | None = None) -> list[dict]:
    """train() in this process; returns the events it emitted."""
    events: list[dict] = []
    steps = iter(range(1, 10**6))
    cyclegan.train(cfg, emit=lambda type_, **f: events.append({"type": type_, **f}), resume=resume,
                   should_stop=lambda: stop_after is not None and next(steps) >= stop_after)
    return events


@pytest.fixture(scope="module")
def domains(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("domains")
    return write_domain(root / "A", 8, seed=0), write_domain(root / "B", 6, seed=1, b=True)


@pytest.fixture(scope="module")
def smoke(domains, tmp_path_factory) -> tuple[Path, list[dict]]:
    out = tmp_path_factory.mktemp("smoke") / "Zebra Run"
    with pytest.MonkeyPatch.context() as mp:  # set up before the per-test private catalog: bring our own
        mp.setenv("I2I_STUDIO_DATA", str(tmp_path_factory.mktemp("smoke-data")))
        events = run(tiny(*domains, out, total_steps=1, sample_every=1))
        entries = Catalog().entries()
    return out, events, entries


# --- the parts -----------------------------------------------------------------------------------------------


def test_patchgan_judges_70x70_patches_with_the_official_width():
    d = PatchDiscriminator()
    assert sum(p.numel() for p in d.parameters()) == 2_764_737  # pix2pix / CycleGAN's n_layers 3, ndf 64
    assert d(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)
    for i, layer in enumerate(d.model):  # InstanceNorm's statistics see every pixel; the convs see the patch
        if isinstance(layer, torch.nn.InstanceNorm2d):
            d.model[i] = torch.nn.Identity()
    x = torch.zeros(1, 3, 256, 256, requires_grad=True)
    d(x)[0, 0, 15, 15].backward()
    rows, cols = (x.grad[0].abs().sum(0) > 0).nonzero(as_tuple=True)
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (70, 70)
    # CUT's anti-aliased variant: the same widths, blurred subsampling
    aa = PatchDiscriminator(antialias=True)
    assert sum(p.numel() for p in aa.parameters()) == 2_764_737 and aa(torch.zeros(1, 3, 64, 64)).ndim == 4


def test_image_pool_keeps_a_history_and_mixes_it_in():
    torch.manual_seed(0)
    pool = ImagePool(3)
    first = torch.arange(3.0).view(3, 1, 1, 1)
    assert torch.equal(pool.query(first), first)  # filling up: the newest come back as they are
    later = [pool.query(torch.full((1, 1, 1, 1), 10.0 + i)).item() for i in range(40)]
    assert any(v < 10 for v in later) and any(v >= 10 for v in later)  # older images do come back
    assert sorted(v for v in later if v < 10) == [0.0, 1.0, 2.0]  # each stored image returns once, then is replaced
    assert torch.equal(ImagePool(0).query(first), first)


# --- one step, the model, learning, resume -----------------------------------------------------------------


def test_one_step_smoke_writes_a_two_direction_model_the_engine_loads(smoke):
    out, events, entries = smoke
    kinds = [e["type"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and {"step", "sample", "checkpoint"} <= set(kinds)
    losses = next(e for e in events if e["type"] == "step")["losses"]
    assert set(losses) == ALL_LOSSES and all(np.isfinite(v) for v in losses.values())
    sample = next(e for e in events if e["type"] == "sample")
    assert sample["caption"] == "A | A→B | B | B→A"
    assert Image.open(out / sample["path"]).size == (4 * 32 + 6, 4 * 32 + 6)  # 4 rows of 4 crops

    ckpt = read_checkpoint(out / "checkpoints" / "step_0000001.safetensors")
    assert ckpt.metadata["method"] == "cyclegan" and set(ckpt.parts) == {"G_B"}
    hparams = ckpt.metadata["hparams"]
    assert hparams["directions"] == ["AtoB", "BtoA"] and (hparams["ngf"], hparams["n_blocks"]) == (8, 2)
    assert arch.detect(ckpt.state_dict) and set(ckpt.state_dict) == set(ckpt.parts["G_B"])
    if "cyclegan" not in {a.method for a in registry.ARCHITECTURES}:
        pytest.skip("the engine's registry has no CycleGAN yet")
    found = registry.detect(ckpt.state_dict)
    assert found.method == "cyclegan" and found.task is Task.IMAGE_TO_IMAGE
    nets = found.load(ckpt, hparams)
    assert set(nets) == {"AtoB", "BtoA"}
    x = torch.rand(1, 3, 40, 40) * 2 - 1
    assert not torch.equal(nets["AtoB"](x), nets["BtoA"](x))  # two generators, not one twice
    entry = next(e for e in entries if e.id == "cyclegan-zebra-run")
    assert entry.method == "cyclegan" and entry.task == "ImageToImage" and entry.hparams == hparams


def test_short_run_learns_the_known_translation_both_ways(tmp_path):
    """B is A with red and blue swapped: after 500 steps (about 40 s on one core) both generators get far closer
    to the right answer than leaving photos as they are or painting them one flat colour."""
    a = write_domain(tmp_path / "A", 16, seed=0)
    b = write_domain(tmp_path / "B", 16, seed=1, b=True)
    events = run(tiny(a, b, tmp_path / "run", total_steps=500, log_every=50, checkpoint_every=100))
    cycle = [e["losses"]["cycle_A"] for e in events if e["type"] == "step"]
    assert cycle[-1] < 0.7 * cycle[0], cycle
    ckpt = read_checkpoint(tmp_path / "run/checkpoints/step_0000500.safetensors")
    nets = arch.load(ckpt.state_dict, ckpt.metadata["hparams"], ckpt.parts)
    photos = held_out()
    truth = swap_red_blue(photos)
    identity, constant = baselines(photos, truth)
    torch.manual_seed(0)  # the run's weights before its first step
    untrained = translation_error(init_weights(arch.build(ckpt.metadata["hparams"]), "normal"), photos, truth)
    learned = translation_error(nets["AtoB"], photos, truth)
    back = translation_error(nets["BtoA"], truth, photos)
    assert learned < 0.6 * min(identity, constant, untrained), (learned, identity, constant, untrained)
    assert back < 0.6 * min(identity, constant, untrained), (back, identity, constant, untrained)


def test_resume_reaches_the_uninterrupted_state(domains, tmp_path):
    # a pool of 2 is full after two steps, so the resumed run must bring back the pools and the RNG too
    a = tiny(*domains, tmp_path / "a", total_steps=6, pool_size=2)
    b = replace(a, out=str(tmp_path / "b"))
    run(a)
    first = run(b, stop_after=3)
    assert first[-1] == {"type": "done", "step": 3, "reason": "stopped"}
    state = checkpointing.read_state(tmp_path / "b/checkpoints/step_0000003.state.safetensors")
    assert state["pools"]["A"].shape == (1, 2, 3, 32, 32) and state["scheduler_G"]["last_epoch"] == 3
    second = run(b, resume=True)
    assert second[0]["type"] == "start" and second[0]["step"] == 3
    assert any("resumed from step 3" == n for n in second[0]["notes"])
    ckpt_a = read_checkpoint(tmp_path / "a/checkpoints/step_0000006.safetensors")
    ckpt_b = read_checkpoint(tmp_path / "b/checkpoints/step_0000006.safetensors")
    for part in (None, "G_B"):
        sd_a = ckpt_a.state_dict if part is None else ckpt_a.parts[part]
        sd_b = ckpt_b.state_dict if part is None else ckpt_b.parts[part]
        for key, value in sd_a.items():
            torch.testing.assert_close(sd_b[key], value, rtol=1e-4, atol=1e-5, msg=f"{part}.{key}")
    state_a = checkpointing.read_state(tmp_path / "a/checkpoints/step_0000006.state.safetensors")
    state_b = checkpointing.read_state(tmp_path / "b/checkpoints/step_0000006.state.safetensors")
    for net in ("netD_A", "netD_B"):
        for key, value in state_a[net].items():
            torch.testing.assert_close(state_b[net][key], value, rtol=1e-4, atol=1e-5, msg=f"{net}.{key}")


def test_the_official_dataset_layout_and_a_schedule_that_decays(domains, tmp_path):
    root = tmp_path / "horse2zebra"
    for name, folder in zip(("trainA", "trainB"), domains, strict=True):
        (root / name).mkdir(parents=True)
        for f in folder.iterdir():
            (root / name / f.name).write_bytes(f.read_bytes())
    events = run(replace(tiny(*domains, tmp_path / "run", total_steps=4, decay_steps=2), a="", b="",
                         dataroot=str(root)))
    lrs = [e["lr"]["G"] for e in events if e["type"] == "step"]
    assert lrs == pytest.approx([2e-4, 2e-4, 1e-4, 0.0])  # constant, then linearly to 0 over the last 2 steps
    assert "photos: 8 in A, 6 in B" in events[0]["notes"]


# --- the dataset check and bad input ----------------------------------------------------------------------


def test_validate_only_summarises_both_domains(domains, tmp_path, capsys):
    b = tmp_path / "B"
    b.mkdir()
    for f in domains[1].iterdir():
        (b / f.name).write_bytes(f.read_bytes())
    (b / "broken.jpg").write_bytes(b"not a jpeg")
    Image.new("RGB", (20, 60)).save(b / "small.png")
    code = cli.main(["cyclegan", "--a", str(domains[0]), "--b", str(b), "--crop_size", "32", "--validate-only"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and (summary["images_A"], summary["images_B"]) == (8, 6)
    assert summary["too_small"] == ["B/small.png: 20x60"]
    assert summary["unreadable"] == ["B/broken.jpg: not an image, or corrupt"]
    assert summary["errors"] == [] and all(w.startswith("domain B: ") for w in summary["warnings"])


@pytest.mark.parametrize(("args", "message"), [
    (["--a", "{A}"], "choose the photo folders: a and b, or a dataroot"),
    (["--a", "{A}", "--b", "{B}", "--dataroot", "{A}"], "give either dataroot"),
    (["--dataroot", "{A}"], "domain A: the photo folder"),
    (["--a", "{A}", "--b", "{EMPTY}"], "domain B: no images"),
    (["--a", "{A}", "--b", "{B}", "--crop_size", "30"], "crop_size must be a multiple of 4"),
    (["--a", "{A}", "--b", "{B}", "--crop_size", "48"], "smaller than the 48x48 training crop"),
    (["--a", "{A}", "--b", "{B}", "--decay_steps", "5"], "decay_steps must be between 0 and total_steps"),
])
def test_bad_input_is_one_clear_line(args, message, domains, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    names = {"{A}": str(domains[0]), "{B}": str(domains[1]), "{EMPTY}": str(tmp_path / "empty")}
    argv = ["cyclegan", *[names.get(a, a) for a in args], "--out", str(tmp_path / "run"), "--total_steps", "2",
            "--ngf", "8", "--n_blocks", "2", "--ndf", "8", "--device", "cpu"]
    argv += [] if "--crop_size" in args else ["--crop_size", "32"]
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_resume_refuses_changed_networks(smoke, capsys):
    out, _, _ = smoke
    code = cli.main(["cyclegan", "--out", str(out), "--resume", "--ngf", "16"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot resume with changed options" in err and "ngf 8 -> 16" in err


@pytest.mark.slow
def test_two_ddp_processes_write_one_consistent_checkpoint(domains, tmp_path):
    """gloo on the CPU: both generators in one DDP module, a DDP module per discriminator, a pool per rank."""
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = [a for k, v in TINY.items() for a in (f"--{k}", str(v))]
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "trainers", "cyclegan", "--a", str(domains[0]), "--b", str(domains[1]), "--out",
                           str(out), *args, "--total_steps", "2", "--checkpoint_every", "1"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = read_events(out / EVENTS_FILE)
    assert [e["type"] for e in events].count("start") == 1 and events[0]["world_size"] == 2
    assert events[-1] == {**events[-1], "type": "done", "step": 2, "reason": "finished"}
    steps = [e for e in events if e["type"] == "step"]
    assert len(steps) == 2 and set(steps[-1]["losses"]) == ALL_LOSSES
    state = checkpointing.read_state(out / "checkpoints/step_0000002.state.safetensors")
    assert state["rng"]["torch_cpu"].shape[0] == 2 and state["pools"]["B"].shape == (2, 2, 3, 32, 32)
    ckpt = read_checkpoint(out / "checkpoints/step_0000002.safetensors")
    arch.load(ckpt.state_dict, ckpt.metadata["hparams"], ckpt.parts)
