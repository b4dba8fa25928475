"""CUT's projection head H (thesis ch. 3.3.1): per encoder layer, a 2-layer MLP (256 units each, ReLU between)
applied to features at sampled spatial locations, each vector then L2-normalised.

Built from the channel counts of the layers it will see (the trainer reads them from one forward of the
generator), so its parameters exist before the optimiser and DDP are set up. Only the trainer uses it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class PatchProjector(nn.Module):
    """forward(features, num_patches, patch_ids=None) -> (projected, patch_ids).

    features: one (B, C_l, H_l, W_l) map per layer. For each layer the same `num_patches` locations (a
    random choice without repetition, or the `patch_ids` given, so an output's patches match its input's)
    are taken from every image: the result is (B * num_patches, nc), image-major, unit length.
    """

    def __init__(self, channels: Sequence[int], *, nc: int = 256) -> None:
        super().__init__()
        self.mlps = nn.ModuleList(
            nn.Sequential(nn.Linear(c, nc), nn.ReLU(inplace=True), nn.Linear(nc, nc)) for c in channels)

    def forward(self, features: Sequence[Tensor], num_patches: int,
                patch_ids: Sequence[Tensor] | None = None) -> tuple[list[Tensor], list[Tensor]]:
        if len(features) != len(self.mlps):
            raise ValueError(f"the projector was built for {len(self.mlps)} layers, got {len(features)}")
        projected, ids_used = [], []
        for i, (feat, mlp) in enumerate(zip(features, self.mlps, strict=True)):
            flat = feat.flatten(2).transpose(1, 2)  # (B, H*W, C)
            if patch_ids is None:
                ids = torch.randperm(flat.shape[1], device=feat.device)[:num_patches]
            else:
                ids = patch_ids[i]
            picked = flat[:, ids].flatten(0, 1)  # (B * n, C)
            projected.append(F.normalize(mlp(picked), dim=1, eps=1e-7))
            ids_used.append(ids)
        return projected, ids_used
