"""HIT (Hierarchical image-to-image translation with nested distributions, Qiao et al.) and its backbone MUNIT
(Huang et al., ECCV 2018): one generator family, written from the documented official code (fixtures README, HIT
and MUNIT sections) in the official key layout; nothing is copied.

The generator (`AdaINGen`, MUNIT's module tree and key names):
- enc_content: c7s1-dim (reflect pad, conv, instance norm, ReLU), n_downsample x (conv 4x4 s2, IN, ReLU) doubling
  the width, then n_res residual blocks (conv3 IN ReLU, conv3 IN) at the content width.
- enc_style: c7s1-dim, down-samplings (conv 4x4 s2, ReLU, no norm; the first two double the width), global average
  pooling (`model.5`, no keys), a bare 1x1 conv to style_dim (`model.6`).
- dec: n_res residual blocks with AdaIN, then per down-sampling nearest x2 + conv 5x5 + MUNIT's LayerNorm + ReLU
  (halving the width), conv 7x7 + tanh.
- mlp: style (B, style_dim) -> mlp_dim -> ... -> 2 * (the AdaIN layers' channels), assigned in module order, mean
  first, then std, per layer. AdaIN = instance normalisation (biased variance, eps 1e-5) * std + mean; its
  running_mean/var buffers are kept for the key layout only.
- HIT adds `distributions.tree_info.<i>.{miu, log_var}` (style_dim each): one diagonal Gaussian per node of the
  hierarchy. Node index: leaves 0..L-1, then intermediate nodes, then roots; (level, label) -> label + the number of
  nodes of the deeper levels (level 2 = leaf, 1 = intermediate, 0 = root). A single root is fixed N(0, I).
  Sampling a node: s = exp(log_var / 2) * eps + miu, eps ~ N(0, I).

The tree (the official config key `tree`) lists, level by level from the leaves up, [number of parents, the
children count of each parent...]: imagenet [3, 4, 4, 4, 1, 3] is 3 parents of 4 leaves each, then 1 root of those 3.

Fully convolutional: sides must be multiples of 4 (2 ** n_downsample); the content and style encoders take any such
size. Images are in [-1, 1].

Two architectures: "hit" (gen_XXXXXXXX.pt = {'gen': ...}; its tree from -o tree, the run's config.yaml read by
engine.checkpoints, or the released tree with as many nodes) and "munit" ({'a', 'b'}: two generators, a two-domain
model). Both are served by engine.tasks.multi_domain: a node (HIT) or domain (MUNIT) as the target, eps ~ N(0, I)
per seed scaled by the temperature, or a reference photo's encoded style.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.api import Capabilities, Variation
from engine.architecture import Hparams, Nets, check_layout
from engine.tasks.multi_domain import MultiDomainArchitecture

if TYPE_CHECKING:
    from engine.checkpoints import Checkpoint

NORM_EPS = 1e-5
STYLE_DIM = 8
STYLE_DOWN = 4  # the style encoder's down-samplings in MUNIT and HIT
# the released HIT trees (config key `tree`) by dataset; matched by node count when a checkpoint comes without one
RELEASED_TREES: dict[str, tuple[int, ...]] = {
    "imagenet": (3, 4, 4, 4, 1, 3),
    "furnitures": (2, 3, 3, 1, 2),
    "celeba": (4, 3, 3, 3, 3, 2, 2, 2),
}


# --- the tree ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tree:
    """A hierarchy of nodes by index (leaves first, roots last) with each node's level and parent."""

    spec: tuple[int, ...]
    levels: tuple[int, ...]  # per level from the leaves up: how many nodes
    parent: tuple[int | None, ...]  # per node index: its parent's index, None for roots

    @property
    def size(self) -> int:
        return len(self.parent)

    @property
    def depth(self) -> int:
        """How many levels, leaves included (3 for every released tree)."""
        return len(self.levels)

    def level_of(self, node: int) -> int:
        """The official level number: 0 for the roots, depth - 1 for the leaves."""
        start = 0
        for up, count in enumerate(self.levels):
            if node < start + count:
                return self.depth - 1 - up
            start += count
        raise IndexError(node)

    def index(self, level: int, label: int) -> int:
        """(level, label) -> the node index: label + the number of nodes of the deeper levels."""
        up = self.depth - 1 - level
        if not 0 <= up < self.depth:
            raise ValueError(f"level {level} is not one of this tree's levels 0..{self.depth - 1}")
        if not 0 <= label < self.levels[up]:
            raise ValueError(f"level {level} has {self.levels[up]} nodes; no label {label}")
        return sum(self.levels[:up]) + label

    def label(self, node: int) -> int:
        return node - sum(self.levels[:self.depth - 1 - self.level_of(node)])

    def ancestors(self, node: int) -> list[int]:
        out = []
        while (up := self.parent[node]) is not None:
            out.append(up)
            node = up
        return out

    @property
    def roots(self) -> list[int]:
        return [i for i, p in enumerate(self.parent) if p is None]

    def names(self) -> list[str]:
        """Default node names by level: "leaf 3", "level 1 · 0", "root" (one root) or "root 1"."""
        out = []
        for node in range(self.size):
            level, label = self.level_of(node), self.label(node)
            if level == self.depth - 1:
                out.append(f"leaf {label}")
            elif level == 0:
                out.append("root" if len(self.roots) == 1 else f"root {label}")
            else:
                out.append(f"level {level} · {label}")
        return out


