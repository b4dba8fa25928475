"""HierarchyFlow (Fan et al., 2023): style transfer by a hierarchical coupling flow, written from the documented
official code (fixtures README, HierarchyFlow section). The code differs from the paper; we follow the CODE, so
the official checkpoints give the official outputs.

Network. Style-Net (MUNIT's style encoder: reflect-padded convs 7x7 3->64, 4x4 s2 ->128, 4x4 s2 ->256, ReLU, global
average pool, 1x1 conv -> an 8-d code) and N coupling blocks Cin -> Cout (n = Cout / Cin splits). Block i:
Affine-Net a = conv3x3 Cin->2Cin, IN, ReLU, conv3x3, IN, ReLU, conv3x3 -> Cout, ReLU (zero padding, IN eps 1e-5 with
biased variance, no affine), split into a_1..a_n; forward h_1 = x - a_1, h_i = h_{i-1} - a_i, y = concat(h).
Inference: reflect-pad the content by pad_size (10); forward through all blocks, caching each block's a; then the
reverse pass, blocks N-1..0: AdaIN on the whole (still padded) tensor entering the block, per sample and channel
(mean, unbiased variance over H x W, std = sqrt(var + 1e-5)), to targets (mu, sigma) = the halves of the block's
style MLP (8 -> 3Cout -> 3Cout -> 2Cout) of the style code (sigma unconstrained); then the code's fusion
t = y_n + a_n, t = alpha (t + y_i) + (1 - alpha) a_i for i = n-1..1 (alpha = fixed_weight for weight type
"learned", 0.5 otherwise); crop the padding. The official eval clamps to [0, 1]. The flow is NOT invertible: with
AdaIN removed the reverse pass does not return the content (reverse(adain=False)).
Weight types (config `weight_type`): "learned" (the released one) and "fixed" as above; "softmax" / "sigmoid"
(a learned vector w of n weights, softmax(w) / sigmoid(w): forward concatenates w_j h_j, reverse returns
sum_j w_j t_j over [t from y_n + a_n, ..., the last t]); "attention" (a bias-free squeeze-excitation on the
forward's concatenation, ignored in reverse). These three follow the README's one-line description and are not
covered by a fixture: they build to the official keys and run, but their outputs are unverified.

Fidelity: an APP EXTENSION (the official inference has no knob). Strength s in [0, 1], 1 = the official output,
0 = the photo unchanged:
  - style code          c(s) = lerp(Style-Net(content), Style-Net(style), s)   (style-code interpolation)
  - R(c)                the official reverse pass (full AdaIN) with the style code c; R(c(0)) is the photo
                        stylised after itself (the fixture's `output_self_style_raw`), which is NOT the photo
  - output              O(s) = R(c(s)) + (1 - s) (x - R(c(0))), so O(0) = x and O(1) = the official output exactly.
The last term adds back, fading out, what the flow changes even in the photo's own style; so O(s) is the photo plus
(about) s times the change the style makes beyond the photo's own. Why not also interpolate the AdaIN statistics from
the tensor's own towards the style MLP's (the README's first candidate): sigma is unconstrained and often negative
(83 % of the fixture's channels in block 0, many in our trained default too), so a lerp of the std passes through 0
and mid strengths collapse or invert the colours (measured: an orange tree turned purple at s = 0.35 and 0.65 while
s = 1 kept it orange); the code interpolation keeps every AdaIN at a sigma the model produced.

Files: the official trainer writes `<output>/<task_name>/model_save/<step>.ckpt.pth.tar` = {"step", "state_dict",
"optimizer"} of the DDP-wrapped model (`module.` keys); engine.checkpoints unwraps it and strips the prefix. Our
trainer writes `write_checkpoint(path, model.state_dict(), {"method": METHOD, "hparams": config_hparams(...)})`.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.api import Capabilities
from engine.architecture import Hparams, Nets, check_layout, whole, whole_list, word
from engine.checkpoints import Checkpoint
from engine.inference import GraphSession, OnnxGraph
from engine.layers.resnet import InstanceNorm
from engine.tasks.content_style import ContentStyleArchitecture

METHOD = "hierarchyflow"
LICENSE_NOTE = ("official HierarchyFlow code: MIT (WeichenFan); no pretrained weights are released; the training "
                "images keep their own terms")

WEIGHT_TYPES = ("learned", "fixed", "softmax", "sigmoid", "attention")
PAD_SIZE = 10  # the released config's reflection padding of the content
STYLE_DIM = 8
ADAIN_EPS = 1e-5
FIXED_ALPHA = 0.5  # the fusion weight of every type but "learned"
MIN_STYLE_SIDE = 8  # Style-Net's reflection paddings (3, then 1 at 1/2 size) need this much
Stats = dict[int, tuple[Tensor, Tensor]]  # block index -> per-channel (mean, std), each (B, C, 1, 1)


# --- Style-Net: the MUNIT style encoder (8-d code) -------------------------------------------------------


class ConvBlock(nn.Module):
    """Reflection pad, conv (key `conv`), ReLU: MUNIT's Conv2dBlock without normalisation."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, pad: int) -> None:
        super().__init__()
        self.pad = pad
        self.conv = nn.Conv2d(cin, cout, kernel, stride)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.conv(F.pad(x, (self.pad,) * 4, mode="reflect")), inplace=True)


