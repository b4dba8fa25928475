"""SPADE: spatially-adaptive normalisation, in the official key layout (norm_G '...spadesyncbatch3x3')."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

HIDDEN = 128  # hard-coded in the official code, so every released file has 128 here; ours may be narrower


class SPADENorm(nn.Module):
    """out = BN(x) * (1 + gamma(seg)) + beta(seg), with gamma, beta from a small conv net on the segmap.

    Keys: param_free_norm.{running_mean, running_var, num_batches_tracked}, mlp_shared.0.{weight, bias},
    mlp_gamma.{weight, bias}, mlp_beta.{weight, bias}. The norm is a plain BatchNorm2d(affine=False):
    the official SyncBatchNorm is exactly that in eval, and a trainer can convert it for DDP.
    """

    def __init__(self, num_features: int, semantic_nc: int, *, nhidden: int = HIDDEN) -> None:
        super().__init__()
        self.param_free_norm = nn.BatchNorm2d(num_features, affine=False, eps=1e-5)
        self.mlp_shared = nn.Sequential(nn.Conv2d(semantic_nc, nhidden, 3, padding=1), nn.ReLU(inplace=True))
        self.mlp_gamma = nn.Conv2d(nhidden, num_features, 3, padding=1)
        self.mlp_beta = nn.Conv2d(nhidden, num_features, 3, padding=1)

    def forward(self, x: Tensor, seg: Tensor) -> Tensor:
        # legacy 'nearest' (source index floor(dst * in / out)), as the official code resamples the segmap; the
        # generator passes it resampled already
        if seg.shape[-2:] != x.shape[-2:]:
            seg = F.interpolate(seg, size=x.shape[-2:], mode="nearest")
        actv = self.mlp_shared(seg)
        return self.param_free_norm(x) * (1 + self.mlp_gamma(actv)) + self.mlp_beta(actv)
