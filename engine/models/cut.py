"""CUT / FastCUT / SinCUT's ResNet generator (Park et al., ECCV 2020; thesis ch. 3.3), written from the documented
key layout: CycleGAN's generator with anti-aliased resampling (a fixed [1, 2, 1] blur before each stride-2
subsampling, a [1, 3, 3, 1] transposed blur for each 2x upsampling, then ordinary 3x3 convs).

Official files: `checkpoints/<name>/latest_net_G.pth` (horse2zebra_cut_pretrained, ..._fastcut_pretrained), bare
state dicts `model.N.*` with four constant buffers `model.{7,11,21,25}.filt`; CPU training runs add `module.`.
The CUT, FastCUT and SinCUT generators are identical: the mode only names how a model was trained, so
hparams["mode"] is taken from our own files' metadata (or an import option), never guessed.

Our own files (trainers): write_checkpoint(path, g.state_dict(), {"method": METHOD, "hparams":
config_hparams(..., mode="FastCUT"), "name": ...}). One generator: hparams["directions"] is always ["AtoB"].
The CUT trainer reads PatchNCE features with CutGenerator.features(x, (0, 4, 8, 12, 16)).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.api import Capabilities
from engine.architecture import Hparams, Nets, check_layout, word
from engine.checkpoints import Checkpoint
from engine.layers.resnet import (
    InstanceNorm,
    ResnetBlock,
    SequentialGenerator,
    first_generator_graph,
    onnx_translators,
)
from engine.models.cyclegan import (
    MIN_SIZE,
    RESNET_OPTIONS,
    SIZE_MULTIPLE,
    canonical,
    check_options,
    shape_hparams,
    translation_capabilities,
)
from engine.tasks.image_to_image import ImageToImageArchitecture

METHOD = "cut"
LICENSE_NOTE = ("official CUT code and weights: BSD 2-clause (Park & Zhu); the training photos keep their own "
                "terms")

MODES = ("CUT", "FastCUT", "SinCUT")
FIRST_BLOCK = 12  # model index of the first ResnetBlock
NCE_LAYERS = (0, 4, 8, 12, 16)  # the official --nce_layers: RGB, both downsampling convs, blocks 1 and 5
DOWN_TAPS = (1.0, 2.0, 1.0)
UP_TAPS = (1.0, 3.0, 3.0, 1.0)


def _filter(taps: tuple[float, ...], channels: int, gain: float) -> Tensor:
    a = torch.tensor(taps)
    filt = torch.outer(a, a)
    return (filt / filt.sum() * gain)[None, None].repeat(channels, 1, 1, 1)


class Downsample(nn.Module):
    """Anti-aliased 2x subsampling: reflect-pad 1, depthwise [1, 2, 1] x [1, 2, 1] / 16 blur, stride 2."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer("filt", _filter(DOWN_TAPS, channels, 1.0))

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), self.filt, stride=2, groups=x.shape[1])


