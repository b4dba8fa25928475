"""DeepI2I (Wang et al., NeurIPS 2020), the BigGAN variant: a photo into any of many target classes, written from the
documented official code (fixtures README, DeepI2I section) in the official key layout; nothing is copied.

Networks (BigGAN at 128x128; ch = G_ch = D_ch, 96 in the released config):
- E1, the encoder, is the BigGAN projection discriminator (`Discriminator`): DBlocks 3 -> ch -> 2ch -> 4ch -> 8ch ->
  16ch -> 16ch, average-pool down-sampling in the first five, self-attention after block 0 (at 64x64), block 0 without
  pre-activation. `features(x)` gives the block outputs at widths 32, 16, 8, 4 ({32: 2ch, 16: 4ch, 8: 8ch, 4: 16ch}).
  The 4x4 entry is the LAST block's output after the encoder's final in-place ReLU (the official forward ReLUs that
  tensor in place before the head; ignoring this moves the fixture output by 0.028). linear/embed are unused by E1.
- A1, the adaptor (`Adaptor`): four pre-activated DBlocks without down-sampling, one per scale (2ch->4ch at 32,
  4ch->8ch at 16, 8ch->16ch at 8, 16ch->16ch at 4 with an identity shortcut), plus unused linear/embed heads kept for
  the key layout.
- G, the BigGAN generator (`Generator`): a shared class embedding (no SN), hierarchical z in 6 chunks (chunk 0 into the
  linear layer, chunk i+1 with the class embedding into the conditional BNs of stage i), five up-sampling GBlocks,
  attention after the 64x64 stage, output BN -> ReLU -> conv -> tanh. Feature injection: the 4x4 map after `linear`
  gets + w*A1[4]; after each module of the stages whose output width is 8, 16 or 32 the map gets + w*A1[width], with
  w = E1_fea_w = 0.1 at every scale (the paper's w_l).
- Spectral norm (`SNConv2d`, `SNLinear`, `SNEmbedding`) in BigGAN's layout: buffers u0 (1 x out) and sv0 (1). Eval:
  one power iteration from the stored u0 (not updated), the weight divided by that fresh sigma (sv0 is only a log).
  Train: the same iteration, then u0 and sv0 are updated in place, as BigGAN trains.

Inference (the official test): E1, A1, G in eval; per target class c: G(z, shared(c), A1(E1(x))), z ~ N(0, I) (no
truncation), x the photo's centre square resized to 128 in [-1, 1]. The official test saves with a per-image min-max
stretch (`normalize_minmax`); ours maps (x + 1) / 2 and clips (`normalize_clip`), the same mapping for every image.

App extensions (no official knob): class-embedding interpolation (`class_embedding`), seed interpolation and
per-chunk seeds for the hierarchical z (`noise`), and a scale of the injection weights.

Files: the official training leaves an experiment folder of plain state dicts G.pth, D.pth, E1.pth, A1.pth (and
optimiser states and a state_dict.pth of Python objects, never read); engine.checkpoints reads the folder into one
Checkpoint: G as the main state dict, E1, A1 and (when present) D as parts. Ours: one safetensors file with the same
parts (`E1/...`, `A1/...`, `D/...`) and the class names in its metadata.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.api import Capabilities, Variation
from engine.architecture import Hparams, Nets, check_layout, flag, whole
from engine.tasks.multi_domain import MultiDomainArchitecture

if TYPE_CHECKING:
    from engine.checkpoints import Checkpoint
    from engine.inference import OnnxGraph

RESOLUTION = 128
DIM_Z = 120
SHARED_DIM = 128
N_CLASSES = 1000
ATTENTION = 64  # the resolution the attention layers sit at (G_attn = D_attn = '64')
NUM_CHUNKS = 6  # hierarchical z: one chunk for the linear layer, one per generator stage
SN_EPS = 1e-6
BN_EPS = 1e-5
BOTTOM = 4  # the side of the first feature map of G
WIDTHS = (32, 16, 8, 4)  # the feature maps E1 hands to A1 and A1 injects into G, by side in px
E1_FEA_W = {4: 0.1, 8: 0.1, 16: 0.1, 32: 0.1}  # the official injection weights (paper: w_l = 0.1)
SCRATCH_FEA_W = {4: 1.0, 8: 1.0, 16: 1.0, 32: 0.1}  # the official code's with --training_scratch
N_TARGET_CATE = 149  # the official default number of target classes (the animals model)

# BigGAN's 128x128 channel multipliers of ch, per block
G_IN = (16, 16, 8, 4, 2)
G_OUT = (16, 8, 4, 2, 1)
D_IN = (0, 1, 2, 4, 8, 16)  # 0: the 3 RGB channels
D_OUT = (1, 2, 4, 8, 16, 16)
D_DOWN = (True, True, True, True, True, False)
A_IN = (2, 4, 8, 16)
A_OUT = (4, 8, 16, 16)


# --- spectral norm, BigGAN layout ------------------------------------------------------------------------------


class _SN:
    """Mixin: the weight divided by its largest singular value, estimated by one power iteration from u0.
    In eval mode without autograd the result is kept until the weight or u0 change (inference reruns G per
    variation; the iteration would otherwise be redone for every layer each time)."""

    eps: float
    _kept: tuple[tuple[int, ...], Tensor] | None

    def _sn_init(self, out_features: int, eps: float) -> None:
        self.eps = eps
        self._kept = None
        self.register_buffer("u0", torch.randn(1, out_features))  # type: ignore[attr-defined]
        self.register_buffer("sv0", torch.ones(1))  # type: ignore[attr-defined]

    def sn_weight(self) -> Tensor:
        weight: Tensor = self.weight  # type: ignore[attr-defined]
        if self.training or torch.is_grad_enabled() or weight.is_inference():  # type: ignore[attr-defined]
            return self._normalised(weight)
        versions = (weight._version, weight.data_ptr(), self.u0._version, self.u0.data_ptr())  # type: ignore[attr-defined]
        if self._kept is None or self._kept[0] != versions:
            self._kept = (versions, self._normalised(weight))
        return self._kept[1]

    def _normalised(self, weight: Tensor) -> Tensor:
        w_mat = weight.reshape(weight.shape[0], -1)
        with torch.no_grad():
            v = F.normalize(torch.matmul(self.u0, w_mat), eps=self.eps)  # type: ignore[attr-defined]
            u = F.normalize(torch.matmul(v, w_mat.t()), eps=self.eps)
        sigma = torch.squeeze(torch.matmul(torch.matmul(v, w_mat.t()), u.t()))
        if self.training:  # type: ignore[attr-defined]
            with torch.no_grad():
                self.u0.copy_(u)  # type: ignore[attr-defined]
                self.sv0.copy_(sigma.detach().reshape(1))  # type: ignore[attr-defined]
        return weight / sigma


class SNConv2d(_SN, nn.Conv2d):
    """Keys: weight, bias, u0, sv0."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, *, padding: int = 1,
                 bias: bool = True, eps: float = SN_EPS) -> None:
        nn.Conv2d.__init__(self, in_channels, out_channels, kernel_size, padding=padding, bias=bias)
        self._sn_init(out_channels, eps)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.sn_weight(), self.bias, self.stride, self.padding)


