"""Hostile OpenRaster projects (issue 13, item 4): a corpus made at test time, each file refused with one
line naming it, in bounded memory; every page shows the message instead of failing in silence; a failed
save leaves the old file; a save killed at random points leaves the old or the new project, never a broken
one, and no temporary file survives the next save.

Memory is measured in a child process (ru_maxrss: PIL's pixel buffers are not seen by tracemalloc): the
growth of its peak over what its imports took, the .ora files first, then the pages' members.
"""

from __future__ import annotations

import errno
import json
import os
import random
import select
import signal
import struct
import subprocess
import sys
import time
import zlib
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QMessageBox

from app.brushes.state_io import FORMAT, state_from_members
from app.document import Document, Layer
from app.fileio.labels import FileError
from app.fileio.ora import load_ora, save_ora
from app.fileio.ora_reader import MAX_DECODED_PIXELS, MAX_DEPTH, MAX_LAYERS, Budget
from app.sae.state_io import ProjectFormatError as SwapFormatError
from app.sae.state_io import project_from_members

ROOT = Path(__file__).resolve().parents[2]
MB = 1 << 20
MEMORY_LIMIT = 300 * MB  # before the fix the first two cases took 4.1 GB and 3 GB
BOMB_BYTES = 512 * MB  # what the inflating member really inflates to


# --- making hostile files --------------------------------------------------------------------------------


def _png(image: Image.Image) -> bytes:
    buffer = BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes, length: int | None = None) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data) if length is None else length) + body + struct.pack(">I", zlib.crc32(body))


def _deflate_then_zeros(head: bytes, zeros: int) -> tuple[bytes, int]:
    """A raw deflate stream of `head` followed by `zeros` zero bytes, made in milliseconds: after a full
    flush the compressor starts afresh, so one compressed megabyte of zeros can be repeated. (data, crc)"""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = bytes(MB)
    start = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    repeated = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(head)
    for _ in range(zeros // MB):
        crc = zlib.crc32(block, crc)
    return start + repeated * (zeros // MB) + c.flush(), crc


def _raw_zip(path: Path, members: list[tuple[str, bytes, int, int, int]]) -> None:
    """A zip written by hand, so its headers can say anything: (name, data as stored, method, crc,
    the size the headers claim it inflates to)."""
    out, central = BytesIO(), BytesIO()
    for name, data, method, crc, size in members:
        offset = out.tell()
        raw = name.encode()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, len(data), size, len(raw), 0))
        out.write(raw + data)
        central.write(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc, len(data), size,
                                  len(raw), 0, 0, 0, 0, 0, offset) + raw)
    start = out.tell()
    out.write(central.getvalue())
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central.getvalue()),
                          start, 0))
    path.write_bytes(out.getvalue())


def _stored(name: str, data: bytes) -> tuple[str, bytes, int, int, int]:
    return name, data, 0, zlib.crc32(data), len(data)


def _ora(path: Path, stack: str, files: dict[str, bytes], extra: list | None = None) -> Path:
    _raw_zip(path, [_stored("mimetype", b"image/openraster"), _stored("stack.xml", stack.encode()),
                    *(_stored(name, data) for name, data in files.items()), *(extra or [])])
    return path


def _stack(w: object, h: object, layers: str) -> str:
    return f'<?xml version="1.0"?><image w="{w}" h="{h}"><stack>{layers}</stack></image>'


