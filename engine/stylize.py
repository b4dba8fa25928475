"""Stylising a photo of any size with a ContentStyle model: checks, tiles, and the slider cache.

Works on any model that is a `Stylist` (HierarchyFlow is one), with the sizes its Capabilities state.

Tiles: a stylist normalises with whole-image statistics (HierarchyFlow's InstanceNorms in the content pass and the
AdaIN of every block in the reverse pass), so tiles share the whole photo's, measured at full resolution in a
streaming pass as engine.tiling does: each round runs the tiles until the first statistics still unknown (an
InstanceNorm, then each block's AdaIN, last block first, for each style code the output needs), adds them up over
each tile's own share and fixes them; the round that meets none gives the output. A round recomputes the tile's
content pass (the flow keeps full resolution in every block, so checkpoints would cost what one pass does). The whole
photo is padded by pad_size first (virtually, by reflected indices) and the padded photo is tiled; a tile's output
depends only on input pixels within the receptive margin, so each tile reads at least that margin around what it
keeps. Tiled equals untiled to float precision. The two style codes (content and style image) come from copies
downscaled to at most STYLE_SIDE px, as style encoders pool globally.

Slider cache: a photo that fits one pass keeps its content pass (each block's Affine-Net output, the forward
latent, R(c(0))) and content code, keyed by model, file and a hash of the photo's pixels (after conversion and
preview scaling), bounded in bytes; style codes likewise. Moving the strength slider then reruns only the
reverse pass (AdaIN and fusion, per pixel), not the Affine-Nets.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from engine import detail, tiling
from engine.api import MAX_TRANSLATE_PIXELS, Capabilities
from engine.imageio import to_rgb_float
from engine.tasks import Job

STYLE_SIDE = 1024  # style (and content-code) images are downscaled to at most this long side
CACHE_BYTES = 2 << 30  # content passes kept for the slider, all together (HF++ at 512 px needs 1.3 GB)
# the estimated live floats per pixel times this covers conv buffers and the allocator (measured peak RSS /
# estimate on the CPU at 256 and 512 px: 0.94 for HF, 0.91 for HF++)
MEMORY_OVERHEAD = 1.25


class ContentPass(Protocol):
    """What a stylist keeps of a photo for reverse passes of any style and strength."""

    def nbytes(self) -> int: ...


class Stylist(Protocol):
    """A loaded content-style model as tiles and the slider cache drive it. Images are (1, 3, H, W) RGB tensors in
    [0, 1]; strength 0 gives the photo, 1 the model's full stylisation."""

    pad_size: int  # the photo is reflect-padded by this for its content pass, and the output cropped back
    blocks: Sequence[Any]  # one AdaIN each in the reverse pass, numbered from 0

    def style_code(self, image: torch.Tensor) -> torch.Tensor: ...

    def content_pass(self, content: torch.Tensor, *, pad: int | None = None) -> ContentPass:
        """The pass over the content padded by `pad` (None: pad_size; tiles of the padded photo pass 0)."""

    def self_styled(self, cp: Any, content_code: torch.Tensor) -> torch.Tensor:
        """The photo stylised after itself, which every strength below 1 needs (kept in the content pass)."""

    def stylize(self, cp: Any, content_code: torch.Tensor | None, style_code: torch.Tensor, strength: float, *,
                own: Any = None, own_self: Any = None) -> torch.Tensor:
        """The output (unclamped); content_code may be None at strength 1, which does not use it; own / own_self:
        shared statistics of the passes with the mixed code and the content's own code (tiles)."""

    def reverse(self, cp: Any, code: torch.Tensor, *, own: dict[int, Any],
                observe: Callable[[int, torch.Tensor], None]) -> torch.Tensor:
        """The reverse pass with `code`, last block first; `observe` sees the tensor each block's AdaIN normalises
        before it does, with the statistics in `own` (block -> (mean, std))."""

    @staticmethod
    def adain_from_moments(mean: torch.Tensor, var: torch.Tensor, count: int) -> Any:
        """A block's AdaIN statistics (an `own` entry) of `count` pixels with this mean and biased variance."""

    def modules(self) -> Any:
        """Its modules (an nn.Module's), among them the engine.layers.resnet.InstanceNorms tiles set."""

    def activation_floats(self) -> float:
        """Estimated peak floats held per padded pixel during one pass."""