class SNLinear(_SN, nn.Linear):
    def __init__(self, in_features: int, out_features: int, *, bias: bool = True, eps: float = SN_EPS) -> None:
        nn.Linear.__init__(self, in_features, out_features, bias=bias)
        self._sn_init(out_features, eps)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.sn_weight(), self.bias)


class SNEmbedding(_SN, nn.Embedding):
    def __init__(self, num_embeddings: int, embedding_dim: int, *, eps: float = SN_EPS) -> None:
        nn.Embedding.__init__(self, num_embeddings, embedding_dim)
        self._sn_init(num_embeddings, eps)

    def forward(self, x: Tensor) -> Tensor:
        return F.embedding(x, self.sn_weight())


# --- blocks ------------------------------------------------------------------------------------------------------


class ConditionalBN(nn.Module):
    """BN whose gain and bias come from the conditioning vector y: BN(x) * (1 + gain(y)) + bias(y).
    Eval uses stored_mean / stored_var; train the batch's statistics (and updates the stored ones, momentum 0.1)."""

    def __init__(self, channels: int, cond_dim: int, *, eps: float = BN_EPS) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("stored_mean", torch.zeros(channels))
        self.register_buffer("stored_var", torch.ones(channels))
        self.gain = SNLinear(cond_dim, channels, bias=False)
        self.bias = SNLinear(cond_dim, channels, bias=False)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        gain = (1 + self.gain(y)).view(y.size(0), -1, 1, 1)
        bias = self.bias(y).view(y.size(0), -1, 1, 1)
        out = F.batch_norm(x, self.stored_mean, self.stored_var, None, None, self.training, 0.1, self.eps)
        return out * gain + bias


