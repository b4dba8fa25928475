"""HIT / MUNIT generator: the official HIT fixture reproduces every stored array (codes, AdaIN parameters,
reconstruction, style swap, node samples from their epsilons, a non-square photo); the three released configs and
MUNIT's backbone build to exactly the manifests' keys and shapes; the tree's node indexing and sampling."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine.models import hit
from engine.models.hit import AdaINGen, parse_tree

TOL = 1e-4


@pytest.fixture
def small(official):
    folder = official / "hit" / "small"
    sd = torch.load(folder / "gen_00000001.pt", weights_only=True)["gen"]
    io = {k: torch.from_numpy(v) for k, v in np.load(folder / "io_seed0.npz").items()}
    meta = json.loads((folder / "meta.json").read_text())
    return sd, io, meta


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and float((a - b).abs().max()) < TOL


def loaded(sd, tree) -> AdaINGen:
    gen = AdaINGen(**hit.generator_hparams(sd), tree=tree)
    gen.load_state_dict(sd, strict=True)
    return gen.eval()


def test_the_fixture_generator_reproduces_every_array(small):
    sd, io, meta = small
    params = meta["gen_params"]
    assert hit.generator_hparams(sd) == {
        "input_dim": 3, "dim": params["dim"], "style_dim": params["style_dim"], "mlp_dim": params["mlp_dim"],
        "n_downsample": params["n_downsample"], "n_res": params["n_res"], "n_mlp": 3, "style_down": 4}
    gen = loaded(sd, params["tree"])
    assert list(gen.state_dict()) == list(sd)  # the official key order too
    with torch.inference_mode():
        content, style = gen.encode(io["x"])
        assert close(content, io["content"]) and close(style, io["style"])
        assert close(gen.adain_params(style), io["adain_params"])
        assert close(gen.decode(content, style), io["recon"])
        assert close(gen.decode(content[:1], style[1:]), io["swap_0_with_style_1"])
        assert close(gen(io["x_nonsquare"]), io["nonsquare_recon"])  # 48x80: fully convolutional
        for level, label in meta["nodes_sampled"]:
            name = f"level{level}_label{label}"
            styles = gen.sample(gen.tree.index(level, label), io[f"{name}_eps"])
            assert close(styles, io[f"{name}_style"]), name
            assert close(gen.decode(content[:1], styles), io[f"{name}_out"]), name


def test_a_single_root_is_the_fixed_standard_normal(small):
    sd, io, meta = small
    gen = loaded(sd, meta["gen_params"]["tree"])
    root = gen.distributions.tree_info[gen.tree.index(0, 0)]
    assert not root.miu.requires_grad and float(root.miu.abs().sum() + root.log_var.abs().sum()) == 0
    assert all(n.miu.requires_grad for n in gen.distributions.tree_info[:-1])
    eps = io["level0_label0_eps"]
    assert torch.equal(gen.sample(gen.tree.index(0, 0), eps), eps)


@pytest.mark.parametrize("name", ["imagenet", "furnitures", "celeba"])
def test_the_released_configs_build_to_the_manifest(official, name):
    manifest = json.loads((official / "hit" / "manifest_full.json").read_text())["configs"][name]
    p = manifest["gen_params"]
    with torch.device("meta"):
        gen = AdaINGen(dim=p["dim"], style_dim=p["style_dim"], mlp_dim=p["mlp_dim"], n_downsample=p["n_downsample"],
                       n_res=p["n_res"], pad_type=p["pad_type"], tree=p["tree"])
    assert [(k, list(v.shape)) for k, v in gen.state_dict().items()] == \
        [(e["key"], e["shape"]) for e in manifest["gen_keys"]]
    assert hit.count_params(gen) == manifest["gen_param_count"]
    assert gen.mlp.model[2].fc.out_features == manifest["num_adain_params"]
    tree = gen.tree
    assert tree.levels == (manifest["leaves"], manifest["intermediate"], manifest["roots"])
    assert hit.tree_from_size(tree.size)[0] == name


def test_munit_backbone_keys_load_key_for_key(official):
    manifest = json.loads((official / "hit" / "munit_backbone_keys.json").read_text())
    config = json.loads(manifest["config"].split("gen params: ", 1)[1])
    with torch.device("meta"):
        gen = AdaINGen(dim=config["dim"], style_dim=config["style_dim"], mlp_dim=config["mlp_dim"],
                       n_downsample=config["n_downsample"], n_res=config["n_res"], pad_type=config["pad_type"])
    assert [(k, list(v.shape)) for k, v in gen.state_dict().items()] == \
        [(e["key"], e["shape"]) for e in manifest["gen_keys"]]
    assert hit.count_params(gen) == manifest["gen_param_count"]
    assert gen.tree is None
    shapes = {e["key"]: torch.empty(e["shape"], device="meta") for e in manifest["gen_keys"]}
    assert hit.generator_hparams(shapes)["n_res"] == 4 and hit.node_count(shapes) == 0


def test_tree_indexing_levels_and_names():
    tree = parse_tree([4, 3, 3, 3, 3, 2, 2, 2])  # celeba: 12 leaves, 4 intermediate, 2 roots
    assert tree.levels == (12, 4, 2) and tree.size == 18
    assert tree.index(2, 11) == 11 and tree.index(1, 0) == 12 and tree.index(0, 1) == 17
    assert tree.parent[:3] == (12, 12, 12) and tree.parent[11] == 15
    assert tree.parent[12:16] == (16, 16, 17, 17) and tree.roots == [16, 17]
    assert tree.ancestors(4) == [13, 16]
    assert [tree.level_of(i) for i in (0, 12, 17)] == [2, 1, 0] and tree.label(13) == 1
    names = tree.names()
    assert names[3] == "leaf 3" and names[13] == "level 1 · 1" and names[17] == "root 1"
    assert parse_tree([3, 4, 4, 4, 1, 3]).names()[-1] == "root"
    with pytest.raises(ValueError, match="add up"):
        parse_tree([3, 4, 4, 4, 1, 2])
    with pytest.raises(ValueError, match="children counts"):
        parse_tree([3, 4, 4])
    with pytest.raises(ValueError, match="no label 4"):
        tree.index(1, 4)
    assert hit.tree_from_size(17) is None


def test_node_samples_follow_the_node_gaussian():
    torch.manual_seed(0)
    gen = AdaINGen(dim=4, mlp_dim=8, n_res=1, tree=[2, 3, 3, 1, 2])
    node = gen.distributions.tree_info[4]
    with torch.no_grad():
        node.miu.copy_(torch.linspace(-2, 2, 8))
        node.log_var.copy_(torch.linspace(-1, 1, 8))
    s = gen.sample(4, torch.randn(20000, 8))
    assert torch.allclose(s.mean(0), node.miu, atol=0.05)
    assert torch.allclose(s.var(0).log(), node.log_var, atol=0.05)
