"""Full resolution at 4000x2500: the full-size pass (tiled when memory requires) against detail transfer (the
network at 1024 px, the photo's own detail carried to full size), and how far detail is from the full-size pass.

Translations: the embedded CUT (`cut-summer2winter-default`) and the released CycleGAN configuration (ngf 64, 9
blocks, random weights imported as an official file); style transfer: `hierarchyflow-default` after a shipped style
at full stylisation. Swap & Edit: opening a photo (the embedding; with no edit the result is the photo) and an edit
at the 1024 px working size carried to 4000x2500, against the way before this (embedding and the reconstruction at
2048 px, exported at 2048). All in Exact mode, one process, ratios within this run; wall time with the process's
CPU seconds (resource.getrusage) in brackets, the steadier measure on a shared machine. PSNR and SSIM (8-bit range;
SSIM on luma with an 11-px Gaussian window of sigma 1.5, the usual constants) of detail against the full pass.

The photo is a wallpaper when one is installed, else a shipped sample upscaled (bicubic) to the size, which holds
less fine detail than a real 4000 px photo. `python -m bench.fullres --size 1250x2000` for a quicker look.
"""

from __future__ import annotations

import argparse
import glob
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from bench.sae import PHOTO_GLOBS
from bench.translate import clocks, official_checkpoint
from engine import codes, detail, stylize, tiling
from engine.api import (
    WORKING_SIDE,
    DecodeCodes,
    EncodeImage,
    FullRes,
    JobRef,
    Mode,
    StylizeImage,
    TranslateImage,
)
from engine.catalog import Catalog
from engine.checkpoints import write_checkpoint
from engine.device import pick_device
from engine.handlers import Engine
from engine.imageio import read_rgb
from engine.models import sae
from engine.worker import JobContext

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "resources" / "samples" / "default_brush_summer2winter.jpg"
STYLE = REPO / "resources" / "styles" / "ink_wash.jpg"
SIZE = (2500, 4000)
OLD_SAE_SIDE = 2048  # Swap & Edit worked on photos downscaled to this before
CTX = JobContext(JobRef(0, "bench", 0), lambda event: None)


