"""Full-resolution translation: tiles equal the untiled output, no seams, progress/cancel, odd photos, limits."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from engine import tiling
from engine.api import MAX_TRANSLATE_PIXELS, JobRef, Progress, TranslateImage
from engine.catalog import Catalog
from engine.handlers import Engine
from engine.layers.resnet import InstanceNorm
from engine.models import cut, cyclegan
from engine.worker import JobCancelled, JobContext
from tests.translation_fixtures import TINY, photo, tiny_generator, write_tiny_cut, write_tiny_cyclegan

CPU = torch.device("cpu")
CAPS = {"cyclegan": cyclegan.capabilities(cyclegan.config_hparams(**TINY)),
        "cut": cut.capabilities(cut.config_hparams(**TINY))}
TOL = 1e-4  # tiled vs untiled, float32 CPU; measured at most 2.1e-6
SEAM_FACTOR = 1.25  # adjacent-pixel differences across tile borders vs elsewhere
UNTILED = 10_000


def ctx(on_progress=lambda event: None) -> JobContext:
    return JobContext(JobRef(0, "test", 0), on_progress)


@pytest.fixture
def engine() -> Engine:
    return Engine(Catalog(), CPU)


@pytest.fixture
def cyclegan_id(tmp_path, engine) -> str:
    return engine.import_model(str(write_tiny_cyclegan(tmp_path / "pair.safetensors")), None).id


def gradient_photo(seed: int, size: tuple[int, int]) -> np.ndarray:
    """Darker on the left: neighbouring tiles have different statistics."""
    return photo(seed, size) * np.linspace(0.2, 1, size[1], dtype=np.float32)[None, :, None]


# --- tiles versus one pass --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["cyclegan", "cut"])
def test_tiles_equal_the_untiled_output_when_statistics_are_full_size(method, monkeypatch):
    caps, net = CAPS[method], tiny_generator(method)
    image = photo(1, (301, 437))  # not multiples of 4: padded, then cropped back
    untiled = tiling.translate(net, caps, image, tile=UNTILED, device=CPU)
    assert untiled.shape == image.shape and untiled.dtype == np.float32
    for tile in (tiling.min_tile(caps), tiling.min_tile(caps) + 44):
        assert len(tiling.plan(caps, image.shape[:2], tile)) >= 6
        tiled = tiling.translate(net, caps, image, tile=tile, device=CPU, stats_side=UNTILED)
        assert np.abs(tiled - untiled).max() < TOL

    # the margin is what makes them equal: a margin below the receptive radius breaks it
    monkeypatch.setattr(tiling, "margin", lambda caps: 8)
    short = tiling.translate(net, caps, image, tile=tiling.min_tile(caps), device=CPU, stats_side=UNTILED)
    assert np.abs(short - untiled).max() > 100 * TOL


def _borders(tiles: list[tuple[tiling.Span, tiling.Span]], axis: int) -> list[int]:
    """Where one tile's share ends and the next begins (the middle of each blend ramp)."""
    return sorted({spans[axis].keep_start + tiling.FEATHER for spans in tiles if spans[axis].keep_start > 0})


def seam_ratio(image: np.ndarray, rows: list[int], cols: list[int]) -> float:
    """Mean |difference| of the adjacent pixel columns/rows that straddle the borders, over the same mean for
    all other adjacent columns/rows."""
    dx = np.abs(np.diff(image, axis=1)).mean(axis=(0, 2))  # dx[c - 1]: columns c - 1 and c
    dy = np.abs(np.diff(image, axis=0)).mean(axis=(1, 2))
    cx, cy = np.array(cols) - 1, np.array(rows) - 1
    across = np.r_[dx[cx], dy[cy]]
    elsewhere = np.r_[np.delete(dx, cx), np.delete(dy, cy)]
    return float(across.mean() / elsewhere.mean())


