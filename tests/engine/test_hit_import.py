"""Importing HIT's gen_XXXXXXXX.pt with its tree (config.yaml, the released trees by node count, or -o tree=...),
MUNIT's two-generator files (old files' extra InstanceNorm buffers dropped), and serving both through VaryImage:
node samples per seed and temperature, node interpolation, reference styles, photos of any size; bad input refused
with one-line messages. Also the temperature DeepI2I now takes."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.api import JobRef, Variation, VaryImage
from engine.catalog import Catalog
from engine.checkpoints import read_yaml_tree
from engine.handlers import Engine
from engine.models import hit
from engine.worker import JobContext
from tests.cli.test_models_cli import _one_line_error

CTX = JobContext(JobRef(0, "test", 0), lambda event: None)
TOL = 1e-4


@pytest.fixture
def engine() -> Engine:
    return Engine(Catalog(), torch.device("cpu"))


@pytest.fixture
def io(official):
    return dict(np.load(official / "hit" / "small" / "io_seed0.npz"))


def run_folder(official: Path, tmp_path: Path, config: str | None = None) -> Path:
    """The fixture laid out as the official trainer leaves it: outputs/<name>/checkpoints/gen_00000001.pt."""
    path = tmp_path / "outputs" / "animals" / "checkpoints" / "gen_00000001.pt"
    path.parent.mkdir(parents=True)
    shutil.copyfile(official / "hit" / "small" / "gen_00000001.pt", path)
    if config is not None:
        (path.parent.parent / "config.yaml").write_text(config)
    return path


def image(x: np.ndarray) -> np.ndarray:
    """(3, H, W) in [-1, 1] -> HxWx3 in [0, 1], as a caller hands a photo over."""
    return ((x.transpose(1, 2, 0) + 1) / 2).astype(np.float32)


def seeded(seed: int, temperature: float = 1.0) -> torch.Tensor:
    return torch.randn(8, generator=torch.Generator().manual_seed(seed)) * temperature


def test_the_fixture_imports_with_the_released_tree_and_reproduces_reconstruction_and_swap(official, io, engine):
    entry = engine.import_model(str(official / "hit" / "small" / "gen_00000001.pt"), None, CTX)
    assert (entry.method, entry.task) == ("hit", "MultiDomain")
    assert entry.hparams["tree"] == [3, 4, 4, 4, 1, 3] and "imagenet" in entry.hparams["tree_source"]
    caps = entry.capabilities
    assert caps.size_multiple == 4 and caps.style_seed and caps.style_image and caps.fixed_size is None
    assert caps.domains[11] == "leaf 11" and caps.domains[13] == "level 1 · 1" and caps.domains[15] == "root"
    x0, x1 = image(io["x"][0]), image(io["x"][1])
    recon = engine.vary_image(VaryImage(entry.id, x0, (Variation(0),), style=x0), CTX)[0]
    assert np.abs(recon - image(io["recon"][0]).clip(0, 1)).max() < TOL
    swap = engine.vary_image(VaryImage(entry.id, x0, (Variation(5, seed=9),), style=x1), CTX)[0]
    assert np.abs(swap - image(io["swap_0_with_style_1"][0]).clip(0, 1)).max() < TOL  # reference-guided


def test_node_samples_follow_seed_temperature_and_mix(official, io, engine):
    entry = engine.import_model(str(official / "hit" / "small" / "gen_00000001.pt"), None, CTX)
    _, nets = engine.loaded(entry.id)
    gen = nets["gen"]
    x = torch.from_numpy(io["x"][:1])
    photo = image(io["x"][0])

    def expected(style: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return image(gen.decode(gen.enc_content(x), style[None]).numpy()[0]).clip(0, 1)

    leaf = gen.tree.index(2, 11)
    inter = gen.tree.index(1, 1)
    out = engine.vary_image(VaryImage(entry.id, photo, (
        Variation(leaf, seed=4), Variation(leaf, seed=4, temperature=0.5), Variation(leaf, seed=4, temperature=0),
        Variation(leaf, seed=4, target_b=inter, mix=0.25), Variation(leaf, seed=4, seed_b=7, seed_mix=0.5),
        Variation(leaf, seed=4))), CTX)
    with torch.inference_mode():
        wanted = [gen.sample(leaf, seeded(4)), gen.sample(leaf, seeded(4, 0.5)), gen.node_params(leaf)[0],
                  0.75 * gen.sample(leaf, seeded(4)) + 0.25 * gen.sample(inter, seeded(4)),
                  gen.sample(leaf, 0.5 * seeded(4) + 0.5 * seeded(7))]
    for n, style in enumerate(wanted):
        assert np.abs(out[n] - expected(style)).max() < TOL, n
    assert np.array_equal(out[0], out[5])  # a seed reproduces its result
    assert np.abs(out[0] - out[4]).max() > 1e-3


def test_the_tree_comes_from_the_config_or_the_option_and_must_match(official, tmp_path, engine, capsys):
    flow = "gen:\n  dim: 8\ntree: [3, 4, 4, 4, 1, 3]   # imagenet\n"
    entry = engine.import_model(str(run_folder(official, tmp_path, flow)), None, CTX)
    assert entry.name == "animals" and entry.hparams["tree_source"].startswith("config ")
    assert read_yaml_tree("tree:\n  - 2\n  - 3\n  - 3\n  - 1\n  - 2\nlr: 1\n") == [2, 3, 3, 1, 2]
    assert read_yaml_tree("trees: [1]\n") is None

    names = ",".join([f"breed {i}" for i in range(12)] + ["cats", "dogs", "birds", "animal"])
    named = engine.import_model(str(official / "hit" / "small" / "gen_00000001.pt"),
                                {"tree": "[3,4,4,4,1,3]", "classes": names}, CTX)
    assert named.capabilities.domains[12] == "cats" and named.hparams["tree_source"] == "given on import"

    wrong = tmp_path / "wrong"
    wrong.mkdir()
    gen = run_folder(official, wrong, "tree: [2, 3, 3, 1, 2]\n")  # furnitures: 9 nodes, the weights have 16
    assert "has 9 nodes but the checkpoint has 16" in _one_line_error(capsys, "models", "import", gen)
    assert "has 9 nodes but the checkpoint has 16" in _one_line_error(
        capsys, "models", "import", official / "hit" / "small" / "gen_00000001.pt", "-o", "tree=furnitures")
    assert "do not add up" in _one_line_error(
        capsys, "models", "import", official / "hit" / "small" / "gen_00000001.pt", "-o", "tree=[3,4,4,4,1,2]")

    odd = tmp_path / "gen_00000002.pt"
    torch.manual_seed(0)
    torch.save({"gen": hit.AdaINGen(dim=4, mlp_dim=8, n_res=1, tree=[1, 3]).state_dict()}, odd)
    assert "4 nodes, which matches none of the released trees" in _one_line_error(capsys, "models", "import", odd)
    assert "discriminator" in _one_line_error(capsys, "models", "import",
                                              official / "hit" / "small" / "dis_00000001.pt")


def test_photos_of_any_size_are_padded_and_cropped_back(official, engine):
    entry = engine.import_model(str(official / "hit" / "small" / "gen_00000001.pt"), None, CTX)
    _, nets = engine.loaded(entry.id)
    gen = nets["gen"]
    photo = np.random.default_rng(0).random((50, 70, 3), dtype=np.float32)
    out = engine.vary_image(VaryImage(entry.id, photo, (Variation(3, seed=1),)), CTX)[0]
    assert out.shape == (50, 70, 3)
    x = torch.nn.functional.pad(torch.from_numpy(photo).permute(2, 0, 1)[None] * 2 - 1, (0, 2, 0, 2), mode="reflect")
    with torch.inference_mode():
        y = gen.decode(gen.enc_content(x), gen.sample(3, seeded(1))[None])[..., :50, :70]
    assert np.abs(out - image(y.numpy()[0]).clip(0, 1)).max() < TOL
    with pytest.raises(ValueError, match="at least 16 px"):
        engine.vary_image(VaryImage(entry.id, photo[:12], (Variation(0),)), CTX)
    with pytest.raises(ValueError, match="style photo is 8x8"):
        engine.vary_image(VaryImage(entry.id, photo, (Variation(0),), style=photo[:8, :8]), CTX)
    with pytest.raises(ValueError, match="no injection weight"):
        engine.vary_image(VaryImage(entry.id, photo, (Variation(0, weight=0.5),)), CTX)
    with pytest.raises(ValueError, match="temperature must be between 0 and 10"):
        engine.vary_image(VaryImage(entry.id, photo, (Variation(0, temperature=-1),)), CTX)


def munit_file(path: Path, *, old: bool = True, pair: bool = True) -> dict[str, hit.AdaINGen]:
    torch.manual_seed(1)
    gens = {k: hit.AdaINGen(dim=4, mlp_dim=8, n_res=4).eval() for k in ("a", "b")}
    saved = {}
    for k, gen in gens.items():
        sd = dict(gen.state_dict())
        if old:  # PyTorch 0.3 saved InstanceNorm buffers in the content encoder
            for i in (0, 1, 2):
                sd[f"enc_content.model.{i}.norm.running_mean"] = torch.zeros(4 * 2 ** i)
                sd[f"enc_content.model.{i}.norm.running_var"] = torch.ones(4 * 2 ** i)
        saved[k] = sd
    torch.save(saved if pair else {"a": saved["a"]}, path)
    return gens


def test_munit_imports_as_two_domains_with_random_and_reference_styles(tmp_path, engine, capsys):
    gens = munit_file(tmp_path / "edges2shoes.pt")
    entry = engine.import_model(str(tmp_path / "edges2shoes.pt"), None, CTX)
    assert entry.method == "munit" and entry.capabilities.domains == ("A", "B") and entry.hparams["n_res"] == 4
    rng = np.random.default_rng(2)
    photo, ref = rng.random((32, 48, 3), dtype=np.float32), rng.random((40, 40, 3), dtype=np.float32)
    out = engine.vary_image(VaryImage(entry.id, photo, (Variation(1, seed=3), Variation(0, seed=3, temperature=2))),
                            CTX)
    guided = engine.vary_image(VaryImage(entry.id, photo, (Variation(1),), style=ref), CTX)[0]
    x = torch.from_numpy(photo).permute(2, 0, 1)[None] * 2 - 1
    y = torch.from_numpy(ref).permute(2, 0, 1)[None] * 2 - 1
    a, b = gens["a"], gens["b"]
    with torch.inference_mode():
        a2b = b.decode(a.enc_content(x), seeded(3)[None])
        b2a = a.decode(b.enc_content(x), seeded(3, 2)[None])
        ref_b = b.decode(a.enc_content(x), b.enc_style(y))  # the official test: style from gen_b, decoded by gen_b
    for ours, theirs in ((out[0], a2b), (out[1], b2a), (guided, ref_b)):
        assert np.abs(ours - image(theirs.numpy()[0]).clip(0, 1)).max() < TOL
    with pytest.raises(ValueError, match="cannot be mixed"):
        engine.vary_image(VaryImage(entry.id, photo, (Variation(1, target_b=0, mix=0.5),)), CTX)

    munit_file(tmp_path / "single.pt", pair=False)
    assert "single MUNIT generator" in _one_line_error(capsys, "models", "import", tmp_path / "single.pt")


def test_deepi2i_scales_its_draw_by_the_temperature(official):
    from engine.models.deepi2i import DeepI2IVarier, noise

    engine = Engine(Catalog(), torch.device("cpu"))
    entry = engine.import_model(str(official / "deepi2i" / "small" / "DeepI2I_small"), None, CTX)
    _, nets = engine.loaded(entry.id)
    varier = DeepI2IVarier(nets, entry.hparams)
    photo = np.random.default_rng(3).random((128, 128, 3), dtype=np.float32)
    out = engine.vary_image(VaryImage(entry.id, photo, (Variation(1, seed=5, temperature=0.5),)), CTX)[0]
    with torch.inference_mode():
        encoding = varier.encode(torch.from_numpy(photo).permute(2, 0, 1)[None] * 2 - 1)
        G = varier.G
        y = G(noise(5)[None] * 0.5, G.shared(torch.tensor([1])), encoding, varier.fea_w)
    assert np.abs(out - ((y[0].permute(1, 2, 0).numpy() + 1) / 2).clip(0, 1)).max() < TOL
    with pytest.raises(ValueError, match="no reference style"):
        engine.vary_image(VaryImage(entry.id, photo, (Variation(1),), style=photo), CTX)
