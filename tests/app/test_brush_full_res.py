"""The Style Brushes' choice of how a large photo reaches full resolution: Detail by default, Tiled on request, each
cached on its own, the choice remembered."""

from __future__ import annotations

import numpy as np
import torch

from app.brushes.full_res import FullResPicker
from app.brushes.photos import Photo
from engine.api import FullRes, JobRef, TranslateImage
from engine.catalog import Catalog
from engine.handlers import Engine
from engine.worker import JobContext
from tests.app.brush_page_fixtures import (  # noqa: F401 (fixtures are found by name)
    cut,
    dialogs,
    page,
    pick,
    wait_translated,
)
from tests.translation_fixtures import photo

SIZE = (1030, 1100)  # over the working size (1024): the two methods differ


def engine_translation(model_id: str, image: np.ndarray, full_res: str) -> np.ndarray:
    engine = Engine(Catalog(), torch.device("cpu"))
    out = engine.translate_image(TranslateImage(model_id, image, full_res=full_res),
                                 JobContext(JobRef(0, "test", 0), lambda event: None))
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)  # as the page caches it


def test_large_photos_are_detailed_by_default_and_tiled_on_request(main_window, page, cut, qtbot, monkeypatch):
    requests: list = []
    real = main_window.bridge.submit
    monkeypatch.setattr(main_window.bridge, "submit", lambda r, **k: requests.append(r) or real(r, **k))
    image = np.round(photo(1, SIZE) * 255) / 255
    assert page.full_res.method is FullRes.DETAIL
    project = page.open_photo(Photo(image.astype(np.float32), "large.png"))
    pick(page, cut)
    wait_translated(qtbot, page)
    layer = project.layers[0]
    detailed = page.translation(layer)

    def asked() -> list[str]:  # the full-size requests (the page also asks for quick previews of small copies)
        return [r.full_res for r in requests
                if isinstance(r, TranslateImage) and r.model_id == cut.id and r.image.shape[:2] == SIZE]

    assert asked() == [FullRes.DETAIL]
    assert np.abs(detailed.astype(int) - engine_translation(cut.id, image, "detail")).max() <= 1

    page.full_res.setCurrentIndex(page.full_res.findData(FullRes.TILED))
    wait_translated(qtbot, page)
    tiled = page.translation(layer)
    assert asked() == [FullRes.DETAIL, FullRes.TILED]
    assert np.abs(tiled.astype(int) - engine_translation(cut.id, image, "tiled")).max() <= 1
    assert np.abs(tiled.astype(int) - detailed).max() > 10

    page.full_res.setCurrentIndex(page.full_res.findData(FullRes.DETAIL))  # cached: shown at once
    assert np.array_equal(page.translation(layer), detailed) and len(asked()) == 2
    page.full_res.setCurrentIndex(page.full_res.findData(FullRes.TILED))
    assert FullResPicker().method is FullRes.TILED  # remembered for the next session
