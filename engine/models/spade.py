"""SPADE / GauGAN generator and image encoder, written from the documented official key layout.

State dicts load strictly from the official `latest_net_G.pth` files (norm_G 'spectralspadesyncbatch3x3').
The size is not stored in the weights: the generator starts from a (sh, sw) grid and doubles it N times
(N = 5 'normal', 6 'more', 7 'most'), so the output is (sh * 2^N, sw * 2^N).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from engine.api import Capabilities, RenderLabels
from engine.architecture import Hparams, Nets, flag, real, whole, word
from engine.checkpoints import Checkpoint
from engine.inference import OnnxGraph, OnnxModule, onnx_fits
from engine.layers.spade_norm import HIDDEN, SPADENorm
from engine.layers.spectral import SpectralNormConv2d
from engine.tasks.label_to_image import LabelToImageArchitecture

METHOD = "spade"
LICENSE_NOTE = "official SPADE weights: CC BY-NC-SA 4.0 (NVIDIA), non-commercial"

NUM_UPS = {"normal": 5, "more": 6, "most": 7}
DONTCARE = 255
CPU = torch.device("cpu")

# What the weights cannot tell about the three released generators, keyed by semantic_nc.
RELEASED: dict[int, dict[str, Any]] = {
    151: {"name": "ade20k_pretrained", "label_nc": 150, "contain_dontcare_label": True, "no_instance": True,
          "num_upsampling_layers": "normal", "crop_size": 256, "aspect_ratio": 1.0},
    36: {"name": "cityscapes_pretrained", "label_nc": 35, "contain_dontcare_label": False, "no_instance": False,
         "num_upsampling_layers": "more", "crop_size": 512, "aspect_ratio": 2.0},
    184: {"name": "coco_pretrained", "label_nc": 182, "contain_dontcare_label": True, "no_instance": False,
          "num_upsampling_layers": "normal", "crop_size": 256, "aspect_ratio": 1.0},
}
_SIGNATURE = ("fc.weight", "head_0.conv_0.weight_orig", "head_0.norm_0.mlp_shared.0.weight",
              "G_middle_1.conv_1.weight_orig", "up_3.conv_s.weight_orig", "conv_img.weight")


class SPADEResBlock(nn.Module):
    """out = shortcut + conv_1(lrelu(norm_1(conv_0(lrelu(norm_0(x)))))); learned 1x1 shortcut when fin != fout."""

    def __init__(self, fin: int, fout: int, semantic_nc: int, *, nhidden: int = HIDDEN) -> None:
        super().__init__()
        fmiddle = min(fin, fout)
        # registration order = the official key order: conv_0, conv_1, conv_s, norm_0, norm_1, norm_s
        self.conv_0 = SpectralNormConv2d(fin, fmiddle, 3, padding=1)
        self.conv_1 = SpectralNormConv2d(fmiddle, fout, 3, padding=1)
        self.learned_shortcut = fin != fout
        if self.learned_shortcut:
            self.conv_s = SpectralNormConv2d(fin, fout, 1, bias=False)
        self.norm_0 = SPADENorm(fin, semantic_nc, nhidden=nhidden)
        self.norm_1 = SPADENorm(fmiddle, semantic_nc, nhidden=nhidden)
        if self.learned_shortcut:
            self.norm_s = SPADENorm(fin, semantic_nc, nhidden=nhidden)

    def forward(self, x: Tensor, seg: Tensor) -> Tensor:
        shortcut = self.conv_s(self.norm_s(x, seg)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, seg), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, seg), 0.2))
        return shortcut + dx


class SPADEGenerator(nn.Module):
    """Segmap (B, semantic_nc, H, W) [+ z with a VAE] -> image in [-1, 1] of size latent_hw * 2^N."""

    def __init__(
        self,
        *,
        ngf: int,
        semantic_nc: int,
        num_upsampling_layers: str = "normal",
        z_dim: int | None = None,  # None: no VAE, fc is a 3x3 conv on the downsampled segmap
        latent_hw: tuple[int, int] | None = None,  # only with z_dim: the Linear fc fixes the grid
        nhidden: int = HIDDEN,  # SPADE's hidden width: 128 in every official file; small models may use less
    ) -> None:
        super().__init__()
        if num_upsampling_layers not in NUM_UPS:
            raise ValueError(f"num_upsampling_layers must be one of {list(NUM_UPS)}, got {num_upsampling_layers!r}")
        if (z_dim is None) != (latent_hw is None):
            raise ValueError("z_dim and latent_hw go together (a VAE generator needs both)")
        self.ngf, self.semantic_nc, self.num_upsampling_layers = ngf, semantic_nc, num_upsampling_layers
        self.z_dim = z_dim
        self.latent_hw = None if latent_hw is None else (int(latent_hw[0]), int(latent_hw[1]))
        nf = 16 * ngf
        if self.latent_hw is None:
            self.fc: nn.Module = nn.Conv2d(semantic_nc, nf, 3, padding=1)
        else:
            self.fc = nn.Linear(z_dim, nf * self.latent_hw[0] * self.latent_hw[1])
        self.head_0 = SPADEResBlock(nf, nf, semantic_nc, nhidden=nhidden)
        self.G_middle_0 = SPADEResBlock(nf, nf, semantic_nc, nhidden=nhidden)
        self.G_middle_1 = SPADEResBlock(nf, nf, semantic_nc, nhidden=nhidden)
        self.up_0 = SPADEResBlock(16 * ngf, 8 * ngf, semantic_nc, nhidden=nhidden)
        self.up_1 = SPADEResBlock(8 * ngf, 4 * ngf, semantic_nc, nhidden=nhidden)
        self.up_2 = SPADEResBlock(4 * ngf, 2 * ngf, semantic_nc, nhidden=nhidden)
        self.up_3 = SPADEResBlock(2 * ngf, ngf, semantic_nc, nhidden=nhidden)
        final_nc = ngf
        if num_upsampling_layers == "most":
            self.up_4 = SPADEResBlock(ngf, ngf // 2, semantic_nc, nhidden=nhidden)
            final_nc = ngf // 2
        self.conv_img = nn.Conv2d(final_nc, 3, 3, padding=1)

    def forward(self, seg: Tensor, *, z: Tensor | None = None, latent_hw: tuple[int, int]) -> Tensor:
        sh, sw = latent_hw
        seg_at = _Resized(seg)
        if self.latent_hw is None:
            x = self.fc(seg_at((sh, sw)))
        else:
            if z is None:
                raise ValueError("this generator has a VAE input: pass z of shape (B, z_dim)")
            if (sh, sw) != self.latent_hw:
                raise ValueError(f"this VAE generator's latent grid is fixed to {self.latent_hw}, got {(sh, sw)}")
            x = self.fc(z).view(z.shape[0], 16 * self.ngf, sh, sw)
        x = self.head_0(x, seg_at(x.shape[-2:]))
        x = _up(x)
        x = self.G_middle_0(x, seg_at(x.shape[-2:]))
        if self.num_upsampling_layers in ("more", "most"):
            x = _up(x)
        x = self.G_middle_1(x, seg_at(x.shape[-2:]))
        for block in (self.up_0, self.up_1, self.up_2, self.up_3):
            x = _up(x)
            x = block(x, seg_at(x.shape[-2:]))
        if self.num_upsampling_layers == "most":
            x = _up(x)
            x = self.up_4(x, seg_at(x.shape[-2:]))
        return torch.tanh(self.conv_img(F.leaky_relu(x, 0.2)))


def _up(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


class _Resized:
    """The segmap resampled (legacy nearest, as the official SPADE layers do) once per size, not in each of the
    norms at that size: 18 resamplings of a 151-channel map were 11 % of a 256 px ADE20K render."""

    def __init__(self, seg: Tensor) -> None:
        self.seg = seg
        self.sizes: dict[tuple[int, int], Tensor] = {}

    def __call__(self, size: Sequence[int]) -> Tensor:
        key = tuple(size)  # never int(): a traced ONNX graph keeps the sizes free
        if key not in self.sizes:
            self.sizes[key] = F.interpolate(self.seg, size=key, mode="nearest")
        return self.sizes[key]


class ConvEncoder(nn.Module):
    """The official netE: RGB in [-1, 1] -> (mu, logvar), each (B, z_dim).

    Keys layerK.0.{weight_orig, weight_u, weight_v} (spectral-norm 3x3 stride-2 convs without bias, each
    followed by InstanceNorm(affine=False)), fc_mu.*, fc_var.*. layer6 exists only when crop_size >= 256.
    The official code always resizes the input to 256x256, which crashes without layer6 (8x8 left for a
    4x4 fc); here the input is resized to 4 * 2^layers instead (256 with layer6, 128 without).
    """

    def __init__(self, *, ngf: int, z_dim: int = 256, crop_size: int = 256) -> None:
        super().__init__()
        chans = [3, ngf, 2 * ngf, 4 * ngf, 8 * ngf, 8 * ngf] + ([8 * ngf] if crop_size >= 256 else [])
        for k in range(1, len(chans)):
            conv = SpectralNormConv2d(chans[k - 1], chans[k], 3, stride=2, padding=1, bias=False)
            self.add_module(f"layer{k}", nn.Sequential(conv, nn.InstanceNorm2d(chans[k], affine=False)))
        self.num_layers = len(chans) - 1
        self.fc_mu = nn.Linear(8 * ngf * 4 * 4, z_dim)
        self.fc_var = nn.Linear(8 * ngf * 4 * 4, z_dim)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        side = 4 * 2**self.num_layers
        if x.shape[-2:] != (side, side):
            x = F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False)
        for k in range(1, self.num_layers + 1):
            x = getattr(self, f"layer{k}")(x if k == 1 else F.leaky_relu(x, 0.2))
        x = F.leaky_relu(x, 0.2).flatten(1)
        return self.fc_mu(x), self.fc_var(x)


# --- checkpoint inspection ---------------------------------------------------------------------------


def detect(state_dict: Mapping[str, Tensor]) -> bool:
    """True for a SPADE generator state dict (spectral-norm blocks head_0 ... up_3, fc, conv_img)."""
    return all(k in state_dict for k in _SIGNATURE)


def _as_bool(value: Any) -> bool:
    text = str(value).strip().lower()  # values parsed from an opt.txt may still be strings
    if text not in ("true", "false", "1", "0"):
        raise ValueError(f"expected a boolean option, got {value!r}")
    return text in ("true", "1")


_OPTION_TYPES = {"label_nc": int, "contain_dontcare_label": _as_bool, "no_instance": _as_bool,
                 "num_upsampling_layers": str, "crop_size": int, "aspect_ratio": float}


def _label_layout(semantic_nc: int, given: dict[str, Any]) -> tuple[int, bool, bool, list[str]]:
    """Complete (label_nc, dontcare, no_instance) so that label_nc + dontcare + instance == semantic_nc."""
    nc, dc, ni = given.get("label_nc"), given.get("contain_dontcare_label"), given.get("no_instance")
    assumed = []
    if nc is not None and dc is None and ni is None:
        extra = semantic_nc - nc  # 0 and 2 settle both flags; 1 is ambiguous: guess dontcare (harmless unpainted)
        dc, ni = extra >= 1, extra != 2
        if extra == 1:
            assumed = ["contain_dontcare_label", "no_instance"]
    elif nc is not None and dc is None:
        dc = semantic_nc - nc - (not ni) == 1
    elif nc is not None and ni is None:
        ni = semantic_nc - nc - dc != 1
    elif nc is None:
        assumed = [name for name, v in (("contain_dontcare_label", dc), ("no_instance", ni)) if v is None]
        dc = bool(dc)
        ni = True if ni is None else ni
        nc = semantic_nc - dc - (not ni)
        assumed += ["label_nc"] if assumed else []
    if nc < 1 or nc + dc + (not ni) != semantic_nc:
        raise ValueError(f"options contradict the weights: label_nc {nc} + dontcare {int(dc)} + instance "
                         f"{int(not ni)} != semantic_nc {semantic_nc} read from the weights")
    return nc, dc, ni, assumed


def resolve_hparams(state_dict: Mapping[str, Tensor], options: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-able hparams: shapes first, then `options` (official option names), the released configs, defaults.

    hparams["assumed"] lists the fields that fell back to defaults; hparams["matched_release"] names the
    released config whose conventions were used, if any.
    """
    if not detect(state_dict):
        raise ValueError("not a SPADE generator state dict (no fc/head_0/up_3/conv_img spectral-norm keys)")
    ngf = state_dict["head_0.conv_0.weight_orig"].shape[0] // 16
    semantic_nc = state_dict["head_0.norm_0.mlp_shared.0.weight"].shape[1]
    fc = state_dict["fc.weight"]
    use_vae = fc.ndim == 2
    z_dim = int(fc.shape[1]) if use_vae else None
    has_most = "up_4.conv_0.weight_orig" in state_dict
    nhidden = int(state_dict["head_0.norm_0.mlp_shared.0.weight"].shape[0])

    opts = {k: v for k, v in options.items() if v is not None}
    if "netG" in opts and opts["netG"] != "spade":
        raise ValueError(f"options say netG {opts['netG']!r}, but these are SPADE generator weights")
    shape_facts = {"ngf": (ngf, int), "semantic_nc": (semantic_nc, int), "use_vae": (use_vae, _as_bool)}
    if use_vae:
        shape_facts["z_dim"] = (z_dim, int)
    for name, (actual, kind) in shape_facts.items():
        if name in opts and kind(opts[name]) != actual:
            raise ValueError(f"options say {name} {opts[name]!r}, but the weights have {actual}")
    given = {k: kind(opts[k]) for k, kind in _OPTION_TYPES.items() if k in opts}
    ups = given.get("num_upsampling_layers")
    if ups is not None and ups not in NUM_UPS:
        raise ValueError(f"num_upsampling_layers must be one of {list(NUM_UPS)}, got {ups!r}")
    if has_most and ups not in (None, "most"):
        raise ValueError(f"options say num_upsampling_layers {ups!r}, but the weights have up_4 (only 'most' has it)")
    if ups == "most" and not has_most:
        raise ValueError("options say num_upsampling_layers 'most', but the weights have no up_4 block")
    if has_most:
        given["num_upsampling_layers"] = "most"

    release = None if use_vae or has_most or nhidden != HIDDEN else RELEASED.get(semantic_nc)
    if release is not None and any(release[k] != v for k, v in given.items()):
        release = None
    fields = dict(release or {}, **given)
    label_nc, dontcare, no_instance, assumed = _label_layout(semantic_nc, fields)
    ups = fields.get("num_upsampling_layers", "normal")
    n = NUM_UPS[ups]
    crop, aspect = fields.get("crop_size"), fields.get("aspect_ratio")
    assumed += [k for k, v in (("num_upsampling_layers", fields.get("num_upsampling_layers")),
                               ("crop_size", crop), ("aspect_ratio", aspect)) if v is None]
    aspect = 1.0 if aspect is None else aspect
    if use_vae and crop is None:  # the Linear fc stores sh * sw: pick the grid that fits the aspect ratio
        area = fc.shape[0] // (16 * ngf)
        fits = [w for w in range(1, area + 1) if area % w == 0 and round(w / aspect) == area // w]
        if not fits:
            raise ValueError(f"cannot split the VAE latent of {area} cells at aspect {aspect}: give crop_size")
        crop = fits[0] * 2**n
        assumed.remove("crop_size")
    crop = 256 if crop is None else crop
    sw = crop // 2**n
    sh = round(sw / aspect)
    if sh < 1 or sw < 1:
        raise ValueError(f"crop_size {crop} / aspect_ratio {aspect} leave no latent grid at {2**n}x downsampling")
    if use_vae and sh * sw * 16 * ngf != fc.shape[0]:
        raise ValueError(f"crop_size {crop} / aspect_ratio {aspect} give a {sh}x{sw} latent, but the VAE fc "
                         f"holds {fc.shape[0] // (16 * ngf)} cells")
    return {
        "ngf": ngf, "semantic_nc": semantic_nc, "label_nc": label_nc, "contain_dontcare_label": dontcare,
        "no_instance": no_instance, "num_upsampling_layers": ups, "use_vae": use_vae, "z_dim": z_dim,
        "crop_size": crop, "aspect_ratio": aspect, "latent_hw": [sh, sw], "output_hw": [sh * 2**n, sw * 2**n],
        "matched_release": release["name"] if release else None, "assumed": assumed, "nhidden": nhidden,
        "size_multiple": 2**n,  # output sides must be multiples of this: tools read it, not SPADE's depth
    }


def size_rule(hparams: Mapping[str, Any]) -> str:
    h, w = hparams["output_hw"]
    if hparams["use_vae"]:
        return f"fixed {h}x{w} (the VAE latent fixes the size)"
    m = 2 ** NUM_UPS[hparams["num_upsampling_layers"]]
    return f"H, W multiples of {m} (default {h}x{w})"


def latent_for_size(hparams: Mapping[str, Any], size: tuple[int, int] | None) -> tuple[int, int]:
    """(sh, sw) of the latent grid for an output size (H, W); None gives the checkpoint's own size."""
    if size is None:
        return int(hparams["latent_hw"][0]), int(hparams["latent_hw"][1])
    h, w = int(size[0]), int(size[1])
    if hparams["use_vae"]:
        if [h, w] != list(hparams["output_hw"]):
            raise ValueError(f"size {h}x{w} is not allowed: this model's VAE latent fixes the size to "
                             f"{hparams['output_hw'][0]}x{hparams['output_hw'][1]}")
        return int(hparams["latent_hw"][0]), int(hparams["latent_hw"][1])
    m = 2 ** NUM_UPS[hparams["num_upsampling_layers"]]
    if h < m or w < m or h % m or w % m:
        raise ValueError(f"size {h}x{w} is not allowed: H and W must be multiples of {m} (at least {m})")
    return h // m, w // m


def build(hparams: Mapping[str, Any]) -> SPADEGenerator:
    """A fresh, randomly initialised generator for these hparams, in eval mode."""
    vae = bool(hparams["use_vae"])
    return SPADEGenerator(ngf=int(hparams["ngf"]), semantic_nc=int(hparams["semantic_nc"]),
                          num_upsampling_layers=hparams["num_upsampling_layers"],
                          z_dim=int(hparams["z_dim"]) if vae else None,
                          latent_hw=tuple(hparams["latent_hw"]) if vae else None,
                          nhidden=int(hparams.get("nhidden", HIDDEN))).eval()


def load(state_dict: Mapping[str, Tensor], hparams: Mapping[str, Any]) -> SPADEGenerator:
    """Strictly load a state dict; returns the generator in eval mode on the CPU."""
    with torch.device("meta"):  # skip the random init that the load overwrites anyway
        generator = build(hparams)
    generator.to_empty(device="cpu")
    generator.load_state_dict(state_dict, strict=True)
    return generator.eval()


def load_encoder(state_dict: Mapping[str, Tensor], hparams: Mapping[str, Any]) -> ConvEncoder:
    """Strictly load a netE state dict; its width and depth come from its own shapes."""
    if not hparams["use_vae"]:
        raise ValueError("an image encoder came with a generator that has no style input (use_vae is off)")
    try:
        ngf, z_dim = state_dict["layer1.0.weight_orig"].shape[0], state_dict["fc_mu.weight"].shape[0]
    except KeyError as exc:
        raise ValueError(f"the encoder file is not a SPADE netE (missing {exc})") from None
    if z_dim != hparams["z_dim"]:
        raise ValueError(f"the encoder makes z of size {z_dim} but the generator takes {hparams['z_dim']}")
    encoder = ConvEncoder(ngf=ngf, z_dim=z_dim, crop_size=256 if "layer6.0.weight_orig" in state_dict else 128)
    encoder.load_state_dict(state_dict, strict=True)
    return encoder.eval()


# --- inference ---------------------------------------------------------------------------------------


def _resize_nearest(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Pillow NEAREST on an integer map, as the official dataset code does on the PNG it reads.

    uint8 and uint16 keep Pillow's 'L' / 'I;16' modes (the two round exact ties differently, as a PNG of
    that depth would); other integer maps go through 32-bit 'I'.
    """
    if a.shape == tuple(size):
        return a
    if a.dtype not in (np.uint8, np.uint16):
        if a.size and (a.min() < -(2**31) or a.max() >= 2**31):
            a = np.unique(a, return_inverse=True)[1].reshape(a.shape)  # only equality matters for edges
        a = a.astype(np.int32)
    return np.asarray(Image.fromarray(a).resize((size[1], size[0]), Image.NEAREST))


def _edges(inst: np.ndarray) -> np.ndarray:
    """1 where a pixel differs from its left/right/up/down neighbour (both pixels of a pair)."""
    edge = np.zeros(inst.shape, dtype=bool)
    dx = inst[:, 1:] != inst[:, :-1]
    dy = inst[1:, :] != inst[:-1, :]
    edge[:, 1:] |= dx
    edge[:, :-1] |= dx
    edge[1:, :] |= dy
    edge[:-1, :] |= dy
    return edge


def encode_labels(labels: np.ndarray, *, label_nc: int, contain_dontcare_label: bool, no_instance: bool,
                  instances: np.ndarray | None = None, size: tuple[int, int] | None = None) -> Tensor:
    """HxW integer label map -> (1, semantic_nc, H, W) float32 one-hot [+ instance-edge channel last].

    Ids run 0 .. label_nc - 1, plus label_nc and 255 (both the dontcare channel) with contain_dontcare_label.
    Maps are resized NEAREST to `size` first. A model that wants instances but gets none uses the label
    map as the instance map, so class boundaries become the edges. `instances` is ignored by models
    without the instance channel.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be an HxW integer array, got {labels.dtype} {labels.shape}")
    nc = label_nc + int(contain_dontcare_label)
    ids = np.unique(labels)
    if DONTCARE in ids and not contain_dontcare_label:
        raise ValueError(f"label 255 (dontcare) is not allowed by this model; valid ids are 0..{nc - 1}")
    bad = [int(i) for i in ids if not (0 <= i < nc or (i == DONTCARE and contain_dontcare_label))]
    if bad:
        valid = f"0..{nc - 1}" + (" and 255 (dontcare)" if contain_dontcare_label else "")
        raise ValueError(f"label ids {bad[:10]}{' ...' if len(bad) > 10 else ''} out of range; valid ids are {valid}")
    size = labels.shape if size is None else (int(size[0]), int(size[1]))
    ids = _resize_nearest(labels, size).astype(np.int64)
    ids[ids == DONTCARE] = label_nc
    # a scatter into the zeroed channels, as the official code: 6x faster than one_hot's int64 HxWxC and its permute
    seg = torch.zeros(1, nc + int(not no_instance), *size)
    seg[:, :nc].scatter_(1, torch.from_numpy(ids)[None, None], 1.0)
    if not no_instance:
        inst = labels if instances is None else np.asarray(instances)
        if inst.shape != labels.shape or not np.issubdtype(inst.dtype, np.integer):
            raise ValueError(f"instances must be an integer array shaped like the labels {labels.shape}")
        seg[0, nc] = torch.from_numpy(_edges(_resize_nearest(inst, size)))
    return seg


def render(generator: SPADEGenerator | OnnxGenerator, hparams: Mapping[str, Any], labels: np.ndarray, *,
           instances: np.ndarray | None = None, size: tuple[int, int] | None = None,
           style: np.ndarray | None = None, seed: int | None = None, encoder: ConvEncoder | None = None,
           device: torch.device = CPU) -> np.ndarray:
    """Label map -> HxWx3 float32 image in [0, 1] at `size` (None: the checkpoint's size).

    The generator (and encoder) must be in eval mode on `device`; the label map is resized to the output
    size as the official pipeline does. VAE models: z = encoder(style) mean, plus noise scaled by
    exp(0.5 logvar) when a seed is given; without a style, z ~ N(0, 1) from `seed` (None means 0, so
    renders are reproducible). Models without a VAE take no style and ignore the seed.
    """
    if generator.training or (encoder is not None and encoder.training):
        raise ValueError("render needs eval() networks (train mode updates BatchNorm and spectral-norm state)")
    if style is not None and not hparams["use_vae"]:
        raise ValueError("this model has no style input")
    if style is not None and encoder is None:
        raise ValueError("a style image needs this model's encoder")
    latent = latent_for_size(hparams, size)
    m = 2 ** NUM_UPS[hparams["num_upsampling_layers"]]
    seg = encode_labels(labels, label_nc=hparams["label_nc"], instances=instances, size=(latent[0] * m, latent[1] * m),
                        contain_dontcare_label=hparams["contain_dontcare_label"], no_instance=hparams["no_instance"])
    with torch.inference_mode():
        z = None
        if hparams["use_vae"]:
            noise = torch.randn(1, hparams["z_dim"], generator=torch.Generator().manual_seed(seed or 0))
            if style is not None:
                style = np.asarray(style, dtype=np.float32)
                if style.ndim != 3 or style.shape[2] != 3:
                    raise ValueError(f"style must be an HxWx3 image, got shape {style.shape}")
                x = torch.from_numpy(style).permute(2, 0, 1)[None].to(device) * 2 - 1
                mu, logvar = encoder(x)
                z = mu if seed is None else mu + noise.to(device) * torch.exp(0.5 * logvar)
            else:
                z = noise.to(device)
        out = generator(seg.to(device), z=z, latent_hw=latent)
        image = ((out[0] + 1) / 2).clamp(0, 1).permute(1, 2, 0)
        return image.float().cpu().numpy()


def activation_floats(generator: SPADEGenerator) -> float:
    """Estimated peak float32 values live per output pixel of a render: the last block's SPADE norm at full size
    holds the segmap, its hidden layer, the block's input, gamma, beta and the normalised input, beside the
    shortcut's and the block's outputs."""
    last = generator.up_4 if generator.num_upsampling_layers == "most" else generator.up_3
    norm = last.norm_0
    return generator.semantic_nc + norm.mlp_shared[0].out_channels + 6 * norm.param_free_norm.num_features


class SizedBySegmap(nn.Module):
    """The generator with its latent grid read from the segmap's size, so a traced ONNX graph takes any size on
    the multiple (a VAE generator's grid is fixed by its fc anyway)."""

    def __init__(self, generator: SPADEGenerator, multiple: int) -> None:
        super().__init__()
        self.generator, self.multiple = generator, multiple

    def forward(self, seg: Tensor, *z: Tensor) -> Tensor:
        latent = self.generator.latent_hw or (seg.shape[-2] // self.multiple, seg.shape[-1] // self.multiple)
        return self.generator(seg, z=z[0] if z else None, latent_hw=latent)


def onnx_graph(nets: Nets, hparams: Hparams) -> OnnxGraph:
    """The generator as one ONNX graph, of any size on its multiple (a VAE model: its own size)."""
    generator = nets["netG"]
    assert isinstance(generator, SPADEGenerator)
    m = 2 ** NUM_UPS[hparams["num_upsampling_layers"]]
    h, w = (int(v) for v in hparams["output_hw"])
    c = int(hparams["semantic_nc"])
    device = next(generator.parameters()).device
    inputs = (torch.zeros(1, c, h, w, device=device),)
    names, z, sizes = ("segmap",), "", f"{h}x{w}"
    dynamic: dict[str, dict[int, str]] = {}
    if hparams["use_vae"]:
        inputs += (torch.zeros(1, int(hparams["z_dim"]), device=device),)
        names, z = ("segmap", "z"), f", z: (1, {hparams['z_dim']}) float32 style code"
    else:
        dynamic = {"segmap": {2: "height", 3: "width"}, "image": {2: "height", 3: "width"}}
        sizes = f"H x W, multiples of {m} (the model's own: {h}x{w})"
    return OnnxGraph(SizedBySegmap(generator, m), inputs, names, ("image",), dynamic_axes=dynamic,
                     summary=f"segmap: (1, {c}, {sizes}) float32, one channel per label id (one-hot"
                             f"{', the instance edges last' if not hparams['no_instance'] else ''}){z} -> image: "
                             f"(1, 3, the same size) in [-1, 1] (the official generator's forward)")


class OnnxGenerator(OnnxModule):
    """Fast mode's generator: onnx_graph in ONNX Runtime, 1.8x PyTorch per ADE20K render at 256 px here (4e-6
    apart on the fixtures); the graph of any size is built on the first render (about 10 s for the full-size
    ADE20K configuration on the 2-core CPU measured, well under a second for small models). A segmap whose pass
    would not fit the memory budget in ONNX Runtime (a full render of thousands of px a side) runs in PyTorch, as in
    Exact."""

    def fits(self, seg: Tensor, *z: Tensor) -> bool:
        return onnx_fits(seg.shape[-2] * seg.shape[-1], 4 * activation_floats(self.net), self.device)

    def forward(self, seg: Tensor, *, z: Tensor | None = None, latent_hw: tuple[int, int]) -> Tensor:
        return super().forward(seg, *([] if z is None else [z]))


def _fast(nets: Nets, hparams: Hparams, device: torch.device) -> Nets:
    return {**nets, "netG": OnnxGenerator(nets["netG"], lambda: onnx_graph(nets, hparams), device)}


# --- the descriptor ----------------------------------------------------------------------------------


def capabilities(hparams: Hparams) -> Capabilities:
    """Sides multiples of 2^N; a VAE generator's latent fixes the size, and it takes a style image or seed."""
    m = 2 ** NUM_UPS[hparams["num_upsampling_layers"]]
    size = (int(hparams["output_hw"][0]), int(hparams["output_hw"][1]))
    vae = bool(hparams["use_vae"])
    return Capabilities(size_multiple=m, min_size=m, default_size=size, fixed_size=size if vae else None,
                        style_image=vae, style_seed=vae, dontcare_label=bool(hparams["contain_dontcare_label"]))


def _load_checkpoint(ckpt: Checkpoint, hparams: Hparams) -> Nets:
    """netG, and netE when the file came with an image encoder (latest_net_E.pth beside it)."""
    nets: Nets = {"netG": load(ckpt.state_dict, hparams)}
    if "netE" in ckpt.parts:
        nets["netE"] = load_encoder(ckpt.parts["netE"], hparams)
    return nets


def _render(nets: Nets, hparams: Hparams, request: RenderLabels, device: torch.device) -> np.ndarray:
    return render(nets["netG"], hparams, request.labels, instances=request.instances, size=request.size,
                  style=request.style, seed=request.seed, encoder=nets.get("netE"), device=device)


ARCHITECTURE = LabelToImageArchitecture(
    method=METHOD, title="SPADE / GauGAN generator", license_note=LICENSE_NOTE, detect=detect,
    resolve_hparams=resolve_hparams, capabilities=capabilities, size_rule=size_rule, load=_load_checkpoint,
    render=_render, onnx=onnx_graph, fast=_fast,
    options={"label_nc": whole(1, 65536), "contain_dontcare_label": flag, "no_instance": flag,
             "num_upsampling_layers": word(NUM_UPS), "crop_size": whole(1, 16384), "aspect_ratio": real(1 / 16, 16),
             "ngf": whole(), "semantic_nc": whole(), "use_vae": flag, "z_dim": whole(), "netG": word()})