def make_corpus(folder: Path) -> dict[str, Path]:
    """name -> file. Each name also says what the message must mention (see EXPECTED)."""
    folder.mkdir(parents=True, exist_ok=True)
    small = _png(Image.new("RGB", (64, 64), (10, 20, 30)))
    big = _png(Image.new("L", (4096, 4096)))
    cases: dict[str, Path] = {}

    def add(name: str, path_maker) -> None:
        cases[name] = path_maker(folder / f"{name}.ora")

    # 20 layers naming one 4096x4096 image: 670 bytes before (4.1 GB to open)
    add("twenty_layers", lambda p: _ora(p, _stack(4096, 4096, '<layer src="data/big.png"/>' * 20),
                                        {"data/big.png": big}))
    add("too_many_layers", lambda p: _ora(p, _stack(64, 64, '<layer src="data/a.png"/>' * (MAX_LAYERS + 1)),
                                          {"data/a.png": small}))
    # a layer that really inflates to 512 MB (about 0.5 MB stored): refused from its header, not inflated
    bomb, crc = _deflate_then_zeros(small, BOMB_BYTES)
    layer = _stack(64, 64, '<layer src="data/a.png"/>')
    add("inflating_member", lambda p: _ora(p, layer, {}, [("data/a.png", bomb, 8, crc, len(small) + BOMB_BYTES)]))
    # the same, its headers lying about the size: read no further than they say, then found damaged
    add("lying_member_size", lambda p: _ora(p, layer, {}, [("data/a.png", bomb, 8, crc, 100_000)]))
    # a PNG whose text chunk before the image says 100 MB: its header is not read past a few megabytes
    text_head = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">2I5B", 64, 64, 8, 2, 0, 0, 0)) + \
        struct.pack(">I", 100 * MB) + b"tEXt"
    text_bomb, text_crc = _deflate_then_zeros(text_head, 100 * MB)
    add("text_chunk_bomb", lambda p: _ora(p, layer, {}, [("data/a.png", text_bomb, 8, text_crc,
                                                          len(text_head) + 100 * MB)]))
    # a PNG claiming 30000x30000 pixels (a decompression bomb): refused from its header
    png_bomb = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">2I5B", 30000, 30000, 8, 0, 0, 0, 0)) + \
        _chunk(b"IDAT", zlib.compress(bytes(30001) * 4)) + _chunk(b"IEND", b"")
    add("huge_layer_image", lambda p: _ora(p, layer, {"data/a.png": png_bomb}))
    oversized = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">2I5B", 6000, 6000, 8, 0, 0, 0, 0)) + \
        _chunk(b"IDAT", zlib.compress(bytes(6001) * 4)) + _chunk(b"IEND", b"")
    add("oversized_layer_image", lambda p: _ora(p, layer, {"data/a.png": oversized}))
    add("inf_size", lambda p: _ora(p, _stack("inf", "1e400", '<layer src="data/a.png"/>'), {"data/a.png": small}))
    add("nan_size", lambda p: _ora(p, _stack("nan", "-inf", '<layer src="data/a.png"/>'), {"data/a.png": small}))
    add("absurd_size", lambda p: _ora(p, _stack("1e18", "1e18", '<layer src="data/a.png"/>'), {"data/a.png": small}))
    nested = "<stack>" * 5000 + '<layer src="data/a.png"/>' + "</stack>" * 5000
    add("nested_stacks", lambda p: _ora(p, _stack(64, 64, nested), {"data/a.png": small}))
    add("missing_layer_image", lambda p: _ora(p, _stack(64, 64, '<layer src="data/missing.png"/>'), {}))
    add("missing_stack", lambda p: (_raw_zip(p, [_stored("mimetype", b"image/openraster")]), p)[1])
    add("not_a_zip", lambda p: (p.write_bytes(random.Random(1).randbytes(5000)), p)[1])
    add("bzip2_member", lambda p: _ora(p, layer, {}, [("data/a.png", b"BZh9" + bytes(60), 12, 0, 10**9)]))
    add("too_many_entries", lambda p: _ora(p, layer, {"data/a.png": small,
                                                      **{f"junk/{i}": b"" for i in range(10_001)}}))
    add("huge_stack_xml", lambda p: _ora(p, _stack(64, 64, "<x/>" * 400_000), {}))
    return cases