class OutputBN(nn.Module):
    """BigGAN's plain BN: keys gain, bias, stored_mean, stored_var."""

    def __init__(self, channels: int, *, eps: float = BN_EPS) -> None:
        super().__init__()
        self.eps = eps
        self.gain = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("stored_mean", torch.zeros(channels))
        self.register_buffer("stored_var", torch.ones(channels))

    def forward(self, x: Tensor) -> Tensor:
        return F.batch_norm(x, self.stored_mean, self.stored_var, self.gain, self.bias, self.training, 0.1, self.eps)


class Attention(nn.Module):
    """BigGAN's self-attention: theta, phi (ch/8), g (ch/2), o, all bias-free 1x1 SN convs; out = gamma * o + x."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.ch = ch
        self.theta = SNConv2d(ch, ch // 8, 1, padding=0, bias=False)
        self.phi = SNConv2d(ch, ch // 8, 1, padding=0, bias=False)
        self.g = SNConv2d(ch, ch // 2, 1, padding=0, bias=False)
        self.o = SNConv2d(ch // 2, ch, 1, padding=0, bias=False)
        self.gamma = nn.Parameter(torch.tensor(0.0))

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        n, _, h, w = x.shape
        theta = self.theta(x).view(n, self.ch // 8, h * w)
        phi = F.max_pool2d(self.phi(x), [2, 2]).view(n, self.ch // 8, h * w // 4)
        g = F.max_pool2d(self.g(x), [2, 2]).view(n, self.ch // 2, h * w // 4)
        beta = F.softmax(torch.bmm(theta.transpose(1, 2), phi), -1)
        o = self.o(torch.bmm(g, beta.transpose(1, 2)).view(n, self.ch // 2, h, w))
        return self.gamma * o + x


class GBlock(nn.Module):
    """relu(cbn1) -> nearest x2 -> conv1 -> relu(cbn2) -> conv2, plus a 1x1 conv shortcut of the up-sampled input."""

    def __init__(self, in_ch: int, out_ch: int, cond_dim: int) -> None:
        super().__init__()
        self.conv1 = SNConv2d(in_ch, out_ch)
        self.conv2 = SNConv2d(out_ch, out_ch)
        self.conv_sc = SNConv2d(in_ch, out_ch, 1, padding=0)
        self.bn1 = ConditionalBN(in_ch, cond_dim)
        self.bn2 = ConditionalBN(out_ch, cond_dim)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        h = F.relu(self.bn1(x, y))
        h = F.interpolate(h, scale_factor=2)
        x = F.interpolate(x, scale_factor=2)
        h = self.conv1(h)
        h = self.conv2(F.relu(self.bn2(h, y)))
        return h + self.conv_sc(x)


class DBlock(nn.Module):
    """conv1 -> relu -> conv2 (wide: both to out_ch), optional pre-activation (out of place, so the shortcut sees
    the raw input), optional 2x2 average-pool; 1x1 conv shortcut when the width or size changes."""

    def __init__(self, in_ch: int, out_ch: int, *, preactivation: bool, downsample: bool) -> None:
        super().__init__()
        self.preactivation = preactivation
        self.downsample = downsample
        self.conv1 = SNConv2d(in_ch, out_ch)
        self.conv2 = SNConv2d(out_ch, out_ch)
        self.conv_sc = SNConv2d(in_ch, out_ch, 1, padding=0) if in_ch != out_ch or downsample else None

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(x) if self.preactivation else x
        h = self.conv2(F.relu(self.conv1(h)))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        return h + self._shortcut(x)

    def _shortcut(self, x: Tensor) -> Tensor:
        if self.preactivation:
            if self.conv_sc is not None:
                x = self.conv_sc(x)
            return F.avg_pool2d(x, 2) if self.downsample else x
        if self.downsample:
            x = F.avg_pool2d(x, 2)
        return self.conv_sc(x) if self.conv_sc is not None else x


def _check(ch: int, resolution: int, attention: int) -> None:
    if resolution != RESOLUTION:
        raise ValueError(f"DeepI2I works at {RESOLUTION} px (its adaptor is built for the 32/16/8/4 maps), "
                         f"not {resolution}")
    if ch < 1 or ch % 8:
        raise ValueError(f"the channel width ch must be a positive multiple of 8 (attention uses ch/8), got {ch}")
    if attention and attention not in (8, 16, 32, 64, 128):
        raise ValueError(f"attention must be 0 (none) or a resolution of 8..128, got {attention}")


# --- the networks --------------------------------------------------------------------------------------------------


class Generator(nn.Module):
    """BigGAN's generator with DeepI2I's feature injection. forward(z, embedding, features, weights): z (N, dim_z),
    embedding (N, shared_dim) = `shared(classes)` or a mix of rows, features A1's {32, 16, 8, 4} maps (batch N or 1),
    weights {width: w} (a float or an (N, 1, 1, 1) tensor each; default E1_FEA_W). Output (N, 3, 128, 128) in
    [-1, 1]."""

    def __init__(self, ch: int, dim_z: int = DIM_Z, shared_dim: int = SHARED_DIM, n_classes: int = N_CLASSES,
                 attention: int = ATTENTION, resolution: int = RESOLUTION) -> None:
        super().__init__()
        _check(ch, resolution, attention)
        if dim_z % NUM_CHUNKS:
            raise ValueError(f"dim_z must split into {NUM_CHUNKS} equal chunks, got {dim_z}")
        self.ch, self.dim_z, self.shared_dim, self.n_classes = ch, dim_z, shared_dim, n_classes
        self.attention, self.resolution = attention, resolution
        self.chunk = dim_z // NUM_CHUNKS
        cond = shared_dim + self.chunk
        self.shared = nn.Embedding(n_classes, shared_dim)
        self.linear = SNLinear(self.chunk, G_IN[0] * ch * BOTTOM * BOTTOM)
        self.blocks = nn.ModuleList()
        for i, (cin, cout) in enumerate(zip(G_IN, G_OUT)):
            stage: list[nn.Module] = [GBlock(cin * ch, cout * ch, cond)]
            if BOTTOM * 2 ** (i + 1) == attention:
                stage.append(Attention(cout * ch))
            self.blocks.append(nn.ModuleList(stage))
        self.output_layer = nn.Sequential(OutputBN(G_OUT[-1] * ch), nn.ReLU(), SNConv2d(G_OUT[-1] * ch, 3))

    def forward(self, z: Tensor, embedding: Tensor, features: Mapping[int, Tensor] | None = None,
                weights: Mapping[int, Any] | None = None) -> Tensor:
        weights = E1_FEA_W if weights is None else weights
        zs = torch.split(z, self.chunk, 1)
        ys = [torch.cat([embedding, part], 1) for part in zs[1:]]
        h = self.linear(zs[0]).view(z.size(0), -1, BOTTOM, BOTTOM)
        if features is not None:
            h = h + weights[BOTTOM] * features[BOTTOM]
        for blocks, y in zip(self.blocks, ys):
            for block in blocks:
                h = block(h, y)
                side = int(h.shape[-1])  # a plain key also when traced for ONNX
                if features is not None and side in weights and side != BOTTOM:
                    h = h + weights[side] * features[side]
        return torch.tanh(self.output_layer(h))


class Discriminator(nn.Module):
    """BigGAN's projection discriminator, DeepI2I's D and (the same weights' layout) its encoder E1.
    forward(x, y) -> (N, 1) logits; features(x) -> {32, 16, 8, 4} maps for A1."""

    def __init__(self, ch: int, n_classes: int = N_CLASSES, attention: int = ATTENTION,
                 resolution: int = RESOLUTION) -> None:
        super().__init__()
        _check(ch, resolution, attention)
        self.ch, self.n_classes, self.attention, self.resolution = ch, n_classes, attention, resolution
        self.blocks = nn.ModuleList()
        side = resolution
        for i, (cin, cout, down) in enumerate(zip(D_IN, D_OUT, D_DOWN)):
            side //= 2 if down else 1
            stage: list[nn.Module] = [DBlock(cin * ch or 3, cout * ch, preactivation=i > 0, downsample=down)]
            if side == attention:
                stage.append(Attention(cout * ch))
            self.blocks.append(nn.ModuleList(stage))
        self.linear = SNLinear(D_OUT[-1] * ch, 1)
        self.embed = SNEmbedding(n_classes, D_OUT[-1] * ch)

    def _trunk(self, x: Tensor) -> tuple[Tensor, dict[int, Tensor]]:
        maps: dict[int, Tensor] = {}
        h = x
        for blocks in self.blocks:
            for block in blocks:
                h = block(h)
            if (side := int(h.shape[-1])) in WIDTHS:  # int(): a plain key also when traced for ONNX
                maps[side] = h  # at 4 px the last block's output wins
        return h, maps

    def features(self, x: Tensor) -> dict[int, Tensor]:
        """E1: the block outputs at 32, 16, 8 and 4 px; the 4 px one ReLU-ed, as the official in-place ReLU of
        the head leaves it."""
        _, maps = self._trunk(x)
        maps[BOTTOM] = F.relu(maps[BOTTOM])
        return maps

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h, _ = self._trunk(x)
        h = torch.sum(F.relu(h), [2, 3])
        out = self.linear(h)
        if y is not None:
            out = out + torch.sum(self.embed(y) * h, 1, keepdim=True)
        return out


class Adaptor(nn.Module):
    """A1: one pre-activated DBlock per scale, without down-sampling; forward({32, 16, 8, 4} maps) -> the same
    widths with 4ch, 8ch, 16ch, 16ch channels. `linear` and `embed` are unused heads kept for the key layout."""

    def __init__(self, ch: int, n_classes: int = N_CLASSES) -> None:
        super().__init__()
        self.ch, self.n_classes = ch, n_classes
        self.blocks = nn.ModuleList(
            nn.ModuleList([DBlock(cin * ch, cout * ch, preactivation=True, downsample=False)])
            for cin, cout in zip(A_IN, A_OUT))
        self.linear = SNLinear(A_OUT[-1] * ch, 1)
        self.embed = SNEmbedding(n_classes, A_OUT[-1] * ch)

    def forward(self, feats: Mapping[int, Tensor]) -> dict[int, Tensor]:
        return {width: blocks[0](feats[width]) for width, blocks in zip(WIDTHS, self.blocks)}


def translate(G: Generator, E1: Discriminator, A1: Adaptor, x: Tensor, embedding: Tensor, z: Tensor,
              weights: Mapping[int, Any] | None = None) -> Tensor:
    """The official translation G(z, embedding, A1(E1(x))): x (N or 1, 3, 128, 128) in [-1, 1] -> [-1, 1]."""
    return G(z, embedding, A1(E1.features(x)), weights)


# --- helpers: class embeddings, noise, normalisation, initialisation ----------------------------------------------


def class_embedding(G: Generator, target: Tensor, target_b: Tensor | None = None,
                    mix: Tensor | float = 0.0) -> Tensor:
    """shared(target), or the interpolation (1 - mix) shared(target) + mix shared(target_b) (BigGAN-style)."""
    a = G.shared(target)
    if target_b is None:
        return a
    if isinstance(mix, Tensor):
        mix = mix.reshape(-1, 1).to(a)
    return (1 - mix) * a + mix * G.shared(target_b)


def draw(seed: int, dim_z: int = DIM_Z) -> Tensor:
    """z ~ N(0, I) (dim_z,) from a seed, on the CPU so every device gets the same draw."""
    return torch.randn(dim_z, generator=torch.Generator().manual_seed(int(seed)))


def noise(seed: int, dim_z: int = DIM_Z, *, seed_b: int | None = None, seed_mix: float = 0.0,
          chunk_seeds: Sequence[int | None] = ()) -> Tensor:
    """A hierarchical z (dim_z,): seed's draw, linearly interpolated towards seed_b's by seed_mix (BigGAN's
    interpolation), then chunk i replaced by chunk i of chunk_seeds[i]'s draw where that is not None (so setting every
    chunk to s gives seed s's draw). Chunk 0 feeds the linear layer (the coarse layout), chunk i the stage i - 1."""
    if len(chunk_seeds) > NUM_CHUNKS:
        raise ValueError(f"z has {NUM_CHUNKS} chunks, got {len(chunk_seeds)} chunk seeds")
    z = draw(seed, dim_z)
    if seed_b is not None and seed_mix:
        z = (1 - seed_mix) * z + seed_mix * draw(seed_b, dim_z)
    size = dim_z // NUM_CHUNKS
    for i, s in enumerate(chunk_seeds):
        if s is not None:
            z[i * size:(i + 1) * size] = draw(s, dim_z)[i * size:(i + 1) * size]
    return z


def normalize_clip(y: Tensor) -> Tensor:
    """[-1, 1] -> [0, 1] by (y + 1) / 2, clipped: one mapping for every image."""
    return ((y + 1) / 2).clamp(0, 1)


def normalize_minmax(y: Tensor) -> Tensor:
    """The official test's save_image(normalize=True): each image stretched from its own min..max to 0..1."""
    low = y.amin(dim=(1, 2, 3), keepdim=True)
    high = y.amax(dim=(1, 2, 3), keepdim=True)
    return (y - low) / (high - low).clamp(min=1e-5)


def init_ortho(net: nn.Module) -> None:
    """BigGAN's 'ortho' initialisation: orthogonal weights in every conv, linear and embedding layer."""
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear, nn.Embedding)):
            nn.init.orthogonal_(module.weight)