def parse_tree(spec: Sequence[int]) -> Tree:
    """The official `tree` list -> a Tree; ValueError (one line) when the list is not a whole hierarchy."""
    items = [int(v) for v in spec]
    if not items or any(v < 1 for v in items):
        raise ValueError(f"tree {list(spec)} must be whole numbers of at least 1")
    levels: list[int] = []
    parent: list[int | None] = []
    pos = 0
    below = None  # how many nodes the level under this one has
    while pos < len(items):
        parents = items[pos]
        children = items[pos + 1:pos + 1 + parents]
        if len(children) != parents:
            raise ValueError(f"tree {items}: {parents} parents need {parents} children counts")
        if below is not None and sum(children) != below:
            raise ValueError(f"tree {items}: the counts {children} do not add up to the {below} nodes below")
        if below is None:
            levels.append(sum(children))
            parent.extend([None] * sum(children))
        start = len(parent) - levels[-1]
        first = len(parent)
        for p, count in enumerate(children):
            for child in range(start, start + count):
                parent[child] = first + p
            start += count
        levels.append(parents)
        parent.extend([None] * parents)
        below = parents
        pos += 1 + parents
    return Tree(tuple(items), tuple(levels), tuple(parent))


def tree_from_size(nodes: int) -> tuple[str, Tree] | None:
    """The released tree with this many nodes (imagenet 16, furnitures 9, celeba 18), or None."""
    return next(((name, parse_tree(s)) for name, s in RELEASED_TREES.items() if parse_tree(s).size == nodes), None)


# --- layers --------------------------------------------------------------------------------------------------------


class LayerNorm(nn.Module):
    """MUNIT's LayerNorm: per sample, (x - mean) / (unbiased std + eps) over C x H x W, then a per-channel affine."""

    def __init__(self, channels: int, eps: float = NORM_EPS) -> None:
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.empty(channels).uniform_())
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        flat = x.reshape(x.size(0), -1)
        shape = (-1,) + (1,) * (x.dim() - 1)
        x = (x - flat.mean(1).view(shape)) / (flat.std(1).view(shape) + self.eps)
        return x * self.gamma.view(1, -1, 1, 1) + self.beta.view(1, -1, 1, 1)


class AdaIN(nn.Module):
    """Instance normalisation (biased variance) * weight + bias, the two set per sample from the MLP before each
    forward (`weight`, `bias` of shape (B * C,)); running_mean/var are only kept for the key layout."""

    def __init__(self, channels: int, eps: float = NORM_EPS) -> None:
        super().__init__()
        self.channels, self.eps = channels, eps
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))
        self.weight: Tensor | None = None
        self.bias: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        if self.weight is None or self.bias is None:
            raise RuntimeError("AdaIN parameters are not set: decode through the generator")
        b, c = x.shape[:2]
        y = F.instance_norm(x, eps=self.eps)
        return y * self.weight.view(b, c, 1, 1) + self.bias.view(b, c, 1, 1)


