"""Nothing lost, nothing hangs: atomic writes on full and read-only disks, locks of killed owners, kill -9 loops."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from engine.api import ModelEntry
from engine.catalog import Catalog
from engine.errors import error_message
from engine.imageio import ImageFileError, read_rgb, write_rgb
from engine.storage import LockBusy, atomic_write, atomic_write_bytes, file_lock
from tests.disks import fill, folder_listing, make_read_only, small_disk

REPO = Path(__file__).resolve().parents[2]


def entry(model_id: str) -> ModelEntry:
    return ModelEntry(id=model_id, method="cut", task="ImageToImage", size_rule="any", license="test",
                      source=f"/models/{model_id}.safetensors", sha256=model_id.ljust(64, "0"))


def noise(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Incompressible pixels, so an encoded file needs its full size on disk."""
    return np.random.default_rng(seed).random((h, w, 3), dtype=np.float32)


# --- atomic writes ---------------------------------------------------------------------------------------


def test_a_writer_that_fails_halfway_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"the good file")

    def half(f):
        f.write(b"half of the new")
        raise RuntimeError("the encoder broke")

    with pytest.raises(RuntimeError):
        atomic_write(target, half)
    assert target.read_bytes() == b"the good file"
    assert folder_listing(tmp_path) == ["out.bin"]


def test_temporary_files_of_a_killed_writer_are_swept_by_the_next_write(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    leftover = tmp_path / f".out.png.{int(dead.stdout)}.abc123.tmp"
    leftover.write_bytes(b"torn")
    live = tmp_path / f".out.png.{os.getpid() + 0}.zzz.tmp"  # our own (a write in progress elsewhere here): kept
    live.write_bytes(b"in progress")
    atomic_write_bytes(tmp_path / "out.png", b"new")
    assert not leftover.exists() and live.exists()


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_a_full_disk_never_replaces_a_good_image_nor_leaves_a_partial_one(tmp_path, suffix):
    with small_disk(tmp_path / "disk", 512) as disk:
        good = disk / f"good{suffix}"
        write_rgb(good, noise(64, 64))
        before = good.read_bytes()
        fill(disk, leave_bytes=4096)
        with pytest.raises(ImageFileError) as failed:
            write_rgb(good, noise(300, 300, seed=1))  # ~270 kB of noise: cannot fit
        message = str(failed.value)
        assert "disk is full" in message and "\n" not in message and message.startswith(good.name)
        assert good.read_bytes() == before
        with pytest.raises(ImageFileError):
            write_rgb(disk / f"new{suffix}", noise(300, 300, seed=2))
        assert folder_listing(disk) == ["filler.bin", good.name]  # no 0-byte file, no temporary


def test_a_read_only_disk_is_named_and_the_file_kept(tmp_path):
    with small_disk(tmp_path / "disk", 512) as disk:
        good = disk / "good.png"
        write_rgb(good, noise(32, 32))
        before = good.read_bytes()
        make_read_only(disk)
        with pytest.raises(ImageFileError, match="read-only"):
            write_rgb(good, noise(32, 32, seed=3))
        assert good.read_bytes() == before


def test_the_catalog_survives_a_full_disk(tmp_path):
    with small_disk(tmp_path / "disk", 256) as disk:
        catalog = Catalog(disk / "models.json", builtin_file=tmp_path / "none.json")
        catalog.add(entry("first"))
        before = (disk / "models.json").read_bytes()
        fill(disk)
        with pytest.raises(OSError) as failed:
            catalog.add(entry("x" * 40))
        assert "disk is full" in error_message(failed.value)
        assert (disk / "models.json").read_bytes() == before
        assert [e.id for e in catalog.entries()] == ["first"]
        assert not [n for n in folder_listing(disk) if n.endswith(".tmp") or n.endswith(".lock")]


# --- locks -------------------------------------------------------------------------------------------------


def dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def test_a_lock_left_by_a_killed_process_is_taken_over_at_once(tmp_path):
    lock = tmp_path / "models.json.lock"
    lock.write_text(f"{dead_pid()} {os.uname().nodename}")
    started = time.monotonic()
    with file_lock(lock, timeout=5):
        assert lock.read_text().split()[0] == str(os.getpid())
    assert time.monotonic() - started < 0.5
    assert not lock.exists()


def test_a_lock_held_by_a_living_process_waits_then_says_so_in_one_line(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        lock = tmp_path / "models.json.lock"
        lock.write_text(f"{holder.pid} {os.uname().nodename}")
        started = time.monotonic()
        with pytest.raises(LockBusy) as busy, file_lock(lock, timeout=0.3):
            pass
        assert 0.3 <= time.monotonic() - started < 2
        assert error_message(busy.value) == (f"models.json is in use by another I2I Studio process "
                                             f"(process {holder.pid}); try again when it has finished")
        assert lock.exists()  # a living owner's lock is never removed
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_from_another_machine_is_trusted_until_it_is_old(tmp_path):
    lock = tmp_path / "models.json.lock"
    lock.write_text("12345 some-other-host")
    with pytest.raises(LockBusy), file_lock(lock, timeout=0.2):
        pass
    old = time.time() - 120
    os.utime(lock, (old, old))
    with file_lock(lock, timeout=1):
        pass


# --- kill -9 at random points ------------------------------------------------------------------------------

CATALOG_WRITER = textwrap.dedent("""
    import sys
    from engine.api import ModelEntry
    from engine.catalog import Catalog
    catalog = Catalog()
    print("ready", flush=True)
    n = 0
    while True:
        n += 1
        catalog.upsert(ModelEntry(id=f"run-{n % 7}", method="cut", task="ImageToImage", size_rule="any",
                                  license="test", source=f"/m/{n}.safetensors", sha256=str(n).ljust(64, "0"),
                                  notes="x" * (n % 5000)))
""")


def test_kill_9_during_catalog_writes_never_loses_the_catalog_nor_blocks_the_next_command(tmp_path):
    env = {**os.environ, "I2I_STUDIO_DATA": str(tmp_path), "PYTHONPATH": str(REPO)}
    rng = random.Random(0)
    catalog_file = tmp_path / "models.json"
    for _ in range(20):
        writer = subprocess.Popen([sys.executable, "-c", CATALOG_WRITER], env=env, stdout=subprocess.PIPE, text=True)
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.15))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
        started = time.monotonic()
        catalog = Catalog(catalog_file)
        catalog.upsert(entry("after-the-kill"))  # takes the dead writer's lock over at once
        assert time.monotonic() - started < 1.0
        data = json.loads(catalog_file.read_text())
        assert "after-the-kill" in [m["id"] for m in data["models"]]
        assert not [n for n in folder_listing(tmp_path) if n.endswith((".tmp", ".lock"))]