def photo(size: tuple[int, int]) -> tuple[np.ndarray, str]:
    """A photo of `size` (H, W): a wallpaper cropped to its shape and resized, else the shipped sample upscaled."""
    files = sorted(f for pattern in PHOTO_GLOBS for f in glob.glob(pattern))
    source = Path(files[0]) if files else SAMPLE
    image = read_rgb(source)
    h, w = image.shape[:2]
    aspect = size[1] / size[0]
    ch, cw = (h, min(w, round(h * aspect))) if w / h >= aspect else (min(h, round(w / aspect)), w)
    crop = image[(h - ch) // 2:(h - ch) // 2 + ch, (w - cw) // 2:(w - cw) // 2 + cw]
    how = cv2.INTER_AREA if ch >= size[0] else cv2.INTER_CUBIC
    out = np.clip(cv2.resize(crop, (size[1], size[0]), interpolation=how), 0, 1)
    return out, f"{source.name} ({w}x{h}) {'cut' if how == cv2.INTER_AREA else 'upscaled'} to {size[1]}x{size[0]}"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.round(a * 255) - np.round(b * 255)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of the luma of two RGB images in [0, 1] (Wang et al. 2004: Gaussian window, K1 0.01, K2 0.03)."""
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    x, y = (np.asarray(im, np.float32) @ luma * 255 for im in (a, b))
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(im: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(im, (11, 11), 1.5)

    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    return float(np.mean((2 * mx * my + c1) * (2 * cov + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2))))


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, wall seconds, CPU seconds)."""
    start = clocks()
    value = fn()
    end = clocks()
    return value, end[0] - start[0], end[1] - start[1]


def fmt(wall: float, cpu: float) -> str:
    return f"{wall:.1f} s ({cpu:.0f} s)"


def compare(name: str, tiles: int, run: Callable[[str], np.ndarray]) -> None:
    """One table row: the full pass and detail, timed, and detail's distance from the full pass."""
    full, *t_full = timed(lambda: run(FullRes.TILED))
    fast, *t_fast = timed(lambda: run(FullRes.DETAIL))
    print(f"| {name} | {tiles} | {fmt(*t_full)} | {fmt(*t_fast)} | {t_full[0] / t_fast[0]:.0f}x | "
          f"{psnr(fast, full):.1f} dB | {ssim(fast, full):.3f} |", flush=True)


def translation_rows(engine: Engine, image: np.ndarray, folder: Path) -> None:
    engine.import_model(str(official_checkpoint(folder, 64)), None)  # cyclegan-bench_random
    budget = tiling.memory_budget(engine.device)
    for model_id, name in (("cut-summer2winter-default", "CUT, embedded default (ngf 16, 6 blocks)"),
                           ("cyclegan-bench_random", "CycleGAN, released config (ngf 64, 9 blocks), random")):
        loaded = engine.models.load(model_id)
        translator, caps = loaded.nets["AtoB"], loaded.capabilities
        tile = tiling.default_tile(translator, caps, image.shape[:2], budget, engine.device)
        tiles = len(tiling.plan(caps, image.shape[:2], tile))
        compare(name, tiles, lambda how, m=model_id: engine.translate_image(TranslateImage(m, image, full_res=how),
                                                                            CTX))


def tile_rows(engine: Engine, image: np.ndarray) -> None:
    """What faithful tiles cost: one pass against tiles forced by a small budget (the whole photo's statistics
    measured round by round), with checkpoints and (the small model only) without, and how far they are from the
    one pass."""
    side = image.shape[0]
    for model_id, name, keeps in (("cut-summer2winter-default", "CUT, embedded default", (1 << 40, 0)),
                                  ("cyclegan-bench_random", "CycleGAN, released config, random", (1 << 40,))):
        loaded = engine.models.load(model_id)
        translator, caps = loaded.nets["AtoB"], loaded.capabilities
        one, *t_one = timed(lambda t=translator, c=caps: tiling.translate(t, c, image, tile=2 * side,
                                                                          device=engine.device))
        tiles = len(tiling.plan(caps, image.shape[:2], side // 2))
        for keep in keeps:
            out, *t_tiled = timed(lambda t=translator, c=caps, k=keep: tiling.translate(
                t, c, image, tile=side // 2, device=engine.device, checkpoint_bytes=k))
            how = "checkpoints" if keep else "no checkpoints (every round from the photo)"
            print(f"| {name} | {side}x{side} | {fmt(*t_one)} | {tiles} tiles of {side // 2} px, {how}: {fmt(*t_tiled)} "
                  f"| x{t_tiled[0] / t_one[0]:.2f} | {np.abs(out - one).max():.1e} |", flush=True)


def style_rows(engine: Engine, image: np.ndarray) -> None:
    style = read_rgb(STYLE)
    model_id = "hierarchyflow-default"
    loaded = engine.models.load(model_id)
    stylist, caps = loaded.nets["flow"], loaded.capabilities
    tile = stylize.default_tile(stylist, caps, image.shape[:2], tiling.memory_budget(engine.device))
    tiles = len(stylize.plan(caps, stylist.pad_size, image.shape[:2], tile))
    compare(f"HierarchyFlow, embedded default, after {STYLE.name} at 100 %", tiles,
            lambda how: engine.stylize_image(StylizeImage(model_id, image, style, 1.0, full_res=how), CTX))


def release_sae(folder: Path) -> Path:
    """The official 256-px release configuration with random weights, in our checkpoint format."""
    torch.manual_seed(0)
    encoder, generator = sae.build(sae.config_hparams())
    state = {**{f"E.{k}": v for k, v in encoder.state_dict().items()},
             **{f"G.{k}": v for k, v in generator.state_dict().items()}}
    path = folder / "sae_release.safetensors"
    write_checkpoint(path, state, {"method": sae.METHOD, "hparams": sae.resolve_hparams(state, {}),
                                   "name": "release-random"})
    return path


def swap_rows(engine: Engine, image: np.ndarray, folder: Path) -> None:
    """Opening the photo and one texture edit: at the working size carried to full size, against 2048 px before."""
    release = engine.import_model(str(release_sae(folder)), None).id
    for model_id, name in (("sae-wallpapers-default", "embedded default"), (release, "release config, random")):
        engine.models.load(model_id)
        old = detail.downscale(image, detail.working_size(image.shape[:2], OLD_SAE_SIDE))
        emb_old, *t_embed_old = timed(lambda m=model_id, o=old: engine.encode_image(EncodeImage(m, o), CTX))
        _, *t_recon_old = timed(lambda m=model_id, e=emb_old: engine.decode_codes(
            DecodeCodes(m, e.structure, e.texture, e.size), CTX))
        edit_old = codes.blend_texture(emb_old.texture, np.roll(emb_old.texture, 1), 0.5)
        _, *t_edit_old = timed(lambda m=model_id, e=emb_old, t=edit_old: engine.decode_codes(
            DecodeCodes(m, e.structure, t, e.size), CTX))

        small = detail.downscale(image, detail.working_size(image.shape[:2], WORKING_SIDE))
        emb, *t_embed = timed(lambda m=model_id, s=small: engine.encode_image(EncodeImage(m, s), CTX))
        edited = codes.blend_texture(emb.texture, np.roll(emb.texture, 1), 0.5)

        def edit(m: str = model_id, e: Any = emb, t: np.ndarray = edited) -> Any:
            return engine.decode_codes(DecodeCodes(m, e.structure, t, e.size, photo=image,
                                                   base_codes=(e.structure, e.texture)), CTX)

        _, *t_first = timed(edit)  # the embedded codes' image is made once, then kept
        patch, *t_next = timed(edit)
        oh, ow = emb_old.size
        print(f"| {name} | {fmt(*t_embed_old)} + reconstruction {fmt(*t_recon_old)}, result {ow}x{oh} | "
              f"{fmt(*t_edit_old)} | {fmt(*t_embed)}, result = the photo | {fmt(*t_first)} / {fmt(*t_next)}, "
              f"result {patch.image.shape[1]}x{patch.image.shape[0]} |", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fullres", description=__doc__.splitlines()[0])
    parser.add_argument("--size", default=f"{SIZE[0]}x{SIZE[1]}", help="photo HxW (default 2500x4000)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["translate", "stylize", "swap", "tiles"])
    args = parser.parse_args(argv)
    size = tuple(int(v) for v in args.size.lower().split("x"))
    image, source = photo(size)  # type: ignore[arg-type]
    device = pick_device()
    budget = tiling.memory_budget(device)
    print(f"Full resolution, {source}; device {device}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"Exact mode, memory budget {budget / 2**30:.0f} GiB; wall (CPU seconds)")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["I2I_STUDIO_DATA"] = tmp
        engine = Engine(Catalog(), device, mode=Mode.EXACT)
        if not {"translate", "stylize"} <= set(args.skip):
            print("\n| model | tiles | full-size pass | detail | speed-up | PSNR detail vs full | SSIM |")
            print("|---|---|---|---|---|---|---|")
        if "translate" not in args.skip:
            translation_rows(engine, image, Path(tmp))
        if "stylize" not in args.skip:
            style_rows(engine, image)
        if "tiles" not in args.skip:
            side = min(size)
            square = np.ascontiguousarray(image[:side, :side])
            print("\n| model | photo | one pass | tiled | time | max difference |")
            print("|---|---|---|---|---|---|")
            if "translate" in args.skip:
                engine.import_model(str(official_checkpoint(Path(tmp), 64)), None)
            tile_rows(engine, square[::2, ::2] if side > 2048 else square)
        if "swap" not in args.skip:
            print(f"\n| Swap & Edit | open before ({OLD_SAE_SIDE} px) | edit before | open now (1024 px) | "
                  "first / next edit now |")
            print("|---|---|---|---|---|")
            swap_rows(engine, image, Path(tmp))


if __name__ == "__main__":
    main()
