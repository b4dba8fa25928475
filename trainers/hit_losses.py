"""HIT's distribution losses as the official code computes them (fixtures README, HIT "Training as implemented"),
written from those facts: plain torch functions over the nodes' Gaussians, on any device.

Nodes are diagonal Gaussians N(miu_i, exp(log_var_i)) given as (nodes, style_dim) tensors; the hierarchy as each
node's parent index (None for the roots), nodes indexed leaves first, roots last (engine.models.hit.Tree.parent).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

THRESHOLD = 50.0  # alpha: the released imagenet and celeba configs (furnitures: 20)
MARGIN = 200.0  # m


def kl_matrix(miu: Tensor, log_var: Tensor) -> Tensor:
    """(N, N): entry (i, j) = KL(N_i || N_j) of the diagonal Gaussians."""
    mi, lvi = miu[:, None], log_var[:, None]
    mj, lvj = miu[None], log_var[None]
    return 0.5 * (lvj - lvi + (lvi.exp() + (mi - mj) ** 2) / lvj.exp() - 1).sum(-1)


def ancestor_mask(parent: Sequence[int | None]) -> Tensor:
    """(N, N) bool: entry (i, j) true when j is an ancestor of i (parent, grandparent, ...)."""
    n = len(parent)
    mask = torch.zeros(n, n, dtype=torch.bool)
    for i in range(n):
        j = parent[i]
        while j is not None:
            mask[i, j] = True
            j = parent[j]
    return mask


def nested_loss(miu: Tensor, log_var: Tensor, parent: Sequence[int | None], *, threshold: float = THRESHOLD,
                margin: float = MARGIN) -> Tensor:
    """L_nest: for every ordered pair (i, j), d = max(0, KL(N_i || N_j) - threshold); d pulls i into j when j is an
    ancestor of i, otherwise max(0, margin - d) pushes them apart (so a parent against its child counts as a
    negative too); plus d(root || N(0, I)) per root; divided by N (N - 1) + the number of roots."""
    n = len(parent)
    d = (kl_matrix(miu, log_var) - threshold).clamp(min=0)
    nested = ancestor_mask(parent).to(d.device)
    off = ~torch.eye(n, dtype=torch.bool, device=d.device)
    pairs = torch.where(nested, d, (margin - d).clamp(min=0))[off].sum()
    roots = [i for i, p in enumerate(parent) if p is None]
    r = torch.tensor(roots, device=d.device)
    prior = 0.5 * (-log_var[r] + log_var[r].exp() + miu[r] ** 2 - 1).sum(-1)  # KL(root || N(0, I))
    return (pairs + (prior - threshold).clamp(min=0).sum()) / (n * (n - 1) + len(roots))


def mahalanobis_loss(style: Tensor, miu: Tensor, log_var: Tensor, nodes: Sequence[Tensor]) -> Tensor:
    """L_maha: half the batch mean of the summed squared diagonal Mahalanobis distances of each encoded style
    (B, style_dim[, 1, 1]) to the Gaussians of its nodes, one index tensor (B,) per level (leaf, intermediate,
    root: node indices, not per-level labels)."""
    s = style.reshape(style.size(0), -1)
    total = s.new_zeros(s.size(0))
    for index in nodes:
        total = total + ((s - miu[index]) ** 2 / log_var[index].exp()).sum(-1)
    return 0.5 * total.mean()