def test_kill_9_during_models_import_leaves_a_catalog_the_next_command_reads_at_once(tmp_path):
    from tests.translation_fixtures import write_tiny_cut

    env = {**os.environ, "I2I_STUDIO_DATA": str(tmp_path / "data")}
    model = write_tiny_cut(tmp_path / "models" / "tiny.safetensors")
    main = [sys.executable, str(REPO / "main.py")]
    done = subprocess.run([*main, "models", "import", str(model)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rng = random.Random(1)
    for i in range(4):
        killed, after = (tmp_path / "models" / f"{name}{i}.safetensors" for name in ("killed", "after"))
        for n, path in enumerate((killed, after)):
            write_tiny_cut(path, seed=2 * i + n + 1, name=path.stem)  # new weights: a real new import
        importer = subprocess.Popen([*main, "models", "import", str(killed)], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(1.0, 3.0))
        importer.send_signal(signal.SIGKILL)
        importer.wait()
        started = time.monotonic()
        done = subprocess.run([*main, "models", "import", str(after)], env=env, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0 and done.stderr == "", done.stderr
        assert time.monotonic() - started < 10  # no wait on the dead importer's lock (it was 13 s, then a traceback)
        ids = [m["id"] for m in json.loads((tmp_path / "data" / "models.json").read_text())["models"]]
        assert ids[0].startswith("cut-tiny") and ids[-1] == f"cut-after{i}"
        assert not [n for n in folder_listing(tmp_path / "data") if n.endswith((".tmp", ".lock"))]