def count_params(net: nn.Module) -> int:
    return sum(math.prod(p.shape) for p in net.parameters())


# --- the architecture: detection, hparams, loading, the task's model ------------------------------------------------

METHOD = "deepi2i"
LICENSE_NOTE = ("official DeepI2I code: no licence file (built on BigGAN-PyTorch, MIT); the authors' trained models "
                "(animals, NABirds, UECFOOD-256) start from BigGAN's ImageNet weights: check their terms before use")
MIN_SIDE = 16  # photos smaller than this hold too little to crop and upscale to 128 px


_G_KEYS = ("shared.weight", "linear.u0", "blocks.0.0.bn1.gain.u0", "output_layer.0.stored_mean", "output_layer.2.weight")
_D_KEYS = ("blocks.0.0.conv1.u0", "linear.u0", "embed.u0")  # D, E1 and A1: BigGAN discriminator-style nets


def detect(state_dict: Mapping[str, Tensor]) -> bool:
    """True for DeepI2I's nets: the generator (shared class embedding, SN linear, conditional BNs), and the
    encoder/discriminator and adaptor (SN DBlocks with BigGAN's u0 buffers, linear and embed heads), which alone are
    no model: resolve_hparams then says to import the experiment folder."""
    return all(k in state_dict for k in _G_KEYS) or all(k in state_dict for k in _D_KEYS)


