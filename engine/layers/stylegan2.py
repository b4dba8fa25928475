"""StyleGAN2 building blocks as the Swapping Autoencoder uses them (written from the documented facts).

Equalized learning rate: weights are stored UNSCALED (initialised N(0, 1)) and multiplied by
1/sqrt(fan_in) at run time. Blur kernels are constant buffers saved in the state dict.
Everything is plain torch.nn.functional (the official CUDA kernels compute the same thing).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SQRT2 = math.sqrt(2.0)
EPS = 1e-8


def make_kernel(taps: Sequence[float], gain: float = 1.0) -> Tensor:
    """outer(taps, taps) / sum * gain: a separable low-pass filter (gain 4 keeps a 2x upsample's mean)."""
    k = torch.tensor(list(taps), dtype=torch.float32)
    k2 = torch.outer(k, k)
    return k2 / k2.sum() * gain


def l2_normalize(v: Tensor, dim: int = 1) -> Tensor:
    return v * torch.rsqrt(v.pow(2).sum(dim=dim, keepdim=True) + EPS)


class Blur(nn.Module):
    """Depthwise FIR filter with zero padding (pad_before, pad_after) on both axes; negative pads crop.

    State dict: `kernel`. The kernel is flipped before the correlation, as upfirdn2d convolves.
    """

    def __init__(self, taps: Sequence[float], *, pad: tuple[int, int] = (0, 0), gain: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("kernel", make_kernel(taps, gain))
        self.pad = pad

    def forward(self, x: Tensor) -> Tensor:
        p0, p1 = self.pad
        if p0 or p1:
            x = F.pad(x, (p0, p1, p0, p1))
        if self.kernel.numel() == 1:
            return x * self.kernel.reshape(())
        channels = x.shape[1]
        weight = self.kernel.flip(0, 1).to(x.dtype).expand(channels, 1, *self.kernel.shape)
        return F.conv2d(x, weight, groups=channels)


class EqualConv2d(nn.Module):
    """Conv2d with run-time weight scale 1/sqrt(in * k * k). Keys: weight [, bias]."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, *, stride: int = 1, padding: int = 0,
                 bias: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.scale = 1 / math.sqrt(in_ch * kernel_size**2)
        self.stride, self.padding = stride, padding

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, self.stride, self.padding)


class EqualLinear(nn.Module):
    """Linear with run-time weight scale 1/sqrt(in) (lr_mul 1). Keys: weight, bias."""

    def __init__(self, in_dim: int, out_dim: int, *, bias_init: float = 0.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim))
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale = 1 / math.sqrt(in_dim)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


class FusedLeakyReLU(nn.Module):
    """leaky_relu(x + bias, 0.2) * sqrt(2). Key: bias."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x + self.bias.reshape(1, -1, 1, 1), 0.2) * SQRT2


class ModulatedConv2d(nn.Module):
    """The repo's "new_demodulation" modulated conv (not textbook StyleGAN2).

    s = modulation(style); with demodulation s is divided by its RMS over channels and the weight by
    its norm over (in, kh, kw), which does not depend on the style, so one ordinary conv serves the
    whole batch. Upsampling: conv_transpose (stride 2) then a [1,3,3,1] blur, exactly 2x.
    Keys: weight [1, out, in, k, k], blur.kernel (upsampling only), modulation.{weight, bias}.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, style_dim: int, *, demodulate: bool = True,
                 upsample: bool = False, blur_taps: Sequence[float] = (1, 3, 3, 1)) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, out_ch, in_ch, kernel_size, kernel_size))
        if upsample:
            p = len(blur_taps) - 2 - (kernel_size - 1)
            self.blur = Blur(blur_taps, pad=((p + 1) // 2 + 1, p // 2 + 1), gain=4)
        self.modulation = EqualLinear(style_dim, in_ch, bias_init=1.0)
        self.scale = 1 / math.sqrt(in_ch * kernel_size**2)
        self.demodulate, self.upsample, self.padding = demodulate, upsample, kernel_size // 2

    def forward(self, x: Tensor, style: Tensor) -> Tensor:
        s = self.modulation(style)
        w = self.weight[0] * self.scale
        if self.demodulate:
            s = s * torch.rsqrt(s.pow(2).mean(dim=1, keepdim=True) + EPS)
            w = w * torch.rsqrt(w.pow(2).sum(dim=(1, 2, 3), keepdim=True) + EPS)
        x = x * s[:, :, None, None]
        if self.upsample:
            return self.blur(F.conv_transpose2d(x, w.transpose(0, 1), stride=2))
        return F.conv2d(x, w, padding=self.padding)


class NoiseInjection(nn.Module):
    """x + weight * noise, noise (B, 1, H, W); fresh N(0, 1) noise when none is given. Key: weight."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor, noise: Tensor | None = None) -> Tensor:
        if noise is None:
            noise = x.new_empty(x.shape[0], 1, *x.shape[-2:]).normal_()
        return x + self.weight * noise


class StyledConv(nn.Module):
    """Modulated conv -> noise injection -> fused leaky ReLU. Keys: conv.*, noise.weight, activate.bias."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, style_dim: int, *, upsample: bool = False,
                 use_noise: bool = True) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, kernel_size, style_dim, upsample=upsample)
        self.noise = NoiseInjection() if use_noise else None
        self.activate = FusedLeakyReLU(out_ch)

    def forward(self, x: Tensor, style: Tensor, noise: Iterator[Tensor | None]) -> Tensor:
        x = self.conv(x, style)
        if self.noise is not None:
            x = self.noise(x, next(noise))
        return self.activate(x)
