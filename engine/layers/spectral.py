"""A Conv2d with spectral normalisation, stored in the key layout of torch.nn.utils.spectral_norm."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SpectralNormConv2d(nn.Module):
    """Conv2d whose effective weight is weight_orig / sigma, with sigma = u . (W v), W = weight_orig as (out, -1).

    State dict keys, in this order: `bias` (if any), `weight_orig` (parameters), `weight_u` [out],
    `weight_v` [in*k*k] (buffers) -- the order a spectral_norm-wrapped nn.Conv2d saves.
    eval(): sigma comes from the STORED u and v, with no power iteration; that is how checkpoints were
    evaluated (an SVD would give a different sigma). train(): one power iteration per forward refines
    u and v in place first, as torch's spectral_norm does, so the same layer trains and evaluates.
    Without autograd in eval(), the weight is computed once and kept until weight_orig, u or v change.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
        eps: float = 1e-12,
    ) -> None:
        super().__init__()
        self.stride = stride
        self.padding = padding
        self.eps = eps
        fan_in = in_channels * kernel_size * kernel_size
        # bias is registered first because the official files list it before weight_orig
        if bias:
            bound = 1 / math.sqrt(fan_in)  # nn.Conv2d's default init
            self.bias = nn.Parameter(torch.empty(out_channels).uniform_(-bound, bound))
        else:
            self.register_parameter("bias", None)
        self.weight_orig = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        nn.init.kaiming_uniform_(self.weight_orig, a=math.sqrt(5))
        u, v = torch.randn(out_channels), torch.randn(fan_in)
        if not u.is_meta:  # a meta build is filled by a load; normalising there would import torch._dynamo (~1 s)
            u, v = F.normalize(u, dim=0, eps=eps), F.normalize(v, dim=0, eps=eps)
        self.register_buffer("weight_u", u)
        self.register_buffer("weight_v", v)
        self._kept: tuple[tuple[int, ...], Tensor] | None = None  # (versions of the three tensors, the weight)

    @property
    def weight(self) -> Tensor:
        """The normalised weight used by forward (advances the power iteration in train mode)."""
        if self.training or torch.is_grad_enabled() or self.weight_orig.is_inference():  # no version to watch
            return self._normalised()
        versions = (self.weight_orig._version, self.weight_u._version, self.weight_v._version,
                    self.weight_orig.data_ptr())
        if self._kept is None or self._kept[0] != versions:
            self._kept = (versions, self._normalised())
        return self._kept[1]

    def _normalised(self) -> Tensor:
        w_mat = self.weight_orig.reshape(self.weight_orig.shape[0], -1)
        u, v = self.weight_u, self.weight_v
        if self.training:
            with torch.no_grad():
                v = F.normalize(torch.mv(w_mat.t(), u), dim=0, eps=self.eps)
                u = F.normalize(torch.mv(w_mat, v), dim=0, eps=self.eps)
                self.weight_u.copy_(u)
                self.weight_v.copy_(v)
            # u, v are fresh tensors, so later in-place updates of the buffers never touch this graph
        sigma = torch.dot(u, torch.mv(w_mat, v))
        return self.weight_orig / sigma

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        out_ch, in_ch, k, _ = self.weight_orig.shape
        return f"{in_ch}, {out_ch}, kernel_size={k}, stride={self.stride}, padding={self.padding}, bias={self.bias is not None}"
