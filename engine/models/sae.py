"""Swapping Autoencoder (Park et al., NeurIPS 2020; thesis ch. 4), written from the documented key layout.

A photo becomes a structure code (C, H/2^sp, W/2^sp), one code per cell of 2^sp pixels, and a texture
code (D,); the generator turns any (structure, texture) pair back into a photo. State dicts use the
official keys `E.*` and `G.*` of `latest_checkpoint.pth` (its `D.*`, `Dpatch.*` and
`num_discriminator_iters` are not needed for editing and are ignored).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.api import Capabilities, DecodeCodes
from engine.architecture import Hparams, Nets, check_layout, flag, whole, whole_list
from engine.checkpoints import Checkpoint
from engine.inference import OnnxGraph, OnnxModule
from engine.layers.stylegan2 import (
    ConvLayer,
    EqualLinear,
    HeadResBlock,
    ResBlockDown,
    ToRGB,
    UpsamplingResBlock,
    l2_normalize,
)
from engine.tasks.structure_texture import Codes, StructureTextureArchitecture

METHOD = "sae"
LICENSE_NOTE = "official Swapping Autoencoder weights: Adobe Research License, noncommercial research use only"
CPU = torch.device("cpu")

ANTIALIAS_TAPS = (1, 2, 1)  # the encoder's blur with use_antialias; [1] (no blur) without
IGNORED_KEYS = ("num_discriminator_iters", "D.", "Dpatch.")
_SIGNATURE = ("G.SpatialCodeModulation.scale.weight", "G.SpatialCodeModulation.bias.weight",
              "G.HeadResnetBlock0.conv1.conv.weight", "G.ToRGB.conv.weight", "G.ToRGB.bias")

# Receptive-field margin of the generator, in structure-code cells. A region decode is exact when every
# output pixel of the region depends only on code cells inside the margin-cropped code: the zero padding
# at the crop's edges corrupts a band along them, which must not reach the region. Width of that band:
#   head blocks (code resolution): two 3x3 convs each, one cell per conv (1x1 skips add none) -> 4 cells;
#   upsampling block (band of c input pixels): the stride-2 transposed 3x3 conv corrupts 2c + 1 output
#     pixels, the 4-tap blur (pad 1) one more, conv2's 3x3 one more -> 2c + 3 (the bilinear skip, 2c + 2,
#     stays inside); starting from 4 cells, the band after j blocks is 7 - 3 / 2^j cells, always < 7;
#   ToRGB is 1x1. So 7 cells suffice for the released configs (2 head blocks), whatever sp; with 6 cells
#   a random-weights model already differs (1e-4 at 6, 0 at 7, measured).
HEAD_REACH_CELLS = 2  # per head block
UPSAMPLING_REACH_CELLS = 3  # all upsampling blocks together: sum of 3 / 2^(j+1) < 3
RECEPTIVE_MARGIN = 2 * HEAD_REACH_CELLS + UPSAMPLING_REACH_CELLS  # 7: the released configs have two head blocks


# --- encoder --------------------------------------------------------------------------------------


class SAEEncoder(nn.Module):
    """RGB in [-1, 1] (sides multiples of 2^sp, at least min_size) -> (structure (B, C, h, w), texture (B, D)).

    channels: nc(0) .. nc(sp + gl). The texture branch takes the last spatial features through gl
    unpadded 3x3 stride-2 convs, a spatial mean and a linear layer. Both codes are L2-normalised.
    """

    def __init__(self, *, channels: Sequence[int], spatial_code_ch: int, global_code_ch: int,
                 num_downsampling_sp: int, num_downsampling_gl: int, use_antialias: bool = True) -> None:
        super().__init__()
        sp, gl, nc = num_downsampling_sp, num_downsampling_gl, list(channels)
        if len(nc) != sp + gl + 1:
            raise ValueError(f"the encoder needs {sp + gl + 1} channel counts, got {len(nc)}")
        taps = ANTIALIAS_TAPS if use_antialias else (1,)
        self.size_multiple, self.min_size = 2**sp, min_size(sp, gl)
        self.FromRGB = ConvLayer(3, nc[0], 1)
        self.DownToSpatialCode = nn.Sequential(OrderedDict(
            (f"ResBlockDownBy{2**i}", ResBlockDown(nc[i], nc[i + 1], taps)) for i in range(sp)))
        self.ToSpatialCode = nn.Sequential(ConvLayer(nc[sp], nc[sp], 1),
                                           ConvLayer(nc[sp], spatial_code_ch, 1, bias=True, activate=False))
        self.DownToGlobalCode = nn.Sequential(OrderedDict(
            (f"ConvLayerDownBy{2**(sp + k)}", ConvLayer(nc[sp + k], nc[sp + k + 1], 3, stride=2, blur_taps=(1,)))
            for k in range(gl)))
        self.ToGlobalCode = nn.Sequential(EqualLinear(nc[sp + gl], global_code_ch))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        feat = self.DownToSpatialCode(self.FromRGB(x))
        structure = self.ToSpatialCode(feat)
        texture = self.ToGlobalCode(self.DownToGlobalCode(feat).mean(dim=(2, 3)))
        return l2_normalize(structure), l2_normalize(texture)


def min_size(num_downsampling_sp: int, num_downsampling_gl: int) -> int:
    """Smallest side in pixels: the texture branch's gl unpadded 3x3 stride-2 convs need 2^(gl+1) - 1 cells."""
    return (2 ** (num_downsampling_gl + 1) - 1) * 2**num_downsampling_sp