def check_content(image: np.ndarray, min_size: int) -> np.ndarray:
    """The photo as HxWx3 float32 in [0, 1]; refused over MAX_TRANSLATE_PIXELS or under min_size a side."""
    photo = tiling.check_photo(image)
    h, w = photo.shape[:2]
    if min(h, w) < min_size:
        raise ValueError(f"the photo is {w}x{h} px; this model needs at least {min_size} px on each side")
    return photo


def check_style(image: np.ndarray, min_side: int) -> np.ndarray:
    """The style image as HxWx3 float32 in [0, 1], at most STYLE_SIDE px long; refused under min_side a side (the
    model's capabilities.min_style_size)."""
    shape = np.shape(image)
    if len(shape) >= 2 and shape[0] * shape[1] > MAX_TRANSLATE_PIXELS:
        raise ValueError(f"the style image is {shape[1]}x{shape[0]} px; it may have at most "
                         f"{MAX_TRANSLATE_PIXELS // 1_000_000} megapixels: scale it down first")
    style = to_rgb_float(image)
    h, w = style.shape[:2]
    if min(h, w) < min_side:
        raise ValueError(f"the style image is {w}x{h} px; it must be at least {min_side} px on each side")
    return shrink(style, STYLE_SIDE)


def check_strength(strength: float) -> float:
    if not (isinstance(strength, (int, float)) and 0.0 <= strength <= 1.0):
        raise ValueError(f"the strength must be between 0 (the photo) and 1 (full stylisation), got {strength!r}")
    return float(strength)


def shrink(image: np.ndarray, max_side: int, min_size: int = 1) -> np.ndarray:
    """Downscaled (area averaging) so the long side is at most max_side, the short side kept >= min_size."""
    h, w = image.shape[:2]
    scale = max(max_side / max(h, w), min_size / min(h, w))
    if scale >= 1:
        return image
    size = (max(min_size, round(w * scale)), max(min_size, round(h * scale)))
    return detail.downscale(image, (size[1], size[0]))


def fingerprint(image: np.ndarray) -> str:
    """A hash of every pixel and the shape: equal only for equal images (a few ms per megapixel)."""
    digest = hashlib.blake2b(str(image.shape).encode(), digest_size=16)
    digest.update(np.ascontiguousarray(image).data)
    return digest.hexdigest()


def _image(x: torch.Tensor) -> np.ndarray:
    return tiling.to_image(x.clamp(0, 1))


def code_of(model: Stylist, image: np.ndarray, device: torch.device) -> torch.Tensor:
    """The style code of an image downscaled to at most STYLE_SIDE px."""
    with torch.inference_mode():
        return model.style_code(tiling.to_tensor(shrink(image, STYLE_SIDE), device))


# --- tiles ------------------------------------------------------------------------------------------------


def plan(caps: Capabilities, pad: int, size: tuple[int, int], tile: int) -> list[tuple[tiling.Span, tiling.Span]]:
    """(row span, column span) over the photo padded by `pad` of every tile, row by row."""
    ph, pw = size[0] + 2 * pad, size[1] + 2 * pad
    tiling.check_tile(caps, tile, (ph, pw), tile)
    context = tiling.margin(caps)
    return [(r, c) for r in tiling.spans(ph, tile, context, 1) for c in tiling.spans(pw, tile, context, 1)]