@pytest.mark.parametrize("method", ["cyclegan", "cut"])
def test_downscaled_statistics_leave_no_seam(method):
    caps, net = CAPS[method], tiny_generator(method, seed=2)
    size = (360, 520)
    image = gradient_photo(2, size)
    tile = tiling.min_tile(caps)
    tiles = tiling.plan(caps, size, tile)
    rows, cols = _borders(tiles, 0), _borders(tiles, 1)
    assert len(rows) >= 3 and len(cols) >= 5
    tiled = tiling.translate(net, caps, image, tile=tile, device=CPU, stats_side=128)

    # the tiles add nothing: one pass normalised by the same (128 px) statistics gives the same image
    with net.shared_statistics(tiling.stats_sample(image, caps, 128, CPU)):
        one_pass = tiling.translate(net, caps, image, tile=UNTILED, device=CPU)
    assert np.abs(tiled - one_pass).max() < TOL
    assert seam_ratio(tiled, rows, cols) < SEAM_FACTOR

    if method == "cut":  # control: tiles normalised by their own statistics and pasted edge to edge do show
        # seams (a random CycleGAN's output is dominated by its transposed convs' checkerboard, which hides them)
        naive = np.zeros_like(image)
        for (r0, r1), (c0, c1) in itertools.product(itertools.pairwise([0, *rows, size[0]]),
                                                    itertools.pairwise([0, *cols, size[1]])):
            naive[r0:r1, c0:c1] = tiling.translate(net, caps, image[r0:r1, c0:c1], tile=UNTILED, device=CPU)
        assert seam_ratio(naive, rows, cols) > 3 * SEAM_FACTOR