# --- generator ------------------------------------------------------------------------------------


class SpatialCodeModulation(nn.Module):
    """structure * scale(texture) + bias(texture), per channel (no "1 +")."""

    def __init__(self, global_code_ch: int, spatial_code_ch: int) -> None:
        super().__init__()
        self.scale = EqualLinear(global_code_ch, spatial_code_ch)
        self.bias = EqualLinear(global_code_ch, spatial_code_ch)

    def forward(self, structure: Tensor, texture: Tensor) -> Tensor:
        return structure * self.scale(texture)[:, :, None, None] + self.bias(texture)[:, :, None, None]


class SAEGenerator(nn.Module):
    """(structure (B, C, h, w), texture (B, D)) -> RGB (B, 3, h * 2^sp, w * 2^sp) in about [-1, 1], unclamped.

    head_channels: outputs of the resolution-preserving head blocks; upsampling_channels: outputs of the
    sp upsampling blocks (UpsamplingResBlock16, 32, ...). Both inputs are L2-normalised again here.
    noise: one (B, 1, H, W) map per noise injection in module order (see noise_shapes); None draws fresh
    noise, as in training.
    """

    def __init__(self, *, spatial_code_ch: int, global_code_ch: int, head_channels: Sequence[int],
                 upsampling_channels: Sequence[int], use_noise: bool = True) -> None:
        super().__init__()
        self.SpatialCodeModulation = SpatialCodeModulation(global_code_ch, spatial_code_ch)
        self.noise_levels: list[int] = []  # resolution level (code = 0) of each noise map, in module order
        ch = spatial_code_ch
        for i, out in enumerate(head_channels):
            self.add_module(f"HeadResnetBlock{i}", HeadResBlock(ch, out, global_code_ch, use_noise))
            ch = out
            self.noise_levels += [0, 0] if use_noise else []
        for j, out in enumerate(upsampling_channels):
            self.add_module(f"UpsamplingResBlock{2**(4 + j)}", UpsamplingResBlock(ch, out, global_code_ch, use_noise))
            ch = out
            self.noise_levels += [j + 1, j + 1] if use_noise else []
        self.ToRGB = ToRGB(ch, global_code_ch)
        self.size_multiple = 2 ** len(upsampling_channels)

    def noise_shapes(self, code_hw: tuple[int, int]) -> list[tuple[int, int, int, int]]:
        return [(1, 1, code_hw[0] * 2**lv, code_hw[1] * 2**lv) for lv in self.noise_levels]

    def forward(self, structure: Tensor, texture: Tensor, noise: Sequence[Tensor] | None = None) -> Tensor:
        if noise is not None and len(noise) != len(self.noise_levels):
            raise ValueError(f"the generator takes {len(self.noise_levels)} noise maps, got {len(noise)}")
        maps = iter(noise if noise is not None else [None] * len(self.noise_levels))
        texture = l2_normalize(texture)
        x = self.SpatialCodeModulation(l2_normalize(structure), texture)
        for block in self.children():
            if isinstance(block, (HeadResBlock, UpsamplingResBlock)):
                x = block(x, texture, maps)
        return self.ToRGB(x, texture)


