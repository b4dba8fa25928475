"""StyleGAN2 building blocks as the Swapping Autoencoder uses them (written from the documented facts): the
layers, then the residual blocks of its encoder and generator and its ToRGB.

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
G_BLUR_TAPS = (1, 3, 3, 1)  # ToRGB's stored (unused) upsampling kernel


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
        channels = int(x.shape[1])  # a number, so a traced ONNX graph gets a kernel of known shape
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


# --- residual blocks and ToRGB -------------------------------------------------------------------


class ConvLayer(nn.Module):
    """[pad] -> [Blur] -> EqualConv2d -> [FusedLeakyReLU]. Keys: Blur.kernel, Conv.weight [, Conv.bias], Act.bias."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, *, stride: int = 1,
                 pad: tuple[int, int] = (0, 0), reflect: bool = False, blur_taps: Sequence[float] | None = None,
                 bias: bool = False, activate: bool = True) -> None:
        super().__init__()
        self.pad, self.reflect = pad, reflect
        self.Blur = Blur(blur_taps) if blur_taps is not None else None
        self.Conv = EqualConv2d(in_ch, out_ch, kernel_size, stride=stride, bias=bias)
        self.Act = FusedLeakyReLU(out_ch) if activate else None

    def forward(self, x: Tensor) -> Tensor:
        p0, p1 = self.pad
        if p0 or p1:  # negative zero-padding crops (the skip's rule without antialiasing)
            x = F.pad(x, (p0, p1, p0, p1), mode="reflect" if self.reflect else "constant")
        if self.Blur is not None:
            x = self.Blur(x)
        x = self.Conv(x)
        return x if self.Act is None else self.Act(x)


def _down_pad(taps: Sequence[float], kernel_size: int) -> tuple[int, int]:
    """Padding before a blur + stride-2 conv that halves an even size exactly (rosinality's rule)."""
    p = len(taps) - 2 + kernel_size - 1
    return (p + 1) // 2, p // 2


class ResBlockDown(nn.Module):
    """out = (conv2(conv1(x)) + skip(x)) / sqrt(2), half the size. conv1 reflect-pads; skip zero-pads."""

    def __init__(self, in_ch: int, out_ch: int, taps: Sequence[float]) -> None:
        super().__init__()
        self.conv1 = ConvLayer(in_ch, in_ch, 3, pad=(1, 1), reflect=True)
        self.conv2 = ConvLayer(in_ch, out_ch, 3, stride=2, pad=_down_pad(taps, 3), reflect=True, blur_taps=taps)
        self.skip = ConvLayer(in_ch, out_ch, 1, stride=2, pad=_down_pad(taps, 1), blur_taps=taps, activate=False)

    def forward(self, x: Tensor) -> Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2)


class HeadResBlock(nn.Module):
    """Resolution-preserving: (skip(x) + conv2(conv1(x))) / sqrt(2); skip is a 1x1 conv when in != out."""

    def __init__(self, in_ch: int, out_ch: int, style_dim: int, use_noise: bool) -> None:
        super().__init__()
        self.conv1 = StyledConv(in_ch, out_ch, 3, style_dim, use_noise=use_noise)
        self.conv2 = StyledConv(out_ch, out_ch, 3, style_dim, use_noise=use_noise)
        self.skip = ConvLayer(in_ch, out_ch, 1, activate=False) if in_ch != out_ch else None

    def forward(self, x: Tensor, style: Tensor, noise: Iterator[Tensor | None]) -> Tensor:
        skip = x if self.skip is None else self.skip(x)
        return (skip + self.conv2(self.conv1(x, style, noise), style, noise)) / math.sqrt(2)


class UpsamplingResBlock(nn.Module):
    """2x: (bilinear2x(skip(x)) + conv2(conv1_up(x))) / sqrt(2); skip is 1x1 conv + act when in != out."""

    def __init__(self, in_ch: int, out_ch: int, style_dim: int, use_noise: bool) -> None:
        super().__init__()
        self.conv1 = StyledConv(in_ch, out_ch, 3, style_dim, upsample=True, use_noise=use_noise)
        self.conv2 = StyledConv(out_ch, out_ch, 3, style_dim, use_noise=use_noise)
        self.skip = ConvLayer(in_ch, out_ch, 1) if in_ch != out_ch else None

    def forward(self, x: Tensor, style: Tensor, noise: Iterator[Tensor | None]) -> Tensor:
        skip = x if self.skip is None else self.skip(x)
        skip = F.interpolate(skip, scale_factor=2, mode="bilinear", align_corners=False)
        return (skip + self.conv2(self.conv1(x, style, noise), style, noise)) / math.sqrt(2)


class ToRGB(nn.Module):
    """Modulated 1x1 conv without demodulation, + bias; no tanh. `upsample.kernel` is stored but unused."""

    def __init__(self, in_ch: int, style_dim: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.upsample = Blur(G_BLUR_TAPS, gain=4)
        self.conv = ModulatedConv2d(in_ch, 3, 1, style_dim, demodulate=False)

    def forward(self, x: Tensor, style: Tensor) -> Tensor:
        return self.conv(x, style) + self.bias
