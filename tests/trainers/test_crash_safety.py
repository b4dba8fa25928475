"""Nothing lost, nothing hangs, for trainers: a checkpoint the catalog could not take keeps the file the
catalog still names; kill -9 at random points of writing and publishing a checkpoint always leaves a
resumable pair and a catalog whose entry exists; run locks and the exports are written whole; a trainer
whose watched parent dies stops by itself.

About 30 s on two cores: the kill loop forks its writers from one warm process, and only the watchdog test
starts a real trainer.
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from engine.catalog import Catalog
from engine.checkpoints import read_checkpoint, write_checkpoint
from engine.models import cyclegan as cyclegan_arch
from engine.storage import sha256_file, user_data_dir
from tests.trainers.unpaired_domains import write_domain
from trainers import checkpointing, cyclegan, runner
from trainers.checkpointing import CHECKPOINT_DIR, find_resume_point, read_state, save_checkpoint
from trainers.common import RunLock, TrainError
from trainers.events import EVENTS_FILE, LOCK_FILE, read_events

REPO = Path(__file__).resolve().parents[2]
KEEP = 2
LISTING = {"run_name": "crash run", "method": "cyclegan", "task": "ImageToImage", "size_rule": "multiple:4",
           "license": "ours", "hparams": cyclegan_arch.config_hparams(ngf=4, n_blocks=1), "classes": [], "palette": "", "added": "2025-01-01", "notes": ""}


def save(run: Path, step: int, model_id: str | None, *, keep: int = KEEP, events: list | None = None):
    """One checkpoint of tiny tensors, the way every trainer saves one."""
    sink = events if events is not None else []
    return save_checkpoint(run, step=step, model={"w": torch.full((4, 4), float(step))},
                           metadata={"method": "test", "step": step}, parts={},
                           state={"step": step, "optimizer": {"m": torch.zeros(3)}}, model_id=model_id,
                           listing=LISTING, keep=keep, emit=lambda type_, **f: sink.append({"type": type_, **f}))


def pairs(run: Path) -> list[str]:
    return sorted(p.name for p in (run / CHECKPOINT_DIR).iterdir())


def pair_names(*steps: int) -> list[str]:
    return sorted([checkpointing.LATEST] + [f"step_{s:07d}{x}" for s in steps
                                            for x in (".safetensors", ".state.safetensors")])


# --- a failed catalog update never costs the file the catalog names ------------------------------------------


def test_a_full_disk_at_the_catalog_keeps_the_file_its_entry_names(tmp_path, monkeypatch):
    run = tmp_path / "run"
    _, model_id = save(run, 1, None, keep=1)
    assert model_id == "cyclegan-crash-run"
    real_upsert = Catalog.upsert

    def full(self, entry):
        raise OSError(errno.ENOSPC, "No space left on device", str(self.user_file))

    monkeypatch.setattr(Catalog, "upsert", full)
    events: list[dict] = []
    _, new_id = save(run, 2, model_id, keep=1, events=events)
    assert new_id is None and events[-1] == {"type": "checkpoint", "step": 2,
                                             "path": "checkpoints/step_0000002.safetensors", "model_id": None}
    warning = events[0]["message"]
    assert "not in the model catalog" in warning and "the disk is full" in warning and "\n" not in warning
    entry = Catalog().get(model_id)
    assert Path(entry.source).is_file() and sha256_file(Path(entry.source)) == entry.sha256  # step 1 is kept
    assert pairs(run) == pair_names(1, 2)
    latest = json.loads((run / CHECKPOINT_DIR / "latest.json").read_text())
    assert latest["step"] == 2 and latest["model_id"] == model_id and latest["published"] == "step_0000001.safetensors"

    save(run, 3, model_id, keep=1)  # still failing: kept to `keep` plus the one the catalog names
    assert pairs(run) == pair_names(1, 3)
    monkeypatch.setattr(Catalog, "upsert", real_upsert)
    assert find_resume_point(run).step == 3
    _, again = save(run, 4, model_id, keep=1)  # the catalog takes it again: now the old file may go
    assert again == model_id and Catalog().get(model_id).source == str((run / CHECKPOINT_DIR / "step_0000004.safetensors").resolve())
    assert pairs(run) == pair_names(4)


def test_an_unreadable_catalog_keeps_the_file_latest_json_remembers(tmp_path):
    run = tmp_path / "run"
    _, model_id = save(run, 1, None, keep=1)
    catalog = user_data_dir() / "models.json"
    good = catalog.read_bytes()
    catalog.write_text("{ not json")  # the user broke it: nobody can tell which file the entry names but us
    events: list[dict] = []
    for step in (2, 3):
        save(run, step, model_id, keep=1, events=events)
    assert sum("unreadable" in e.get("message", "") for e in events) == 2
    assert pairs(run) == pair_names(1, 3)
    catalog.write_bytes(good)  # fixed: its entry still finds its file
    assert Path(Catalog().get(model_id).source).is_file()
    save(run, 4, model_id, keep=1)
    assert pairs(run) == pair_names(4)


@pytest.fixture(scope="module")
def domains(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("domains")
    return write_domain(root / "A", 4, seed=0), write_domain(root / "B", 4, seed=1, b=True)


def tiny(domains: tuple[Path, Path], out: Path, **over) -> cyclegan.CycleGanConfig:
    a, b = domains
    return replace(cyclegan.CycleGanConfig(a=str(a), b=str(b), out=str(out), ngf=4, n_blocks=1, ndf=4, crop_size=32,
                                           batch_size=1, sample_every=1000, checkpoint_every=1, keep_checkpoints=1,
                                           device="cpu", total_steps=2), **over)


def test_a_trainer_whose_catalog_write_fails_keeps_its_entry_valid_and_resumes(domains, tmp_path, monkeypatch):
    out = tmp_path / "run"
    real_upsert, calls = Catalog.upsert, []

    def second_fails(self, entry):
        calls.append(entry.source)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_upsert(self, entry)

    monkeypatch.setattr(Catalog, "upsert", second_fails)
    events: list[dict] = []
    cyclegan.train(tiny(domains, out), emit=lambda type_, **f: events.append({"type": type_, **f}),
                   should_stop=lambda: False)
    assert any(e["type"] == "log" and "not in the model catalog" in e["message"] for e in events)
    entry = Catalog().get("cyclegan-run")
    assert entry.source.endswith("step_0000001.safetensors") and Path(entry.source).is_file()
    assert pairs(out) == pair_names(1, 2)  # keep_checkpoints 1, plus the one the catalog names

    monkeypatch.setattr(Catalog, "upsert", real_upsert)
    resumed: list[dict] = []
    cyclegan.train(tiny(domains, out, total_steps=3), emit=lambda type_, **f: resumed.append({"type": type_, **f}),
                   should_stop=lambda: False, resume=True)
    assert resumed[0]["step"] == 2 and resumed[-1]["type"] == "done"
    entry = Catalog().get("cyclegan-run")
    assert entry.source.endswith("step_0000003.safetensors") and Path(entry.source).is_file()
    assert pairs(out) == pair_names(3)


# --- kill -9 while checkpoints are written and published ---------------------------------------------------

# One warm process (torch imported once) forks a writer per round; the writer resumes where the last one was
# killed and saves checkpoints in a loop until the test kills it. The zygote reaps it and says so.
ZYGOTE = """
import os, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from tests.trainers.test_crash_safety import save
from trainers.checkpointing import find_resume_point, remove_leftovers
run = Path(sys.argv[1])
print("ready", flush=True)
for _ in sys.stdin:
    pid = os.fork()
    if pid == 0:
        try:
            point = find_resume_point(run)
            remove_leftovers(run, after_step=point.step)
            step, model_id = point.step, point.info["model_id"]
            while True:
                step += 1
                save(run, step, model_id)
        finally:
            os._exit(1)
    print(pid, flush=True)
    print("reaped", os.waitpid(pid, 0)[1], flush=True)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the kill loop forks its writers (POSIX)")