# --- checkpoint inspection ------------------------------------------------------------------------


def detect(state_dict: Mapping[str, Tensor]) -> bool:
    """True for a Swapping Autoencoder state dict (official `latest_checkpoint.pth` or ours)."""
    return all(k in state_dict for k in _SIGNATURE)


def _as_bool(value: Any) -> bool:
    text = str(value).strip().lower()
    if text not in ("true", "false", "1", "0"):
        raise ValueError(f"expected a boolean option, got {value!r}")
    return text in ("true", "1")


def _hparams(*, spatial_code_ch: int, global_code_ch: int, encoder_channels: Sequence[int],
             head_channels: Sequence[int], upsampling_channels: Sequence[int], num_downsampling_gl: int | None,
             use_antialias: bool | None, use_noise: bool) -> dict[str, Any]:
    sp = len(upsampling_channels)
    has_encoder = bool(encoder_channels)
    return {
        "spatial_code_ch": int(spatial_code_ch), "global_code_ch": int(global_code_ch),
        "num_downsampling_sp": sp, "num_downsampling_gl": num_downsampling_gl,
        "encoder_channels": [int(c) for c in encoder_channels], "head_channels": [int(c) for c in head_channels],
        "upsampling_channels": [int(c) for c in upsampling_channels],
        "use_antialias": use_antialias, "use_noise": bool(use_noise), "has_encoder": has_encoder,
        "size_multiple": 2**sp,  # one structure-code cell is size_multiple x size_multiple pixels
        # the smallest photo side the encoder takes; the generator alone decodes any whole number of cells
        "min_size": min_size(sp, num_downsampling_gl) if has_encoder else 2**sp,
        # cells around a changed structure code whose pixels can change: tools grow dirty regions by it
        "receptive_margin": HEAD_REACH_CELLS * len(head_channels) + UPSAMPLING_REACH_CELLS,
    }


def config_hparams(*, spatial_code_ch: int = 8, global_code_ch: int = 2048, netE_scale_capacity: float = 1.0,
                   netE_num_downsampling_sp: int = 4, netE_num_downsampling_gl: int = 2,
                   netE_nc_steepness: float = 2.0, netG_scale_capacity: float = 1.0,
                   netG_num_base_resnet_layers: int = 2, use_antialias: bool = True,
                   netG_use_noise: bool = True) -> dict[str, Any]:
    """The hparams of a fresh model from the official option names (defaults: the 256 px released models).

    Channels: E nc(i) = min(D, round(steepness^(5+i) * E_capacity)); G nf(j) = int(min(512, 128 * 2^(sp-j))
    * G_capacity); head block i outputs max(C, round((i+1)/2 * nf(0))); upsampling block j outputs nf(j+1).
    """
    sp, gl = int(netE_num_downsampling_sp), int(netE_num_downsampling_gl)
    if sp < 1 or gl < 1 or netG_num_base_resnet_layers < 1:
        raise ValueError("netE_num_downsampling_sp, netE_num_downsampling_gl and netG_num_base_resnet_layers must be >= 1")
    nc = [min(global_code_ch, round(netE_nc_steepness ** (5 + i) * netE_scale_capacity)) for i in range(sp + gl + 1)]
    nf = [int(min(512, 128 * 2 ** (sp - j)) * netG_scale_capacity) for j in range(sp + 1)]
    head = [max(spatial_code_ch, round((i + 1) / 2 * nf[0])) for i in range(netG_num_base_resnet_layers)]
    if min(nc + nf) < 1:
        raise ValueError("the capacity options leave a layer without channels")
    return _hparams(spatial_code_ch=spatial_code_ch, global_code_ch=global_code_ch, encoder_channels=nc,
                    head_channels=head, upsampling_channels=nf[1:], num_downsampling_gl=gl,
                    use_antialias=_as_bool(use_antialias), use_noise=_as_bool(netG_use_noise))


