"""`models import` against a hostile corpus, generated here at test time.

For every file and every option a hostile user could hand to `python main.py models import`: exactly one stderr
line `error: ...`, exit status 2, nothing on stdout, the catalog unchanged byte for byte, no file left behind in
the data folder, and code a pickle would run never run (its payload would create a marker file). The CLI runs
in-process (`engine.cli.run`); one case runs through `python main.py` itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save as safetensors_bytes

from engine.checkpoints import METADATA_KEY, nonfinite_weights, read_checkpoint, write_checkpoint
from engine.cli import run
from engine.models import spade
from engine.storage import DATA_ENV
from tests.conftest import REPO
from tests.translation_fixtures import tiny_generator, write_tiny_cyclegan

MARKER = "PWNED"


class RunsShell:
    """Unpickling this would run a shell command that creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def tiny_spade_weights() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    hparams = {"ngf": 2, "semantic_nc": 4, "num_upsampling_layers": "normal", "use_vae": False, "nhidden": 8}
    return spade.build(hparams).state_dict()


def cyclegan_weights() -> dict[str, torch.Tensor]:
    return tiny_generator("cyclegan").state_dict()


def safetensors_file(header: object, data: bytes = b"", *, length: int | None = None) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + data


def ours(weights: dict[str, torch.Tensor], metadata: str) -> bytes:
    """A safetensors file in our layout whose i2i_studio metadata is `metadata`, verbatim."""
    return safetensors_bytes({k: v.contiguous() for k, v in weights.items()}, metadata={METADATA_KEY: metadata})


def _pickle(obj: object, protocol: int) -> bytes:
    return pickle.dumps(obj, protocol=protocol)


def _torch_bytes(obj: object) -> bytes:
    import io
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _with_nonfinite(value: float) -> dict[str, torch.Tensor]:
    weights = cyclegan_weights()
    weights["model.1.weight"].view(-1)[:3] = value
    return weights


# name -> (writes the hostile input into a folder and returns the path to import, words the error must say)
Case = Callable[[Path], Path]
FILES: dict[str, tuple[Case, tuple[str, ...]]] = {}


def case(name: str, *words: str):
    def register(make: Case) -> Case:
        FILES[name] = (make, words)
        return make
    return register


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


for protocol in (0, 2, 4):
    case(f"pickle-running-code-p{protocol}", "run code", "system", "refused for safety")(
        lambda folder, protocol=protocol: _write(
            folder, "evil.pkl", _pickle({"w": RunsShell(folder / MARKER)}, protocol)))
case("torch-save-running-code", "run code", "system", "refused for safety")(
    lambda folder: _write(folder, "evil.pth", _torch_bytes(
        {"model.1.weight": torch.zeros(1), "x": RunsShell(folder / MARKER)})))
case("pickle-of-numpy-zeros", "numpy", "not tensors")(
    lambda folder: _write(folder, "zeros.pkl", _pickle(np.zeros((4, 4)), 2)))
case("torch-save-of-numpy-zeros", "numpy", "not tensors")(
    lambda folder: _write(folder, "zeros.pth", _torch_bytes({"w": np.zeros(3)})))
case("pickle-of-a-dict-of-ints", "plain Python pickle", "no tensors")(
    lambda folder: _write(folder, "ints.pkl", _pickle({"a": 1, "b": 2}, 4)))
case("torch-save-of-a-dict-of-ints", "holds no tensors")(
    lambda folder: _write(folder, "ints.pth", _torch_bytes({"a": 1, "b": 2})))
case("nan-weights", "NaN or infinite", "model.1.weight", "3 weights", "--allow-nonfinite")(
    lambda folder: _write(folder, "nan.pth", _torch_bytes(_with_nonfinite(float("nan")))))
case("inf-weights-in-safetensors", "NaN or infinite", "model.1.weight")(
    lambda folder: _write(folder, "inf.safetensors", ours(_with_nonfinite(float("-inf")), "{}")))