def test_kill_9_while_publishing_checkpoints_loses_nothing(tmp_path):
    run = tmp_path / "run"
    _, model_id = save(run, 1, None)
    data = user_data_dir()
    zygote = subprocess.Popen([sys.executable, "-c", ZYGOTE, str(run), str(REPO)], cwd=REPO, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})
    rng = random.Random(13)
    steps = []
    try:
        assert zygote.stdout.readline() == "ready\n"
        for _ in range(20):
            zygote.stdin.write("go\n")
            zygote.stdin.flush()
            writer = int(zygote.stdout.readline())
            time.sleep(rng.uniform(0.02, 0.4))
            os.kill(writer, signal.SIGKILL)
            assert zygote.stdout.readline() == f"reaped {int(signal.SIGKILL)}\n"  # killed, not failed

            point = find_resume_point(run)  # a complete pair, always
            assert point is not None and read_state(point.state)["step"] == point.step
            assert read_checkpoint(point.model).metadata["step"] == point.step
            entry = Catalog().get(model_id)  # the catalog parses and its entry's file is whole
            assert Path(entry.source).is_file() and sha256_file(Path(entry.source)) == entry.sha256
            steps.append(point.step)

            started = time.monotonic()  # the next publish: a dead writer's catalog lock is taken over at once
            _, published = save(run, point.step + 1, model_id)
            assert published == model_id and time.monotonic() - started < 5
            assert pairs(run) == pair_names(point.step, point.step + 1)  # no torn pairs, no temporary files
            assert not [p.name for p in data.iterdir() if p.name.endswith((".tmp", ".lock"))]
            assert Catalog().get(model_id).source.endswith(f"step_{point.step + 1:07d}.safetensors")
    finally:
        zygote.kill()
        zygote.wait()
    assert steps[-1] > 20 and len(set(steps)) > 10, steps  # the writers did get on between kills


