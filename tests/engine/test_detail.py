"""Full resolution by detail transfer: the network at a working size, the photo's own detail carried to full size;
what the network leaves unchanged stays exactly the photo."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import detail, tiling
from engine.api import WORKING_SIDE, FullRes, JobRef, StylizeImage, TranslateImage
from engine.catalog import Catalog
from engine.handlers import Engine
from engine.worker import JobContext
from tests.hierarchyflow_fixtures import write_tiny_flow
from tests.translation_fixtures import photo, write_tiny_cut

CPU = torch.device("cpu")
SIZE = (1100, 1500)  # larger than WORKING_SIDE: detail runs the network smaller


def ctx() -> JobContext:
    return JobContext(JobRef(0, "test", 0), lambda event: None)


@pytest.fixture
def engine() -> Engine:
    return Engine(Catalog(), CPU)


def reads(window: tuple[int, int, int, int], small: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Which output pixels of a bilinear resize from `small` to `size` read (with a weight above 0) a pixel of
    `window` (H x W bool)."""
    axes = []
    for axis in (0, 1):
        n_out, n_in, start, stop = size[axis], small[axis], window[axis], window[axis + 2]
        u = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        lo = np.floor(u).astype(int)
        axes.append(((lo >= start) & (lo < stop)) | ((u > lo) & (lo + 1 >= start) & (lo + 1 < stop)))
    return axes[0][:, None] & axes[1][None, :]


def test_what_the_network_leaves_unchanged_is_exactly_the_photo():
    image = photo(1, SIZE)
    small = detail.downscale(image, detail.working_size(SIZE, 400))
    assert small.shape == (293, 400, 3) and 0 <= small.min() and small.max() <= 1
    assert np.array_equal(detail.carry_detail(image, small, small.copy()), image)

    box = (100, 150, 160, 230)  # (top, left, bottom, right) of the working size: the network changed only this
    changed = small.copy()
    changed[box[0]:box[2], box[1]:box[3]] = 1 - changed[box[0]:box[2], box[1]:box[3]]
    out = detail.carry_detail(image, small, changed)
    untouched = ~reads(box, small.shape[:2], SIZE)
    assert np.array_equal(out[untouched], image[untouched])  # bit for bit
    assert np.abs(out - image)[~untouched].max() > 0.5


def test_a_patch_carries_like_the_whole():
    rng = np.random.default_rng(0)
    image, small = photo(2, (160, 221)), rng.random((41, 57, 3)).astype(np.float32)
    changed = small.copy()
    for top, left, bottom, right in ((0, 0, 41, 57), (13, 7, 30, 50), (30, 40, 41, 57), (5, 5, 9, 9)):
        changed[top:bottom, left:right] += 0.2 * rng.standard_normal((bottom - top, right - left, 3))
        whole = detail.carry_detail(image, small, changed)
        y0, x0 = max(0, top - 1), max(0, left - 1)  # the patch: the changed part and a pixel around it
        part, y, x = detail.carry_patch(image, small, changed[y0:bottom + 1, x0:right + 1], (y0, x0),
                                        (top, left, bottom, right))
        touched = reads((top, left, bottom, right), small.shape[:2], image.shape[:2])
        ys, xs = np.nonzero(touched)
        assert (y, x, y + part.shape[0], x + part.shape[1]) == (ys.min(), xs.min(), ys.max() + 1, xs.max() + 1)
        assert np.abs(part - whole[y:y + part.shape[0], x:x + part.shape[1]]).max() < 1e-5
    with pytest.raises(ValueError, match="a pixel around it"):
        detail.carry_patch(image, small, changed[13:30, 7:50], (13, 7), (13, 7, 30, 50))


def test_translations_in_detail_run_the_network_at_the_working_size(engine, tmp_path, monkeypatch):
    model_id = engine.import_model(str(write_tiny_cut(tmp_path / "cut.safetensors")), None).id
    image = photo(2, SIZE)
    seen: list[tuple[int, int]] = []
    original = tiling.translate

    def spy(translator, caps, picture, **kw):
        seen.append(picture.shape[:2])
        return original(translator, caps, picture, **kw)

    monkeypatch.setattr(tiling, "translate", spy)
    tiled = engine.translate_image(TranslateImage(model_id, image), ctx())
    fast = engine.translate_image(TranslateImage(model_id, image, full_res=FullRes.DETAIL), ctx())
    assert seen == [SIZE, detail.working_size(SIZE, WORKING_SIDE)] and max(seen[1]) == WORKING_SIDE
    assert fast.shape == tiled.shape == image.shape and fast.dtype == np.float32
    assert 0 < np.abs(fast - tiled).mean() < np.abs(tiled - image).mean()  # close to tiled beside the change
    small = photo(3, (300, 420))  # within the working size: the same full-size pass either way
    assert np.array_equal(engine.translate_image(TranslateImage(model_id, small, full_res="detail"), ctx()),
                          engine.translate_image(TranslateImage(model_id, small), ctx()))
    with pytest.raises(ValueError, match="full_res must be one of tiled, detail, got 'fast'"):
        engine.translate_image(TranslateImage(model_id, small, full_res="fast"), ctx())


def test_style_transfer_in_detail_keeps_the_photo_at_strength_zero(engine, tmp_path):
    flow_id = engine.import_model(str(write_tiny_flow(tmp_path / "flow.safetensors")), None).id
    image, style = photo(4, SIZE), photo(5, (64, 64))
    assert np.array_equal(engine.stylize_image(StylizeImage(flow_id, image, style, 0.0, full_res="detail"), ctx()),
                          image)
    styled = engine.stylize_image(StylizeImage(flow_id, image, style, 0.75, full_res="detail"), ctx())
    assert styled.shape == image.shape and np.abs(styled - image).mean() > 0.01