def class_names(value: Any) -> list[str]:
    """The import option `classes`: names separated by commas, a list of names, or a class file (.pickle: the
    official class_to_index dict, read without unpickling; .txt: one name per line)."""
    from engine.checkpoints import CheckpointError, read_class_names  # the one place foreign files are read

    if isinstance(value, str) and value.strip().lower().endswith((".pickle", ".pkl", ".txt")):
        try:
            return read_class_names(value.strip())
        except CheckpointError as exc:
            raise ValueError(f"must name a readable class file ({exc})") from None
    names = value.split(",") if isinstance(value, str) else value if isinstance(value, (list, tuple)) else None
    if not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise ValueError("must be class names separated by commas (lion,tiger,...) or a .pickle/.txt file of them")
    names = [n.strip() for n in names]
    if len(set(names)) != len(names):
        raise ValueError(f"names the class {next(n for n in names if names.count(n) > 1)!r} twice")
    return names


def resolve_hparams(state_dict: Mapping[str, Tensor], options: Mapping[str, Any]) -> dict[str, Any]:
    """hparams from G's shapes; options: `classes` (names, or a class file), `N_target_cate` (how many of the
    embedding's rows are target classes: the number of names given, else the official 149 capped at n_classes),
    `training_scratch` (the official flag: a model trained from scratch injects with weights 1, 1, 1, 0.1);
    `class_names`/`n_target`/`fea_w` are ours (our files' metadata) and hints from an experiment folder's class
    file."""
    if not all(k in state_dict for k in _G_KEYS):
        raise ValueError("these are DeepI2I's encoder, adaptor or discriminator weights, not its generator: import "
                         "the experiment folder (G.pth, E1.pth, A1.pth)")
    n_classes, shared_dim = (int(v) for v in state_dict["shared.weight"].shape)
    chunk = int(state_dict["linear.weight"].shape[1])
    ch = int(state_dict["output_layer.2.weight"].shape[1]) // G_OUT[-1]
    cond = int(state_dict["blocks.0.0.bn1.gain.weight"].shape[1])
    if cond != shared_dim + chunk:
        raise ValueError(f"the conditional BNs take {cond} values, not shared_dim {shared_dim} + a z chunk {chunk}")
    attention = next((BOTTOM * 2 ** (i + 1) for i in range(len(G_IN)) if f"blocks.{i}.1.gamma" in state_dict), 0)
    names = options.get("classes") or options.get("class_names")
    given = options.get("N_target_cate") or options.get("n_target")
    if names is not None:
        names = class_names(names)
    n_target = int(given) if given else len(names) if names else min(N_TARGET_CATE, n_classes)
    if names is not None and len(names) != n_target:
        raise ValueError(f"{len(names)} class names are given but N_target_cate is {n_target}")
    if n_target > n_classes:
        raise ValueError(f"{n_target} target classes, but the generator's embedding has {n_classes} rows")
    hp = {"ch": ch, "dim_z": chunk * NUM_CHUNKS, "shared_dim": shared_dim, "n_classes": n_classes,
          "attention": attention, "resolution": RESOLUTION, "n_target": n_target,
          "class_names": names or [f"class {i}" for i in range(n_target)],
          "fea_w": _fea_w_json(_fea_w(options))}
    with torch.device("meta"):
        check_layout(_generator(hp), state_dict, "DeepI2I generator")
    return hp