# --- locks and exports are written whole ---------------------------------------------------------------------


def test_a_run_lock_of_a_dead_trainer_is_taken_over_at_once(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / LOCK_FILE).write_text(str(dead.pid))
    (tmp_path / f".{LOCK_FILE}.{dead.pid}.tmp").write_text(str(dead.pid))  # it was killed taking another one
    lock = RunLock(tmp_path)
    started = time.monotonic()
    lock.acquire()
    assert time.monotonic() - started < 1 and (tmp_path / LOCK_FILE).read_text().split()[0] == str(os.getpid())
    lock.acquire()  # the same process again: fine
    assert [p.name for p in tmp_path.iterdir()] == [LOCK_FILE]  # no temporary file left beside it
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        lock.release()
        (tmp_path / LOCK_FILE).write_text(str(holder.pid))
        with pytest.raises(TrainError, match=f"being trained by process {holder.pid}"):
            RunLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    (tmp_path / LOCK_FILE).write_text("")  # a lock that names nobody is stale too
    RunLock(tmp_path).acquire()
    assert (tmp_path / LOCK_FILE).read_text().split()[0] == str(os.getpid())


def test_an_export_that_fails_leaves_the_previous_files_whole(tmp_path, monkeypatch):
    from trainers import spade

    hparams = {"ngf": 4, "label_nc": 3, "contain_dontcare_label": False, "no_instance": True, "semantic_nc": 3,
               "num_upsampling_layers": "normal", "crop_size": 32, "aspect_ratio": 1.0, "use_vae": False, "z_dim": 8}
    source = tmp_path / "step_0000001.safetensors"
    write_checkpoint(source, {"w": torch.ones(2)}, {"method": "spade", "hparams": hparams})
    out = tmp_path / "official"
    out.mkdir()
    (out / "latest_net_G.pth").write_bytes(b"good")
    real_save = torch.save

    def torn(obj, f, *args, **kwargs):  # a disk that fills up halfway through the file
        f.write(b"PK\x03\x04 half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", torn)
    with pytest.raises(TrainError, match="cannot write the export"):
        spade.export(source, out)
    assert [p.name for p in out.iterdir()] == ["latest_net_G.pth"] and (out / "latest_net_G.pth").read_bytes() == b"good"
    monkeypatch.setattr(torch, "save", real_save)
    written = spade.export(source, out)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)
    assert torch.load(out / "latest_net_G.pth", weights_only=True)["w"].tolist() == [1.0, 1.0]


# --- a trainer whose watched parent dies stops by itself ----------------------------------------------------


def test_the_tests_set_the_trainer_watchdog():
    assert os.environ[runner.WATCH_ENV] == str(os.getpid())


def test_a_trainer_stops_when_the_process_it_watches_dies(domains, tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    out = tmp_path / "run"
    a, b = domains
    env = {**os.environ, runner.WATCH_ENV: str(parent.pid), "OMP_NUM_THREADS": "1"}
    trainer = subprocess.Popen([sys.executable, "-m", "trainers", "cyclegan", "--a", str(a), "--b", str(b),
                                "--out", str(out), "--total_steps", "100000", "--ngf", "4", "--n_blocks", "1",
                                "--ndf", "4", "--crop_size", "32", "--batch_size", "1", "--checkpoint_every", "100000",
                                "--sample_every", "100000", "--log_every", "1", "--device", "cpu"],
                               cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (out / EVENTS_FILE).exists() or not any(e["type"] == "step" for e in read_events(out / EVENTS_FILE)):
            assert trainer.poll() is None and time.monotonic() < deadline, trainer.stderr.read()[-2000:]
            time.sleep(0.1)
        parent.kill()
        parent.wait()
        killed = time.monotonic()
        _, err = trainer.communicate(timeout=runner.WATCH_POLL + runner.WATCH_GRACE + 10)
        assert time.monotonic() - killed < runner.WATCH_POLL + runner.WATCH_GRACE + 5
    finally:
        for proc in (parent, trainer):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert f"process {parent.pid} that this run depends on" in err
    events = read_events(out / EVENTS_FILE)
    assert trainer.returncode == 0 and events[-1]["type"] == "done" and events[-1]["reason"] == "stopped", err[-2000:]
    assert find_resume_point(out).step == events[-1]["step"]  # a clean stop: the last step is saved
    assert not (out / LOCK_FILE).exists()