class StyleNet(nn.Module):
    """RGB (B, 3, H, W) in [0, 1], H, W >= 8 -> code (B, 8, 1, 1)."""

    def __init__(self, *, dim: int = 64, style_dim: int = STYLE_DIM) -> None:
        super().__init__()
        self.model = nn.Sequential(
            ConvBlock(3, dim, 7, 1, 3), ConvBlock(dim, 2 * dim, 4, 2, 1), ConvBlock(2 * dim, 4 * dim, 4, 2, 1),
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(4 * dim, style_dim, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class LinearBlock(nn.Module):
    def __init__(self, cin: int, cout: int, *, relu: bool) -> None:
        super().__init__()
        self.fc = nn.Linear(cin, cout)
        self.relu = relu

    def forward(self, x: Tensor) -> Tensor:
        y = self.fc(x)
        return F.relu(y) if self.relu else y


class StyleMLP(nn.Module):
    """code (B, 8, 1, 1) -> (mu, sigma), each (B, C, 1, 1): Linear 8 -> 3C, ReLU, 3C -> 3C, ReLU, 3C -> 2C."""

    def __init__(self, channels: int, *, style_dim: int = STYLE_DIM) -> None:
        super().__init__()
        hidden = 3 * channels
        self.model = nn.Sequential(LinearBlock(style_dim, hidden, relu=True), LinearBlock(hidden, hidden, relu=True),
                                   LinearBlock(hidden, 2 * channels, relu=False))

    def forward(self, code: Tensor) -> tuple[Tensor, Tensor]:
        out = self.model(code.flatten(1))[:, :, None, None]
        mu, sigma = out.chunk(2, dim=1)
        return mu, sigma


# --- the coupling block ----------------------------------------------------------------------------------


class SplitWeights(nn.Module):
    """Weight types "softmax" / "sigmoid": n learned weights (key `weight`), squashed by that function."""

    def __init__(self, n: int, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.weight = nn.Parameter(torch.randn(n))

    def forward(self) -> Tensor:
        return torch.softmax(self.weight, 0) if self.kind == "softmax" else torch.sigmoid(self.weight)


class ChannelAttention(nn.Module):
    """Weight type "attention": squeeze-excitation, keys fc.0 (Cout -> Cin) and fc.2 (Cin -> Cout), no biases."""

    def __init__(self, channels: int, reduced: int) -> None:
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(channels, reduced, bias=False), nn.ReLU(inplace=True),
                                nn.Linear(reduced, channels, bias=False), nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        return x * self.fc(x.mean(dim=(2, 3)))[:, :, None, None]


class CouplingBlock(nn.Module):
    """One hierarchical coupling block Cin -> Cout (n = Cout / Cin splits); see the module docstring."""

    def __init__(self, cin: int, cout: int, weight_type: str) -> None:
        super().__init__()
        if cout % cin:
            raise ValueError(f"a block's output channels must be a multiple of its input channels, got {cin} -> {cout}")
        self.splits, self.weight_type = cout // cin, weight_type
        if weight_type == "learned":  # registered first: the official key order
            self.fixed_weight = nn.Parameter(torch.tensor(FIXED_ALPHA))
        self.affine_net = nn.Sequential(
            nn.Conv2d(cin, 2 * cin, 3, padding=1), InstanceNorm(2 * cin), nn.ReLU(inplace=True),
            nn.Conv2d(2 * cin, 2 * cin, 3, padding=1), InstanceNorm(2 * cin), nn.ReLU(inplace=True),
            nn.Conv2d(2 * cin, cout, 3, padding=1), nn.ReLU(inplace=True))
        self.style_mlp = StyleMLP(cout)
        if weight_type in ("softmax", "sigmoid"):
            self.weight = SplitWeights(self.splits, weight_type)
        elif weight_type == "attention":
            self.weight = ChannelAttention(cout, cin)

    @property
    def alpha(self) -> Tensor | float:
        return self.fixed_weight if self.weight_type == "learned" else FIXED_ALPHA

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(y, a): the coupled output and the Affine-Net output the reverse pass reuses."""
        a = self.affine_net(x)
        hs, h = [], x
        for a_i in a.chunk(self.splits, dim=1):
            h = h - a_i
            hs.append(h)
        if self.weight_type in ("softmax", "sigmoid"):
            hs = [w * h for w, h in zip(self.weight(), hs, strict=True)]
        y = torch.cat(hs, dim=1)
        return (self.weight(y) if self.weight_type == "attention" else y), a

    def reverse(self, y: Tensor, a: Tensor) -> Tensor:
        """The code's additive reverse with fusion: Cout -> Cin channels."""
        ys, as_ = y.chunk(self.splits, dim=1), a.chunk(self.splits, dim=1)
        alpha = self.alpha
        t = ys[-1] + as_[-1]
        ts = [t]
        for i in range(self.splits - 2, -1, -1):
            t = alpha * (t + ys[i]) + (1 - alpha) * as_[i]
            ts.append(t)
        if self.weight_type in ("softmax", "sigmoid"):
            return sum(w * t for w, t in zip(self.weight(), ts, strict=True))
        return t


# --- the model -------------------------------------------------------------------------------------------


@dataclass
class ContentPass:
    """What the reverse pass needs of a content image: the input x (B, 3, H, W), each block's Affine-Net output
    `a` and the forward latent, both over the input reflect-padded by `pad`. The reverse passes of any style and
    strength reuse it; `self_styled` memoises R(c(0)), the photo stylised after itself."""

    x: Tensor
    a: list[Tensor]
    latent: Tensor
    pad: int
    self_styled: Tensor | None = None

    def nbytes(self) -> int:
        tensors = [self.x, self.latent, *self.a] + ([self.self_styled] if self.self_styled is not None else [])
        return sum(t.numel() * t.element_size() for t in tensors)


def adain_statistics(y: Tensor) -> tuple[Tensor, Tensor]:
    """Per sample and channel: mean and sqrt(unbiased variance + 1e-5), as the official AdaIN measures them."""
    var, mean = torch.var_mean(y, dim=(2, 3), keepdim=True, correction=1)
    return mean, torch.sqrt(var + ADAIN_EPS)


class Fidelity:
    """The fidelity output (module docstring) from a model's `reverse` pass: HierarchyFlow's, and Fast mode's
    OnnxFlow's."""

    def reverse(self, cp: ContentPass, code: Tensor | None, *, own: Stats | None = None) -> Tensor:
        raise NotImplementedError

    def self_styled(self, cp: ContentPass, content_code: Tensor, *, own: Stats | None = None) -> Tensor:
        """R(c(0)): the photo stylised after itself, memoised in the content pass."""
        if cp.self_styled is None:
            cp.self_styled = self.reverse(cp, content_code, own=own)
        return cp.self_styled

    def stylize(self, cp: ContentPass, content_code: Tensor | None, style_code: Tensor, strength: float, *,
                own: Stats | None = None, own_self: Stats | None = None) -> Tensor:
        """O(strength), the fidelity output (module docstring): x at 0, the official output at 1. Unclamped.
        content_code: None at strength 1, which is the official pass with the style's code alone (no Style-Net
        on the photo, no R(c(0)): the formula multiplies it by zero). own / own_self: the shared statistics of the
        reverse passes with c(s) and with c(0) (tiles)."""
        if strength <= 0:
            return cp.x
        if strength >= 1:
            return self.reverse(cp, style_code, own=own)
        if content_code is None:
            raise ValueError("a strength below 1 needs the photo's own style code")
        styled = self.reverse(cp, torch.lerp(content_code, style_code, strength), own=own)
        return styled + (1 - strength) * (cp.x - self.self_styled(cp, content_code, own=own_self))


class HierarchyFlow(Fidelity, nn.Module):
    """Content and style RGB (B, 3, H, W) in [0, 1] -> stylised content, unclamped (the official forward).

    Content H, W >= pad_size + 1; the style any size >= 8 px a side (Style-Net pools globally). Keys: the official
    ones without `module.`: blocks.<i>.{fixed_weight, affine_net, style_mlp, weight}, style_net.model.*.
    """

    def __init__(self, *, pad_size: int = PAD_SIZE, in_channel: int = 3, out_channels: Sequence[int] = (30, 120),
                 weight_type: str = "learned") -> None:
        super().__init__()
        if weight_type not in WEIGHT_TYPES:
            raise ValueError(f"weight_type must be one of {', '.join(WEIGHT_TYPES)}, got {weight_type!r}")
        if not out_channels or pad_size < 0:
            raise ValueError(f"need at least one block and pad_size >= 0, got {list(out_channels)} and {pad_size}")
        self.pad_size = int(pad_size)
        self.widths = [int(in_channel), *(int(c) for c in out_channels)]
        self.blocks = nn.ModuleList(CouplingBlock(cin, cout, weight_type)
                                    for cin, cout in itertools.pairwise(self.widths))
        self.style_net = StyleNet()

    def forward(self, content: Tensor, style: Tensor) -> Tensor:
        return self.reverse(self.content_pass(content), self.style_code(style))

    def style_code(self, style: Tensor) -> Tensor:
        return self.style_net(style)

    def adain_targets(self, code: Tensor) -> list[tuple[Tensor, Tensor]]:
        """(mu, sigma) of every block, block 0 first."""
        return [block.style_mlp(code) for block in self.blocks]

    def content_pass(self, content: Tensor, *, pad: int | None = None) -> ContentPass:
        """The forward pass over the content reflect-padded by `pad` (default pad_size; tiles of an already padded
        photo pass 0)."""
        pad = self.pad_size if pad is None else pad
        x = F.pad(content, (pad,) * 4, mode="reflect") if pad else content
        cached = []
        for block in self.blocks:
            x, a = block(x)
            cached.append(a)
        return ContentPass(content, cached, x, pad)

    def reverse(self, cp: ContentPass, code: Tensor | None, *, adain: bool = True, own: Stats | None = None,
                observe: Callable[[int, Tensor], None] | None = None) -> Tensor:
        """The official reverse pass with style code `code`: each block's AdaIN to the targets MLP_i(code), then
        its coupling reverse. adain False (code None): without AdaIN, the flow's own reconstruction.
        own: the content-side statistics to use instead of measuring them (tiles share the whole photo's);
        observe: called with each block's index and the tensor its AdaIN normalises, before it does (tiles measure
        the whole photo's statistics so, engine.stylize). Output cropped by cp.pad, unclamped."""
        y = cp.latent
        for i in range(len(self.blocks) - 1, -1, -1):
            block = self.blocks[i]
            if adain:
                if observe is not None:
                    observe(i, y)
                mean, std = own[i] if own is not None else adain_statistics(y)
                mu, sigma = block.style_mlp(code)
                # (y - mean) / std * sigma + mu in one pass over y (the widest tensor of the flow), not four
                scale = sigma / std
                y = torch.addcmul(mu - mean * scale, y, scale)
            y = block.reverse(y, cp.a[i])
        p = cp.pad
        return y[:, :, p:y.shape[2] - p, p:y.shape[3] - p] if p else y

    @staticmethod
    def adain_from_moments(mean: Tensor, var: Tensor, count: int) -> tuple[Tensor, Tensor]:
        """adain_statistics of a tensor whose `count` pixels per channel have this mean and biased variance (tiles
        add them up over a whole photo)."""
        return mean, torch.sqrt(var * (count / (count - 1)) + ADAIN_EPS)

    def activation_floats(self) -> float:
        """Estimated peak floats per padded pixel of one pass: every block's cached Affine-Net output, the latent
        and the reverse pass's working tensors, the largest Affine-Net's activations, R(c(0)) and the photo."""
        widths = self.widths
        cached = sum(widths[1:]) + 2 * widths[-1]
        affine = max(4 * cin + cout for cin, cout in itertools.pairwise(widths))
        return cached + affine + 3 * widths[0]


# --- checkpoint inspection -------------------------------------------------------------------------------


def detect(state_dict: Mapping[str, Tensor]) -> bool:
    """True for a HierarchyFlow state dict: a Style-Net with its bare 1x1 conv and coupling blocks' Affine-Nets."""
    return "style_net.model.4.weight" in state_dict and "blocks.0.affine_net.0.weight" in state_dict


def receptive_radius(num_blocks: int) -> int:
    """Each block's Affine-Net has three 3x3 convs; the coupling, AdaIN (given its statistics) and the reverse
    pass are per pixel."""
    return 3 * num_blocks


def config_hparams(*, out_channels: Sequence[int] = (30, 120), in_channel: int = 3, weight_type: str = "learned",
                   pad_size: int = PAD_SIZE) -> dict[str, Any]:
    """The JSON-able hparams of a model (defaults: the released GTA2Cityscapes config, the paper's HF)."""
    channels = [int(c) for c in out_channels]
    return {"in_channel": int(in_channel), "out_channels": channels, "weight_type": str(weight_type),
            "pad_size": int(pad_size), "min_size": int(pad_size) + 1, "min_style_size": MIN_STYLE_SIDE,
            # input pixels a change reaches in the output: tiles overlap by at least this
            "receptive_radius": receptive_radius(len(channels))}


def _weight_type(sd: Mapping[str, Tensor], given: Any) -> tuple[str, list[str]]:
    """The weight type the keys show; softmax and sigmoid have the same keys, so the options must tell them
    apart (else softmax is assumed)."""
    if "blocks.0.fixed_weight" in sd:
        found = ["learned"]
    elif "blocks.0.weight.fc.0.weight" in sd:
        found = ["attention"]
    elif "blocks.0.weight.weight" in sd:
        found = ["softmax", "sigmoid"]
    else:
        found = ["fixed"]
    if given is not None:
        if str(given) not in found:
            raise ValueError(f"options say weight_type {given!r}, but the weights have {' or '.join(found)}")
        return str(given), []
    return found[0], (["weight_type"] if len(found) > 1 else [])


def resolve_hparams(state_dict: Mapping[str, Tensor], options: Mapping[str, Any]) -> dict[str, Any]:
    """hparams from tensor shapes; `options` (the official config names weight_type, pad_size, out_channels,
    in_channel) fill in what shapes cannot tell and are otherwise checked against the weights."""
    if not detect(state_dict):
        raise ValueError("not a HierarchyFlow state dict (no style_net.model.4 / blocks.0.affine_net.0)")
    in_channel = int(state_dict["blocks.0.affine_net.0.weight"].shape[1])
    if in_channel != 3:
        raise ValueError(f"the flow takes {in_channel} channels; photos need 3 (RGB)")
    out_channels, i = [], 0
    while (last := state_dict.get(f"blocks.{i}.affine_net.6.weight")) is not None:
        out_channels.append(int(last.shape[0]))
        i += 1
    weight_type, assumed = _weight_type(state_dict, options.get("weight_type"))
    pad_size = options.get("pad_size", PAD_SIZE)
    if not isinstance(pad_size, int) or pad_size < 0:
        raise ValueError(f"option pad_size must be a whole number >= 0, got {pad_size!r}")
    for name, facts in (("out_channels", out_channels), ("in_channel", in_channel)):
        if (value := options.get(name)) is not None and value != facts:
            raise ValueError(f"options say {name} {value!r}, but the weights have {facts}")
    hp = config_hparams(out_channels=out_channels, in_channel=in_channel, weight_type=weight_type, pad_size=pad_size)
    if assumed:
        hp["assumed"] = assumed
    with torch.device("meta"):
        check_layout(build(hp), state_dict, "HierarchyFlow")
    return hp


def size_rule(hparams: Mapping[str, Any]) -> str:
    return (f"any size of at least {hparams['min_size']} px a side (reflection padding {hparams['pad_size']} px; "
            f"large photos in overlapping tiles); style images of any size from {hparams['min_style_size']} px")


def build(hparams: Mapping[str, Any]) -> HierarchyFlow:
    """A fresh model (PyTorch's default init, as the official code), in eval mode."""
    return HierarchyFlow(pad_size=int(hparams["pad_size"]), in_channel=int(hparams["in_channel"]),
                         out_channels=list(hparams["out_channels"]), weight_type=str(hparams["weight_type"])).eval()


def load(state_dict: Mapping[str, Tensor], hparams: Mapping[str, Any]) -> dict[str, nn.Module]:
    """{"flow": model}, strictly loaded, eval mode, CPU."""
    with torch.device("meta"):  # skip the random init that the load overwrites anyway
        net = build(hparams)
    check_layout(net, state_dict, "HierarchyFlow")
    net.to_empty(device="cpu")
    net.load_state_dict(dict(state_dict), strict=True)
    return {"flow": net.eval()}


def capabilities(hparams: Hparams) -> Capabilities:
    """Photos of at least pad_size + 1 px a side; tiles overlap by the receptive radius."""
    return Capabilities(min_size=int(hparams["pad_size"]) + 1, receptive_margin=receptive_radius(
        len(hparams["out_channels"])), style_image=True, min_style_size=MIN_STYLE_SIDE)


def onnx_graph(nets: Nets, hparams: Hparams) -> OnnxGraph:
    """The official forward, content and style images of any sizes -> the stylised content (no fidelity knob)."""
    flow = nets["flow"]
    device = next(flow.parameters()).device
    side = 2 * int(hparams["pad_size"]) + 16
    return OnnxGraph(flow, (torch.zeros(1, 3, side, side, device=device), torch.zeros(1, 3, side, side, device=device)),
                     ("content", "style"), ("output",),
                     dynamic_axes={"content": {2: "height", 3: "width"}, "style": {2: "style_height", 3: "style_width"},
                                   "output": {2: "height", 3: "width"}},
                     summary=f"content: (1, 3, H, W) RGB in [0, 1], H and W over {hparams['pad_size']}; style: "
                             f"(1, 3, h, w) RGB in [0, 1], at least {MIN_STYLE_SIDE} px -> output: (1, 3, H, W), "
                             f"unclamped (the official forward; its eval clamps to [0, 1])")


# --- Fast mode: the content pass, the reverse pass and the Style-Net as ONNX graphs ---------------------------


class _ContentGraph(nn.Module):
    """content (1, 3, H, W) -> the forward latent, then each block's Affine-Net output, over the padded content."""

    def __init__(self, flow: HierarchyFlow) -> None:
        super().__init__()
        self.flow = flow

    def forward(self, content: Tensor) -> tuple[Tensor, ...]:
        cp = self.flow.content_pass(content)
        return (cp.latent, *cp.a)


class _ReverseGraph(nn.Module):
    """(latent, style code, each block's Affine-Net output) -> the official reverse pass, cropped, unclamped."""

    def __init__(self, flow: HierarchyFlow) -> None:
        super().__init__()
        self.flow = flow

    def forward(self, latent: Tensor, code: Tensor, *a: Tensor) -> Tensor:
        return self.flow.reverse(ContentPass(latent, list(a), latent, self.flow.pad_size), code)


def _graphs(flow: HierarchyFlow) -> dict[str, Callable[[], OnnxGraph]]:
    """The three graphs of Fast mode, any photo and style size."""
    device = next(flow.parameters()).device
    side, pad, n = 16, flow.pad_size, len(flow.blocks)
    content = torch.zeros(1, 3, side + 2 * pad, side + 2 * pad, device=device)
    with torch.inference_mode():
        cp = flow.content_pass(content.clone())
    free = {2: "height", 3: "width"}
    a_names = tuple(f"a{i}" for i in range(n))
    return {
        "content": lambda: OnnxGraph(_ContentGraph(flow), (content,), ("content",), ("latent", *a_names),
                                     dynamic_axes={name: free for name in ("content", "latent", *a_names)},
                                     summary="content (1, 3, H, W) -> its content pass"),
        "reverse": lambda: OnnxGraph(_ReverseGraph(flow), (cp.latent.clone(), torch.zeros(1, STYLE_DIM, 1, 1,
                                                                                          device=device),
                                                           *(a.clone() for a in cp.a)),
                                     ("latent", "code", *a_names), ("output",),
                                     dynamic_axes={name: free for name in ("latent", "output", *a_names)},
                                     summary="a content pass and a style code -> the stylised content"),
        "style": lambda: OnnxGraph(flow.style_net, (torch.zeros(1, 3, side, side, device=device),), ("style",),
                                   ("code",), dynamic_axes={"style": free}, summary="style (1, 3, h, w) -> code"),
    }


class OnnxFlow(Fidelity, nn.Module):
    """Fast mode's HierarchyFlow: one-pass photos run the content pass, the reverse pass and the Style-Net in ONNX
    Runtime, so the slider cache (one content pass, reverse passes per strength) works as with the PyTorch model;
    tiles (shared statistics) and the time before a graph's session is ready run the PyTorch model."""

    def __init__(self, flow: HierarchyFlow, device: torch.device) -> None:
        super().__init__()
        self.flow = flow.eval()
        self.sessions = {kind: GraphSession(graph, device) for kind, graph in _graphs(flow).items()}
        self._norms = [m for m in flow.modules() if isinstance(m, InstanceNorm)]

    def graph_sessions(self) -> dict[str, GraphSession]:
        return dict(self.sessions)

    def _ready(self, kind: str) -> Any:
        """The session, or None while it is made or while the norms hold a tiled photo's statistics."""
        if any(norm.mode != "image" for norm in self._norms):
            return None
        return self.sessions[kind].ready()

    @property
    def pad_size(self) -> int:
        return self.flow.pad_size

    @property
    def blocks(self) -> nn.ModuleList:
        return self.flow.blocks

    def activation_floats(self) -> float:
        return self.flow.activation_floats()

    adain_from_moments = staticmethod(HierarchyFlow.adain_from_moments)

    def style_code(self, style: Tensor) -> Tensor:
        session = self._ready("style")
        return session(style)[0] if session is not None else self.flow.style_code(style)

    def content_pass(self, content: Tensor, *, pad: int | None = None) -> ContentPass:
        session = self._ready("content") if pad in (None, self.flow.pad_size) else None
        if session is None:
            return self.flow.content_pass(content, pad=pad)
        latent, *a = session(content)
        return ContentPass(content, a, latent, self.flow.pad_size)

    def reverse(self, cp: ContentPass, code: Tensor | None, *, adain: bool = True, own: Stats | None = None,
                observe: Callable[[int, Tensor], None] | None = None) -> Tensor:
        official = adain and own is None and observe is None and cp.pad == self.flow.pad_size and code is not None
        if official and (session := self._ready("reverse")) is not None:
            return session(cp.latent, code, *cp.a)[0]
        return self.flow.reverse(cp, code, adain=adain, own=own, observe=observe)


def _fast(nets: Nets, hparams: Hparams, device: torch.device) -> Nets:
    flow = nets["flow"]
    assert isinstance(flow, HierarchyFlow)
    return {"flow": OnnxFlow(flow, device)}


def _load_checkpoint(ckpt: Checkpoint, hparams: Hparams) -> Nets:
    return load(ckpt.state_dict, hparams)


ARCHITECTURE = ContentStyleArchitecture(
    method=METHOD, title="HierarchyFlow", license_note=LICENSE_NOTE, detect=detect, resolve_hparams=resolve_hparams,
    capabilities=capabilities, size_rule=size_rule, load=_load_checkpoint, stylist=operator.itemgetter("flow"),
    onnx=onnx_graph, fast=_fast,
    options={"weight_type": word(WEIGHT_TYPES), "pad_size": whole(0, 1024), "out_channels": whole_list,
             "in_channel": whole()})