def _fea_w(options: Mapping[str, Any]) -> dict[int, float]:
    """The injection weights: our files' `fea_w` ({"4": w, ...}, as trained), else the official code's, which
    depend on --training_scratch."""
    given = options.get("fea_w")
    if given is None:
        return dict(SCRATCH_FEA_W if options.get("training_scratch") else E1_FEA_W)
    try:
        weights = {int(k): float(v) for k, v in dict(given).items()}
    except (TypeError, ValueError):
        raise ValueError(f"fea_w must map the widths 4, 8, 16, 32 to numbers, got {given!r}") from None
    if set(weights) != set(E1_FEA_W) or not all(math.isfinite(w) for w in weights.values()):
        raise ValueError(f"fea_w must map the widths 4, 8, 16, 32 to numbers, got {given!r}")
    return weights


def _fea_w_json(weights: Mapping[int, float]) -> dict[str, float]:
    return {str(k): float(w) for k, w in sorted(weights.items())}


def fea_w(hp: Hparams) -> dict[int, float]:
    """A model's injection weights by width (the official 0.1 for hparams that do not say)."""
    return {int(k): float(w) for k, w in hp["fea_w"].items()} if hp.get("fea_w") else dict(E1_FEA_W)


def _generator(hp: Hparams) -> Generator:
    return Generator(int(hp["ch"]), int(hp["dim_z"]), int(hp["shared_dim"]), int(hp["n_classes"]),
                     int(hp["attention"]), int(hp["resolution"]))


