"""The official pretrained models: their list (resources/official_models.json) and their download, torch-free.

The list is data: each release's page, download link(s), size, licence and the file(s) the importer takes, as
the official repositories' own download scripts and READMEs give them. `I2I_OFFICIAL_MODELS` names another
file in the same format instead (a local mirror, the tests' server).

A download goes to `<data folder>/downloads/<model id>/` into a `.part` file that a later try continues with an
HTTP Range request (a dropped connection is resumed at once, a few times in a row); the finished file is
checked (size, sha256 when known, not a web page), fsynced and renamed into place, so a file under its final
name is always whole. Archives (.zip, .tar, .tar.gz) are never unpacked as a whole: only the members the list
names are copied out, each to the path the list gives (so an archive's own paths can never point outside the
folder), only regular files, and no more bytes than the member claims and the limits allow. The importer then
reads the files in place: the catalog points at them, so they stay.

`DownloadTask` runs one download on a thread of its own (a large one takes minutes and must not hold up the
app's file lane) and reports plain events through a callback on that thread; `cancel()` stops it between chunks.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
import tarfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from engine.errors import error_message
from engine.storage import RESOURCES, fsync_folder, user_data_dir

OFFICIAL_MODELS = RESOURCES / "official_models.json"
LIST_ENV = "I2I_OFFICIAL_MODELS"  # another list in the same format (a mirror; the tests' local server)
DOWNLOADS = "downloads"  # under the user data folder
PART_SUFFIX = ".part"
CHUNK = 1 << 17
TIMEOUT_S = 20.0  # a connection silent this long counts as dropped
RESUMES = 4  # a dropped connection is resumed this many times in a row without new bytes before giving up
MAX_MEMBER_BYTES = 8 << 30  # one file out of an archive (the largest official checkpoint is well under 1 GB)
MAX_EXTRACT_BYTES = 16 << 30  # all the files out of one archive
USER_AGENT = "I2I-Studio (official model download)"
ARCHIVES = ("", "zip", "tar")  # "" a plain file; "tar" also reads .tar.gz / .tar.bz2 / .tar.xz


@dataclass(frozen=True)
class Licence:
    name: str
    url: str
    summary: str  # a few words on what it allows; the full text is at `url`


@dataclass(frozen=True)
class ImportFile:
    """One file the importer takes. `path` is where it goes in the model's download folder, in the official layout
    (the folder names the model: horse2zebra_pretrained/latest_net_G.pth becomes cyclegan-horse2zebra). In an
    archive, `member` is the member's path (matched at the end, since archives may add a top folder) and `extras`
    are optional files beside it (an official opt.txt) copied when present."""

    path: str
    title: str
    member: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    extras: tuple[str, ...] = ()


@dataclass(frozen=True)
class OfficialModel:
    id: str
    title: str
    description: str
    method: str
    source: str  # the official repository
    page: str  # where a person gets the file by hand
    urls: tuple[str, ...]  # tried in order while one is unreachable; empty: the authors publish no weights
    file_name: str  # what the download is called (the archive's or the file's official name)
    archive: str  # one of ARCHIVES
    size: int | None  # exact bytes when known (checked)
    approx_size: int | None  # for display when the exact size is not known
    sha256: str  # checked when known
    licence: Licence
    files: tuple[ImportFile, ...]
    note: str = ""

    @property
    def downloadable(self) -> bool:
        return bool(self.urls)

    def size_text(self) -> str:
        if not self.downloadable:
            return "—"
        if self.size:
            return format_bytes(self.size)
        return f"about {format_bytes(self.approx_size)}" if self.approx_size else "not stated"

    def manual_steps(self) -> str:
        """What a person does when the app cannot download it: one step per line."""
        if not self.downloadable:
            return (f"{self.note} If you have such a file (e.g. from your own training), choose Models > Import "
                    f"Checkpoint… and pick it. More: {self.page}")
        size = f" ({self.size_text()})" if self.size or self.approx_size else ""
        first = (f"1. Open {self.urls[0]} in a web browser to download {self.file_name}{size} "
                 f"(or from the official page: {self.page}).")
        steps = [first]
        if self.archive:
            steps.append(f"2. Unpack it; it holds {', '.join(f.member for f in self.files)}.")
        steps.append(f"{len(steps) + 1}. In I2I Studio choose Models > Import Checkpoint… and pick "
                     + ("each of those files." if self.archive else f"the downloaded {self.file_name}."))
        return "\n".join(steps)


def format_bytes(n: int | None) -> str:
    if n is None:
        return "unknown"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


# --- the list -----------------------------------------------------------------------------------------------


def list_path() -> Path:
    return Path(os.environ[LIST_ENV]) if os.environ.get(LIST_ENV) else OFFICIAL_MODELS


def load_official_models(path: Path | None = None) -> tuple[OfficialModel, ...]:
    """The releases in `path` (default: $I2I_OFFICIAL_MODELS, else resources/official_models.json), checked.
    Raises ValueError (one line) for a file that is not such a list."""
    path = path or list_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        licences = {key: Licence(v["name"], v["url"], v["summary"]) for key, v in data["licences"].items()}
        models = tuple(_model(raw, licences) for raw in data["models"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path.name}: not a list of official models ({error_message(exc)})") from None
    ids = [m.id for m in models]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path.name}: a model id is listed twice")
    return models


def _model(raw: dict[str, Any], licences: dict[str, Licence]) -> OfficialModel:
    model_id = raw["id"]
    if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", model_id):
        raise ValueError(f"model id {model_id!r} is not a plain name")
    archive = raw.get("archive", "")
    if archive not in ARCHIVES:
        raise ValueError(f"{model_id}: unknown archive kind {archive!r}")
    files = tuple(ImportFile(path=_relative(f["path"]), title=f.get("title", raw["title"]),
                             member=f.get("member", ""), options=dict(f.get("options", {})),
                             extras=tuple(_relative(e) for e in f.get("extras", ())))
                  for f in raw["files"])
    urls = tuple(raw.get("urls", ()))
    if urls and (not files or (archive and not all(f.member for f in files)) or (not archive and len(files) != 1)):
        raise ValueError(f"{model_id}: a plain file imports as one file; an archive names each member")
    if any(not u.startswith(("http://", "https://")) for u in urls):
        raise ValueError(f"{model_id}: download links must be http(s)")
    return OfficialModel(
        id=model_id, title=raw["title"], description=raw["description"], method=raw["method"],
        source=raw["source"], page=raw.get("page") or raw["source"], urls=urls,
        file_name=_relative(raw["file_name"]), archive=archive, size=raw.get("size"),
        approx_size=raw.get("approx_size"), sha256=raw.get("sha256", "").lower(),
        licence=licences[raw["licence"]], files=files, note=raw.get("note", ""))


def _relative(path: str) -> str:
    """A path of the list must stay inside the download folder."""
    parts = PurePosixPath(path).parts
    if not parts or PurePosixPath(path).is_absolute() or any(p in ("..", ".") or "\\" in p or ":" in p
                                                             for p in parts):
        raise ValueError(f"{path!r} is not a relative path inside the download folder")
    return str(PurePosixPath(*parts))


def download_folder(model: OfficialModel, root: Path | None = None) -> Path:
    return (root or user_data_dir() / DOWNLOADS) / model.id


# --- download -----------------------------------------------------------------------------------------------


class DownloadError(Exception):
    """A download that cannot go on; `str()` is one line for the user, `manual` the steps to do it by hand."""

    def __init__(self, message: str, manual: str = "") -> None:
        super().__init__(message)
        self.manual = manual


class DownloadCancelled(Exception):
    pass


class _Dropped(Exception):
    """The connection ended before the file did: resumable."""


@dataclass(frozen=True)
class Fetched:
    """What a finished download gives the importer: (file, options) pairs, and the listed members an archive
    lacked (imported without them)."""

    files: tuple[tuple[Path, dict[str, Any]], ...]
    missing: tuple[str, ...] = ()


Progress = Callable[[str, int, "int | None"], None]  # phase ("Downloading", "Unpacking"), done, total bytes


def fetch(model: OfficialModel, folder: Path, *, progress: Progress = lambda *a: None,
          should_stop: Callable[[], bool] = lambda: False, timeout: float = TIMEOUT_S) -> Fetched:
    """Download `model` into `folder` (resuming a .part file left there) and unpack what the importer takes.
    Files already there are not fetched again. Raises DownloadError (with the manual steps) or DownloadCancelled."""
    if not model.downloadable:
        raise DownloadError(f"{model.title}: the authors publish no weights to download", model.manual_steps())
    wanted = [(folder / f.path, f) for f in model.files]
    if all(path.is_file() for path, _ in wanted):
        return Fetched(tuple((path, f.options) for path, f in wanted))
    target = folder / (model.file_name if model.archive else model.files[0].path)
    try:
        if not target.is_file():
            _download(model, target, progress, should_stop, timeout)
        if not model.archive:
            return Fetched(((target, model.files[0].options),))
        found, missing = _unpack(model, target, folder, progress, should_stop)
    except DownloadError as exc:
        exc.manual = exc.manual or model.manual_steps()
        raise
    except OSError as exc:  # our own disk: full, read-only, ...
        raise DownloadError(f"{model.title}: {error_message(exc)}", model.manual_steps()) from None
    if not found:
        target.unlink(missing_ok=True)
        raise DownloadError(f"{model.title}: the archive holds none of the listed files "
                            f"({', '.join(f.member for f in model.files)})", model.manual_steps())
    target.unlink(missing_ok=True)  # the archive: its listed files are out, the rest is not ours to keep
    return Fetched(tuple((path, f.options) for path, f in found), tuple(missing))


def _download(model: OfficialModel, target: Path, progress: Progress, should_stop: Callable[[], bool],
              timeout: float) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + PART_SUFFIX)
    failures = []
    for url in model.urls:
        try:
            _resume_until_whole(url, part, model, progress, should_stop, timeout)
            break
        except _Unreachable as exc:  # the next link, if any
            failures.append(str(exc))
    else:
        raise DownloadError(f"{model.title}: cannot download ({'; '.join(failures)})")
    try:
        _verify(part, model)
    except DownloadError:
        part.unlink(missing_ok=True)  # a wrong file is never kept, nor resumed
        raise
    _fsync(part)
    os.replace(part, target)
    fsync_folder(target.parent)


class _Unreachable(Exception):
    """This link gives no file (no such host, refused, an HTTP error): the next link may."""


def _resume_until_whole(url: str, part: Path, model: OfficialModel, progress: Progress,
                        should_stop: Callable[[], bool], timeout: float) -> None:
    stalled = 0
    while True:
        before = part.stat().st_size if part.exists() else 0
        try:
            _get(url, part, model, progress, should_stop, timeout)
            return
        except _Dropped as exc:
            after = part.stat().st_size if part.exists() else 0
            stalled = 0 if after > before else stalled + 1
            if stalled > RESUMES:
                raise DownloadError(f"{model.title}: the connection keeps dropping ({exc}); "
                                    f"{format_bytes(after)} are kept and Download continues from there") from None
            time.sleep(min(0.2 * 2 ** stalled, 5.0))


def _get(url: str, part: Path, model: OfficialModel, progress: Progress, should_stop: Callable[[], bool],
         timeout: float) -> None:
    """One request: appends to `part` from where it ends. Raises _Dropped when the body ends early."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing after `have`: whole already, or a different file now
            total = _range_total(exc.headers.get("Content-Range", ""))
            if total == have:
                return
            part.unlink()
            raise _Dropped("the file on the server changed; starting again") from None
        raise _Unreachable(f"{_host(url)} answered {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise _Unreachable(f"{_host(url)} is unreachable: {_reason(exc.reason)}") from None
    except (TimeoutError, ConnectionError, http.client.HTTPException) as exc:
        raise _Dropped(_reason(exc)) from None
    with response:
        if "text/html" in response.headers.get("Content-Type", "").lower():
            raise DownloadError(f"{model.title}: {_host(url)} sent a web page instead of the file "
                                "(the link may need a browser)")
        if response.status == 206:
            start, total = _content_range(response.headers.get("Content-Range", ""))
            if start != have:
                part.unlink(missing_ok=True)
                raise _Dropped("the server resumed at the wrong place; starting again")
        else:  # 200: the whole file (a server that ignores Range starts again)
            have = 0
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        if model.size and total and total != model.size:
            part.unlink(missing_ok=True)
            raise DownloadError(f"{model.title}: the server's file is {total:,} bytes, the official one "
                                f"{model.size:,}: not the official file")
        done = have
        with open(part, "ab" if have else "wb") as out:
            progress("Downloading", done, total)
            while True:
                if should_stop():
                    raise DownloadCancelled
                try:
                    chunk = response.read1(CHUNK)
                except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
                    raise _Dropped(_reason(exc)) from None
                if not chunk:
                    break
                out.write(chunk)
                done += len(chunk)
                progress("Downloading", done, total)
        if total is not None and done < total:
            raise _Dropped(f"the connection closed at {format_bytes(done)} of {format_bytes(total)}")


def _verify(part: Path, model: OfficialModel) -> None:
    size = part.stat().st_size
    if model.size and size != model.size:
        raise DownloadError(f"{model.title}: the download is {size:,} bytes, the official file {model.size:,}: "
                            "not the official file")
    with open(part, "rb") as f:
        head = f.read(512).lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head")):
        raise DownloadError(f"{model.title}: the link gave a web page instead of the file (it may need a browser)")
    if model.sha256 and _sha256(part) != model.sha256:
        raise DownloadError(f"{model.title}: the download's SHA-256 differs from the official file's: "
                            "damaged or not the official file")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _content_range(value: str) -> tuple[int, int | None]:
    match = re.match(r"bytes (\d+)-\d+/(\d+|\*)", value.strip())
    if not match:
        return -1, None
    return int(match[1]), None if match[2] == "*" else int(match[2])


def _range_total(value: str) -> int | None:
    match = re.match(r"bytes \*/(\d+)", value.strip())
    return int(match[1]) if match else None


def _host(url: str) -> str:
    return urllib.request.urlparse(url).netloc or url


def _reason(reason: object) -> str:
    if isinstance(reason, BaseException):
        return error_message(reason) if str(reason) else type(reason).__name__
    return str(reason)


def _fsync(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


# --- unpack -------------------------------------------------------------------------------------------------


def _unpack(model: OfficialModel, archive: Path, folder: Path, progress: Progress,
            should_stop: Callable[[], bool]) -> tuple[list[tuple[Path, ImportFile]], list[str]]:
    """Copy the listed members (and their extras) out of `archive`: (files found, members missing)."""
    wanted: dict[str, tuple[Path, ImportFile | None]] = {}
    for f in model.files:
        wanted[f.member] = (folder / f.path, f)
        for extra in f.extras:
            member = str(PurePosixPath(f.member).parent / extra)
            wanted[member] = (folder / PurePosixPath(f.path).parent / extra, None)
    budget = [MAX_EXTRACT_BYTES]
    done: set[str] = set()

    def copy(name: str, size: int, open_member: Callable[[], BinaryIO]) -> None:
        member = _listed(name, wanted)
        if member is None or member in done:
            return
        if should_stop():
            raise DownloadCancelled
        if size > min(MAX_MEMBER_BYTES, budget[0]):
            raise DownloadError(f"{model.title}: {name} in the archive is {format_bytes(size)}, more than a "
                                "checkpoint can be: refused")
        budget[0] -= size
        progress("Unpacking", len(done), len(wanted))
        with open_member() as source:
            _write_member(source, size, wanted[member][0], should_stop)
        done.add(member)

    try:
        if model.archive == "zip":
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    if not info.is_dir():
                        copy(info.filename, info.file_size, lambda info=info: zf.open(info))
        else:
            with tarfile.open(archive, "r|*") as tf:  # one pass, also through a compressed tar
                for member in tf:
                    if member.isreg():  # never links, devices or folders
                        copy(member.name, member.size, lambda member=member: tf.extractfile(member))
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as exc:
        archive.unlink(missing_ok=True)
        raise DownloadError(f"{model.title}: the download is not a readable {model.archive} archive "
                            f"({error_message(exc)})") from None
    found = [(path, f) for member, (path, f) in wanted.items() if f is not None and member in done]
    missing = [f.member for f in model.files if f.member not in done]
    return found, missing


def _listed(name: str, wanted: dict[str, Any]) -> str | None:
    """The listed member that archive path `name` is: the same path, or the same ending below a top folder."""
    name = name.replace("\\", "/").lstrip("./")
    for member in wanted:
        if name == member or name.endswith("/" + member):
            return member
    return None


def _write_member(source: BinaryIO, size: int, path: Path, should_stop: Callable[[], bool]) -> None:
    """At most `size` bytes (what the archive claims), to a temporary file renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + PART_SUFFIX)
    try:
        with open(tmp, "wb") as out:
            left = size
            while left > 0:
                if should_stop():
                    raise DownloadCancelled
                block = source.read(min(CHUNK * 8, left))
                if not block:
                    raise DownloadError(f"{path.name}: the archive ends inside this file (damaged download)")
                out.write(block)
                left -= len(block)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_files(model: OfficialModel, paths: list[Path], root: Path | None = None) -> None:
    """Delete downloaded files the importer refused (with their extras, and folders left empty), never anything
    outside the model's download folder."""
    folder = download_folder(model, root).resolve()
    for path in paths:
        path = path.resolve()
        if folder not in path.parents:
            continue
        spec = next((f for f in model.files if (folder / f.path).resolve() == path), None)
        for extra in spec.extras if spec else ():
            (path.parent / extra).unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        parent = path.parent
        with contextlib.suppress(OSError):
            while parent != folder.parent and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent


# --- on a thread of its own ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadProgress:
    model_id: str
    phase: str
    done: int
    total: int | None


@dataclass(frozen=True)
class DownloadDone:
    model_id: str
    fetched: Fetched


@dataclass(frozen=True)
class DownloadFailed:
    model_id: str
    message: str
    manual: str


@dataclass(frozen=True)
class DownloadStopped:
    model_id: str
    kept: int  # bytes of the .part file kept for the next try


DownloadEvent = DownloadProgress | DownloadDone | DownloadFailed | DownloadStopped


class DownloadTask:
    """One download on a daemon thread; every event goes to `on_event` on that thread, the last one being
    DownloadDone, DownloadFailed or DownloadStopped. Progress is reported at most every `interval` s."""

    def __init__(self, model: OfficialModel, on_event: Callable[[DownloadEvent], None], *,
                 root: Path | None = None, timeout: float = TIMEOUT_S, interval: float = 0.1) -> None:
        self.model = model
        self.folder = download_folder(model, root)
        self._on_event = on_event
        self._timeout = timeout
        self._interval = interval
        self._stop = threading.Event()
        self._last = 0.0
        self._thread = threading.Thread(target=self._run, name=f"download {model.id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _progress(self, phase: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self._last >= self._interval or (total is not None and done >= total):
            self._last = now
            self._on_event(DownloadProgress(self.model.id, phase, done, total))

    def _run(self) -> None:
        model = self.model
        try:
            fetched = fetch(model, self.folder, progress=self._progress, should_stop=self._stop.is_set,
                            timeout=self._timeout)
        except DownloadCancelled:
            self._on_event(DownloadStopped(model.id, _kept_bytes(self.folder)))
        except DownloadError as exc:
            self._on_event(DownloadFailed(model.id, str(exc), exc.manual))
        except Exception as exc:  # noqa: BLE001 - a bug must still end as one line, never a dead thread
            self._on_event(DownloadFailed(model.id, f"{model.title}: {error_message(exc)}", model.manual_steps()))
        else:
            self._on_event(DownloadDone(model.id, fetched))


def _kept_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob(f"*{PART_SUFFIX}")) if folder.is_dir() else 0