def _numbered(state_dict: Mapping[str, Tensor], key: str, names: Iterable[Any]) -> list[int]:
    """Output channels of `key.format(n)` for n = names... while the key exists."""
    out = []
    for n in names:
        k = key.format(n)
        if k not in state_dict:
            return out
        out.append(int(state_dict[k].shape[-4 if k.startswith("G.") else 0]))
    return out


def _encoder_facts(sd: Mapping[str, Tensor]) -> tuple[list[int], int | None, bool | None]:
    if "E.FromRGB.Conv.weight" not in sd:
        return [], None, None
    nc = [int(sd["E.FromRGB.Conv.weight"].shape[0])]
    nc += _numbered(sd, "E.DownToSpatialCode.ResBlockDownBy{}.conv2.Conv.weight", (2**i for i in range(64)))
    sp = len(nc) - 1
    global_chs = _numbered(sd, "E.DownToGlobalCode.ConvLayerDownBy{}.Conv.weight", (2 ** (sp + k) for k in range(64)))
    blur = sd.get("E.DownToSpatialCode.ResBlockDownBy1.conv2.Blur.kernel")
    return nc + global_chs, len(global_chs), blur is not None and blur.shape[-1] > 1


_OFFICIAL_NAMES = {"netE_num_downsampling_sp": "num_downsampling_sp", "netE_num_downsampling_gl": "num_downsampling_gl",
                   "netG_use_noise": "use_noise"}


def _check_options(hp: dict[str, Any], options: Mapping[str, Any]) -> None:
    """Options (official names or our own hparams) must agree with what the weights say."""
    given = {_OFFICIAL_NAMES.get(k, k): v for k, v in options.items() if v is not None}
    if "netG_num_base_resnet_layers" in given:
        given["num_head_blocks"] = given.pop("netG_num_base_resnet_layers")
    facts = dict(hp, num_head_blocks=len(hp["head_channels"]))
    for name, actual in facts.items():
        if name not in given or actual is None:
            continue
        value = given[name]
        try:
            value = _as_bool(value) if isinstance(actual, bool) else list(value) if isinstance(actual, list) else int(value)
        except (TypeError, ValueError):
            raise ValueError(f"option {name} {value!r} is not a valid value") from None
        if value != actual:
            raise ValueError(f"options say {name} {given[name]!r}, but the weights have {actual}")