def _part_ch(sd: Mapping[str, Tensor], key: str, mult: int, what: str) -> int:
    if key not in sd:
        raise ValueError(f"the {what} weights lack {key}")
    return int(sd[key].shape[0]) // mult


def _strict(net: nn.Module, sd: Mapping[str, Tensor], what: str) -> nn.Module:
    check_layout(net, sd, what)
    net.to_empty(device="cpu")
    net.load_state_dict(dict(sd), strict=True)
    return net.eval()


def load_nets(ckpt: Checkpoint, hp: Hparams) -> Nets:
    """{"G", "E1", "A1"}, strictly loaded, eval mode, CPU; E1 and A1 sized from their own shapes. D (an experiment
    folder's or our file's part) is for training only and not loaded."""
    for part, file in (("E1", "E1.pth"), ("A1", "A1.pth")):
        if part not in ckpt.parts:
            raise ValueError(f"the DeepI2I {'encoder' if part == 'E1' else 'adaptor'} {part} is missing "
                             f"(import the experiment folder, which holds {file} beside G.pth)")
    e1, a1 = ckpt.parts["E1"], ckpt.parts["A1"]
    e1_ch = _part_ch(e1, "blocks.0.0.conv1.weight", D_OUT[0], "E1")
    e1_attn = next((s for i, s in enumerate((64, 32, 16, 8, 4)) if f"blocks.{i}.1.gamma" in e1), 0)
    a1_ch = _part_ch(a1, "blocks.0.0.conv1.weight", A_OUT[0], "A1")
    with torch.device("meta"):
        nets: dict[str, nn.Module] = {
            "G": _generator(hp),
            "E1": Discriminator(e1_ch, int(e1["embed.weight"].shape[0]) if "embed.weight" in e1 else N_CLASSES,
                                e1_attn),
            "A1": Adaptor(a1_ch, int(a1["embed.weight"].shape[0]) if "embed.weight" in a1 else N_CLASSES)}
    if e1_ch != a1_ch or a1_ch != int(hp["ch"]):
        raise ValueError(f"the nets' widths differ: G {hp['ch']}, E1 {e1_ch}, A1 {a1_ch} (ch)")
    return {"G": _strict(nets["G"], ckpt.state_dict, "DeepI2I generator G"),
            "E1": _strict(nets["E1"], e1, "DeepI2I encoder E1"), "A1": _strict(nets["A1"], a1, "DeepI2I adaptor A1")}


def capabilities(hp: Hparams) -> Capabilities:
    side = int(hp["resolution"])
    return Capabilities(fixed_size=(side, side), default_size=(side, side), min_size=MIN_SIDE, style_seed=True,
                        domains=tuple(hp["class_names"]))


def size_rule(hp: Hparams) -> str:
    side = int(hp["resolution"])
    return (f"{side}x{side} (the photo's centre square, resized); {hp['n_target']} target classes; photos from "
            f"{MIN_SIDE} px a side")


