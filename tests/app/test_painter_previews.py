"""The painter as a user meets its renders: every change is seen first in a quick preview while the last photo stays
on screen, then at full resolution; a full render made stale by a new stroke stops at the network's next block."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from torch.nn.modules.module import register_module_forward_pre_hook

from app.painter.render import FULL_SLOT, LABELS, PHOTO
from engine import worker
from engine.models.spade import SPADEResBlock
from tests.app.painter_page_fixtures import (  # noqa: F401 (fixtures are found by name)
    WAIT,
    ade,
    dialogs,
    page,
    stroke,
    wait_full,
)

BLOCK_SECONDS = 0.15  # each generator block of a full render is made this much slower: a render the test can catch


@pytest.fixture(autouse=True)
def exact_mode(monkeypatch):
    """PyTorch networks (Fast mode may run SPADE in ONNX Runtime, whose blocks are not Python modules)."""
    monkeypatch.setenv("I2I_MODE", "exact")


def test_an_edit_is_previewed_before_its_full_render_and_the_last_photo_stays_meanwhile(page, ade, qtbot):
    page.settings.set_current_class(3)
    stroke(qtbot, page.canvas, [(20, 30), (150, 30)])
    shown = wait_full(qtbot, page)
    assert page.document.layer(PHOTO).data is shown and shown.std() > 0.01
    landed: list[tuple[str, tuple[int, int]]] = []
    page.scheduler.rendered.connect(lambda kind, image: landed.append((kind, image.shape[:2])))

    page.document.undo()  # an edit outside a stroke: a preview, then the full render, on the next turn
    photos_meanwhile = []
    qtbot.waitUntil(lambda: photos_meanwhile.append(page.document.layer(PHOTO).data) or bool(landed), timeout=WAIT)
    assert all(photo is shown for photo in photos_meanwhile[:-1])  # the last photo, never blanked or washed
    qtbot.waitUntil(lambda: [kind for kind, _ in landed] == ["preview", "full"], timeout=WAIT)
    assert all(size == (128, 192) for _, size in landed)  # both shown at the canvas' size
    assert page.scheduler.preview.size((128, 192)) < (128, 192)
    assert np.abs(page.document.layer(PHOTO).data - shown).max() > 0.01  # the undo shows


def test_a_full_render_made_stale_by_a_new_stroke_stops_at_its_next_block(page, ade, qtbot):
    page.new_document(np.zeros((256, 384), np.uint8))
    wait_full(qtbot, page)
    blocks: dict[object, int] = {}  # job -> generator blocks it began
    lock = threading.Lock()

    def count(module, args) -> None:
        ctx = getattr(worker._running, "job", None)  # the job this engine thread runs
        if isinstance(module, SPADEResBlock) and ctx is not None and ctx.job.slot == FULL_SLOT:
            with lock:
                blocks[ctx.job] = blocks.get(ctx.job, 0) + 1
            time.sleep(BLOCK_SECONDS)

    hook = register_module_forward_pre_hook(count)
    try:
        page.settings.set_current_class(2)
        stroke(qtbot, page.canvas, [(20, 20), (200, 20)])  # its full render begins
        qtbot.waitUntil(lambda: sum(blocks.values()) >= 2, timeout=WAIT)
        with lock:
            (stale, begun), = blocks.items()
        stroke(qtbot, page.canvas, [(20, 100), (200, 100)])  # a new stroke: the running render is of no use now
        wait_full(qtbot, page)
        labels = page.document.layer(LABELS).data
        assert (labels[100, 20:201] == 2).all()
    finally:
        hook.remove()
    (whole,) = [n for job, n in blocks.items() if job != stale]  # the new stroke's render, run to its end
    assert blocks[stale] <= begun + 1 < whole  # the stale one stopped at the block after the cancel