# what each case's message must say (None: the file opens, its bad numbers taken as defaults)
EXPECTED = {
    "twenty_layers": "20 layers",
    "too_many_layers": f"more than {MAX_LAYERS} layers",
    "inflating_member": "implausibly large",
    "lying_member_size": "data/a.png is damaged",
    "text_chunk_bomb": "implausibly long",
    "huge_layer_image": "data/a.png is too large",
    "oversized_layer_image": "data/a.png is 6000x6000",
    "inf_size": "no image size",
    "nan_size": "no image size",
    "absurd_size": "at most 4096 pixels per side",
    "nested_stacks": f"nested more than {MAX_DEPTH} deep",
    "missing_layer_image": "data/missing.png is missing",
    "missing_stack": "stack.xml is missing",
    "not_a_zip": "not an OpenRaster file",
    "bzip2_member": "compression",
    "too_many_entries": "entries",
    "huge_stack_xml": "stack.xml is implausibly large",
}


def _bad_numbers(path: Path) -> Path:
    """Finite size, but offsets and opacities that are infinite, NaN or beyond any canvas: defaults."""
    small = _png(Image.new("RGB", (8, 8), (200, 0, 0)))
    layers = ('<layer src="data/a.png" x="1e400" y="nan" opacity="inf"/>'
              '<layer src="data/a.png" x="-1e300" y="9e18" opacity="-inf"/>'
              '<stack x="inf" y="1e308"><stack x="1e308"><layer src="data/a.png" x="1e308"/></stack></stack>')
    deep_json = b"[" * 100_000 + b"]" * 100_000  # a RecursionError for json: the metadata is ignored, with a note
    return _ora(path, _stack(16, 16, layers), {"data/a.png": small, "i2i-studio/document.json": deep_json})


# --- loading the corpus in a child process ----------------------------------------------------------------

CHILD = r"""
import json, resource, sys
from pathlib import Path
from app.fileio.ora import load_ora

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux

out = {"start": peak(), "cases": {}}
def run(name, call):
    try:
        call()
        result = [None, None]
    except Exception as exc:
        result = [type(exc).__name__, str(exc)]
    out["cases"][name] = result + [peak() - out["start"]]

for path in sorted(Path(sys.argv[1]).glob("*.ora")):
    run(path.stem, lambda: load_ora(path))
from app.brushes.state_io import state_from_members  # these bring torch in (through engine.api): a new start
from app.sae.state_io import project_from_members
out["start"] = max(peak(), max(case[2] for case in out["cases"].values()) + out["start"])
members = json.loads(Path(sys.argv[2]).read_text())
for name, (kind, size, spec) in members.items():
    data = {k: bytes.fromhex(v) for k, v in spec.items()}
    if kind == "brushes":
        run(name, lambda: state_from_members(data, tuple(size), "key", name + ".ora"))
    else:
        run(name, lambda: project_from_members(data, name + ".ora"))
print(json.dumps(out))
"""


def _brush_state(size: tuple[int, int], n_layers: int, **state) -> dict[str, bytes]:
    """n brush layers all naming one mask member (a few kilobytes; each would inflate to the photo's size)."""
    mask = zlib.compress(bytes(size[0] * size[1] * 4), 9)
    layers = [{"id": f"l{i}", "name": f"L{i}", "mask": "m.f32z"} for i in range(n_layers)]
    body = {"format": FORMAT, "version": 2, "photo": "key", "size": list(size), "layers": layers, **state}
    return {"i2i-studio/brushes/state.json": json.dumps(body).encode(), "i2i-studio/brushes/m.f32z": mask}


