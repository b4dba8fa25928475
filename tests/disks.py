"""Real full and read-only disks for tests: a small tmpfs mounted in the test's folder (Linux, as root).

Where the machine does not allow mounting, the tests that need one are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


def _mount(folder: Path, options: str) -> str:
    """'' when mounted, else why not."""
    if sys.platform != "linux":
        return "tmpfs mounts need Linux"
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                              capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run mount ({exc})"
    return "" if done.returncode == 0 else f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}"


@contextlib.contextmanager
def small_disk(folder: Path, size_kib: int) -> Iterator[Path]:
    """A tmpfs of `size_kib` KiB mounted at `folder` for the block; skips the test where mounting is refused."""
    folder.mkdir(parents=True, exist_ok=True)
    if why := _mount(folder, f"size={size_kib}k,mode=0777"):
        pytest.skip(why)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=20)


def fill(disk: Path, leave_bytes: int = 0) -> None:
    """Fill the disk until at most `leave_bytes` are free."""
    stats = os.statvfs(disk)
    free = stats.f_bavail * stats.f_frsize - leave_bytes
    with open(disk / "filler.bin", "wb") as f, contextlib.suppress(OSError):
        while free > 0:
            chunk = min(free, 1 << 16)
            f.write(b"\0" * chunk)
            f.flush()
            free -= chunk


def make_read_only(disk: Path) -> None:
    done = subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True, text=True, timeout=20)
    if done.returncode != 0:
        pytest.skip(f"cannot remount read-only: {done.stderr.strip()}")


def folder_listing(folder: Path) -> list[str]:
    """Every name in the folder (hidden temporary files included)."""
    return sorted(p.name for p in folder.iterdir())
