"""Where the app keeps its files, and how it writes them without ever leaving half a file."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

DATA_ENV = "I2I_STUDIO_DATA"
REPO_ROOT = Path(__file__).resolve().parent.parent
RESOURCES = REPO_ROOT / "resources"


_UMASK = os.umask(0)
os.umask(_UMASK)


def user_data_dir() -> Path:
    """$I2I_STUDIO_DATA, else the platform's per-user data folder."""
    if env := os.environ.get(DATA_ENV):
        return Path(env)
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "i2i-studio"


class LockBusy(ValueError):
    """Another living process holds the lock past the timeout (a one-line message for the user)."""


@contextlib.contextmanager
def file_lock(path: Path, *, timeout: float = 10.0) -> Iterator[None]:
    """Exclusive across processes (the GUI and a trainer both edit the catalog), waiting up to `timeout` s for
    a living owner; see `try_lock`."""
    deadline = time.monotonic() + timeout
    while (holder := try_lock(path)) is not None:
        if time.monotonic() > deadline:
            who = f" (process {holder})" if holder else ""
            raise LockBusy(f"{path.name.removesuffix('.lock')} is in use by another I2I Studio process{who}; "
                           "try again when it has finished")
        time.sleep(0.02)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def try_lock(path: Path) -> int | None:
    """Take the lock file `path` for this process: None when taken, else the pid of the living process that
    holds it (0 when it cannot be told). Release by deleting the file.

    The lock records its owner ("pid host") and appears complete in one step (a hard link of a written file),
    so a process killed at any point leaves either no lock or one naming it. A lock whose owner on this
    machine is dead (a kill -9) is taken over at once; one written on another machine (a shared folder) only
    after `_FOREIGN_STALE` s. Raises OSError (a read-only or full disk)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _sweep_dead_temps(path)
    mine = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}{TEMP_SUFFIX}")
    try:
        mine.write_text(f"{os.getpid()} {_HOST}", encoding="utf-8")
        while not _link(mine, path):
            owner = _lock_owner(path)
            if owner is None:  # released meanwhile
                continue
            if _owner_alive(path, owner):
                return owner[0]
            _take_over(path, owner)
        return None
    finally:
        mine.unlink(missing_ok=True)


def lock_owner(path: Path) -> int | None:
    """The pid a lock file names (None when there is no lock or it names nobody)."""
    owner = _lock_owner(path)
    return owner[0] if owner and owner[0] else None


def _link(source: Path, target: Path) -> bool:
    """Create `target` as `source` unless it exists; False when it does."""
    try:
        os.link(source, target)
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: exclusive create, then the owner
        try:
            fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        os.write(fd, source.read_bytes())
        os.close(fd)
    return True


_HOST = socket.gethostname()
_FOREIGN_STALE = 60.0  # s: a lock from another machine cannot be checked for life, only for age


def _lock_owner(path: Path) -> tuple[int, str] | None:
    """(pid, host) of the lock, (0, "") for one with no readable owner; None when it vanished meanwhile."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError:
        return 0, ""
    pid, _, host = text.strip().partition(" ")
    return (int(pid), host) if pid.isdigit() else (0, "")


def _owner_alive(path: Path, owner: tuple[int, str]) -> bool:
    pid, host = owner
    if not pid:  # names nobody: only a file system without hard links can leave one, for an instant
        return False
    if host in (_HOST, ""):
        return pid_alive(pid)
    try:
        return time.time() - path.stat().st_mtime < _FOREIGN_STALE
    except FileNotFoundError:
        return False


def _take_over(path: Path, owner: tuple[int, str]) -> None:
    """Remove a dead owner's lock, unless another process replaced it meanwhile (then it is live)."""
    with contextlib.suppress(FileNotFoundError):
        if _lock_owner(path) == owner:
            path.unlink()


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write a file so that it is either the complete new content or left as it was.

    `write` fills a temporary file beside `path` (same folder, so the rename cannot cross disks); it is
    flushed and fsynced, renamed over `path`, and the folder fsynced. Any error (a full or read-only disk,
    an exception in `write`) removes the temporary file and leaves `path` untouched. Temporary files that a
    killed writer left for the same target are removed first. Raises OSError.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    _sweep_dead_temps(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=TEMP_SUFFIX)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; ours are ordinary user files
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


TEMP_SUFFIX = ".tmp"


def _sweep_dead_temps(path: Path) -> None:
    """.<name>.<pid>.<random>.tmp files whose writer no longer lives."""
    prefix = f".{path.name}."
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            if not (entry.name.startswith(prefix) and entry.name.endswith(TEMP_SUFFIX)):
                continue
            pid = entry.name[len(prefix):].split(".", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
                Path(entry.path).unlink(missing_ok=True)


def fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); folders cannot be opened for this on Windows."""
    if sys.platform == "win32":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda f: f.write(data))


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def pid_alive(pid: int) -> bool:
    """Whether process `pid` still runs (autosaves, run folders and trainer locks name their owner)."""
    if sys.platform == "win32":
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)  # signal 0 only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a dead child nobody reaped yet still answers signal 0
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def _windows_pid_alive(pid: int) -> bool:
    import ctypes  # os.kill(pid, 0) would terminate the process on Windows; ask the kernel instead

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    code = ctypes.c_ulong()
    kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
    kernel32.CloseHandle(handle)
    return code.value == 259  # STILL_ACTIVE