def _npy_claiming(shape: tuple[int, ...]) -> bytes:
    """A .npy whose header claims `shape` (float32), with almost no data behind it."""
    header = repr({"descr": "<f4", "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + bytes(16)


def _npy(array: np.ndarray) -> bytes:
    buffer = BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _swap_state(**overrides) -> dict[str, bytes]:
    state = {"format": "i2i-studio-sae", "version": 1, "model_id": "m", "size": [64, 64], "cell": 8,
             "structure": "s.npy", "texture": "t.npy", "layers": [], "references": [], **overrides}
    return {"i2i-studio/sae/state.json": json.dumps(state).encode(),
            "i2i-studio/sae/s.npy": _npy_claiming((100_000, 100_000, 8)),  # 320 GB claimed
            "i2i-studio/sae/t.npy": _npy_claiming((8,))}


def member_cases() -> dict[str, tuple[str, tuple[int, int], dict[str, bytes]]]:
    """name -> (page, photo size, members)."""
    inf_size = (b'{"format": "%s", "version": 2, "photo": "key", "size": [1e400, 20], "layers": []}'
                % FORMAT.encode())
    return {
        # 64 brush layers on a 4000x2000 photo: 512 megapixels of masks from one 30 kB member
        "brush_masks_over_budget": ("brushes", (4000, 2000), _brush_state((4000, 2000), MAX_LAYERS)),
        "brush_layers_too_many": ("brushes", (40, 20), _brush_state((40, 20), MAX_LAYERS + 1)),
        "brush_inf_size": ("brushes", (40, 20), {"i2i-studio/brushes/state.json": inf_size}),
        "brush_deep_json": ("brushes", (40, 20), {"i2i-studio/brushes/state.json": b"[" * 100_000 + b"]" * 100_000}),
        "swap_npy_claiming_320_gb": ("swap", (64, 64), _swap_state()),
        "swap_inf_size": ("swap", (64, 64), {**_swap_state(size=[float("inf"), 64]),
                                             "i2i-studio/sae/s.npy": _npy(np.zeros((8, 8, 8), np.float32)),
                                             "i2i-studio/sae/t.npy": _npy(np.zeros(8, np.float32))}),
        "swap_deep_json": ("swap", (64, 64), {"i2i-studio/sae/state.json": b'{"a":' * 50_000 + b"1" + b"}" * 50_000}),
    }


MEMBER_EXPECTED = {
    "brush_masks_over_budget": ("FileError", "megapixels"),
    "brush_layers_too_many": ("ProjectFormatError", f"{MAX_LAYERS + 1} brush layers"),
    "brush_inf_size": ("ProjectFormatError", "state is damaged (the file gives a number too large"),
    "brush_deep_json": ("ProjectFormatError", "unreadable"),
    "swap_npy_claiming_320_gb": ("ProjectFormatError", "s.npy is damaged"),
    "swap_inf_size": ("ProjectFormatError", "state is damaged (the file gives a number too large"),
    "swap_deep_json": ("ProjectFormatError", "unreadable"),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_corpus(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def child_results(corpus: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = next(iter(corpus.values())).parent
    spec = tmp_path_factory.mktemp("members") / "members.json"
    spec.write_text(json.dumps({name: (kind, size, {k: v.hex() for k, v in members.items()})
                                for name, (kind, size, members) in member_cases().items()}))
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(spec)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the proof: messages and memory ------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_hostile_ora_gives_one_line_naming_the_file_in_bounded_memory(case: str, child_results: dict) -> None:
    kind, message, peak = child_results["cases"][case]
    assert kind == "FileError", (case, kind, message)
    assert "\n" not in message and message.startswith(f"{case}.ora") and EXPECTED[case] in message, message
    assert peak < MEMORY_LIMIT, f"{case}: {peak / MB:.0f} MB"


@pytest.mark.parametrize("case", sorted(MEMBER_EXPECTED))
def test_hostile_project_members_give_one_line_in_bounded_memory(case: str, child_results: dict) -> None:
    kind, message, peak = child_results["cases"][case]
    want_kind, want_text = MEMBER_EXPECTED[case]
    assert kind == want_kind and "\n" not in message and message.startswith(f"{case}.ora"), (kind, message)
    assert want_text in message, message
    assert peak < MEMORY_LIMIT, f"{case}: {peak / MB:.0f} MB"


def test_the_messages_name_the_limit(child_results: dict) -> None:
    message = child_results["cases"]["twenty_layers"][1]
    assert message == ("twenty_layers.ora: opening it takes 671 megapixels decoded (20 layers on a 4096x4096 "
                       f"canvas), over the {MAX_DECODED_PIXELS // 1_000_000} megapixels a project may use")


def test_bad_numbers_are_defaults_never_overflow(tmp_path: Path) -> None:
    loaded = load_ora(_bad_numbers(tmp_path / "numbers.ora"))
    doc = loaded.document
    assert (doc.width, doc.height) == (16, 16) and len(doc.layers) == 3
    assert [la.opacity for la in doc.layers] == [1.0, 1.0, 1.0]  # not numbers: the default
    assert any("unreadable" in note for note in loaded.notes)  # the deeply nested metadata, ignored


def test_the_budget_is_shared_with_the_pages_members(tmp_path: Path) -> None:
    doc = Document(100, 100)
    doc.add_layer(Layer("photo", "rgb", np.zeros((100, 100, 3), np.float32)))
    save_ora(tmp_path / "a.ora", doc)
    loaded = load_ora(tmp_path / "a.ora", max_decoded=30_000)
    assert loaded.budget is not None and loaded.budget.left == 10_000  # the layer's PNG and its array
    with pytest.raises(FileError, match=r"^a.ora: opening it takes 0.02 megapixels decoded \(1 brush layer, "
                       r"each 200x100\), over the 0.01 megapixels left of the 0.03 a project"):
        state_from_members(_brush_state((100, 200), 1), (100, 200), "key", "a.ora", loaded.budget)
    with pytest.raises(FileError, match=r"\(1 layer on a 100x100 canvas\), over the 0.02 megapixels a project"):
        load_ora(tmp_path / "a.ora", max_decoded=19_999)
    state = state_from_members(_brush_state((10, 20), 2), (10, 20), "key", "b.ora", Budget("b.ora", 400))
    assert len(state.layers) == 2 and state.masks["l0"].shape == (10, 20)
    with pytest.raises(SwapFormatError, match="c.ora: the Swap & Edit state is unreadable"):
        project_from_members({"i2i-studio/sae/state.json": b"[]"}, "c.ora")


# --- the pages: every error a message ----------------------------------------------------------------------


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """Message boxes recorded instead of shown (questions answered Discard)."""
    record: list[tuple[str, str, str]] = []

    def fake(kind: str):
        def show(parent, title, text, *args, **kwargs):
            record.append((kind, title, text))
            return QMessageBox.StandardButton.Discard if kind == "question" else QMessageBox.StandardButton.Ok
        return show

    for kind in ("question", "warning", "information", "critical"):
        monkeypatch.setattr(QMessageBox, kind, fake(kind))
    return record


INJECTED = [RecursionError("maximum recursion depth exceeded"), MemoryError(), OverflowError("int too large"),
            OSError(errno.EIO, "Input/output error"), ValueError("bad\nvalue"), KeyError("a bug of ours")]


@pytest.mark.parametrize("page_name", ["painter", "swap", "brushes"])
def test_a_hostile_project_opened_in_a_page_shows_a_message(page_name: str, main_window, corpus, shown,
                                                            monkeypatch, tmp_path: Path) -> None:
    files = getattr(main_window, page_name).files
    texts = []
    for case in ("nested_stacks", "inf_size", "twenty_layers", "not_a_zip"):
        del shown[:]
        assert files.open_project_file(corpus[case]).wait() is False
        assert [(k, t) for k, t, _ in shown] == [("warning", "Open Project")], shown
        text = shown[0][2]
        assert f"{case}.ora" in text and "\n" not in text and EXPECTED[case] in text
    for exc in INJECTED:  # whatever reading a project raises reaches the user as one line naming the file
        def fail(path, exc=exc):
            raise exc
        monkeypatch.setattr(files, "load_project", fail)
        del shown[:]
        assert files.open_project_file(tmp_path / "p.ora").wait() is False
        assert len(shown) == 1 and shown[0][0] == "warning", shown
        assert "p.ora" in shown[0][2] and "\n" not in shown[0][2]
        texts.append(shown[0][2])
    assert texts == ["p.ora: the file is nested too deeply to read (damaged or hostile)",
                     "p.ora: out of memory: try a smaller image or size",
                     "p.ora: the file gives a number too large to use (damaged or hostile)",
                     "p.ora: input/output error (a failing disk or a disconnected drive)",
                     "p.ora: bad value",
                     "p.ora: unexpected error (KeyError: 'a bug of ours')"]


def test_a_failed_save_shows_a_message_and_keeps_the_old_file(main_window, shown, monkeypatch,
                                                              tmp_path: Path) -> None:
    files = main_window.painter.files
    (tmp_path / "projects").mkdir()
    path = tmp_path / "projects" / "p.ora"
    assert files.save_project_file(path).wait()
    before = path.read_bytes()

    def disk_full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("engine.storage.os.fsync", disk_full)
    assert files.save_project_file(path).wait() is False
    assert len(shown) == 1 and shown[0][:2] == ("warning", "Save Project") and "No space left" in shown[0][2]
    assert path.read_bytes() == before and [p.name for p in path.parent.iterdir()] == ["p.ora"]
    monkeypatch.setattr(files, "saved_document", lambda: (_ for _ in ()).throw(RecursionError("deep")))
    assert files.save_project_file(path).wait() is False and len(shown) == 2 and "\n" not in shown[1][2]
    assert path.read_bytes() == before


# --- kill -9 while saving ----------------------------------------------------------------------------------

SAVER = r"""
import os, sys
import numpy as np
from app.document import Document, Layer
from app.fileio.ora import save_ora

path = sys.argv[1]
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:  # the child saves new versions until it is killed
        n = int(line) * 1_000_000
        while True:
            n += 1
            doc = Document(96, 128, settings={"n": n})
            doc.add_layer(Layer("photo", "rgb", np.full((96, 128, 3), n % 251 / 255, np.float32)))
            doc.add_layer(Layer("labels", "labels", np.full((96, 128), n % 7, np.uint8)))
            noise = np.random.default_rng(n).random((96, 128), dtype=np.float32)
            doc.add_layer(Layer("mask", "mask", noise))  # incompressible: each save takes a while
            save_ora(path, doc)
    print(pid, flush=True)
    os.waitpid(pid, 0)
    print("reaped", flush=True)
"""


def _line(proc: subprocess.Popen, timeout: float = 30.0) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "the saving process does not answer"
    return proc.stdout.readline().strip()


def _check_complete(path: Path) -> int:
    """The project is one whole saved version: its settings, labels and photo agree."""
    doc = load_ora(path).document
    n = doc.settings["n"]
    assert np.all(doc.layer("labels").data == n % 7)
    assert np.allclose(doc.layer("photo").data, n % 251 / 255)
    noise = np.random.default_rng(n).random((96, 128), dtype=np.float32)
    assert np.abs(doc.layer("mask").data - noise).max() <= 1 / 255 + 1e-6  # 8 bits a pixel
    return n


def test_kill_9_while_saving_leaves_the_old_or_the_new_project(tmp_path: Path) -> None:
    path = tmp_path / "project.ora"
    first = Document(96, 128, settings={"n": 0})
    first.add_layer(Layer("photo", "rgb", np.zeros((96, 128, 3), np.float32)))
    first.add_layer(Layer("labels", "labels", np.zeros((96, 128), np.uint8)))
    first.add_layer(Layer("mask", "mask", np.random.default_rng(0).random((96, 128), dtype=np.float32)))
    save_ora(path, first)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], cwd=ROOT, env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    rng = random.Random(13)
    seen, left_temps = 0, 0
    try:
        for round_ in range(1, 21):
            proc.stdin.write(f"{round_}\n")
            proc.stdin.flush()
            pid = int(_line(proc))
            time.sleep(rng.uniform(0.02, 0.12))
            os.kill(pid, signal.SIGKILL)
            assert _line(proc) == "reaped"
            n = _check_complete(path)
            assert n >= seen  # the last complete version, never an older one
            seen = n
            left_temps += any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
    finally:
        proc.kill()
        proc.wait()
    assert seen > 0  # the children did save
    save_ora(path, first)  # the next save sweeps what killed writers left
    assert [p.name for p in tmp_path.iterdir()] == ["project.ora"]
    assert _check_complete(path) == 0