class ConvBlock(nn.Module):
    """Reflect (or zero) padding, conv, optional norm, activation: keys `conv`, `norm`."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, padding: int, *, norm: str = "none",
                 activ: str = "relu", pad_type: str = "reflect") -> None:
        super().__init__()
        self.padding = padding
        self.pad_mode = {"reflect": "reflect", "replicate": "replicate"}.get(pad_type, "constant")
        # norm before conv: the official key order (norm.running_mean before conv.weight)
        self.norm: nn.Module | None = {"in": lambda: nn.InstanceNorm2d(cout), "ln": lambda: LayerNorm(cout),
                                       "adain": lambda: AdaIN(cout), "none": lambda: None}[norm]()
        self.conv = nn.Conv2d(cin, cout, kernel, stride)
        self.activ = activ

    def forward(self, x: Tensor) -> Tensor:
        if self.padding:
            x = F.pad(x, [self.padding] * 4, mode=self.pad_mode)
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        if self.activ == "relu":
            return F.relu(x)
        if self.activ == "tanh":
            return torch.tanh(x)
        return x


class ResBlock(nn.Module):
    def __init__(self, dim: int, norm: str, pad_type: str) -> None:
        super().__init__()
        self.model = nn.Sequential(ConvBlock(dim, dim, 3, 1, 1, norm=norm, pad_type=pad_type),
                                   ConvBlock(dim, dim, 3, 1, 1, norm=norm, activ="none", pad_type=pad_type))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.model(x)


class ResBlocks(nn.Module):
    def __init__(self, n: int, dim: int, norm: str, pad_type: str) -> None:
        super().__init__()
        self.model = nn.Sequential(*(ResBlock(dim, norm, pad_type) for _ in range(n)))

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class Stack(nn.Module):
    """A `model` Sequential under its owner's name (the official `enc_style.model.N` layout)."""

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__()
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class LinearBlock(nn.Module):
    def __init__(self, cin: int, cout: int, activ: str) -> None:
        super().__init__()
        self.fc = nn.Linear(cin, cout)
        self.activ = activ

    def forward(self, x: Tensor) -> Tensor:
        x = self.fc(x)
        return F.relu(x) if self.activ == "relu" else x


class Node(nn.Module):
    """One node's Gaussian: miu and log_var (style_dim each)."""

    def __init__(self, style_dim: int, *, fixed: bool) -> None:
        super().__init__()
        self.miu = nn.Parameter(torch.zeros(style_dim), requires_grad=not fixed)
        self.log_var = nn.Parameter(torch.zeros(style_dim), requires_grad=not fixed)


class Distributions(nn.Module):
    """`tree_info.<i>` for every node of the tree; a single root stays fixed at N(0, I)."""

    def __init__(self, tree: Tree, style_dim: int) -> None:
        super().__init__()
        self.tree = tree
        single = len(tree.roots) == 1
        self.tree_info = nn.ModuleList(Node(style_dim, fixed=single and tree.parent[i] is None)
                                       for i in range(tree.size))

    def params(self) -> tuple[Tensor, Tensor]:
        """(miu, log_var), each (nodes, style_dim)."""
        return (torch.stack([n.miu for n in self.tree_info]),  # type: ignore[union-attr]
                torch.stack([n.log_var for n in self.tree_info]))  # type: ignore[union-attr]


# --- the generator -------------------------------------------------------------------------------------------------