class DeepI2IVarier:
    """The task's model (engine.tasks.multi_domain.Varier): encode = A1(E1(x)), generate = G per variation."""

    def __init__(self, nets: Nets, hp: Hparams) -> None:
        self.G = cast(Generator, nets["G"])
        self.E1 = cast(Discriminator, nets["E1"])
        self.A1 = cast(Adaptor, nets["A1"])
        self.dim_z = int(hp["dim_z"])
        self.fea_w = fea_w(hp)

    def encode(self, x: Tensor) -> dict[int, Tensor]:
        return self.A1(self.E1.features(x))

    def generate(self, encoding: Mapping[int, Tensor], variations: Sequence[Variation]) -> Tensor:
        device = self.G.shared.weight.device
        embeddings, zs = [], []
        for v in variations:
            target = torch.tensor([v.target], device=device)
            other = None if v.target_b is None or not v.mix else torch.tensor([v.target_b], device=device)
            embeddings.append(class_embedding(self.G, target, other, float(v.mix)))
            zs.append(noise(v.seed, self.dim_z, seed_b=v.seed_b, seed_mix=float(v.seed_mix),
                            chunk_seeds=v.chunk_seeds) * float(v.temperature))
        scale = torch.tensor([float(v.weight) for v in variations], device=device).view(-1, 1, 1, 1)
        weights = {k: w if bool((scale == 1).all()) else w * scale for k, w in self.fea_w.items()}
        return self.G(torch.stack(zs).to(device), torch.cat(embeddings), encoding, weights)


def _varier(nets: Nets, hp: Hparams) -> DeepI2IVarier:
    return DeepI2IVarier(nets, hp)


class _TranslateGraph(nn.Module):
    """The official translation as one graph: photo (1, 3, 128, 128) in [-1, 1], class indices (N,), z (N, dim_z)
    -> (N, 3, 128, 128) in [-1, 1]."""

    def __init__(self, G: Generator, E1: Discriminator, A1: Adaptor, weights: Mapping[int, float]) -> None:
        super().__init__()
        self.G, self.E1, self.A1, self.weights = G, E1, A1, dict(weights)

    def forward(self, x: Tensor, classes: Tensor, z: Tensor) -> Tensor:
        return translate(self.G, self.E1, self.A1, x, self.G.shared(classes), z, self.weights)


def onnx_graph(nets: Nets, hp: Hparams) -> OnnxGraph:
    from engine.inference import OnnxGraph

    G = cast(Generator, nets["G"])
    device = G.shared.weight.device
    side, dim_z = int(hp["resolution"]), int(hp["dim_z"])
    module = _TranslateGraph(G, cast(Discriminator, nets["E1"]), cast(Adaptor, nets["A1"]), fea_w(hp))
    inputs = (torch.zeros(1, 3, side, side, device=device), torch.zeros(2, dtype=torch.long, device=device),
              torch.zeros(2, dim_z, device=device))
    return OnnxGraph(module, inputs, ("photo", "classes", "z"), ("output",),
                     dynamic_axes={"classes": {0: "n"}, "z": {0: "n"}, "output": {0: "n"}},
                     summary=f"photo: (1, 3, {side}, {side}) RGB in [-1, 1] (the centre square, resized); classes: "
                             f"(N,) int64 target class indices (0..{int(hp['n_target']) - 1}); z: (N, {dim_z}) "
                             f"float32 ~ N(0, I) -> output: (N, 3, {side}, {side}) in [-1, 1] (the official "
                             f"translation, injection weights {_fea_w_json(fea_w(hp))})")


def config_hparams(*, ch: int = 96, n_target: int = N_TARGET_CATE, class_names: Sequence[str] = (),
                   n_classes: int = N_CLASSES, weights: Mapping[int, float] = E1_FEA_W) -> dict[str, Any]:
    """The hparams of a model we build (trainers): the released config at width ch."""
    names = list(class_names) or [f"class {i}" for i in range(n_target)]
    return {"ch": ch, "dim_z": DIM_Z, "shared_dim": SHARED_DIM, "n_classes": n_classes, "attention": ATTENTION,
            "resolution": RESOLUTION, "n_target": len(names), "class_names": names, "fea_w": _fea_w_json(weights)}


ARCHITECTURE = MultiDomainArchitecture(
    method=METHOD, title="DeepI2I", license_note=LICENSE_NOTE, detect=detect, resolve_hparams=resolve_hparams,
    capabilities=capabilities, size_rule=size_rule, load=load_nets, varier=_varier, onnx=onnx_graph,
    options={"classes": class_names, "N_target_cate": whole(1, 100_000), "training_scratch": flag})