def resolve_hparams(state_dict: Mapping[str, Tensor], options: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-able hparams read from tensor shapes; `options` (official names or ours) are only checked."""
    if not detect(state_dict):
        raise ValueError("not a Swapping Autoencoder state dict (no G.SpatialCodeModulation / G.ToRGB keys)")
    spatial_code_ch, global_code_ch = (int(n) for n in state_dict["G.SpatialCodeModulation.scale.weight"].shape)
    head = _numbered(state_dict, "G.HeadResnetBlock{}.conv1.conv.weight", range(64))
    ups = _numbered(state_dict, "G.UpsamplingResBlock{}.conv1.conv.weight", (2 ** (4 + j) for j in range(64)))
    nc, gl, antialias = _encoder_facts(state_dict)
    if nc:
        if len(nc) - 1 - gl != len(ups):
            raise ValueError(f"the encoder downsamples {len(nc) - 1 - gl} times but the generator upsamples "
                             f"{len(ups)} times")
        codes = (state_dict["E.ToSpatialCode.1.Conv.weight"].shape[0], state_dict["E.ToGlobalCode.0.weight"].shape[0])
        if codes != (spatial_code_ch, global_code_ch):
            raise ValueError(f"the encoder makes codes of {codes[0]} and {codes[1]} channels, the generator takes "
                             f"{spatial_code_ch} and {global_code_ch}")
    hp = _hparams(spatial_code_ch=spatial_code_ch, global_code_ch=global_code_ch, encoder_channels=nc,
                  head_channels=head, upsampling_channels=ups, num_downsampling_gl=gl, use_antialias=antialias,
                  use_noise="G.HeadResnetBlock0.conv1.noise.weight" in state_dict)
    _check_options(hp, options)
    return hp


def size_rule(hparams: Mapping[str, Any]) -> str:
    m = hparams["size_multiple"]
    return f"any size from {hparams['min_size']} px a side (padded to multiples of {m}; one code cell = {m}x{m} px)"


def build(hparams: Mapping[str, Any]) -> tuple[SAEEncoder | None, SAEGenerator]:
    """Fresh, randomly initialised (official init) encoder and generator; the encoder is None for a
    generator-only model."""
    encoder = None
    if hparams["has_encoder"]:
        encoder = SAEEncoder(channels=hparams["encoder_channels"], spatial_code_ch=hparams["spatial_code_ch"],
                             global_code_ch=hparams["global_code_ch"],
                             num_downsampling_sp=hparams["num_downsampling_sp"],
                             num_downsampling_gl=hparams["num_downsampling_gl"],
                             use_antialias=bool(hparams["use_antialias"]))
    generator = SAEGenerator(spatial_code_ch=hparams["spatial_code_ch"], global_code_ch=hparams["global_code_ch"],
                             head_channels=hparams["head_channels"],
                             upsampling_channels=hparams["upsampling_channels"], use_noise=bool(hparams["use_noise"]))
    return encoder, generator


def load(state_dict: Mapping[str, Tensor], hparams: Mapping[str, Any]) -> dict[str, nn.Module]:
    """Strictly load `E.*` -> netE and `G.*` -> netG (eval, CPU); D/Dpatch/num_discriminator_iters are ignored."""
    parts: dict[str, dict[str, Tensor]] = {"E": {}, "G": {}}
    for key, value in state_dict.items():
        if key.startswith(IGNORED_KEYS):
            continue
        prefix, _, rest = key.partition(".")
        if prefix not in parts:
            raise ValueError(f"unexpected key {key!r} in a Swapping Autoencoder state dict")
        parts[prefix][rest] = value
    with torch.device("meta"):  # skip the random init that the load overwrites anyway
        encoder, generator = build(hparams)
    nets: dict[str, nn.Module] = {}
    for role, net, prefix in (("netE", encoder, "E"), ("netG", generator, "G")):
        if net is None:
            if parts[prefix]:
                raise ValueError("the hparams say there is no encoder, but the weights have E.* keys")
            continue
        check_layout(net, parts[prefix], "encoder" if prefix == "E" else "generator")
        net.to_empty(device="cpu")
        net.load_state_dict(parts[prefix], strict=True)
        nets[role] = net.eval()
    return nets


# --- inference ------------------------------------------------------------------------------------

_NOISE_CACHE: OrderedDict[tuple[Any, ...], tuple[Tensor, ...]] = OrderedDict()
NOISE_CACHE_SIZE = 4  # a few (seed, code size, device) sets, so slider moves do not redraw the maps


def noise_levels(hparams: Mapping[str, Any]) -> list[int]:
    """Resolution level (0 = code resolution) of each noise injection, in G.modules() order."""
    if not hparams["use_noise"]:
        return []
    head = [0, 0] * len(hparams["head_channels"])
    return head + [j + 1 for j in range(len(hparams["upsampling_channels"])) for _ in (0, 1)]


def make_noise(hparams: Mapping[str, Any], code_hw: tuple[int, int], seed: int,
               device: torch.device = CPU) -> list[Tensor]:
    """The fixed noise maps for a (seed, code size): drawn on the CPU in module order, so every device
    gets the same maps; region decodes crop them. Cached; callers must not modify them."""
    h, w = int(code_hw[0]), int(code_hw[1])
    levels = tuple(noise_levels(hparams))
    key = (levels, h, w, int(seed), str(torch.device(device)))
    if key in _NOISE_CACHE:
        _NOISE_CACHE.move_to_end(key)
        return list(_NOISE_CACHE[key])
    rng = torch.Generator().manual_seed(int(seed))
    maps = tuple(torch.randn(1, 1, h * 2**lv, w * 2**lv, generator=rng).to(device) for lv in levels)
    _NOISE_CACHE[key] = maps
    while len(_NOISE_CACHE) > NOISE_CACHE_SIZE:
        _NOISE_CACHE.popitem(last=False)
    return list(maps)


def _image_tensor(image: np.ndarray, device: torch.device) -> Tensor:
    """HxWx3 uint8 or [0, 1] float -> (1, 3, H, W) in [-1, 1], as ToTensor + Normalize(0.5, 0.5)."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"the photo must be an HxWx3 RGB image, got shape {image.shape}")
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]
    x = x.float() / 255 if image.dtype == np.uint8 else x.float()
    return ((x - 0.5) / 0.5).to(device)


