"""HIT's nested-distribution and Mahalanobis losses reproduce the official fixture's values on its tree, and behave
as the losses should (nested children cost less than children outside their parent)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine.models.hit import AdaINGen, generator_hparams, parse_tree
from trainers.hit_losses import kl_matrix, mahalanobis_loss, nested_loss


@pytest.fixture
def small(official):
    folder = official / "hit" / "small"
    sd = torch.load(folder / "gen_00000001.pt", weights_only=True)["gen"]
    meta = json.loads((folder / "meta.json").read_text())
    gen = AdaINGen(**generator_hparams(sd), tree=meta["gen_params"]["tree"])
    gen.load_state_dict(sd)
    return gen, dict(np.load(folder / "io_seed0.npz")), meta


def test_the_fixture_loss_values(small):
    gen, io, meta = small
    miu, log_var = gen.distributions.params()
    tree = gen.tree
    loss = nested_loss(miu, log_var, tree.parent, threshold=meta["gen_params"]["alpha"],
                       margin=meta["gen_params"]["m"])
    assert abs(loss.item() - float(io["nested_loss"])) < 1e-3
    labels = io["maha_labels_h0_h1_h2"]  # per level: h0 leaves, h1 intermediate, h2 roots
    nodes = [torch.tensor([tree.index(level, int(k)) for k in labels[2 - level]]) for level in (2, 1, 0)]
    maha = mahalanobis_loss(torch.from_numpy(io["style"]), miu, log_var, nodes)
    assert abs(maha.item() - float(io["mahalanobis_loss"])) < 1e-4
    loss.backward()
    assert gen.distributions.tree_info[0].miu.grad is not None  # trainable nodes get gradients


def test_kl_is_zero_on_the_diagonal_and_matches_the_closed_form():
    miu, log_var = torch.randn(3, 8), torch.randn(3, 8)
    kl = kl_matrix(miu, log_var)
    assert torch.allclose(kl.diagonal(), torch.zeros(3), atol=1e-5)
    p = torch.distributions.Normal(miu[0], (log_var[0] / 2).exp())
    q = torch.distributions.Normal(miu[1], (log_var[1] / 2).exp())
    assert torch.allclose(kl[0, 1], torch.distributions.kl_divergence(p, q).sum(), atol=1e-4)


def test_a_child_inside_its_parent_costs_less_than_one_outside():
    tree = parse_tree([1, 2])  # two leaves under one root
    miu = torch.tensor([[0.0] * 8, [30.0] * 8, [0.0] * 8])
    log_var = torch.tensor([[-1.0] * 8, [-1.0] * 8, [2.0] * 8])
    inside = nested_loss(miu, log_var, tree.parent, threshold=5, margin=200)
    outside = nested_loss(miu.roll(1, 0), log_var, tree.parent, threshold=5, margin=200)  # the root far off
    assert inside < outside