class Upsample(nn.Module):
    """Exact 2x upsampling: replicate-pad 1, depthwise transposed [1, 3, 3, 1]^2 / 64 * 4 blur (stride 2,
    padding 2), then the first and last rows and columns dropped."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer("filt", _filter(UP_TAPS, channels, 4.0))

    def forward(self, x: Tensor) -> Tensor:
        y = F.conv_transpose2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), self.filt, stride=2, padding=2,
                               groups=x.shape[1])
        return y[:, :, 1:-1, 1:-1]


class CutGenerator(SequentialGenerator):
    """Image (B, input_nc, H, W) in [-1, 1] -> (B, output_nc, H, W) in [-1, 1], H and W multiples of 4.

    model: 0 ReflectionPad(3) · 1 Conv 7x7 -> ngf · 2 IN · 3 ReLU · 4 Conv 3x3 -> 2ngf · 5 IN · 6 ReLU ·
    7 Downsample · 8 Conv 3x3 -> 4ngf · 9 IN · 10 ReLU · 11 Downsample · n_blocks ResnetBlocks · Upsample ·
    Conv 3x3 -> 2ngf · IN · ReLU · Upsample · Conv 3x3 -> ngf · IN · ReLU · ReflectionPad(3) · Conv 7x7 ->
    output_nc · Tanh. The 3x3 convs zero-pad by 1; every conv has a bias.
    """

    def __init__(self, *, ngf: int = 64, n_blocks: int = 9, input_nc: int = 3, output_nc: int = 3) -> None:
        super().__init__()
        if ngf < 1 or n_blocks < 1:
            raise ValueError(f"ngf and n_blocks must be at least 1, got {ngf} and {n_blocks}")
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7), InstanceNorm(ngf), nn.ReLU(inplace=True)]
        for mult in (1, 2):
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, padding=1), InstanceNorm(ngf * mult * 2), nn.ReLU(inplace=True),
                       Downsample(ngf * mult * 2)]
        layers += [ResnetBlock(ngf * 4) for _ in range(n_blocks)]
        for mult in (4, 2):
            layers += [Upsample(ngf * mult), nn.Conv2d(ngf * mult, ngf * mult // 2, 3, padding=1),
                       InstanceNorm(ngf * mult // 2), nn.ReLU(inplace=True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)


def receptive_radius(n_blocks: int) -> int:
    """How far (in input pixels) a change can reach in the output, in either direction.

    Reach times the pixel size of each layer's input: 7x7 conv 3; 3x3 conv 1; blur + subsample 1; 3x3 conv 2;
    blur + subsample 2; 2 n_blocks 3x3 convs at 1/4 size, 4 each; each Upsample reaches one input pixel back
    (4, then 2); 3x3 convs 2 and 1; the last 7x7 conv 3. 21 + 8 n_blocks: 93 for the released 9 blocks.
    """
    return 3 + 1 + 1 + 2 + 2 + 8 * n_blocks + 4 + 2 + 2 + 1 + 3


def detect(state_dict: Mapping[str, Tensor]) -> bool:
    """True for a CUT ResNet generator: a 7x7 first conv, anti-aliasing `filt` buffers, ResnetBlocks from model.12."""
    first = state_dict.get("model.1.weight")
    return (first is not None and first.ndim == 4 and tuple(first.shape[2:]) == (7, 7)
            and "model.7.filt" in state_dict and f"model.{FIRST_BLOCK}.conv_block.1.weight" in state_dict)


def parse_mode(value: Any) -> str | None:
    if value is None or value == "":
        return None
    mode = {m.lower(): m for m in MODES}.get(str(value).strip().lower())
    if mode is None:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {value!r}")
    return mode


def config_hparams(*, ngf: int = 64, n_blocks: int = 9, input_nc: int = 3, output_nc: int = 3,
                   mode: str | None = None) -> dict[str, Any]:
    """The JSON-able hparams of a model (defaults: the released resnet_9blocks generators)."""
    return {"ngf": int(ngf), "n_blocks": int(n_blocks), "input_nc": int(input_nc), "output_nc": int(output_nc),
            "directions": ["AtoB"], "mode": parse_mode(mode), "size_multiple": SIZE_MULTIPLE, "min_size": MIN_SIZE,
            # input pixels a change reaches in the output: tiles overlap by at least this
            "receptive_radius": receptive_radius(int(n_blocks))}


def resolve_hparams(state_dict: Mapping[str, Tensor], options: Mapping[str, Any]) -> dict[str, Any]:
    """hparams from tensor shapes; "mode" (or the official CUT_mode) from `options`, which are otherwise only
    checked against the weights."""
    sd = canonical(state_dict)
    if not detect(sd):
        raise ValueError("not a CUT ResNet generator state dict (no model.1 7x7 conv / model.7.filt buffer)")
    facts = shape_hparams(sd, FIRST_BLOCK, 9)
    check_options(facts, options)
    if options.get("directions") not in (None, ["AtoB"], ("AtoB",), "AtoB"):
        raise ValueError(f"a CUT model has one generator (AtoB), but the options say {options['directions']!r}")
    hp = config_hparams(**facts, mode=options.get("mode") or options.get("CUT_mode"))
    with torch.device("meta"):
        check_layout(build(hp), sd, "CUT generator")
    return hp


def size_rule(hparams: Mapping[str, Any]) -> str:
    return (f"any size (padded by reflection to multiples of {hparams['size_multiple']}, at least "
            f"{hparams['min_size']} px; large photos in overlapping tiles)")


def build(hparams: Mapping[str, Any]) -> CutGenerator:
    """A fresh generator (PyTorch's default init; trainers apply the official one), in eval mode."""
    return CutGenerator(ngf=int(hparams["ngf"]), n_blocks=int(hparams["n_blocks"]),
                        input_nc=int(hparams["input_nc"]), output_nc=int(hparams["output_nc"])).eval()


def load(state_dict: Mapping[str, Tensor], hparams: Mapping[str, Any]) -> dict[str, nn.Module]:
    """{"AtoB": generator}, strictly loaded (the stored `filt` buffers included), eval mode, CPU."""
    sd = canonical(state_dict)
    with torch.device("meta"):  # skip the random init that the load overwrites anyway
        net = build(hparams)
    check_layout(net, sd, "CUT generator")
    net.to_empty(device="cpu")
    net.load_state_dict(sd, strict=True)
    return {"AtoB": net.eval()}


def capabilities(hparams: Hparams) -> Capabilities:
    return translation_capabilities(hparams, receptive_radius(int(hparams["n_blocks"])))


def _load_checkpoint(ckpt: Checkpoint, hparams: Hparams) -> Nets:
    return load(ckpt.state_dict, hparams)


ARCHITECTURE = ImageToImageArchitecture(
    method=METHOD, title="CUT / FastCUT / SinCUT ResNet generator", license_note=LICENSE_NOTE, detect=detect,
    resolve_hparams=resolve_hparams, capabilities=capabilities, size_rule=size_rule, load=_load_checkpoint,
    onnx=first_generator_graph, fast=onnx_translators,
    options={**RESNET_OPTIONS, "mode": word(MODES), "CUT_mode": word(MODES)},
    # CycleGAN's layout is this one without anti-aliasing: its detector refuses `filt` buffers, and this rule keeps
    # CUT's files CUT's should that detector ever grow more lenient
    before=("cyclegan",))