class AdaINGen(nn.Module):
    """MUNIT's generator; with a tree, HIT's (distributions over the style space, one per node).

    encode(x) -> (content, style (B, style_dim, 1, 1)); decode(content, style) -> image in [-1, 1]."""

    def __init__(self, *, input_dim: int = 3, dim: int = 64, style_dim: int = STYLE_DIM, mlp_dim: int = 256,
                 n_downsample: int = 2, n_res: int = 3, n_mlp: int = 3, style_down: int = STYLE_DOWN,
                 pad_type: str = "reflect", tree: Sequence[int] | None = None) -> None:
        super().__init__()
        if min(dim, style_dim, mlp_dim, n_downsample, n_res) < 1 or n_mlp < 2 or style_down < 2:
            raise ValueError("dim, style_dim, mlp_dim, n_downsample and n_res must be at least 1, n_mlp and the "
                             "style encoder's down-samplings at least 2")
        self.n_downsample = n_downsample
        pad = pad_type
        style = [ConvBlock(input_dim, dim, 7, 1, 3, pad_type=pad)]
        width = dim
        for i in range(style_down):
            out = width * 2 if i < 2 else width
            style.append(ConvBlock(width, out, 4, 2, 1, pad_type=pad))
            width = out
        self.enc_style = Stack(*style, nn.AdaptiveAvgPool2d(1), nn.Conv2d(width, style_dim, 1))
        self.distributions = Distributions(parse_tree(tree), style_dim) if tree is not None else None
        content = [ConvBlock(input_dim, dim, 7, 1, 3, norm="in", pad_type=pad)]
        width = dim
        for _ in range(n_downsample):
            content.append(ConvBlock(width, width * 2, 4, 2, 1, norm="in", pad_type=pad))
            width *= 2
        content.append(ResBlocks(n_res, width, "in", pad))
        self.enc_content = Stack(*content)
        self.content_dim = width
        dec: list[nn.Module] = [ResBlocks(n_res, width, "adain", pad)]
        for _ in range(n_downsample):
            dec += [nn.Upsample(scale_factor=2), ConvBlock(width, width // 2, 5, 1, 2, norm="ln", pad_type=pad)]
            width //= 2
        dec.append(ConvBlock(width, input_dim, 7, 1, 3, activ="tanh", pad_type=pad))
        self.dec = Stack(*dec)
        n_adain = 2 * sum(m.channels for m in self.dec.modules() if isinstance(m, AdaIN))
        mlp = [LinearBlock(style_dim, mlp_dim, "relu")]
        mlp += [LinearBlock(mlp_dim, mlp_dim, "relu") for _ in range(n_mlp - 2)]
        mlp.append(LinearBlock(mlp_dim, n_adain, "none"))
        self.mlp = Stack(*mlp)
        self.style_dim = style_dim

    @property
    def tree(self) -> Tree | None:
        return self.distributions.tree if self.distributions is not None else None

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.enc_content(x), self.enc_style(x)

    def adain_params(self, style: Tensor) -> Tensor:
        return self.mlp(style.reshape(style.size(0), -1))

    def decode(self, content: Tensor, style: Tensor) -> Tensor:
        """content (B or 1, C, h, w) with styles (B, style_dim[, 1, 1]) -> (B, 3, 4h, 4w)."""
        params = self.adain_params(style)
        if content.size(0) != params.size(0):
            content = content.expand(params.size(0), -1, -1, -1)
        for m in self.dec.modules():
            if isinstance(m, AdaIN):
                c = m.channels
                m.bias = params[:, :c].reshape(-1)
                m.weight = params[:, c:2 * c].reshape(-1)
                params = params[:, 2 * c:]
        return self.dec(content)

    def forward(self, x: Tensor) -> Tensor:
        content, style = self.encode(x)
        return self.decode(content, style)

    def node_params(self, node: int) -> tuple[Tensor, Tensor]:
        if self.distributions is None:
            raise ValueError("this generator has no hierarchy of nodes (a MUNIT generator)")
        n = self.distributions.tree_info[node]
        return n.miu, n.log_var  # type: ignore[return-value]

    def sample(self, node: int, eps: Tensor) -> Tensor:
        """Styles of a node from eps (n, style_dim): exp(log_var / 2) * eps + miu."""
        miu, log_var = self.node_params(node)
        return torch.exp(log_var / 2) * eps + miu


def count_params(net: nn.Module) -> int:
    return sum(math.prod(p.shape) for p in net.parameters())


def _indices(state_dict: Mapping[str, Tensor], prefix: str) -> list[int]:
    return sorted({int(k[len(prefix):].split(".")[0]) for k in state_dict if k.startswith(prefix)})


def generator_hparams(state_dict: Mapping[str, Tensor]) -> dict[str, int]:
    """The generator's sizes read from its keys and shapes (pad_type is not in the weights: reflect, as released)."""
    try:
        first = state_dict["enc_content.model.0.conv.weight"]
        content = _indices(state_dict, "enc_content.model.")
        style = _indices(state_dict, "enc_style.model.")
        return {"input_dim": int(first.shape[1]), "dim": int(first.shape[0]),
                "style_dim": int(state_dict[f"enc_style.model.{style[-1]}.weight"].shape[0]),
                "mlp_dim": int(state_dict["mlp.model.0.fc.weight"].shape[0]),
                "n_downsample": len(content) - 2, "n_res": len(_indices(state_dict, "dec.model.0.model.")),
                "n_mlp": len(_indices(state_dict, "mlp.model.")), "style_down": len(style) - 2}
    except (KeyError, IndexError) as exc:
        raise ValueError(f"these are not MUNIT/HIT generator weights (no {exc})") from None


def node_count(state_dict: Mapping[str, Tensor]) -> int:
    return len(_indices(state_dict, "distributions.tree_info."))


# --- the architectures: detection, hparams, loading, the task's model ----------------------------------------------

HIT_METHOD = "hit"
MUNIT_METHOD = "munit"
HIT_LICENSE = ("official HIT code (ssqiao/HIT_PR): no licence file, all rights reserved by default; its backbone is "
               "MUNIT's (CC BY-NC-SA 4.0): check the authors' terms before using their trained models")
MUNIT_LICENSE = "official MUNIT models (NVlabs/MUNIT): CC BY-NC-SA 4.0, non-commercial, share-alike"
MUNIT_DOMAINS = ("A", "B")  # target domains: "B" encodes the photo with gen a and decodes with gen b (a2b)

_GEN_KEYS = ("enc_style.model.0.conv.weight", "enc_content.model.0.conv.weight",
             "dec.model.0.model.0.model.0.conv.weight", "mlp.model.0.fc.weight")
_DIS_KEYS = ("cnns.0.0.conv.weight", "dis.0.weight", "aux_h0.0.weight")  # HIT's discriminator (classifier heads)
_NODE_KEY = "distributions.tree_info.0.miu"


def detect_hit(state_dict: Mapping[str, Tensor]) -> bool:
    """HIT's generator (MUNIT's keys plus the nodes' Gaussians), or its discriminator, which alone is no model:
    resolve_hparams then says to import gen_XXXXXXXX.pt."""
    return (all(k in state_dict for k in _GEN_KEYS) and _NODE_KEY in state_dict) or \
        all(k in state_dict for k in _DIS_KEYS)


def detect_munit(state_dict: Mapping[str, Tensor]) -> bool:
    """MUNIT's generator: the same keys without nodes (a gen_XXXXXXXX.pt pair is read as gen a, with gen b a part)."""
    return all(k in state_dict for k in _GEN_KEYS) and _NODE_KEY not in state_dict


def tree_option(value: Any) -> list[int]:
    """The import option `tree`: the official list ([3,4,4,4,1,3], or 3,4,4,4,1,3) or a released tree's name."""
    if isinstance(value, str) and value.strip().lower() in RELEASED_TREES:
        return list(RELEASED_TREES[value.strip().lower()])
    items = value.strip().strip("[]").split(",") if isinstance(value, str) else value
    try:
        spec = [int(v) for v in items] if isinstance(items, (list, tuple)) else None
    except (TypeError, ValueError):
        spec = None
    if not spec:
        raise ValueError(f"must be the official tree list such as [3,4,4,4,1,3] or one of {', '.join(RELEASED_TREES)}")
    parse_tree(spec)  # its ValueError names what does not add up
    return spec


def node_names(value: Any) -> list[str]:
    """The import option `classes`: the nodes' names in node order (leaves, then up), separated by commas."""
    names = value.split(",") if isinstance(value, str) else value if isinstance(value, (list, tuple)) else None
    if not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise ValueError("must be node names separated by commas, leaves first, then each level up to the roots")
    names = [n.strip() for n in names]
    if len(set(names)) != len(names):
        raise ValueError(f"names the node {next(n for n in names if names.count(n) > 1)!r} twice")
    return names


def _sizes(state_dict: Mapping[str, Tensor]) -> dict[str, Any]:
    return {**generator_hparams(state_dict), "pad_type": "reflect"}


def _generator(hp: Hparams) -> AdaINGen:
    return AdaINGen(input_dim=int(hp["input_dim"]), dim=int(hp["dim"]), style_dim=int(hp["style_dim"]),
                    mlp_dim=int(hp["mlp_dim"]), n_downsample=int(hp["n_downsample"]), n_res=int(hp["n_res"]),
                    n_mlp=int(hp["n_mlp"]), style_down=int(hp["style_down"]), pad_type=str(hp["pad_type"]),
                    tree=hp.get("tree"))


def resolve_hit(state_dict: Mapping[str, Tensor], options: Mapping[str, Any]) -> dict[str, Any]:
    """hparams from the generator's shapes; the tree from the option `tree` (given, or read from the official
    config.yaml beside the checkpoint or in its outputs folder), else the released tree with as many nodes; node
    names from `classes` (or our files' `class_names`), else numbered by level."""
    if not all(k in state_dict for k in _GEN_KEYS):
        raise ValueError("these are HIT's discriminator weights, not its generator: import gen_XXXXXXXX.pt")
    hp = _sizes(state_dict)
    nodes = node_count(state_dict)
    spec = options.get("tree")
    if spec is not None:  # given on import, or our file's
        spec, source = tree_option(spec), options.get("tree_source") or "given on import"
    elif options.get("config_tree") is not None:  # the run's config.yaml (engine.checkpoints)
        spec, source = tree_option(options["config_tree"]), f"config {options.get('config', 'config.yaml')}"
    elif found := tree_from_size(nodes):
        spec, source = list(RELEASED_TREES[found[0]]), f"released {found[0]} tree (matched by its {nodes} nodes)"
    else:
        raise ValueError(f"the checkpoint has {nodes} nodes, which matches none of the released trees ("
                         + ", ".join(f"{n} {parse_tree(s).size}" for n, s in RELEASED_TREES.items())
                         + "): give its tree with -o tree=[...] (the config's `tree` list)")
    tree = parse_tree(spec)
    if tree.size != nodes:
        raise ValueError(f"the tree {spec} has {tree.size} nodes but the checkpoint has {nodes} "
                         f"(distributions.tree_info.0..{nodes - 1})")
    names = options.get("classes") or options.get("class_names")
    names = node_names(names) if names is not None else tree.names()
    if len(names) != nodes:
        raise ValueError(f"{len(names)} node names are given but the tree has {nodes} nodes")
    hp |= {"tree": list(spec), "tree_source": str(source), "class_names": names}
    with torch.device("meta"):
        check_layout(_generator(hp), state_dict, "HIT generator")
    return hp


def resolve_munit(state_dict: Mapping[str, Tensor], options: Mapping[str, Any]) -> dict[str, Any]:
    """hparams from generator a's shapes; a MUNIT model holds two generators (the file's 'a' and 'b')."""
    domains = options.get("domains") or options.get("class_names")
    if list(domains or ()) != list(MUNIT_DOMAINS):
        raise ValueError("a single MUNIT generator: import the gen_XXXXXXXX.pt file that holds both 'a' and 'b'")
    hp = _sizes(state_dict)
    with torch.device("meta"):
        check_layout(_generator(hp), state_dict, "MUNIT generator a")
    return hp | {"class_names": list(MUNIT_DOMAINS)}


def _strict(net: AdaINGen, state_dict: Mapping[str, Tensor], what: str) -> AdaINGen:
    check_layout(net, state_dict, what)
    net.to_empty(device="cpu")
    net.load_state_dict(dict(state_dict), strict=True)
    return net.eval()


def load_hit(ckpt: Checkpoint, hp: Hparams) -> Nets:
    """{"gen"}: strictly loaded, eval mode, CPU."""
    with torch.device("meta"):
        gen = _generator(hp)
    return {"gen": _strict(gen, ckpt.state_dict, "HIT generator")}


def load_munit(ckpt: Checkpoint, hp: Hparams) -> Nets:
    """{"a", "b"}: the two generators, strictly loaded, eval mode, CPU."""
    if "b" not in ckpt.parts:
        raise ValueError("MUNIT's generator b is missing: import the gen_XXXXXXXX.pt file that holds 'a' and 'b'")
    with torch.device("meta"):
        a, b = _generator(hp), _generator(hp)
    return {"a": _strict(a, ckpt.state_dict, "MUNIT generator a"),
            "b": _strict(b, ckpt.parts["b"], "MUNIT generator b")}


def capabilities(hp: Hparams) -> Capabilities:
    """Sides a multiple of 2 ** n_downsample (4 as released: photos are padded up to it); at least 2 ** style_down
    px (16 as released: the style encoder halves the photo that often, each time a reflect-padded conv)."""
    return Capabilities(size_multiple=2 ** int(hp["n_downsample"]), min_size=2 ** int(hp["style_down"]),
                        style_seed=True, style_image=True, domains=tuple(hp["class_names"]))


def size_rule(hp: Hparams) -> str:
    caps = capabilities(hp)
    what = (f"{len(hp['class_names'])} nodes of the tree {hp['tree']}" if hp.get("tree")
            else "target domains A and B")
    return (f"any size from {caps.min_size} px a side (padded to a multiple of {caps.size_multiple}; trained at "
            f"128-256 px); {what}")


def eps(variation: Variation, style_dim: int) -> Tensor:
    """The variation's random draw (style_dim,), on the CPU so every device gets the same: seed's N(0, I) draw
    interpolated towards seed_b's by seed_mix, scaled by the temperature."""
    e = _draw(variation.seed, style_dim)
    if variation.seed_b is not None and variation.seed_mix:
        e = (1 - variation.seed_mix) * e + variation.seed_mix * _draw(variation.seed_b, style_dim)
    return e * float(variation.temperature)


def _draw(seed: int, n: int) -> Tensor:
    return torch.randn(n, generator=torch.Generator().manual_seed(int(seed)))


def _plain(variation: Variation, title: str) -> None:
    """Refuse the knobs of other MultiDomain models (DeepI2I's injection weight and chunked draw)."""
    if variation.weight != 1 or variation.chunk_seeds:
        raise ValueError(f"{title} has no injection weight or chunked draw: leave weight at 1 and chunk seeds empty")


class HITVarier:
    """The task's model (engine.tasks.multi_domain): encode = the content code; generate = decode with a style drawn
    from the target node's Gaussian (or the means/samples of two nodes interpolated, or a reference's style)."""

    def __init__(self, nets: Nets, hp: Hparams) -> None:
        self.gen = cast(AdaINGen, nets["gen"])

    def encode(self, x: Tensor) -> Tensor:
        return self.gen.enc_content(x)

    def encode_style(self, x: Tensor) -> Tensor:
        return self.gen.enc_style(x)

    def style(self, variation: Variation, reference: Tensor | None = None) -> Tensor:
        """The style (style_dim,) a variation decodes with."""
        if reference is not None:
            return reference.reshape(-1)
        e = eps(variation, self.gen.style_dim).to(self.gen.mlp.model[0].fc.weight)
        s = self.gen.sample(variation.target, e)
        if variation.target_b is not None and variation.mix:
            s = (1 - variation.mix) * s + variation.mix * self.gen.sample(variation.target_b, e)
        return s

    def generate(self, encoding: Tensor, variations: Sequence[Variation], style: Tensor | None = None) -> Tensor:
        for v in variations:
            _plain(v, "HIT")
        return self.gen.decode(encoding, torch.stack([self.style(v, style) for v in variations]))


class MUNITVarier:
    """MUNIT as the task drives it: target "B" takes the photo's content from generator a and decodes it with
    generator b (the official a2b), "A" the other way; the style is N(0, I) * temperature from the seed, or the
    reference's style encoded by the target's generator."""

    def __init__(self, nets: Nets, hp: Hparams) -> None:
        self.gens = (cast(AdaINGen, nets["a"]), cast(AdaINGen, nets["b"]))

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.gens[0].enc_content(x), self.gens[1].enc_content(x)

    def encode_style(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.gens[0].enc_style(x), self.gens[1].enc_style(x)

    def generate(self, encoding: tuple[Tensor, Tensor], variations: Sequence[Variation],
                 style: tuple[Tensor, Tensor] | None = None) -> Tensor:
        out = []
        for v in variations:
            _plain(v, "MUNIT")
            if v.target_b not in (None, v.target) and v.mix:
                raise ValueError("MUNIT's two domains have separate decoders: they cannot be mixed")
            gen = self.gens[v.target]
            s = style[v.target] if style is not None else eps(v, gen.style_dim).to(gen.mlp.model[0].fc.weight)
            out.append(gen.decode(encoding[1 - v.target], s.reshape(1, -1)))
        return torch.cat(out)


def _hit_varier(nets: Nets, hp: Hparams) -> HITVarier:
    return HITVarier(nets, hp)


def _munit_varier(nets: Nets, hp: Hparams) -> MUNITVarier:
    return MUNITVarier(nets, hp)


ARCHITECTURE = MultiDomainArchitecture(
    method=HIT_METHOD, title="HIT", license_note=HIT_LICENSE, detect=detect_hit, resolve_hparams=resolve_hit,
    capabilities=capabilities, size_rule=size_rule, load=load_hit, varier=_hit_varier,
    options={"tree": tree_option, "classes": node_names})

MUNIT_ARCHITECTURE = MultiDomainArchitecture(
    method=MUNIT_METHOD, title="MUNIT", license_note=MUNIT_LICENSE, detect=detect_munit,
    resolve_hparams=resolve_munit, capabilities=capabilities, size_rule=size_rule, load=load_munit,
    varier=_munit_varier)
