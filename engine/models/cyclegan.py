"""CycleGAN's ResNet generator (Zhu et al., ICCV 2017; thesis ch. 3.2), written from the documented key layout.

Files we read:
- the released generators, `checkpoints/<name>_pretrained/latest_net_G.pth` (one direction, "AtoB");
- a training run's `<epoch>_net_G_A.pth` (A->B) and `<epoch>_net_G_B.pth` (B->A): importing either one brings
  in its sibling too (engine.checkpoints pairs them), as one model with hparams["directions"] ["AtoB", "BtoA"];
  a `*_net_G_B.pth` without its sibling is a "BtoA"-only model.
All are bare state dicts `model.N.*` of one nn.Sequential; old releases also carry InstanceNorm running
statistics, and CPU runs a `module.` prefix: both are removed on load (`canonical`). A CUT generator trained
with --no_antialias --no_antialias_up has exactly this layout and is loaded as one.

Our own files (trainers): safetensors written with engine.checkpoints.write_checkpoint, the main state dict being
G_A in this layout, G_B as the part "G_B", and metadata {"method": "cyclegan", "hparams": config_hparams(...)
with "directions": ["AtoB", "BtoA"], "name": ...}:

    write_checkpoint(path, g_a.state_dict(), {"method": METHOD, "hparams": hp, "name": name},
                     parts={"G_B": g_b.state_dict()})

How a model's generators are found (`load`): "AtoB" is the main state dict; "BtoA" is the part "G_B" when
there is one, else the main state dict of a "BtoA"-only model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from engine.api import DIRECTIONS, Capabilities
from engine.architecture import Hparams, Nets, OptionCheck, check_layout, direction_names, whole
from engine.checkpoints import Checkpoint, StateDict, canonicalize
from engine.layers.resnet import (
    InstanceNorm,
    ResnetBlock,
    SequentialGenerator,
    first_generator_graph,
    onnx_translators,
)
from engine.tasks.image_to_image import ImageToImageArchitecture

METHOD = "cyclegan"
LICENSE_NOTE = ("official CycleGAN code and weights: BSD 2-clause (Zhu & Park); the training photos keep "
                "their own terms")

SIZE_MULTIPLE = 4  # two stride-2 downsamplings: sides must be multiples of 4 to come back at the same size
MIN_SIZE = 8  # reflection padding needs more than 3 px at full size and 2 px at 1/4 size
FIRST_BLOCK = 10  # model index of the first ResnetBlock
G_B_PART = "G_B"
# the import options of the ResNet generators (CycleGAN's and CUT's): the official names
RESNET_OPTIONS: dict[str, OptionCheck] = {
    "ngf": whole(), "n_blocks": whole(0), "input_nc": whole(), "output_nc": whole(), "directions": direction_names}


class ResnetGenerator(SequentialGenerator):
    """Image (B, input_nc, H, W) in [-1, 1] -> (B, output_nc, H, W) in [-1, 1], H and W multiples of 4.

    model: 0 ReflectionPad(3) · 1 Conv 7x7 -> ngf · 2 IN · 3 ReLU · 4 Conv 3x3 s2 -> 2ngf · 5 IN · 6 ReLU ·
    7 Conv 3x3 s2 -> 4ngf · 8 IN · 9 ReLU · n_blocks ResnetBlocks · ConvTranspose 3x3 s2 -> 2ngf · IN · ReLU ·
    ConvTranspose -> ngf · IN · ReLU · ReflectionPad(3) · Conv 7x7 -> output_nc · Tanh. Every conv has a bias.
    """

    def __init__(self, *, ngf: int = 64, n_blocks: int = 9, input_nc: int = 3, output_nc: int = 3) -> None:
        super().__init__()
        if ngf < 1 or n_blocks < 1:
            raise ValueError(f"ngf and n_blocks must be at least 1, got {ngf} and {n_blocks}")
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7), InstanceNorm(ngf), nn.ReLU(inplace=True)]
        for mult in (1, 2):
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1), InstanceNorm(ngf * mult * 2),
                       nn.ReLU(inplace=True)]
        layers += [ResnetBlock(ngf * 4) for _ in range(n_blocks)]
        for mult in (4, 2):
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1),
                       InstanceNorm(ngf * mult // 2), nn.ReLU(inplace=True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)


def receptive_radius(n_blocks: int) -> int:
    """How far (in input pixels) a change can reach in the output, in either direction.

    Each layer adds its reach times the pixel size of its input: 7x7 conv 3; stride-2 convs 1 x 1 and 1 x 2;
    2 n_blocks 3x3 convs at 1/4 size, 4 each; the transposed convs (3x3, stride 2, padding 1) reach half an
    input pixel: 4 / 2 and 2 / 2; the last 7x7 conv 3. 12 + 8 n_blocks: 84 for the released 9 blocks.
    """
    return 3 + 1 + 2 + 8 * n_blocks + 2 + 1 + 3


# --- checkpoint inspection (shared with CUT, whose generator differs only in its resampling) ------------


def canonical(state_dict: Mapping[str, Tensor]) -> StateDict:
    """Prefixes stripped and legacy InstanceNorm statistics dropped (engine.checkpoints), and the dropout layout
    of `--model test` without --no_dropout (second conv at conv_block.6) renamed to ours: dropout is off at eval."""
    sd = canonicalize(dict(state_dict))
    moved = {k: k.replace(".conv_block.6.", ".conv_block.5.") for k in sd if ".conv_block.6." in k}
    if moved and not any(".conv_block.5." in k for k in sd):
        sd = {moved.get(k, k): v for k, v in sd.items()}
    return sd


def detect(state_dict: Mapping[str, Tensor]) -> bool:
    """True for a CycleGAN ResNet generator: a 7x7 first conv, strided convs (no anti-aliasing `filt` buffers)
    and ResnetBlocks from model.10."""
    first = state_dict.get("model.1.weight")
    return (first is not None and first.ndim == 4 and tuple(first.shape[2:]) == (7, 7)
            and "model.7.weight" in state_dict and "model.7.filt" not in state_dict
            and f"model.{FIRST_BLOCK}.conv_block.1.weight" in state_dict)


def count_blocks(state_dict: Mapping[str, Tensor], first: int) -> int:
    n = 0
    while f"model.{first + n}.conv_block.1.weight" in state_dict:
        n += 1
    return n


def parse_directions(value: Any) -> list[str]:
    """["AtoB"], ["BtoA"] or ["AtoB", "BtoA"] from a list or a comma-separated string."""
    items = [s.strip() for s in value.split(",")] if isinstance(value, str) else [str(s) for s in value]
    if not items or any(d not in DIRECTIONS for d in items) or len(set(items)) != len(items):
        raise ValueError(f"directions must be some of {', '.join(DIRECTIONS)} without repeats, got {value!r}")
    return sorted(items, key=DIRECTIONS.index)


def shape_hparams(state_dict: Mapping[str, Tensor], first_block: int, final_conv_offset: int) -> dict[str, int]:
    """ngf, n_blocks, input_nc, output_nc read from the first conv, the blocks and the last conv
    (model.{first_block + n_blocks + final_conv_offset})."""
    ngf, input_nc = (int(n) for n in state_dict["model.1.weight"].shape[:2])
    n_blocks = count_blocks(state_dict, first_block)
    last = state_dict.get(f"model.{first_block + n_blocks + final_conv_offset}.weight")
    if last is None or last.ndim != 4:
        raise ValueError(f"the generator's last conv (model.{first_block + n_blocks + final_conv_offset}) is missing")
    output_nc = int(last.shape[0])
    for name, nc in (("input", input_nc), ("output", output_nc)):
        if nc not in (1, 3):
            raise ValueError(f"the generator has {nc} {name} channels; photos need 1 (grey) or 3 (RGB)")
    return {"ngf": ngf, "n_blocks": n_blocks, "input_nc": input_nc, "output_nc": output_nc}


def check_options(facts: Mapping[str, Any], options: Mapping[str, Any]) -> None:
    """Options (official names or our own hparams) must agree with what the weights say."""
    for name in ("ngf", "n_blocks", "input_nc", "output_nc"):
        value = options.get(name)
        if value is None:
            continue
        try:
            given = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"option {name} {value!r} is not a whole number") from None
        if given != facts[name]:
            raise ValueError(f"options say {name} {value!r}, but the weights have {facts[name]}")


def config_hparams(*, ngf: int = 64, n_blocks: int = 9, input_nc: int = 3, output_nc: int = 3,
                   directions: Sequence[str] = ("AtoB",)) -> dict[str, Any]:
    """The JSON-able hparams of a model (defaults: the released resnet_9blocks generators)."""
    return {"ngf": int(ngf), "n_blocks": int(n_blocks), "input_nc": int(input_nc), "output_nc": int(output_nc),
            "directions": parse_directions(directions), "size_multiple": SIZE_MULTIPLE, "min_size": MIN_SIZE,
            # input pixels a change reaches in the output: tiles overlap by at least this
            "receptive_radius": receptive_radius(int(n_blocks))}


def resolve_hparams(state_dict: Mapping[str, Tensor], options: Mapping[str, Any]) -> dict[str, Any]:
    """hparams from tensor shapes; `options` give "directions" (engine.checkpoints sets them for G_A/G_B files,
    our files carry them) and are otherwise only checked against the weights."""
    sd = canonical(state_dict)
    if not detect(sd):
        raise ValueError("not a CycleGAN ResNet generator state dict (no model.1 7x7 conv / model.10 blocks)")
    facts = shape_hparams(sd, FIRST_BLOCK, 7)
    check_options(facts, options)
    hp = config_hparams(**facts, directions=options.get("directions") or ("AtoB",))
    with torch.device("meta"):
        check_layout(build(hp), sd, "CycleGAN generator")
    return hp


def size_rule(hparams: Mapping[str, Any]) -> str:
    return (f"any size (padded by reflection to multiples of {hparams['size_multiple']}, at least "
            f"{hparams['min_size']} px; large photos in overlapping tiles)")


def build(hparams: Mapping[str, Any]) -> ResnetGenerator:
    """A fresh generator (PyTorch's default init; trainers apply the official one), in eval mode."""
    return ResnetGenerator(ngf=int(hparams["ngf"]), n_blocks=int(hparams["n_blocks"]),
                           input_nc=int(hparams["input_nc"]), output_nc=int(hparams["output_nc"])).eval()


def load_generator(state_dict: Mapping[str, Tensor], hparams: Mapping[str, Any]) -> ResnetGenerator:
    """Strictly load one generator (eval mode, CPU)."""
    sd = canonical(state_dict)
    with torch.device("meta"):  # skip the random init that the load overwrites anyway
        net = build(hparams)
    check_layout(net, sd, "CycleGAN generator")
    net.to_empty(device="cpu")
    net.load_state_dict(sd, strict=True)
    return net.eval()


def generator_weights(state_dict: Mapping[str, Tensor], parts: Mapping[str, Mapping[str, Tensor]],
                      directions: Sequence[str]) -> dict[str, Mapping[str, Tensor]]:
    """The state dict of each direction (see the module docstring)."""
    if list(directions) == ["BtoA"]:
        return {"BtoA": parts.get(G_B_PART, state_dict)}
    found: dict[str, Mapping[str, Tensor]] = {"AtoB": state_dict}
    if "BtoA" in directions:
        if G_B_PART not in parts:
            raise ValueError("the model lists direction BtoA, but its B->A generator (G_B) is missing: for "
                             "<epoch>_net_G_A.pth keep <epoch>_net_G_B.pth beside it")
        found["BtoA"] = parts[G_B_PART]
    return found


def load(state_dict: Mapping[str, Tensor], hparams: Mapping[str, Any],
         parts: Mapping[str, Mapping[str, Tensor]] | None = None) -> dict[str, nn.Module]:
    """{direction: generator} for hparams["directions"]."""
    weights = generator_weights(state_dict, parts or {}, hparams["directions"])
    return {direction: load_generator(sd, hparams) for direction, sd in weights.items()}


def translation_capabilities(hparams: Hparams, radius: int) -> Capabilities:
    """A ResNet generator's (CycleGAN's, CUT's): padded to whole downsamplings; tiles overlap by `radius`."""
    return Capabilities(size_multiple=SIZE_MULTIPLE, min_size=MIN_SIZE, receptive_margin=radius,
                        directions=tuple(hparams["directions"]))


def capabilities(hparams: Hparams) -> Capabilities:
    return translation_capabilities(hparams, receptive_radius(int(hparams["n_blocks"])))


def _load_checkpoint(ckpt: Checkpoint, hparams: Hparams) -> Nets:
    return load(ckpt.state_dict, hparams, ckpt.parts)


ARCHITECTURE = ImageToImageArchitecture(
    method=METHOD, title="CycleGAN ResNet generator", license_note=LICENSE_NOTE, detect=detect,
    resolve_hparams=resolve_hparams, capabilities=capabilities, size_rule=size_rule, load=_load_checkpoint,
    onnx=first_generator_graph, fast=onnx_translators,
    options=RESNET_OPTIONS)
