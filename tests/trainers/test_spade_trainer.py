"""The SPADE trainer and the framework under it: smoke, learning, exact resume, DDP, bad input, export.

Everything is tiny (ngf 4, 32 px crops, batch 2) so the file runs in well under three minutes on two cores.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine import registry
from engine.catalog import Catalog
from engine.checkpoints import read_checkpoint
from engine.handlers import Engine
from engine.models import spade as arch
from trainers import __main__ as cli
from trainers import checkpointing, loop, spade
from trainers.common import StopFlag
from trainers.distributed import Precision
from trainers.events import EVENTS_FILE, STOP_FILE, read_events
from trainers.landscapes import write_dataset

REPO = Path(__file__).resolve().parents[2]
CPU = torch.device("cpu")
# a flat-colour world: class id -> the colour every photo paints it (landscape palette ids)
TARGETS = {0: (225, 45, 45), 9: (40, 190, 70), 13: (45, 70, 215)}


def tiny(data: Path, out: Path, **over) -> spade.SpadeConfig:
    base = spade.SpadeConfig(images=str(data / "images"), labels=str(data / "labels"), out=str(out),
                             ngf=4, nhidden=8, ndf=4, n_layers_D=2, crop_size=32, batch_size=2, total_steps=2,
                             lambda_vgg=0.0, log_every=1, sample_every=1000, checkpoint_every=1000)
    return replace(base, **over)


def run(cfg: spade.SpadeConfig, *, resume: bool = False, stop_after: int | None = None) -> list[dict]:
    """train() in this process; returns the events it emitted."""
    events: list[dict] = []
    steps = iter(range(1, 10**6))
    spade.train(cfg, emit=lambda type_, **f: events.append({"type": type_, **f}), resume=resume,
                should_stop=lambda: stop_after is not None and next(steps) >= stop_after)
    return events


def cli_main(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def generator(path: Path) -> tuple[dict, torch.nn.Module]:
    ckpt = read_checkpoint(path)
    nets = registry.detect(ckpt.state_dict).load(ckpt, ckpt.metadata["hparams"])
    return ckpt.metadata["hparams"], nets["netG"]


@pytest.fixture(scope="module")
def landscapes(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("landscapes")
    write_dataset(root, 4, size=(32, 32))
    return root


@pytest.fixture(scope="module")
def smoke(landscapes, tmp_path_factory) -> tuple[Path, list[dict]]:
    """One step with every loss term on: VAE + KL, random-weight VGG, pixel L1."""
    out = tmp_path_factory.mktemp("smoke") / "run"
    cfg = tiny(landscapes, out, total_steps=1, use_vae=True, z_dim=8, lambda_vgg=10.0,
               vgg_weights=spade.RANDOM_VGG, lambda_l1=1.0, sample_every=1)
    with pytest.MonkeyPatch.context() as mp:  # set up before the per-test private catalog: bring our own
        mp.setenv("I2I_STUDIO_DATA", str(tmp_path_factory.mktemp("smoke-data")))
        return out, run(cfg)


# --- the framework (the list of trainers: test_registry.py) ---------------------------------------------


def test_flatten_round_trip_keeps_types():
    state = {"step": torch.tensor(3.0), "state": {0: {"exp_avg": torch.ones(2)}},
             "groups": [{"betas": (0.0, 0.999), "params": [0, 1], "lr": None}], "name": "x"}
    tensors, skeleton = checkpointing.flatten(state)
    back = checkpointing.unflatten(json.loads(json.dumps(skeleton)), tensors)
    assert back["groups"][0]["betas"] == (0.0, 0.999) and list(back["state"]) == [0]
    assert torch.equal(back["state"][0]["exp_avg"], torch.ones(2)) and back["step"].ndim == 0


def test_stop_flag_first_signal_asks_second_interrupts(tmp_path):
    with StopFlag(tmp_path) as stop:
        assert not stop()
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
    (tmp_path / STOP_FILE).touch()
    assert StopFlag(tmp_path)()


# --- one step, learning, resume ---------------------------------------------------------------------------


def test_one_step_smoke(smoke):  # every other trainer has its own in tests/trainers/test_<method>_trainer.py
    out, events = smoke
    kinds = [e["type"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and {"step", "sample", "checkpoint"} <= set(kinds)
    losses = next(e for e in events if e["type"] == "step")["losses"]
    assert {"D", "G_GAN", "G_feat", "G_VGG", "G_KLD", "G_L1", "G"} <= set(losses)
    assert all(np.isfinite(v) for v in losses.values())
    assert any("RANDOM" in e.get("message", "") for e in events if e["type"] == "log")
    ckpt = read_checkpoint(out / "checkpoints" / "step_0000001.safetensors")
    nets = registry.detect(ckpt.state_dict).load(ckpt, ckpt.metadata["hparams"])
    assert set(nets) == {"netG", "netE"} and ckpt.metadata["hparams"]["use_vae"]
    assert ckpt.metadata["hparams"] == arch.resolve_hparams(ckpt.state_dict, ckpt.metadata["hparams"])
    grid = Image.open(out / "samples" / "step_0000001.png")
    assert grid.size == (3 * 32 + 4, 4 * 32 + 6)  # 4 rows of label | generated | real


def _flat_world(root: Path, count: int, size: int = 32) -> None:
    """Label maps of three classes in random layouts; photos paint each class its flat target colour."""
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    rng = np.random.default_rng(0)
    lut = np.zeros((256, 3), np.uint8)
    for cid, colour in TARGETS.items():
        lut[cid] = colour
    for i in range(count):
        lab = np.full((size, size), 0, np.uint8)
        top = rng.integers(size // 4, size // 2)
        split = rng.integers(size // 4, 3 * size // 4)
        lab[top:, :split], lab[top:, split:] = 9, 13
        Image.fromarray(lab).save(root / "labels" / f"{i:03d}.png")
        Image.fromarray(lut[lab]).save(root / "images" / f"{i:03d}.png")


def _colour_error(path: Path) -> float:
    """Mean |rendered colour - target| (0..1) inside each class of a fixed layout, averaged over classes."""
    hparams, netG = generator(path)
    lab = np.zeros((32, 32), np.uint8)
    lab[12:, :16], lab[12:, 16:] = 9, 13
    image = arch.render(netG, hparams, lab)
    regions = {0: image[2:10, 2:30], 9: image[14:30, 2:14], 13: image[14:30, 18:30]}
    return float(np.mean([np.abs(regions[c].reshape(-1, 3).mean(0) - np.array(TARGETS[c]) / 255).mean()
                          for c in TARGETS]))


@pytest.mark.slow
def test_short_run_learns_the_class_colours(tmp_path):
    _flat_world(tmp_path / "flat", 8)
    cfg = tiny(tmp_path / "flat", tmp_path / "run", total_steps=30, lambda_l1=10.0, lr_G=1e-2, lr_D=1e-2,
               checkpoint_every=1, keep_checkpoints=100)
    events = run(cfg)
    steps = [e for e in events if e["type"] == "step"]
    ckpts = tmp_path / "run" / "checkpoints"
    first, last = _colour_error(ckpts / "step_0000001.safetensors"), _colour_error(ckpts / "step_0000030.safetensors")
    assert last < 0.35 * first and last < 0.08, (first, last)  # ~0.3 (grey) at the start
    l1 = [s["losses"]["G_L1"] for s in steps]
    assert np.mean(l1[-5:]) < 0.5 * np.mean(l1[:5])  # the generator closes in on the photos
    d = [s["losses"]["D"] for s in steps]
    assert all(0 < v < 2.5 for v in d) and min(d) < 2.0  # hinge D loss: 2 at chance, below once D tells apart
    assert steps[-1]["lr"]["G"] == 0.0 and steps[10]["lr"]["G"] == 1e-2  # constant, then linear decay to 0


def test_resume_reaches_the_uninterrupted_state(landscapes, tmp_path):
    # VAE on: the reparameterisation noise tests that RNG states resume too; 3 is mid-epoch (2 steps each)
    a = tiny(landscapes, tmp_path / "a", total_steps=6, use_vae=True, z_dim=8)
    b = replace(a, out=str(tmp_path / "b"))
    run(a)
    first = run(b, stop_after=3)
    assert first[-1] == {"type": "done", "step": 3, "reason": "stopped"}
    second = run(b, resume=True)
    assert second[0]["type"] == "start" and second[0]["step"] == 3
    ckpt_a = read_checkpoint(tmp_path / "a/checkpoints/step_0000006.safetensors")
    ckpt_b = read_checkpoint(tmp_path / "b/checkpoints/step_0000006.safetensors")
    for key, value in ckpt_a.state_dict.items():
        torch.testing.assert_close(ckpt_b.state_dict[key], value, rtol=1e-5, atol=1e-6, msg=key)
    for key, value in ckpt_a.parts["netE"].items():
        torch.testing.assert_close(ckpt_b.parts["netE"][key], value, rtol=1e-5, atol=1e-6, msg=key)
    state_a = checkpointing.read_state(tmp_path / "a/checkpoints/step_0000006.state.safetensors")
    state_b = checkpointing.read_state(tmp_path / "b/checkpoints/step_0000006.state.safetensors")
    for key, value in state_a["netD"].items():
        torch.testing.assert_close(state_b["netD"][key], value, rtol=1e-5, atol=1e-6, msg=key)
    assert state_b["scheduler_G"]["last_epoch"] == 6


def test_stop_file_checkpoints_and_catalog_follows_the_newest(landscapes, tmp_path):
    out = tmp_path / "My Run"
    events: list[dict] = []

    def emit(type_, **fields):
        events.append({"type": type_, **fields})
        if type_ == "step" and fields["step"] == 3:
            (out / STOP_FILE).touch()  # what the GUI's Stop button does

    cfg = tiny(landscapes, out, total_steps=50, checkpoint_every=2)
    with StopFlag(out) as stop:
        final = spade.train(cfg, emit=emit, should_stop=stop)
    assert events[-1] == {"type": "done", "step": 3, "reason": "stopped"}
    assert final.name == "step_0000003.safetensors" and final.is_file()
    checkpoints = [e for e in events if e["type"] == "checkpoint"]
    assert [c["step"] for c in checkpoints] == [2, 3] and {c["model_id"] for c in checkpoints} == {"spade-my-run"}
    entries = [e for e in Catalog().entries() if e.id.startswith("spade-my-run")]
    assert len(entries) == 1 and Path(entries[0].source) == final.resolve()
    entry = entries[0]
    assert entry.hparams == read_checkpoint(final).metadata["hparams"] and entry.palette == "landscape"
    assert "step 3 of run My Run" in entry.notes and entry.classes[9] == (9, "grass")
    engine = Engine(Catalog(), CPU)
    hparams, nets = engine.loaded(entry.id)
    assert arch.render(nets["netG"], hparams, np.zeros((32, 32), np.uint8)).shape == (32, 32, 3)


def test_export_round_trip_through_the_engine_import(smoke, landscapes, tmp_path, capsys):
    out, _ = smoke
    code, printed, _ = cli_main(["spade", "export", str(out), "--out", str(tmp_path / "official")], capsys)
    assert code == 0 and {Path(p).name for p in printed.split()} == {"latest_net_G.pth", "latest_net_E.pth", "opt.txt"}
    exported = torch.load(tmp_path / "official/latest_net_G.pth", weights_only=True)
    assert "head_0.conv_0.weight_orig" in exported and not any(k.startswith("module.") for k in exported)
    entry = Engine(Catalog(), CPU).import_model(str(tmp_path / "official/latest_net_G.pth"), None)
    ours = read_checkpoint(out / "checkpoints/step_0000001.safetensors")
    assert entry.hparams == ours.metadata["hparams"]
    hparams, nets = Engine(Catalog(), CPU).loaded(entry.id)
    ours_nets = registry.by_method("spade").load(ours, ours.metadata["hparams"])
    lab = np.random.default_rng(1).integers(0, 15, (32, 32)).astype(np.uint8)
    style = np.random.default_rng(2).random((32, 32, 3)).astype(np.float32)
    for kwargs in ({"seed": 3}, {"style": style}):
        a = arch.render(nets["netG"], hparams, lab, encoder=nets["netE"], **kwargs)
        b = arch.render(ours_nets["netG"], ours.metadata["hparams"], lab, encoder=ours_nets["netE"], **kwargs)
        assert np.array_equal(a, b)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_mixed_precision_path(dtype, landscapes, tmp_path, monkeypatch):
    """The CUDA AMP path (autocast; fp16 adds GradScalers, saved for resume), run with CPU autocast here."""
    monkeypatch.setattr(loop, "choose_precision", lambda device, amp: Precision("cpu", dtype))  # the base's
    cfg = tiny(landscapes, tmp_path / "run", total_steps=2, use_vae=True, z_dim=8)
    events = run(cfg)
    losses = [e for e in events if e["type"] == "step"][-1]["losses"]
    assert all(np.isfinite(v) for v in losses.values()) and events[-1]["reason"] == "finished"
    state = checkpointing.read_state(tmp_path / "run/checkpoints/step_0000002.state.safetensors")
    assert (state["scaler_G"] is not None) == (dtype == torch.float16)
    run(replace(cfg, total_steps=3), resume=True)


def test_resume_refuses_changed_networks_and_reads_config_files(smoke, landscapes, tmp_path, capsys):
    out, _ = smoke
    code, _, err = cli_main(["spade", "--out", str(out), "--resume", "--ngf", "8"], capsys)
    assert code == 2 and "cannot resume with changed options" in err and "ngf 4 -> 8" in err
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"images": str(landscapes / "images"), "labels": "/nowhere", "crop_size": 32,
                                  "batch_size": 2}))
    code, out_text, _ = cli_main(["spade", "--config", str(config), "--labels", str(landscapes / "labels"),
                                  "--validate-only"], capsys)  # the flag overrides the file
    assert code == 0 and json.loads(out_text)["pairs"] == 4
    config.write_text(json.dumps({"images": "x", "crop_sise": 32}))
    code, _, err = cli_main(["spade", "--config", str(config), "--validate-only"], capsys)
    assert code == 2 and "unknown option crop_sise" in err


# --- the dataset check and bad input ----------------------------------------------------------------------


def _copy_dataset(src: Path, dst: Path) -> Path:
    for sub in ("images", "labels"):
        (dst / sub).mkdir(parents=True)
        for f in (src / sub).iterdir():
            (dst / sub / f.name).write_bytes(f.read_bytes())
    return dst


def test_validate_only_prints_the_summary(landscapes, tmp_path, capsys):
    data = _copy_dataset(landscapes, tmp_path / "data")
    (data / "images" / "extra.jpg").write_bytes((data / "images" / "00000.jpg").read_bytes())
    (data / "images" / "00001.jpg").write_bytes(b"not a jpeg at all")
    code, out, _ = cli_main(["spade", "--images", str(data / "images"), "--labels", str(data / "labels"),
                             "--validate-only"], capsys)
    summary = json.loads(out)
    assert code == 0 and summary["pairs"] == 3 and summary["unmatched_images"] == ["extra.jpg"]
    assert summary["unreadable"] == ["00001.jpg: not an image, or corrupt"] and summary["sizes"] == {"32x32": 3}
    assert set(summary["label_ids_found"]) <= set(range(15)) and summary["ids_outside_palette"] == []
    assert summary["errors"] == [] and len(summary["warnings"]) == 2


def _bad_folders(kind: str, landscapes: Path, tmp: Path) -> tuple[Path, Path, Path]:
    data = tmp / "data"
    if kind == "empty":
        (data / "images").mkdir(parents=True)
        (data / "labels").mkdir()
    else:
        _copy_dataset(landscapes, data)
    if kind == "mismatched":
        for f in (data / "labels").iterdir():
            f.rename(f.with_name("label_" + f.name))
    if kind == "outside-palette":
        lab = np.full((32, 32), 40, np.uint8)
        Image.fromarray(lab).save(data / "labels" / "00002.png")
    out = tmp / "run"
    if kind == "unwritable":
        (tmp / "a-file").write_text("")
        out = tmp / "a-file" / "run"  # under a file: no one, root included, can create it
    return data / "images", data / "labels", out


@pytest.mark.parametrize(("kind", "message"), [
    ("empty", "no images"), ("mismatched", "has a label map of the same name"),
    ("outside-palette", "label ids 40 are not classes of palette 'landscape'"),
    ("unwritable", "cannot write to the run folder"),
])
def test_bad_input_is_one_clear_line(kind, message, landscapes, tmp_path, capsys):
    images, labels, out = _bad_folders(kind, landscapes, tmp_path)
    argv = ["spade", "--images", str(images), "--labels", str(labels), "--out", str(out), "--ngf", "4",
            "--nhidden", "8", "--crop_size", "32", "--batch_size", "2", "--total_steps", "1", "--lambda_vgg", "0"]
    code, _, err = cli_main(argv, capsys)
    assert code == 2 and err.startswith("error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    if kind == "outside-palette":  # the user may choose to map them to dontcare instead
        code, _, err = cli_main([*argv, "--ignore_unknown_ids", "--contain_dontcare_label"], capsys)
        assert code == 0, err


def test_bad_input_from_a_real_process_has_no_traceback(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    proc = subprocess.run([sys.executable, "-m", "trainers", "spade", "--images", str(tmp_path / "images"),
                           "--labels", str(tmp_path / "labels"), "--out", str(tmp_path / "run")],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error: no images") and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_unreadable_images_are_skipped_with_a_warning(landscapes, tmp_path):
    data = _copy_dataset(landscapes, tmp_path / "data")
    (data / "images" / "00001.jpg").write_bytes(b"garbage")  # fails the check: left out up front
    jpeg = (data / "images" / "00002.jpg").read_bytes()
    (data / "images" / "00002.jpg").write_bytes(jpeg[:-300])  # header fine, pixels cut off
    events = run(tiny(data, tmp_path / "run", total_steps=1, batch_size=3))
    warnings = [e["message"] for e in events if e["type"] == "log" and e["level"] == "warning"]
    assert any("00001.jpg: not an image, or corrupt" in w for w in warnings)
    assert any("skipped an unreadable file: 00002.jpg" in w for w in warnings)
    assert events[-1]["reason"] == "finished"


def test_disk_full_keeps_the_last_checkpoint(landscapes, tmp_path, monkeypatch, capsys):
    real_write = checkpointing.write_checkpoint
    calls = []

    def write(path, *args, **kwargs):
        calls.append(path)
        if len(calls) > 2:  # the second pair's model file
            Path(path).with_name("." + Path(path).name + ".x.tmp").write_bytes(b"partial")
            raise OSError(28, "No space left on device", str(path))
        return real_write(path, *args, **kwargs)

    monkeypatch.setattr(checkpointing, "write_checkpoint", write)
    out = tmp_path / "run"
    argv = ["spade", "--images", str(landscapes / "images"), "--labels", str(landscapes / "labels"), "--out",
            str(out), "--ngf", "4", "--nhidden", "8", "--ndf", "4", "--n_layers_D", "2", "--crop_size", "32",
            "--batch_size", "2", "--total_steps", "4", "--checkpoint_every", "1", "--lambda_vgg", "0"]
    code, _, err = cli_main(argv, capsys)
    assert code == 2 and "disk is full" in err and "checkpoint step 1 is kept" in err
    assert json.loads((out / "checkpoints/latest.json").read_text())["step"] == 1
    generator(out / "checkpoints/step_0000001.safetensors")
    assert read_events(out / EVENTS_FILE)[-1]["type"] == "error"
    monkeypatch.setattr(checkpointing, "write_checkpoint", real_write)
    code, _, err = cli_main(["spade", "--out", str(out), "--resume"], capsys)  # after freeing space
    assert code == 0, err
    assert not list((out / "checkpoints").glob(".*.tmp"))


# --- real processes: a killed run, two DDP processes ------------------------------------------------------


def _trainer(args: list[str], **kwargs) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, *args], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def _tiny_args(data: Path, out: Path) -> list[str]:
    return ["--images", str(data / "images"), "--labels", str(data / "labels"), "--out", str(out), "--ngf", "4",
            "--nhidden", "8", "--ndf", "4", "--n_layers_D", "2", "--crop_size", "32", "--batch_size", "2",
            "--lambda_vgg", "0", "--log_every", "1"]


def test_killed_run_keeps_its_last_checkpoint_and_resumes(landscapes, tmp_path, capsys):
    out = tmp_path / "run"
    proc = _trainer(["-m", "trainers", "spade", *_tiny_args(landscapes, out), "--total_steps", "100000",
                     "--checkpoint_every", "1"])
    latest = out / "checkpoints" / "latest.json"
    deadline = time.time() + 90
    try:
        while time.time() < deadline and proc.poll() is None:
            if latest.is_file() and json.loads(latest.read_text())["step"] >= 2:
                break
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    step = json.loads(latest.read_text())["step"]
    assert step >= 2
    generator(out / "checkpoints" / json.loads(latest.read_text())["model"])  # the survivor loads
    torn = out / "checkpoints" / f"step_{step + 50:07d}.safetensors"
    torn.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{")  # as if killed mid-write of a newer one
    code, _, err = cli_main(["spade", "--out", str(out), "--resume", "--total_steps", str(step + 2)], capsys)
    assert code == 0, err
    starts = [e for e in read_events(out / EVENTS_FILE) if e["type"] == "start"]
    assert starts[-1]["step"] == step and not torn.exists()
    assert json.loads(latest.read_text())["step"] == step + 2
    assert len(list((out / "checkpoints").glob("step_*.state.safetensors"))) == 3  # keep_checkpoints


@pytest.mark.slow
def test_two_ddp_processes_write_one_consistent_checkpoint(landscapes, tmp_path):
    out = tmp_path / "run"
    proc = _trainer(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "trainers", "spade",
                     *_tiny_args(landscapes, out), "--total_steps", "3", "--checkpoint_every", "2"])
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-3000:]
    events = read_events(out / EVENTS_FILE)
    assert [e["type"] for e in events].count("start") == 1 and events[0]["world_size"] == 2
    assert any("per process" in n for n in events[0]["notes"])  # CPU: no SyncBatchNorm, and it says so
    assert events[-1] == {**events[-1], "type": "done", "step": 3, "reason": "finished"}
    steps = [e for e in events if e["type"] == "step"]
    assert len(steps) == 3 and steps[0]["samples_s"] == pytest.approx(4 * steps[0]["it_s"], rel=1e-3)
    assert json.loads((out / "checkpoints/latest.json").read_text())["step"] == 3
    hparams, _ = generator(out / "checkpoints/step_0000003.safetensors")
    assert hparams["ngf"] == 4
    state = checkpointing.read_state(out / "checkpoints/step_0000003.state.safetensors")
    assert state["rng"]["torch_cpu"].shape[0] == 2 and state["step"] == 3
    assert json.loads((out / "run.json").read_text())["world_size"] == 2


def test_a_second_trainer_on_a_live_run_is_refused(landscapes, tmp_path, capsys):
    """A Resume from the GUI while a shell process still trains the run must not touch it."""
    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / "trainer.pid").write_text(str(holder.pid))
        code, _, err = cli_main(["spade", "--images", str(landscapes / "images"), "--labels",
                                 str(landscapes / "labels"), "--out", str(out), "--total_steps", "1"], capsys)
        assert code == 2 and f"being trained by process {holder.pid}" in err
        assert not (out / EVENTS_FILE).exists()  # the live run's stream was not written to
    finally:
        holder.kill()
        holder.wait()
    # once that process is gone its pid file is stale and a new run may start
    code, _, err = cli_main(["spade", "--images", str(landscapes / "images"), "--labels", str(landscapes / "labels"),
                             "--out", str(out), "--total_steps", "1", "--ngf", "4", "--nhidden", "8", "--ndf", "4",
                             "--n_layers_D", "2", "--crop_size", "32", "--batch_size", "2", "--lambda_vgg", "0"], capsys)
    assert code == 0, err
    assert not (out / "trainer.pid").exists()
