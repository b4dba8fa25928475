"""Swap & Edit as a user meets its results: a slider released is seen first in a quick preview, the result on screen
staying as it was until then, and then at full resolution."""

from __future__ import annotations

import numpy as np

from app.sae.decoder import RESULT
from tests.app.swap_page_fixtures import (  # noqa: F401 (fixtures are found by name)
    WAIT,
    dialogs,
    open_photo,
    page,
    tiny,
    wait_decoded,
    write_photo,
)


def test_a_released_slider_is_previewed_before_the_full_decode_and_the_result_stays_meanwhile(page, tiny, qtbot,
                                                                                              tmp_path):
    project = open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (256, 256), seed=3))
    with qtbot.waitSignal(page.scheduler.decoded, timeout=WAIT, check_params_cb=lambda k: k == "full"):
        page.use_reference(write_photo(tmp_path / "ref.png", (96, 96), seed=4))
    shown = page.document.layer(RESULT).data.copy()
    kinds: list[str] = []
    page.scheduler.decoded.connect(kinds.append)

    page.swap_panel.blend.slider.setValue(40)  # a release (a click on the groove): a final texture change
    meanwhile = []
    qtbot.waitUntil(lambda: meanwhile.append(page.document.layer(RESULT).data.copy()) or bool(kinds), timeout=WAIT)
    assert all(np.array_equal(result, shown) for result in meanwhile[:-1])  # kept as it was, never washed
    qtbot.waitUntil(lambda: kinds == ["preview", "full"], timeout=WAIT)
    preview, full = page.scheduler.requests[-2:]
    assert preview.scale < 1 and full.scale == 1.0 and project.layers[-1].alpha == 0.4
    assert np.abs(page.document.layer(RESULT).data - shown).max() > 1e-3
