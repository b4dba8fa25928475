"""`main.py models ...` and `main.py render spade ...` as a user runs them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.cli import run
from tests.conftest import REPO


def official_dir(official: Path, name: str, tmp_path: Path, *, with_opt: bool = True) -> Path:
    """A copy of a fixture laid out like an official checkpoints/<name>/ folder, with opt.txt."""
    src = official / "spade" / "small" / name
    dst = tmp_path / "checkpoints" / f"{name}_small"
    dst.mkdir(parents=True)
    shutil.copy(src / "latest_net_G.pth", dst / "latest_net_G.pth")
    if with_opt:
        config = json.loads((src / "small_config.json").read_text())["config"]
        lines = ["----------------- Options ---------------"]
        lines += [f"{k:>25}: {v!s:<40}\t[default: x]" for k, v in config.items()]
        lines.append("----------------- End -------------------")
        (dst / "opt.txt").write_text("\n".join(lines) + "\n")
    return dst / "latest_net_G.pth"


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = run([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def tensor2im(output: np.ndarray) -> np.ndarray:
    return np.clip((output[0].transpose(1, 2, 0) + 1) / 2 * 255, 0, 255).astype(np.uint8)


def test_import_list_show(official, tmp_path, capsys):
    path = official_dir(official, "ade20k_like", tmp_path)
    code, out, err = cli(capsys, "models", "import", path)
    assert code == 0, err
    model_id, method, task, size_rule, licence, source, sha = out.strip().split("\t")
    assert (model_id, method, task) == ("spade-ade20k_like_small", "spade", "LabelToImage")
    assert "multiple" in size_rule and "non-commercial" in licence
    assert source == str(path.resolve()) and len(sha) == 64

    code, out, _ = cli(capsys, "models", "list")
    assert code == 0 and out.splitlines()[-1].split("\t")[0] == model_id
    code, out, _ = cli(capsys, "models", "show", model_id)
    assert "label_nc = 8" in out and "num_upsampling_layers = normal" in out
    code, out, _ = cli(capsys, "models", "show", model_id, "--palette")
    assert out.splitlines()[0] == "0 class 0" and len(out.splitlines()) == 9  # 8 labels + dontcare channel

    # importing the same file again does not duplicate it
    code, out, _ = cli(capsys, "models", "import", path)
    assert out.split("\t")[0] == model_id
    code, out, _ = cli(capsys, "models", "list")
    assert len([ln for ln in out.splitlines() if ln.startswith("spade-ade20k")]) == 1


def test_import_without_options_file_says_what_it_assumed(official, tmp_path, capsys):
    path = official_dir(official, "ade20k_like", tmp_path, with_opt=False)
    code, out, err = cli(capsys, "models", "import", path)
    assert code == 0
    assert "assumed" in err and "label_nc" in err
    code, out, err = cli(capsys, "models", "import", path, "-o", "label_nc=8", "-o", "contain_dontcare_label=True",
                         "-o", "crop_size=160", "-o", f"aspect_ratio={5 / 3}")
    assert code == 0, err


@pytest.mark.parametrize("name", ["ade20k_like", "cityscapes_like"])
def test_render_reproduces_the_official_output(official, tmp_path, capsys, name):
    ref = np.load(official / "spade" / "small" / name / "io_seed0.npz")
    labels = tmp_path / "labels.png"
    Image.fromarray(ref["label_map"]).save(labels)
    extra = []
    if "instance_map" in ref.files:
        Image.fromarray(ref["instance_map"].astype(np.uint16)).save(tmp_path / "inst.png")
        extra = ["--instances", tmp_path / "inst.png"]
    _, out, _ = cli(capsys, "models", "import", official_dir(official, name, tmp_path))
    model_id = out.split("\t")[0]
    code, _, err = cli(capsys, "render", "spade", "--model", model_id, "--labels", labels, *extra,
                       "--out", tmp_path / "photo.png")
    assert code == 0, err
    photo = np.asarray(Image.open(tmp_path / "photo.png"))
    expected = tensor2im(ref["output"])
    assert photo.shape == expected.shape
    assert np.abs(photo.astype(int) - expected.astype(int)).max() <= 1


def test_render_at_a_requested_size_and_a_bad_one(official, tmp_path, capsys):
    ref = np.load(official / "spade" / "small" / "ade20k_like" / "io_seed0.npz")
    Image.fromarray(ref["label_map"]).save(tmp_path / "labels.png")
    _, out, _ = cli(capsys, "models", "import", official_dir(official, "ade20k_like", tmp_path))
    model_id = out.split("\t")[0]
    base = ["render", "spade", "--model", model_id, "--labels", tmp_path / "labels.png"]
    code, _, err = cli(capsys, *base, "--size", "64x128", "--out", tmp_path / "small.png")
    assert code == 0, err
    assert Image.open(tmp_path / "small.png").size == (128, 64)
    code, _, err = cli(capsys, *base, "--size", "100x100", "--out", tmp_path / "bad.png")
    assert code == 2 and err.startswith("error:") and "32" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "bad.png").exists()


def _one_line_error(capsys, *argv) -> str:
    code, out, err = cli(capsys, *argv)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    return lines[0]


def test_bad_checkpoints_give_one_line_errors(tmp_path, capsys, official):
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint at all\n")
    assert "not a PyTorch checkpoint" in _one_line_error(capsys, "models", "import", text)

    data = (official / "spade" / "small" / "ade20k_like" / "latest_net_G.pth").read_bytes()
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(data[: len(data) // 2])
    assert "truncated or corrupt" in _one_line_error(capsys, "models", "import", truncated)

    unknown = tmp_path / "unknown.pth"
    torch.save({"encoder.weight": torch.zeros(3, 3), "decoder.bias": torch.zeros(3)}, unknown)
    assert "unknown architecture" in _one_line_error(capsys, "models", "import", unknown)

    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    assert "empty" in _one_line_error(capsys, "models", "import", empty)
    assert "no such file" in _one_line_error(capsys, "models", "import", tmp_path / "missing.pth")
    assert "it is a folder" in _one_line_error(capsys, "models", "import", tmp_path)

    code, out, _ = cli(capsys, "models", "list")
    assert str(tmp_path) not in out  # nothing half-imported (only the models that ship are listed)


class Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickle_that_would_run_code_is_refused(tmp_path, capsys):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    torch.save({"fc.weight": torch.zeros(1), "payload": Exploit(marker)}, evil)
    message = _one_line_error(capsys, "models", "import", evil)
    assert "would run code when loaded (builtins.getattr): refused for safety" in message  # getattr(Path, "touch")
    assert not marker.exists()


def test_nonsense_and_unknown_import_options_give_one_line_errors(official, tmp_path, capsys):
    path = official_dir(official, "ade20k_like", tmp_path)
    assert "aspect_ratio must be a number" in _one_line_error(capsys, "models", "import", path, "-o", "aspect_ratio=0")
    message = _one_line_error(capsys, "models", "import", path, "-o", "label_nc=8", "-o", "batchSize=4")
    assert "batchSize is not one that spade models take; they take: label_nc, contain_dontcare_label" in message
    _, out, _ = cli(capsys, "models", "list")
    assert str(tmp_path) not in out


def test_bad_label_maps(official, tmp_path, capsys):
    _, out, _ = cli(capsys, "models", "import", official_dir(official, "ade20k_like", tmp_path))
    model_id = out.split("\t")[0]
    base = ["render", "spade", "--model", model_id, "--out", tmp_path / "o.png", "--labels"]

    out_of_range = np.zeros((96, 160), np.uint8)
    out_of_range[:10, :10] = 42
    Image.fromarray(out_of_range).save(tmp_path / "range.png")
    assert "42" in _one_line_error(capsys, *base, tmp_path / "range.png")

    rgb = np.zeros((96, 160, 3), np.uint8)
    rgb[..., 0] = 200
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    assert "colour" in _one_line_error(capsys, *base, tmp_path / "rgb.png")

    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnonsense")
    assert "broken.png" in _one_line_error(capsys, *base, tmp_path / "broken.png")
    assert "no model with id" in _one_line_error(
        capsys, "render", "spade", "--model", "nope", "--labels", tmp_path / "range.png", "--out", tmp_path / "o.png")


def test_the_real_entry_point(official, tmp_path):
    """One run through `python main.py` itself, as a shell user would."""
    path = official_dir(official, "cityscapes_like", tmp_path)
    proc = subprocess.run([sys.executable, str(REPO / "main.py"), "models", "import", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("spade-cityscapes_like_small\tspade\tLabelToImage\t")


def test_listing_showing_and_removing_models_never_import_torch(tmp_path):
    """The catalog commands answer in a fraction of a second: engine/cli.py is torch-free (bench/cli_start.py)."""
    probe = ("import sys; from engine.cli import run; "
             "codes = [run(['models', 'list']), run(['models', 'show', 'cut-summer2winter-default']), "
             "run(['models', 'remove', 'no-such-model'])]; "
             "assert codes == [0, 0, 2], codes; assert 'torch' not in sys.modules, 'torch was imported'")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "I2I_STUDIO_DATA": str(tmp_path)})
    assert done.returncode == 0, done.stderr
