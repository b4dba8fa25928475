"""Official model downloads against a local HTTP server on 127.0.0.1: the real list, resume after a dropped
connection, wrong files, dead links, cancel, archives unpacked safely, and the file imported into the catalog.

The server serves fixture files at the paths of the official links; the list the tests use is the real
resources/official_models.json with its links pointed at the server (`point_at`), as I2I_OFFICIAL_MODELS does."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest
import torch

from engine import downloads
from engine.api import Mode
from engine.catalog import Catalog
from engine.downloads import (
    DownloadCancelled,
    DownloadDone,
    DownloadError,
    DownloadStopped,
    DownloadTask,
    fetch,
    load_official_models,
)
from engine.handlers import Engine
from tests.translation_fixtures import tiny_generator


class FixtureServer:
    """An HTTP/1.1 server on 127.0.0.1 with Range support. `files` maps a path to its bytes; `drops[path]` counts
    the next responses that stop after `drop_at` bytes; `html` paths answer as web pages; `delay` s pauses between
    64 kB blocks. `requests` records (path, Range header)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.drops: dict[str, int] = {}
        self.drop_at: dict[str, int] = {}
        self.html: set[str] = set()
        self.delay = 0.0
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                path = urlparse(self.path).path
                server.requests.append((path, self.headers.get("Range")))
                if path in server.html:
                    page = b"<!DOCTYPE html><html><body>Sign in to continue</body></html>"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                    return
                data = server.files.get(path)
                if data is None:
                    self.send_error(404, "Not Found")
                    return
                start = 0
                if rng := self.headers.get("Range"):
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                if server.drops.get(path, 0) > 0:  # a dropped connection: part of the body, then gone
                    server.drops[path] -= 1
                    self.wfile.write(body[:max(0, server.drop_at.get(path, len(data) // 2) - start)])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                try:
                    for i in range(0, len(body), 1 << 16):
                        self.wfile.write(body[i:i + (1 << 16)])
                        if server.delay:
                            time.sleep(server.delay)
                except (BrokenPipeError, ConnectionResetError):  # the client stopped (a cancel)
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return self.base + path

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = FixtureServer()
    yield s
    s.stop()


def official_checkpoint(seed: int = 0) -> bytes:
    """A tiny CycleGAN generator in the official on-disk format: torch.save of the plain state dict."""
    buffer = io.BytesIO()
    torch.save(tiny_generator("cyclegan", seed=seed).state_dict(), buffer)
    return buffer.getvalue()


def point_at(server: FixtureServer, tmp_path: Path, **sizes: dict) -> Path:
    """The real list with every link served by `server` at the link's own path; `sizes` sets "size"/"sha256"
    per model id. Returns the new list's path (what I2I_OFFICIAL_MODELS would name)."""
    data = json.loads(downloads.OFFICIAL_MODELS.read_text(encoding="utf-8"))
    for raw in data["models"]:
        raw["urls"] = [server.url(urlparse(u).path) for u in raw["urls"]]
        raw.pop("approx_size", None)
        raw.update(sizes.get(raw["id"].replace("-", "_"), {}))
    path = tmp_path / "official_models.json"
    path.write_text(json.dumps(data))
    return path


def model(list_path: Path, model_id: str) -> downloads.OfficialModel:
    return next(m for m in load_official_models(list_path) if m.id == model_id)


def served_path(m: downloads.OfficialModel) -> str:
    return urlparse(m.urls[0]).path


def leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# --- the list -----------------------------------------------------------------------------------------------


def test_the_real_list_names_every_official_release():
    models = {m.id: m for m in load_official_models()}
    cyclegan = [m for m in models.values() if m.method == "CycleGAN"]
    assert len(cyclegan) == 18  # every name scripts/download_cyclegan_model.sh offers
    assert models["cyclegan-horse2zebra"].urls == (
        "http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/horse2zebra.pth",)
    assert models["cyclegan-horse2zebra"].files[0].path == "horse2zebra_pretrained/latest_net_G.pth"
    assert {f.member for f in models["cut-pretrained"].files} == {
        f"{d}_{m}_pretrained/latest_net_G.pth" for d in ("horse2zebra", "cat2dog", "cityscapes")
        for m in ("cut", "fastcut")}
    assert len(models["sae-pretrained"].files) == 6 and models["sae-pretrained"].archive == "zip"
    assert {f.path.split("_")[0] for f in models["spade-pretrained"].files} == {"ade20k", "coco", "cityscapes"}
    assert not models["hierarchyflow"].downloadable
    for m in models.values():
        assert m.licence.name and m.licence.url.startswith("https://") and m.licence.summary
        assert m.title and m.description and m.source.startswith("https://github.com/")
        if m.downloadable:
            assert m.page in m.manual_steps() and "Models > Import Checkpoint" in m.manual_steps()
    assert "Non-commercial" in models["sae-pretrained"].licence.summary
    assert "Non-commercial" in models["spade-pretrained"].licence.summary


def test_the_list_can_be_replaced_by_the_environment(tmp_path, monkeypatch, server):
    monkeypatch.setenv(downloads.LIST_ENV, str(point_at(server, tmp_path)))
    assert all(u.startswith(server.base) for m in load_official_models() for u in m.urls)


@pytest.mark.parametrize("bad_path", ["../evil.pth", "/etc/x.pth", "a/../../b.pth", "C:/x.pth"])
def test_a_list_path_outside_the_download_folder_is_refused(tmp_path, bad_path):
    data = json.loads(downloads.OFFICIAL_MODELS.read_text(encoding="utf-8"))
    data["models"][0]["files"][0]["path"] = bad_path
    (tmp_path / "list.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="not a relative path inside the download folder"):
        load_official_models(tmp_path / "list.json")


# --- one file: download, resume, verify, import -------------------------------------------------------------


def test_download_verifies_and_the_file_imports_as_the_official_release(server, tmp_path):
    data = official_checkpoint()
    sha = hashlib.sha256(data).hexdigest()
    h2z = model(point_at(server, tmp_path, cyclegan_horse2zebra={"size": len(data), "sha256": sha}),
                "cyclegan-horse2zebra")
    server.files[served_path(h2z)] = data
    seen = []
    fetched = fetch(h2z, tmp_path / "dl", progress=lambda *p: seen.append(p))
    ((path, options),) = fetched.files
    assert path == tmp_path / "dl" / "horse2zebra_pretrained" / "latest_net_G.pth"
    assert path.read_bytes() == data and options == {}
    assert leftovers(tmp_path / "dl") == ["horse2zebra_pretrained/latest_net_G.pth"]  # no .part left
    assert seen[-1] == ("Downloading", len(data), len(data))
    entry = Engine(Catalog(), torch.device("cpu"), mode=Mode.EXACT).import_model(str(path), options)
    assert entry.id == "cyclegan-horse2zebra" and entry.method == "cyclegan"
    # Fetched again: nothing is downloaded.
    before = len(server.requests)
    assert fetch(h2z, tmp_path / "dl").files == fetched.files and len(server.requests) == before


def test_a_dropped_connection_is_resumed_with_a_range_request(server, tmp_path):
    data = official_checkpoint()
    h2z = model(point_at(server, tmp_path, cyclegan_horse2zebra={"size": len(data)}), "cyclegan-horse2zebra")
    where = served_path(h2z)
    server.files[where] = data
    server.drops[where], server.drop_at[where] = 1, len(data) // 3
    ((path, _),) = fetch(h2z, tmp_path / "dl").files
    assert path.read_bytes() == data
    assert server.requests == [(where, None), (where, f"bytes={len(data) // 3}-")]


def test_a_connection_that_keeps_dropping_keeps_the_part_for_the_next_try(server, tmp_path, monkeypatch):
    monkeypatch.setattr(downloads, "RESUMES", 1)
    data = official_checkpoint()
    h2z = model(point_at(server, tmp_path), "cyclegan-horse2zebra")
    where = served_path(h2z)
    server.files[where], server.drops[where], server.drop_at[where] = data, 10, 1000
    with pytest.raises(DownloadError, match="connection keeps dropping") as failure:
        fetch(h2z, tmp_path / "dl")
    assert "Download continues from there" in str(failure.value) and h2z.urls[0] in failure.value.manual
    assert leftovers(tmp_path / "dl") == ["horse2zebra_pretrained/latest_net_G.pth.part"]
    server.drops[where] = 0  # the network is back
    ((path, _),) = fetch(h2z, tmp_path / "dl").files
    assert path.read_bytes() == data and server.requests[-1] == (where, "bytes=1000-")


def test_a_part_that_does_not_fit_the_file_starts_it_again(server, tmp_path):
    data = official_checkpoint()
    h2z = model(point_at(server, tmp_path), "cyclegan-horse2zebra")
    part = tmp_path / "dl" / "horse2zebra_pretrained" / "latest_net_G.pth.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"stale bytes of another file" * 100_000)  # longer than the file: the server says 416
    server.files[served_path(h2z)] = data
    ((path, _),) = fetch(h2z, tmp_path / "dl").files
    assert path.read_bytes() == data


@pytest.mark.parametrize("wrong", ["size", "sha256"])
def test_a_wrong_file_is_refused_and_nothing_is_left(server, tmp_path, wrong):
    data = official_checkpoint()
    other = official_checkpoint(seed=5)  # same length, other bytes
    expected = {"size": len(data) + (7 if wrong == "size" else 0), "sha256": hashlib.sha256(data).hexdigest()}
    h2z = model(point_at(server, tmp_path, cyclegan_horse2zebra=expected), "cyclegan-horse2zebra")
    server.files[served_path(h2z)] = other
    with pytest.raises(DownloadError, match="not the official file") as failure:
        fetch(h2z, tmp_path / "dl")
    assert h2z.page in failure.value.manual
    assert leftovers(tmp_path / "dl") == []


def test_a_web_page_instead_of_the_file_gives_the_manual_steps(server, tmp_path):
    spade = model(point_at(server, tmp_path), "spade-pretrained")
    server.html.add(served_path(spade))
    with pytest.raises(DownloadError, match="web page instead of the file") as failure:
        fetch(spade, tmp_path / "dl")
    assert "drive.google.com" in failure.value.manual and "Unpack it" in failure.value.manual
    assert leftovers(tmp_path / "dl") == []


def test_dead_links_give_the_manual_steps_and_a_second_link_is_tried(server, tmp_path):
    h2z = model(point_at(server, tmp_path), "cyclegan-horse2zebra")  # nothing served: 404
    with pytest.raises(DownloadError, match="answered 404") as failure:
        fetch(h2z, tmp_path / "dl")
    assert "1. Open http" in failure.value.manual and "Models > Import Checkpoint" in failure.value.manual
    closed = FixtureServer()
    closed.stop()  # a port where nobody listens
    with pytest.raises(DownloadError, match="unreachable"):
        fetch(_with_urls(h2z, closed.url("/x.pth")), tmp_path / "dl")
    server.files["/mirror.pth"] = data = official_checkpoint()
    ((path, _),) = fetch(_with_urls(h2z, closed.url("/x.pth"), server.url("/mirror.pth")), tmp_path / "dl").files
    assert path.read_bytes() == data


def _with_urls(m: downloads.OfficialModel, *urls: str) -> downloads.OfficialModel:
    from dataclasses import replace

    return replace(m, urls=urls)


def test_cancel_stops_between_chunks_and_keeps_the_part(server, tmp_path):
    data = official_checkpoint() * 8
    h2z = model(point_at(server, tmp_path), "cyclegan-horse2zebra")
    server.files[served_path(h2z)] = data
    server.delay = 0.05
    events, ended = [], threading.Event()

    def on_event(event):
        events.append(event)
        if isinstance(event, DownloadStopped | DownloadDone | downloads.DownloadFailed):
            ended.set()

    task = DownloadTask(h2z, on_event, root=tmp_path / "dl", interval=0)
    task.start()
    deadline = time.monotonic() + 10
    while not any(isinstance(e, downloads.DownloadProgress) and e.done for e in events):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    task.cancel()
    assert ended.wait(10)
    stopped = events[-1]
    assert isinstance(stopped, DownloadStopped) and 0 < stopped.kept < len(data)
    folder = tmp_path / "dl" / h2z.id
    assert leftovers(folder) == ["horse2zebra_pretrained/latest_net_G.pth.part"]
    server.delay = 0
    ((path, _),) = fetch(h2z, folder).files  # the next try continues
    assert path.read_bytes() == data and server.requests[-1][1] == f"bytes={stopped.kept}-"


def test_should_stop_is_a_cancel(server, tmp_path):
    h2z = model(point_at(server, tmp_path), "cyclegan-horse2zebra")
    server.files[served_path(h2z)] = official_checkpoint()
    with pytest.raises(DownloadCancelled):
        fetch(h2z, tmp_path / "dl", should_stop=lambda: True)


# --- archives -----------------------------------------------------------------------------------------------


def _tar(members: dict[str, bytes], *, links: dict[str, str] | None = None, mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tf.addfile(info)
    return buffer.getvalue()


def test_an_archive_gives_only_its_listed_files_at_the_listed_paths(server, tmp_path):
    cut = model(point_at(server, tmp_path), "cut-pretrained")
    ckpt = official_checkpoint()
    members = {f"checkpoints/{f.member}": ckpt for f in cut.files if "cat2dog" not in f.member}
    members |= {"../../escaped.pth": b"x", "/tmp/absolute.pth": b"y", "checkpoints/README.txt": b"z"}
    # A link posing as a listed member is never followed or copied.
    server.files[served_path(cut)] = _tar(members, links={
        "checkpoints/cat2dog_cut_pretrained/latest_net_G.pth": "/etc/passwd"}, mode="w:gz")
    fetched = fetch(cut, tmp_path / "dl")
    assert sorted(str(p.relative_to(tmp_path / "dl")) for p, _ in fetched.files) == sorted(
        f.path for f in cut.files if "cat2dog" not in f.path)
    assert all(p.read_bytes() == ckpt for p, _ in fetched.files)
    assert set(fetched.missing) == {f.member for f in cut.files if "cat2dog" in f.member}
    assert leftovers(tmp_path / "dl") == sorted(f.path for f in cut.files if "cat2dog" not in f.path)  # archive gone
    assert not (tmp_path / "escaped.pth").exists() and not Path("/tmp/absolute.pth").exists()


def test_a_zip_release_and_its_extras(server, tmp_path):
    sae = model(point_at(server, tmp_path), "sae-pretrained")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for f in sae.files:
            zf.writestr(f"checkpoints/{f.member}", f.member.encode())
        zf.writestr("testphotos/mountain/a.jpg", b"not ours")
    server.files[served_path(sae)] = buffer.getvalue()
    fetched = fetch(sae, tmp_path / "dl")
    assert len(fetched.files) == 6 and not fetched.missing
    assert leftovers(tmp_path / "dl") == sorted(f.path for f in sae.files)
    spade = model(point_at(server, tmp_path), "spade-pretrained")
    server.files[served_path(spade)] = _tar({f"{f.member}": b"G" for f in spade.files}
                                            | {"ade20k_pretrained/opt.txt": b"label_nc: 150\n"}, mode="w:gz")
    fetch(spade, tmp_path / "spade")
    assert (tmp_path / "spade" / "ade20k_pretrained" / "opt.txt").read_bytes() == b"label_nc: 150\n"


def test_an_oversized_member_or_a_broken_archive_is_refused(server, tmp_path, monkeypatch):
    cut = model(point_at(server, tmp_path), "cut-pretrained")
    server.files[served_path(cut)] = _tar({f.member: b"0" * 5000 for f in cut.files})
    monkeypatch.setattr(downloads, "MAX_MEMBER_BYTES", 4096)
    with pytest.raises(DownloadError, match="more than a checkpoint can be"):
        fetch(cut, tmp_path / "dl")
    assert not any(p.name == "latest_net_G.pth" for p in (tmp_path / "dl").rglob("*"))
    server.files[served_path(cut)] = b"\x00garbage" * 1000
    with pytest.raises(DownloadError, match="not a readable tar archive"):
        fetch(cut, tmp_path / "other")
    assert leftovers(tmp_path / "other") == []