def encode(encoder: SAEEncoder, image: np.ndarray, *, device: torch.device = CPU) -> tuple[np.ndarray, np.ndarray]:
    """Photo (HxWx3, float in [0, 1] or uint8) -> (structure (C, h, w), texture (D,)), float32.

    The photo is reflect-padded at the bottom and right up to whole cells (h = ceil(H / cell)).
    """
    x = _image_tensor(image, torch.device(device))
    height, width = x.shape[-2:]
    if min(height, width) < encoder.min_size:
        raise ValueError(f"the photo is {width}x{height} px; this model needs at least {encoder.min_size} px "
                         f"on each side")
    m = encoder.size_multiple
    x = F.pad(x, (0, -width % m, 0, -height % m), mode="reflect")
    with torch.inference_mode():
        structure, texture = encoder(x)
    return structure[0].float().cpu().numpy(), texture[0].float().cpu().numpy()


def _check_codes(hparams: Mapping[str, Any], structure: np.ndarray, texture: np.ndarray,
                 size: tuple[int, int]) -> tuple[int, int]:
    m, c, d = hparams["size_multiple"], hparams["spatial_code_ch"], hparams["global_code_ch"]
    if structure.ndim != 3 or structure.shape[0] != c:
        raise ValueError(f"the structure code must be ({c}, h, w), got {structure.shape}")
    if texture.shape != (d,):
        raise ValueError(f"the texture code must be ({d},), got {texture.shape}")
    height, width = int(size[0]), int(size[1])
    cells = (-(-height // m), -(-width // m))
    if height < 1 or width < 1 or structure.shape[1:] != cells:
        raise ValueError(f"a photo of {height}x{width} px (HxW) has {cells[0]}x{cells[1]} cells of {m} px, but the "
                         f"structure code has {structure.shape[1]}x{structure.shape[2]}")
    return height, width


def _to_image(x: Tensor) -> np.ndarray:
    return ((x[0] + 1) / 2).clamp(0, 1).permute(1, 2, 0).float().cpu().numpy()


def decode(generator: SAEGenerator, hparams: Mapping[str, Any], structure: np.ndarray, texture: np.ndarray,
           size: tuple[int, int], *, region: tuple[int, int, int, int] | None = None, scale: float = 1.0,
           noise_seed: int = 0, device: torch.device = CPU) -> tuple[np.ndarray, int, int]:
    """Codes -> (image HxWx3 float32 in [0, 1], top, left): the photo of `size` (H, W), or one region of it.

    region: code cells (top, left, bottom, right), end exclusive; the code is cropped with the generator's
    receptive margin, so the pixels equal those of a full decode (clipped to the photo; top/left in px).
    scale < 1: a preview from a structure code resized to about scale x the cells, returned at full size.
    """
    structure = np.asarray(structure, dtype=np.float32)
    texture = np.asarray(texture, dtype=np.float32)
    height, width = _check_codes(hparams, structure, texture, size)
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale}")
    device = torch.device(device)
    sp = torch.tensor(structure)[None].to(device)  # a copy: callers may pass read-only arrays
    gl = torch.tensor(texture)[None].to(device)
    with torch.inference_mode():
        if scale < 1:
            return _decode_preview(generator, hparams, sp, gl, (height, width), scale, noise_seed), 0, 0
        h, w = sp.shape[-2:]
        top, left, bottom, right = _check_region(region, (h, w))
        margin = margin_cells(hparams)
        t0, l0 = max(0, top - margin), max(0, left - margin)
        b0, r0 = min(h, bottom + margin), min(w, right + margin)
        noise = [n[..., t0 * n.shape[-2] // h:b0 * n.shape[-2] // h, l0 * n.shape[-1] // w:r0 * n.shape[-1] // w]
                 for n in make_noise(hparams, (h, w), noise_seed, device)]
        out = generator(sp[..., t0:b0, l0:r0], gl, noise)
        m = hparams["size_multiple"]
        y0, x0 = top * m, left * m
        y1, x1 = min(bottom * m, height), min(right * m, width)
        patch = out[..., y0 - t0 * m:y1 - t0 * m, x0 - l0 * m:x1 - l0 * m]
        return _to_image(patch), y0, x0


def margin_cells(hparams: Mapping[str, Any]) -> int:
    """RECEPTIVE_MARGIN generalised to any number of head blocks."""
    return int(hparams["receptive_margin"])


def _check_region(region: Sequence[int] | None, code_hw: tuple[int, int]) -> tuple[int, int, int, int]:
    h, w = code_hw
    if region is None:
        return 0, 0, h, w
    top, left, bottom, right = (int(v) for v in region)
    if not (0 <= top < bottom <= h and 0 <= left < right <= w):
        raise ValueError(f"region {tuple(region)} is not a non-empty block of the {h}x{w} code cells")
    return top, left, bottom, right


def _decode_preview(generator: SAEGenerator, hparams: Mapping[str, Any], sp: Tensor, gl: Tensor,
                    size: tuple[int, int], scale: float, noise_seed: int) -> np.ndarray:
    """Generate from a smaller structure code (bilinear, re-normalised) and resize the image up."""
    h, w = sp.shape[-2:]
    m = hparams["size_multiple"]
    least = hparams["min_size"] // m  # keep previews at least as large as the smallest photo's code
    small = (min(h, max(least, round(h * scale))), min(w, max(least, round(w * scale))))
    if small != (h, w):
        sp = l2_normalize(F.interpolate(sp, size=small, mode="bilinear", align_corners=False, antialias=True))
    out = generator(sp, gl, make_noise(hparams, small, noise_seed, sp.device))
    out = F.interpolate(out, size=(h * m, w * m), mode="bilinear", align_corners=False)
    return _to_image(out[..., :size[0], :size[1]])


# --- ONNX and Fast mode ---------------------------------------------------------------------------


class _NoiseAsInputs(nn.Module):
    """The generator with its noise maps as separate inputs, as a traced graph takes them."""

    def __init__(self, generator: SAEGenerator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, structure: Tensor, texture: Tensor, *noise: Tensor) -> Tensor:
        return self.generator(structure, texture, list(noise))


def generator_graph(generator: SAEGenerator, hparams: Hparams) -> OnnxGraph:
    """The generator as one ONNX graph of any code size: structure (1, C, h, w), texture (1, D), then one noise map
    per injection (1, 1, h 2^level, w 2^level) -> the image (1, 3, h m, w m) in about [-1, 1]."""
    c, d, m = int(hparams["spatial_code_ch"]), int(hparams["global_code_ch"]), int(hparams["size_multiple"])
    device = next(generator.parameters()).device
    cells = (8, 8)
    noise = [torch.zeros(shape, device=device) for shape in generator.noise_shapes(cells)]
    names = ("structure", "texture", *(f"noise{i}" for i in range(len(noise))))
    dynamic = {name: {2: f"{name}_height", 3: f"{name}_width"} for name in names if name != "texture"}
    return OnnxGraph(_NoiseAsInputs(generator), (torch.zeros(1, c, *cells, device=device),
                                                 torch.zeros(1, d, device=device), *noise),
                     names, ("image",), dynamic_axes={**dynamic, "image": {2: "height", 3: "width"}},
                     summary=f"structure: (1, {c}, h, w) float32 code, texture: (1, {d}), then {len(noise)} noise maps "
                             f"noise<i>: (1, 1, h 2^level, w 2^level) (levels {noise_levels(hparams)}) -> image: "
                             f"(1, 3, {m}h, {m}w) in about [-1, 1] (the official generator's forward, unclamped)")


def encoder_graph(encoder: SAEEncoder) -> OnnxGraph:
    device = next(encoder.parameters()).device
    side = encoder.min_size
    return OnnxGraph(encoder, (torch.zeros(1, 3, side, side, device=device),), ("image",), ("structure", "texture"),
                     dynamic_axes={"image": {2: "height", 3: "width"}, "structure": {2: "h", 3: "w"}},
                     summary="image: (1, 3, H, W) in [-1, 1] -> structure code, texture code")


def _onnx_graph(nets: Nets, hparams: Hparams) -> OnnxGraph:
    generator = nets["netG"]
    assert isinstance(generator, SAEGenerator)
    return generator_graph(generator, hparams)


class OnnxGenerator(OnnxModule):
    """Fast mode's generator in ONNX Runtime: 2.0x PyTorch at 512 px here, 1e-7 apart."""

    def forward(self, structure: Tensor, texture: Tensor, noise: Sequence[Tensor] | None = None) -> Tensor:
        if noise is None:  # fresh noise, as the network draws it
            noise = [structure.new_empty(shape).normal_() for shape in self.net.noise_shapes(structure.shape[-2:])]
        return super().forward(structure, texture, *noise)


class OnnxEncoder(OnnxModule):
    """Fast mode's encoder in ONNX Runtime: 3.4x PyTorch at 512 px here, 5e-7 apart."""

    @property
    def min_size(self) -> int:
        return int(self.net.min_size)

    @property
    def size_multiple(self) -> int:
        return int(self.net.size_multiple)


def _fast(nets: Nets, hparams: Hparams, device: torch.device) -> Nets:
    fast: Nets = {"netG": OnnxGenerator(nets["netG"], lambda: _onnx_graph(nets, hparams), device)}
    if (encoder := nets.get("netE")) is not None:
        fast["netE"] = OnnxEncoder(encoder, lambda: encoder_graph(encoder), device)
    return fast


# --- the descriptor -------------------------------------------------------------------------------


def capabilities(hparams: Hparams) -> Capabilities:
    """One code cell is size_multiple px; a structure edit reaches receptive_margin cells around it."""
    m = int(hparams["size_multiple"])
    return Capabilities(size_multiple=m, min_size=int(hparams["min_size"]),
                        receptive_margin=margin_cells(hparams) * m, encoder=bool(hparams["has_encoder"]))


def _load_checkpoint(ckpt: Checkpoint, hparams: Hparams) -> Nets:
    return load(ckpt.state_dict, hparams)


def _encode(nets: Nets, image: np.ndarray, device: torch.device) -> Codes:
    return encode(nets["netE"], image, device=device)


def _decode(nets: Nets, hparams: Hparams, request: DecodeCodes, device: torch.device) -> tuple[np.ndarray, int, int]:
    return decode(nets["netG"], hparams, request.structure, request.texture, tuple(request.size),
                  region=request.region, scale=request.scale, noise_seed=request.noise_seed, device=device)


ARCHITECTURE = StructureTextureArchitecture(
    method=METHOD, title="Swapping Autoencoder", license_note=LICENSE_NOTE, detect=detect,
    resolve_hparams=resolve_hparams, capabilities=capabilities, size_rule=size_rule, load=_load_checkpoint,
    encode=_encode, decode=_decode, onnx=_onnx_graph, fast=_fast,
    options={"spatial_code_ch": whole(), "global_code_ch": whole(), "netE_num_downsampling_sp": whole(),
             "netE_num_downsampling_gl": whole(), "netG_num_base_resnet_layers": whole(), "netG_use_noise": flag,
             "use_antialias": flag, "num_downsampling_sp": whole(), "num_downsampling_gl": whole(),
             "num_head_blocks": whole(), "use_noise": flag, "encoder_channels": whole_list,
             "head_channels": whole_list, "upsampling_channels": whole_list})
