"""Full-resolution translation: tiles equal the untiled output (the whole photo's statistics measured tile by tile),
a plan that only the memory tier decides, progress/cancel, odd photos, limits."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine import tiling
from engine.api import MAX_TRANSLATE_PIXELS, JobRef, Progress, TranslateImage
from engine.catalog import Catalog
from engine.handlers import Engine
from engine.layers.resnet import InstanceNorm, shared_statistics
from engine.models import cut, cyclegan
from engine.worker import JobCancelled, JobContext
from tests.translation_fixtures import TINY, photo, tiny_generator, write_tiny_cut, write_tiny_cyclegan

CPU = torch.device("cpu")
CAPS = {"cyclegan": cyclegan.capabilities(cyclegan.config_hparams(**TINY)),
        "cut": cut.capabilities(cut.config_hparams(**TINY))}
TOL = 1e-4  # tiled vs untiled, float32 CPU; measured at most 2.1e-6
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
def test_tiles_equal_the_untiled_output(method, monkeypatch):
    caps, net = CAPS[method], tiny_generator(method)
    image = gradient_photo(1, (301, 437))  # not multiples of 4: padded, then cropped back; tiles differ in brightness
    untiled = tiling.translate(net, caps, image, tile=UNTILED, device=CPU)
    assert untiled.shape == image.shape and untiled.dtype == np.float32
    for tile, keep in ((tiling.min_tile(caps), 1 << 30), (tiling.min_tile(caps) + 44, 1 << 30),
                       (tiling.min_tile(caps), 0)):  # no room for checkpoints: every round starts from the photo
        assert len(tiling.plan(caps, image.shape[:2], tile)) >= 6
        tiled = tiling.translate(net, caps, image, tile=tile, device=CPU, checkpoint_bytes=keep)
        assert np.abs(tiled - untiled).max() < TOL
    assert all(m.mode == "image" and m.stats is None for m in net.modules() if isinstance(m, InstanceNorm))

    # the margin is what makes them equal: a margin below the receptive radius breaks it
    monkeypatch.setattr(tiling, "margin", lambda caps: 8)
    short = tiling.translate(net, caps, image, tile=tiling.min_tile(caps), device=CPU)
    assert np.abs(short - untiled).max() > 100 * TOL


def test_statistics_are_the_whole_photos_measured_norm_by_norm():
    """Each round measures the next InstanceNorm over the tiles' cores: the same mean and variance as one pass over
    the padded photo, in the order the pass meets them, and a tile resumes from the stage that held the last."""
    caps, net = CAPS["cut"], tiny_generator("cut", seed=3)
    image = gradient_photo(3, (260, 300))
    tiles = tiling.plan(caps, image.shape[:2], tiling.min_tile(caps))
    norms = [m for m in net.modules() if isinstance(m, InstanceNorm)]
    whole = tiling.to_tensor(image[np.ix_(tiling.reflect(np.arange(260), 260), tiling.reflect(np.arange(300), 300))],
                             CPU)
    with torch.inference_mode(), shared_statistics(net, net.to_input(whole)):
        expected = [norm.stats for norm in norms]

    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    original = tiling.fix_norms

    def record(fixed, measured):
        seen.extend(m.mean_var() for m in measured.values())
        original(fixed, measured)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tiling, "fix_norms", record)
        tiling.translate(net, caps, image, tile=tiling.min_tile(caps), device=CPU, checkpoint_bytes=1 << 30)
    assert len(tiles) >= 4 and len(seen) == len(norms)
    for (mean, var), (exp_mean, exp_var) in zip(seen, expected, strict=True):
        assert torch.allclose(mean, exp_mean, atol=1e-5) and torch.allclose(var, exp_var, rtol=1e-4, atol=1e-6)


def test_a_tile_resumes_from_its_checkpoint():
    calls: list[int] = []
    stages = [lambda x, i=i: (calls.append(i), x + 1)[1] for i in range(4)]
    measure_at = {2}

    def stage_two(x: torch.Tensor) -> torch.Tensor:
        if measure_at:
            measure_at.clear()
            raise tiling.Measured
        return stages[2](x)

    resume = tiling.Checkpoints([stages[0], stages[1], stage_two, stages[3]], lambda i: torch.zeros(1), 1, 1 << 20)
    with pytest.raises(tiling.Measured):
        resume.run(0)
    assert calls == [0, 1] and resume.points[0][0] == 2 and resume.held == 4
    assert resume.run(0).item() == 4 and calls == [0, 1, 2, 3]  # stages 0 and 1 not run again

    tight = tiling.Checkpoints(stages, lambda i: torch.zeros(1), 1, 0)
    tight._keep(0, 2, torch.ones(1))
    assert tight.points[0] == (0, None)  # no room: the tile starts from the photo again


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


def test_progress_per_round_and_tile_and_cancel_between_tiles(tmp_path, engine):
    model_id = engine.import_model(str(write_tiny_cut(tmp_path / "cut.safetensors")), None).id
    caps = CAPS["cut"]
    image = photo(3, (200, 260))
    tile = tiling.min_tile(caps)
    n = len(tiling.plan(caps, image.shape[:2], tile))
    events: list[Progress] = []
    result = engine.translate_image(TranslateImage(model_id, image, tile=tile), ctx(events.append))
    norms = sum(isinstance(m, InstanceNorm) for m in tiny_generator("cut").modules())
    assert {e.message for e in events if e.message.startswith("statistics")} == {
        f"statistics {k} of {norms}" for k in range(1, norms + 1)}
    tiles = [e for e in events if e.message.startswith("tile ")]
    assert [e.message for e in tiles] == [f"tile {i} of {n}" for i in range(1, n + 1)]
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)

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


def test_tile_size_from_the_photo_and_the_budget():
    caps = CAPS["cyclegan"]
    net = tiny_generator("cyclegan")
    per_pixel = tiling.activation_bytes_per_pixel(net, CPU)
    assert 16 * 4 < per_pixel < 64 * 4 * tiling.MEMORY_OVERHEAD  # ngf 4: 2 x 4 ch live at full size, x overhead
    fits = int(per_pixel * 304 * 440)
    assert tiling.default_tile(net, caps, (301, 437), fits, CPU) == 440  # one pass over the padded photo
    # tiles take half the budget: the other half holds the statistics pass's checkpoints
    assert tiling.default_tile(net, caps, (301, 437), fits - 1, CPU) == int(math.sqrt(fits / 2 / per_pixel)) // 4 * 4
    assert tiling.default_tile(net, caps, (301, 437), 1, CPU) == tiling.min_tile(caps)


def write_meminfo(path, *, available_gib: float, free_gib: float) -> None:
    kib = 1 << 20
    path.write_text(f"MemTotal:       {64 * kib} kB\nMemFree:        {int(free_gib * kib)} kB\n"
                    f"MemAvailable:   {int(available_gib * kib)} kB\nBuffers:           1000 kB\n")


def test_the_plan_follows_the_memory_tier_not_its_noise(tmp_path, monkeypatch):
    """The budget is 3/4 of MemAvailable (page cache included) rounded down to a power of two, so the same photo gets
    the same plan while the available memory moves within a tier, however little is strictly free."""
    meminfo = tmp_path / "meminfo"
    monkeypatch.setattr(tiling, "MEMINFO", meminfo)
    caps, net = CAPS["cyclegan"], tiny_generator("cyclegan")
    side = int(math.sqrt(4 * (1 << 30) / tiling.activation_bytes_per_pixel(net, CPU)))
    size = (side, side)  # one pass takes 4 GiB (planned, never run)

    def planned(available_gib: float, free_gib: float) -> tuple[int, int]:
        write_meminfo(meminfo, available_gib=available_gib, free_gib=free_gib)
        budget = tiling.memory_budget(CPU)
        return budget, len(tiling.plan(caps, size, tiling.default_tile(net, caps, size, budget, CPU)))

    tier = {planned(available, free) for available in np.linspace(4.01, 7.99, 9) for free in (0.3, 3.0, 7.9)}
    assert len(tier) == 1 and next(iter(tier))[0] == 3 << 30
    _, tiles = next(iter(tier))
    assert 1 < tiles < planned(3.9, 3.9)[1]  # a lower tier: smaller tiles
    assert planned(8.0, 0.5) == (6 << 30, 1)  # the next tier fits one pass

    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (int(11.5 * (1 << 30)), 80 << 30))
    assert tiling.memory_budget(torch.device("cuda")) == 6 << 30  # a GPU: its free memory, tiered alike


def test_forced_tiles_through_the_engine_equal_one_pass(engine, cyclegan_id, monkeypatch):
    caps = CAPS["cyclegan"]
    image = gradient_photo(6, (301, 437))
    untiled = engine.translate_image(TranslateImage(cyclegan_id, image), ctx())
    monkeypatch.setattr(tiling, "memory_budget", lambda device: 1)  # nothing fits: the smallest tiles
    events: list[Progress] = []
    tiled = engine.translate_image(TranslateImage(cyclegan_id, image), ctx(events.append))
    n = len(tiling.plan(caps, (301, 437), tiling.min_tile(caps)))
    assert n > 1 and events[-1].message == f"tile {n} of {n}"
    assert np.abs(tiled - untiled).max() < TOL
    with pytest.raises(ValueError, match=f"tile 100 px is too small for this model: at least {tiling.min_tile(caps)}"):
        engine.translate_image(TranslateImage(cyclegan_id, image, tile=100), ctx())
    with pytest.raises(ValueError, match="tile must be 0"):
        engine.translate_image(TranslateImage(cyclegan_id, photo(6, (30, 40)), tile=-1), ctx())
    assert engine.translate_image(TranslateImage(cyclegan_id, photo(6, (30, 40)), tile=100), ctx()).shape == (30, 40, 3)


def test_wrong_model_or_direction_is_named(tmp_path, engine):
    cut_id = engine.import_model(str(write_tiny_cut(tmp_path / "cut.safetensors")), None).id
    with pytest.raises(ValueError, match=f"direction 'BtoA' is not available: model '{cut_id}' translates AtoB only"):
        engine.translate_image(TranslateImage(cut_id, photo(1), "BtoA"), ctx())
    with pytest.raises(ValueError, match="is a LabelToImage model .* needs an ImageToImage model"):
        engine.translate_image(TranslateImage("spade-landscape-default", photo(1)), ctx())