@pytest.mark.parametrize(("length", "tile"), [(8, 160), (400, 160), (401 // 4 * 4, 200), (1000, 173), (4096, 1024)])
def test_blend_weights_sum_to_one_and_tiles_read_their_margin(length, tile):
    context = tiling.margin(CAPS["cyclegan"])
    spans = tiling.spans(length, tile // 4 * 4, context, 4)
    total = np.zeros(length, np.float32)
    for span in spans:
        total[span.keep_start:span.keep_stop] += span.weights
        assert span.start % 4 == 0 and span.stop - span.start <= max(tile, length if len(spans) == 1 else 0)
        assert span.keep_start - span.start >= (context if span.start > 0 else 0)
        assert span.stop - span.keep_stop >= (context if span.stop < length else 0)
    assert np.allclose(total, 1, atol=1e-6)


# --- through the engine: progress, cancel, odd photos, limits -----------------------------------------


def test_progress_per_tile_and_cancel_between_tiles(tmp_path, engine):
    model_id = engine.import_model(str(write_tiny_cut(tmp_path / "cut.safetensors")), None).id
    caps = CAPS["cut"]
    image = photo(3, (200, 260))
    tile = tiling.min_tile(caps)
    n = len(tiling.plan(caps, image.shape[:2], tile))
    events: list[Progress] = []
    result = engine.translate_image(TranslateImage(model_id, image, tile=tile), ctx(events.append))
    tiles = [e for e in events if e.message.startswith("tile ")]
    assert [e.message for e in tiles] == [f"tile {i} of {n}" for i in range(1, n + 1)]
    assert [e.fraction for e in tiles] == pytest.approx([i / n for i in range(1, n + 1)])

    seen: list[Progress] = []

    def cancel_after_two_tiles(event: Progress) -> None:
        seen.append(event)
        if event.message == f"tile 2 of {n}":
            job.cancel()

    job = ctx(cancel_after_two_tiles)
    with pytest.raises(JobCancelled):
        engine.translate_image(TranslateImage(model_id, image, tile=tile), job)
    assert seen[-1].message == f"tile 2 of {n}"
    _, nets = engine.loaded(model_id)
    assert all(m.mode == "image" and m.stats is None for m in nets["AtoB"].modules() if isinstance(m, InstanceNorm))
    assert np.array_equal(engine.translate_image(TranslateImage(model_id, image, tile=tile), ctx()), result)


def test_tiny_grey_transparent_and_16_bit_photos(engine, cyclegan_id):
    def run(image: np.ndarray, **kw) -> np.ndarray:
        return engine.translate_image(TranslateImage(cyclegan_id, image, **kw), ctx())

    for h, w in ((1, 37), (37, 1), (1, 1), (3, 5), (9, 2)):
        out = run(photo(4, (max(h, 2), max(w, 2)))[:h, :w])
        assert out.shape == (h, w, 3) and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    rgb = photo(5, (50, 70))
    expected = run(rgb)
    opaque = np.concatenate([rgb, np.ones((50, 70, 1), np.float32)], axis=2)
    assert np.array_equal(run(opaque), expected)
    clear = np.concatenate([rgb, np.zeros((50, 70, 1), np.float32)], axis=2)
    assert np.array_equal(run(clear), run(np.ones_like(rgb)))  # transparent means white, as files are read
    grey = rgb.mean(axis=2)
    assert np.array_equal(run(grey), run(np.repeat(grey[..., None], 3, axis=2)))
    sixteen = np.round(rgb * 65535).astype(np.uint16)
    assert np.abs(run(sixteen) - expected).max() < 1e-3
    assert np.abs(run((rgb * 255).astype(np.uint8)) - expected).max() < 0.05
    assert not np.array_equal(run(rgb, direction="BtoA"), expected)


def test_over_the_pixel_limit_is_refused_with_a_message(engine, cyclegan_id):
    huge = np.broadcast_to(np.zeros((1, 1, 3), np.float32), (20_000, 20_000, 3))  # no memory behind it
    with pytest.raises(ValueError) as info:
        engine.translate_image(TranslateImage(cyclegan_id, huge), ctx())
    assert str(info.value) == ("the photo is 20000x20000 px (400 megapixels); translation takes at most "
                               f"{MAX_TRANSLATE_PIXELS // 1_000_000} megapixels: scale it down first")
    with pytest.raises(ValueError, match="HxW, HxWx3 or HxWx4"):
        engine.translate_image(TranslateImage(cyclegan_id, np.zeros((4, 4, 5), np.float32)), ctx())
    with pytest.raises(ValueError, match="NaN"):
        engine.translate_image(TranslateImage(cyclegan_id, np.full((4, 4, 3), np.nan, np.float32)), ctx())


def test_tile_size_from_the_photo_and_memory(engine, cyclegan_id, monkeypatch):
    caps = CAPS["cyclegan"]
    net = tiny_generator("cyclegan")
    assert tiling.default_tile(net, caps, (301, 437), CPU) == 440  # fits: one pass over the padded photo
    per_pixel = tiling.activation_bytes_per_pixel(net, CPU)
    assert 16 * 4 < per_pixel < 64 * 4 * tiling.MEMORY_OVERHEAD  # ngf 4: 2 x 4 ch live at full size, x overhead
    monkeypatch.setattr(tiling, "memory_budget", lambda device: int(per_pixel * 200 * 200))
    assert tiling.default_tile(net, caps, (301, 437), CPU) == 200
    assert tiling.default_tile(net, caps, (150, 200), CPU) == 200
    monkeypatch.setattr(tiling, "memory_budget", lambda device: 1)
    assert tiling.default_tile(net, caps, (301, 437), CPU) == tiling.min_tile(caps)

    events: list[Progress] = []
    out = engine.translate_image(TranslateImage(cyclegan_id, photo(6, (301, 437))), ctx(events.append))
    n = len(tiling.plan(caps, (301, 437), tiling.min_tile(caps)))
    assert out.shape == (301, 437, 3) and n > 1 and events[-1].message == f"tile {n} of {n}"
    with pytest.raises(ValueError, match=f"tile 100 px is too small for this model: at least {tiling.min_tile(caps)}"):
        engine.translate_image(TranslateImage(cyclegan_id, photo(6, (301, 437)), tile=100), ctx())
    with pytest.raises(ValueError, match="tile must be 0"):
        engine.translate_image(TranslateImage(cyclegan_id, photo(6, (30, 40)), tile=-1), ctx())
    assert engine.translate_image(TranslateImage(cyclegan_id, photo(6, (30, 40)), tile=100), ctx()).shape == (30, 40, 3)


def test_wrong_model_or_direction_is_named(tmp_path, engine):
    cut_id = engine.import_model(str(write_tiny_cut(tmp_path / "cut.safetensors")), None).id
    with pytest.raises(ValueError, match=f"direction 'BtoA' is not available: model '{cut_id}' translates AtoB only"):
        engine.translate_image(TranslateImage(cut_id, photo(1), "BtoA"), ctx())
    with pytest.raises(ValueError, match="is a LabelToImage model .* needs an ImageToImage model"):
        engine.translate_image(TranslateImage("spade-landscape-default", photo(1)), ctx())