case("safetensors-header-longer-than-the-file", "header claims", "truncated or corrupt")(
    lambda folder: _write(folder, "long.safetensors", safetensors_file(
        {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8, length=10**6)))
case("safetensors-huge-header-length", "header claims")(
    lambda folder: _write(folder, "huge.safetensors", safetensors_file(
        {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8, length=2**62)))
case("safetensors-header-metadata-a-list", "corrupt")(
    lambda folder: _write(folder, "list.safetensors", safetensors_file(
        {"__metadata__": ["a"], "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8)))
case("safetensors-header-not-json", "corrupt")(
    lambda folder: _write(folder, "garbage.safetensors", struct.pack("<Q", 20) + b"{not json at all!!!}"))
case("safetensors-shape-not-matching-the-bytes", "corrupt")(
    lambda folder: _write(folder, "shape.safetensors", safetensors_file(
        {"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8)))
case("safetensors-offsets-beyond-the-data", "corrupt")(
    lambda folder: _write(folder, "offsets.safetensors", safetensors_file(
        {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8)))
case("safetensors-unknown-dtype", "corrupt")(
    lambda folder: _write(folder, "dtype.safetensors", safetensors_file(
        {"w": {"dtype": "Q99", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8)))
case("our-metadata-a-json-list", "metadata is a JSON list")(
    lambda folder: _write(folder, "meta-list.safetensors", ours(cyclegan_weights(), "[1, 2, 3]")))
case("our-metadata-not-json", "metadata is not valid JSON")(
    lambda folder: _write(folder, "meta-text.safetensors", ours(cyclegan_weights(), "{nope")))
case("our-metadata-nested-too-deep", "not valid JSON")(
    lambda folder: _write(folder, "meta-deep.safetensors", ours(cyclegan_weights(), "[" * 100_000 + "]" * 100_000)))
case("our-metadata-hparams-garbage", "option ngf", "whole number")(
    lambda folder: _write(folder, "meta-hp.safetensors", ours(
        cyclegan_weights(), json.dumps({"hparams": {"ngf": {"x": [1, {"y": None}]}}}))))
case("our-metadata-hparams-a-list", "'hparams'", "not an object")(
    lambda folder: _write(folder, "meta-hp-list.safetensors", ours(cyclegan_weights(), json.dumps({"hparams": [1]}))))
case("our-metadata-directions-a-number", "option directions")(
    lambda folder: _write(folder, "meta-dir.safetensors", ours(
        cyclegan_weights(), json.dumps({"hparams": {"directions": 5}}))))
case("our-metadata-name-not-text", "'name'", "not text")(
    lambda folder: _write(folder, "meta-name.safetensors", ours(cyclegan_weights(), json.dumps({"name": {"a": 1}}))))
case("our-metadata-classes-garbage", "'classes'")(
    lambda folder: _write(folder, "meta-classes.safetensors", ours(
        cyclegan_weights(), json.dumps({"classes": [[1, "sky"], ["x", None, 3]]}))))
case("our-metadata-palette-a-path", "not a palette name")(
    lambda folder: _write(folder, "meta-palette.safetensors", ours(
        cyclegan_weights(), json.dumps({"palette": "/dev/stdin"}))))
case("weights-of-the-wrong-rank", "do not fit a SPADE", "IndexError")(  # the model code indexes a shape
    lambda folder: _write(folder, "rank.pth", _torch_bytes(
        {k: (torch.zeros(()) if k == "head_0.conv_0.weight_orig" else v) for k, v in tiny_spade_weights().items()})))
case("weights-of-zero-size", "do not fit a SPADE")(  # torch warns about zero-element tensors: never on stderr
    lambda folder: _write(folder, "zero.pth", _torch_bytes(
        {k: (torch.zeros(2, 0, 3, 1, 1) if k == "up_0.conv_0.weight_orig" else v)
         for k, v in tiny_spade_weights().items()})))
case("empty-file", "empty")(lambda folder: _write(folder, "empty.pth", b""))
case("text-file", "not a PyTorch checkpoint")(lambda folder: _write(folder, "notes.pth", b"not a checkpoint\n"))
case("zip-without-data-pkl", "zip archive without data.pkl")(
    lambda folder: _zip_without_data(folder / "photos.pth"))


def _zip_without_data(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("photo.txt", "hello")
    return path


def _zip_bomb(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", _pickle({"a": 1}, 2))
        archive.writestr("archive/data/0", b"\0" * (300 << 20))
    return path


case("zip-that-inflates-300-mb", "unpack", "refused")(lambda folder: _zip_bomb(folder / "bomb.pth"))

def _truncated(folder: Path, fraction: float) -> Path:
    data = _torch_bytes(cyclegan_weights())
    return _write(folder, "cut.pth", data[: int(len(data) * fraction)])


for fraction in (0.02, 0.3, 0.6, 0.97):
    case(f"truncated-zip-at-{fraction}", "truncated or corrupt")(
        lambda folder, fraction=fraction: _truncated(folder, fraction))


@case("a-folder", "folder")
def _folder(folder: Path) -> Path:
    (folder / "weights.pth").mkdir()
    return folder / "weights.pth"


@case("a-fifo", "named pipe", "not opened")
def _fifo(folder: Path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this system")
    os.mkfifo(folder / "pipe.pth")  # opening it would block the import for good
    threading.Thread(target=_unblock, args=(folder / "pipe.pth",), daemon=True).start()
    return folder / "pipe.pth"


def _unblock(fifo: Path, seconds: float = 15.0) -> None:
    """Should the import ever open the FIFO, write garbage into it: the test then fails instead of hanging."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO while nobody reads
        except OSError:
            time.sleep(0.05)
            continue
        with contextlib.suppress(OSError):
            os.write(fd, b"opened the pipe")
        os.close(fd)
        return


@case("a-symlink-loop", "symbolic link loop")
def _loop(folder: Path) -> Path:
    (folder / "a.pth").symlink_to(folder / "b.pth")
    (folder / "b.pth").symlink_to(folder / "a.pth")
    return folder / "a.pth"


@case("a-missing-file", "no such file")
def _missing(folder: Path) -> Path:
    return folder / "missing.pth"


@case("a-file-without-read-permission", "permission denied")
def _unreadable(folder: Path) -> Path:
    if os.name != "posix" or os.geteuid() == 0:
        pytest.skip("root (or a non-POSIX system) reads a file whatever its permissions")
    path = _write(folder, "locked.pth", _torch_bytes(cyclegan_weights()))
    path.chmod(0)
    return path


# --- the catalog and the data folder before and after ---------------------------------------------------------


def cli(capsys, *argv: object) -> tuple[int, str, str]:
    code = run([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def snapshot() -> dict[str, bytes]:
    data = Path(os.environ[DATA_ENV])
    return {str(p.relative_to(data)): p.read_bytes() for p in sorted(data.rglob("*")) if p.is_file()}


@pytest.fixture
def library(tmp_path, capsys) -> dict[str, bytes]:
    """A catalog holding one imported model; the data folder's files as they are."""
    code, _, err = cli(capsys, "models", "import", write_tiny_cyclegan(tmp_path / "good" / "good.safetensors"))
    assert code == 0, err
    before = snapshot()
    assert "models.json" in before
    return before


def refused(capsys, before: dict[str, bytes], *argv: object) -> str:
    code, out, err = cli(capsys, "models", "import", *argv)
    lines = err.splitlines()
    assert code == 2 and out == "", (code, out, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert snapshot() == before  # the catalog byte for byte, and nothing left behind
    return lines[0]


@pytest.mark.parametrize("name", list(FILES))
def test_a_hostile_file_is_refused_in_one_line(name, library, tmp_path, capsys):
    make, words = FILES[name]
    folder = tmp_path / "hostile"
    folder.mkdir()
    message = refused(capsys, library, make(folder))
    for word in words:
        assert word.lower() in message.lower(), message
    assert "Traceback" not in message and len(message) < 400
    assert not (folder / MARKER).exists()  # the payload never ran


SPADE_OPTION_CASES = {
    "aspect_ratio=0": "aspect_ratio must be a number",
    "aspect_ratio=-2": "aspect_ratio must be a number",
    "aspect_ratio=nan": "aspect_ratio must be a number",
    "aspect_ratio=inf": "aspect_ratio must be a number",
    "aspect_ratio=1e-300": "aspect_ratio must be a number",
    "aspect_ratio=" + "9" * 400: "aspect_ratio must be a number",
    "aspect_ratio=wide": "aspect_ratio must be a number",
    "crop_size=0": "crop_size must be a whole number",
    "crop_size=-256": "crop_size must be a whole number",
    "crop_size=99999999999999999999": "crop_size must be a whole number",
    "crop_size=2.5": "crop_size must be a whole number",
    "label_nc=-3": "label_nc must be a whole number",
    "label_nc=abc": "label_nc must be a whole number",
    "label_nc=True": "label_nc must be a whole number",
    "no_instance=maybe": "no_instance must be True or False",
    "num_upsampling_layers=7": "num_upsampling_layers must be one of normal, more, most",
    "batchSize=4": "option batchSize is not one that spade models take; they take: label_nc,",
    "label_nc": "not NAME=VALUE",
    "=3": "not NAME=VALUE",
    "label_nc=": "has no value",
    "allow_nonfinite=perhaps": "allow_nonfinite must be True or False",
}


@pytest.mark.parametrize("option", list(SPADE_OPTION_CASES))
def test_nonsense_options_are_refused_in_one_line(option, library, tmp_path, capsys):
    path = tmp_path / "spade" / "latest_net_G.pth"
    path.parent.mkdir()
    torch.save(tiny_spade_weights(), path)
    message = refused(capsys, library, path, "-o", option)
    assert SPADE_OPTION_CASES[option] in message, message


def test_options_given_twice_and_options_of_another_architecture(library, tmp_path, capsys):
    path = tmp_path / "cyclegan.pth"
    torch.save(cyclegan_weights(), path)
    assert "given twice" in refused(capsys, library, path, "-o", "ngf=4", "-o", "ngf=4")
    message = refused(capsys, library, path, "-o", "aspect_ratio=2.0")
    assert "not one that cyclegan models take; they take: ngf, n_blocks, input_nc, output_nc, directions" in message
    assert "directions must be" in refused(capsys, library, path, "-o", "directions=5")
    assert "AtoB" in refused(capsys, library, path, "-o", "directions=sideways")


def test_nonsense_in_an_options_file_is_named(library, tmp_path, capsys):
    path = tmp_path / "run" / "latest_net_G.pth"
    path.parent.mkdir()
    torch.save(tiny_spade_weights(), path)
    (path.parent / "opt.txt").write_text("             aspect_ratio: 0                  \t[default: 1.0]\n")
    message = refused(capsys, library, path)
    assert "opt.txt: option aspect_ratio must be a number" in message
    (path.parent / "opt.txt").write_bytes(b"x" * (2 << 20))  # not an options file: never read whole
    assert "not an options file" in refused(capsys, library, path)


def test_valid_options_still_import(library, tmp_path, capsys):
    path = tmp_path / "spade" / "latest_net_G.pth"
    path.parent.mkdir()
    torch.save(tiny_spade_weights(), path)
    code, _, err = cli(capsys, "models", "import", path, "-o", "label_nc=3", "-o", "contain_dontcare_label=True",
                         "-o", "crop_size=128.0", "-o", "aspect_ratio=2")
    assert code == 0, err
    entry = json.loads((Path(os.environ[DATA_ENV]) / "models.json").read_text())["models"][-1]
    assert entry["hparams"]["crop_size"] == 128 and entry["hparams"]["aspect_ratio"] == 2.0
    assert entry["hparams"]["output_hw"] == [64, 128]


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_nonfinite_weights_are_imported_only_when_forced_and_then_with_a_warning(value, library, tmp_path, capsys):
    path = tmp_path / "broken_net_G.pth"
    torch.save(_with_nonfinite(value), path)
    message = refused(capsys, library, path)
    assert "3 weights are NaN or infinite (in model.1.weight)" in message

    code, out, err = cli(capsys, "models", "import", path, "--allow-nonfinite")
    assert code == 0, err
    assert "WARNING: 3 weights are NaN or infinite (in model.1.weight)" in err  # printed ...
    model_id = out.split("\t")[0]
    code, out, _ = cli(capsys, "models", "show", model_id)
    assert "notes:     WARNING: 3 weights are NaN or infinite" in out  # ... and kept in the entry's notes


def test_nonfinite_weights_are_counted_per_tensor_and_part(tmp_path):
    weights = {"a": torch.tensor([1.0, float("nan"), float("inf")]), "b": torch.ones(2),
               "n": torch.tensor([1, 2]), "h": torch.tensor([float("-inf")], dtype=torch.float16)}
    write_checkpoint(tmp_path / "x.safetensors", weights, {}, parts={"netE": {"c": torch.tensor([float("nan")])}})
    found = nonfinite_weights(read_checkpoint(tmp_path / "x.safetensors"))
    assert found == {"a": 2, "h": 1, "netE/c": 1}


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root and setpriv to run the import as another user (without root, the "
                           "in-process case a-file-without-read-permission covers it)")
def test_a_file_without_read_permission_as_another_user():
    """Root reads any file, so the import runs as 'nobody' (uid 65534), through `python main.py`."""
    folder = Path(tempfile.mkdtemp(prefix="i2i-perm-"))
    try:
        folder.chmod(0o755)
        locked = _write(folder, "locked.pth", _torch_bytes(cyclegan_weights()))
        locked.chmod(0)
        data = folder / "data"
        data.mkdir(mode=0o777)
        data.chmod(0o777)
        proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
                               str(REPO / "main.py"), "models", "import", str(locked)], capture_output=True,
                              text=True, timeout=120, env={**os.environ, DATA_ENV: str(data)}, check=False)
        if "Permission denied" in proc.stderr and "main.py" in proc.stderr:
            pytest.skip("user 'nobody' cannot read the repository here")
        assert proc.returncode == 2 and proc.stdout == "", proc.stderr
        assert proc.stderr == f"error: {locked}: permission denied\n"
        assert not any(data.rglob("*"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_real_entry_point_refuses_in_one_line(tmp_path):
    """Through `python main.py` itself: a pickle that would run code, with torch's warnings on stderr silenced."""
    data = tmp_path / "data"
    evil = _write(tmp_path, "evil.pkl", _pickle({"w": RunsShell(tmp_path / MARKER)}, 4))
    proc = subprocess.run([sys.executable, str(REPO / "main.py"), "models", "import", str(evil)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, DATA_ENV: str(data)},
                          check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith("error: evil.pkl: cannot be loaded: it "
                                                                         "would run code"), proc.stderr
    assert not (tmp_path / MARKER).exists()
    assert not data.exists() or not any(data.rglob("*"))