def _padded_patch(image: np.ndarray, pad: int, rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
    """Rows and columns [start, stop) of the photo reflect-padded by `pad` (as torch pads), without padding it."""
    h, w = image.shape[:2]
    r = tiling.reflect(np.arange(rows[0] - pad, rows[1] - pad), h)
    c = tiling.reflect(np.arange(cols[0] - pad, cols[1] - pad), w)
    return image[np.ix_(r, c)]


def stylize_tiled(model: Stylist, caps: Capabilities, image: np.ndarray, content_code: torch.Tensor,
                  style_code: torch.Tensor, strength: float, *, tile: int, device: torch.device,
                  job: Job | None = None) -> np.ndarray:
    """The output for a photo too large for one pass, HxWx3 float32 in [0, 1]: the whole photo's statistics
    measured round by round (module docstring), then the tiles; progress per round and tile, cancel between."""
    h, w = image.shape[:2]
    pad = model.pad_size
    tiles = plan(caps, pad, (h, w), tile)
    if strength <= 0:  # the photo, as one pass gives it
        return image.copy()
    out = np.zeros((h, w, 3), np.float32)
    # the reverse passes the output needs: R(c(s)) (at 1 the style's own code, as one pass uses), and R(c(0)) below 1
    codes = [style_code] if strength >= 1 else [torch.lerp(content_code, style_code, strength), content_code]
    own: list[dict[int, Any]] = [{} for _ in codes]
    rounds = tiling.StatisticsRounds()

    def observer(k: int) -> Callable[[int, torch.Tensor], None]:
        def observe(block: int, y: torch.Tensor) -> None:
            if block not in own[k]:
                rounds.observe((k, block), y)
        return observe

    def run_tile(i: int) -> np.ndarray:
        rows, cols = tiles[i]
        x = tiling.to_tensor(_padded_patch(image, pad, (rows.start, rows.stop), (cols.start, cols.stop)), device)
        cp = model.content_pass(x, pad=0)
        measured = False
        for k, code in enumerate(codes):
            if 0 not in own[k]:  # the reverse pass ends with block 0: its statistics are not all known yet
                try:
                    model.reverse(cp, code, own=own[k], observe=observer(k))
                except tiling.Measured:
                    measured = True
        if measured:
            raise tiling.Measured
        return _image(model.stylize(cp, content_code, style_code, strength, own=own[0], own_self=own[-1]))

    def fix(measured: dict[Any, tiling.Moments]) -> None:
        tiling.fix_norms(norms, measured)
        for key, moments in measured.items():
            if isinstance(key, tuple):
                k, block = key
                mean, var = moments.mean_var()
                own[k][block] = model.adain_from_moments(mean, var, moments.count)

    with torch.inference_mode(), tiling.streamed_norms(model, rounds) as norms:
        tiling.run_rounds(tiles, run_tile, out, rounds, fix, len(norms) + len(model.blocks), job,
                          lambda o, y, rows, cols: _accumulate(o, y, rows, cols, pad))
    return out


def _accumulate(out: np.ndarray, y: np.ndarray, rows: tiling.Span, cols: tiling.Span, pad: int) -> None:
    """Add a tile's kept part that lies inside the photo (padded coordinates minus pad), weighted."""
    h, w = out.shape[:2]
    r0, r1 = max(rows.keep_start, pad), min(rows.keep_stop, h + pad)
    c0, c1 = max(cols.keep_start, pad), min(cols.keep_stop, w + pad)
    if r0 >= r1 or c0 >= c1:
        return
    weight = np.outer(rows.weights[r0 - rows.keep_start:r1 - rows.keep_start],
                      cols.weights[c0 - cols.keep_start:c1 - cols.keep_start])[..., None]
    out[r0 - pad:r1 - pad, c0 - pad:c1 - pad] += weight * y[r0 - rows.start:r1 - rows.start,
                                                            c0 - cols.start:c1 - cols.start]


def bytes_per_pixel(model: Stylist) -> float:
    """Estimated peak bytes per padded pixel of one pass: the model's float32 activations, x overhead."""
    return 4 * model.activation_floats() * MEMORY_OVERHEAD


def default_tile(model: Stylist, caps: Capabilities, size: tuple[int, int], budget: int) -> int:
    """The whole padded photo when one pass fits `budget` bytes (engine.tiling.memory_budget), else the largest
    square tile that does (never below min_tile)."""
    pad = model.pad_size
    padded, pixels = (size[0] + 2 * pad, size[1] + 2 * pad), budget / bytes_per_pixel(model)
    return max(padded) if padded[0] * padded[1] <= pixels else tiling.fitting_tile(caps, pixels, 1)


# --- the engine's entry point, with the slider cache --------------------------------------------------------


@dataclass
class _Prepared:
    """A photo's content pass and content code (one-pass photos only); the code is made when a strength below 1
    first needs it (at 1 the Style-Net never sees the photo, as in the official inference)."""

    content_pass: ContentPass
    content_code: torch.Tensor | None = None

    def nbytes(self) -> int:
        code = self.content_code.numel() * 4 if self.content_code is not None else 0
        return self.content_pass.nbytes() + code


class Stylizer:
    """Runs StylizeImage jobs for the engine; keeps content passes and style codes for repeated requests."""

    def __init__(self, budget: int = CACHE_BYTES, max_codes: int = 64) -> None:
        self.budget = budget
        # (model id, sha256 of its file, fingerprint of the image) -> content pass / style code
        self._passes: OrderedDict[tuple[str, str, str], _Prepared] = OrderedDict()
        self._codes: OrderedDict[tuple[str, str, str], torch.Tensor] = OrderedDict()
        self._max_codes = max_codes

    def forget(self, model_id: str) -> None:
        for cache in (self._passes, self._codes):
            for key in [k for k in cache if k[0] == model_id]:
                del cache[key]

    def cached_bytes(self) -> int:
        return sum(p.nbytes() for p in self._passes.values())

    def __call__(self, model_key: tuple[str, str], model: Stylist, caps: Capabilities, content: np.ndarray,
                 style: np.ndarray, strength: float, *, tile: int, device: torch.device,
                 job: Job | None = None) -> np.ndarray:
        """The output at `strength`, HxWx3 float32 in [0, 1] clamped like the official eval. model_key: (model id,
        sha256 of its file), so a retrained file never reuses old passes."""
        style_code = self._style_code(model_key, model, style, device)
        if len(plan(caps, model.pad_size, content.shape[:2], tile)) > 1:
            content_code = code_of(model, content, device)
            return stylize_tiled(model, caps, content, content_code, style_code, strength, tile=tile,
                                 device=device, job=job)
        if job:
            job.check()
        prepared = self._prepared(model_key, model, content, device)
        with torch.inference_mode():
            if strength < 1 and prepared.content_code is None:
                prepared.content_code = code_of(model, content, device)
            out = model.stylize(prepared.content_pass, prepared.content_code, style_code, strength)
        if job:
            job.progress(1.0, "stylised")
        return _image(out)

    def _style_code(self, model_key: tuple[str, str], model: Stylist, style: np.ndarray,
                    device: torch.device) -> torch.Tensor:
        key = (*model_key, fingerprint(style))
        if (code := self._codes.get(key)) is None:
            code = self._codes[key] = code_of(model, style, device)
            while len(self._codes) > self._max_codes:
                self._codes.popitem(last=False)
        self._codes.move_to_end(key)
        return code

    def _prepared(self, model_key: tuple[str, str], model: Stylist, content: np.ndarray,
                  device: torch.device) -> _Prepared:
        key = (*model_key, fingerprint(content))
        if (prepared := self._passes.get(key)) is not None:
            self._passes.move_to_end(key)
            return prepared
        with torch.inference_mode():  # a copy of the photo: the caller may edit its array after the request
            # R(c(0)), which every strength below 1 needs, is kept in the pass when first made
            prepared = _Prepared(model.content_pass(tiling.to_tensor(content, device).clone()))
        size = prepared.nbytes()
        if size <= self.budget:
            while self._passes and self.cached_bytes() + size > self.budget:
                self._passes.popitem(last=False)
            self._passes[key] = prepared
        return prepared
