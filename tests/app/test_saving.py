"""Saving never stops the GUI: a large project is written on the file lane while the event loop keeps turning, with
progress, and an edit made during the save is neither in that file nor lost."""

from __future__ import annotations

import time
import zipfile
import zlib

import numpy as np
from PySide6.QtCore import QTimer

from app.brushes.project import BrushProject
from app.brushes.state_io import MASK_DTYPE
from tests.app.brush_page_fixtures import (  # noqa: F401 (fixtures are found by name)
    WAIT,
    brush,
    cyclegan,
    dialogs,
    open_photo,
    page,
    stroke,
    write_photo,
)

STALL_LIMIT_S = 0.2  # the longest the GUI may stop turning while a save runs
SIZE = (1500, 2000)  # a photo large enough that saving it takes seconds here


def large_project(qtbot, page, cyclegan, tmp_path) -> BrushProject:
    project = open_photo(qtbot, page, write_photo(tmp_path / "large.png", SIZE, seed=1), cyclegan)
    brush(page, 400)
    stroke(qtbot, page.canvas, [(300, 300), (1200, 900)])
    return project


def saved_mask(path, layer_id: str) -> np.ndarray:
    with zipfile.ZipFile(path) as zf:
        raw = zlib.decompress(zf.read(f"i2i-studio/brushes/{layer_id}_mask.f32z"))
    return np.frombuffer(raw, MASK_DTYPE).reshape(SIZE)


def test_the_gui_keeps_turning_while_a_large_project_is_saved(page, cyclegan, qtbot, tmp_path):
    large_project(qtbot, page, cyclegan, tmp_path)
    ticks: list[float] = []
    timer = QTimer(interval=20)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    progress: list[float] = []
    page.files.jobs.progress.connect(lambda slot, fraction, message: progress.append(fraction))

    timer.start()
    started = time.perf_counter()
    outcome = page.files.save_project_file(tmp_path / "large.ora")
    qtbot.waitUntil(lambda: outcome.ok is not None, timeout=WAIT)
    timer.stop()
    assert outcome.ok and (tmp_path / "large.ora").is_file() and not page.project.modified
    stalls = np.diff([started, *ticks])
    assert time.perf_counter() - started > 1.0 and len(ticks) > 20  # a save of seconds...
    assert stalls.max() < STALL_LIMIT_S, f"the GUI stopped for {stalls.max():.3f} s"  # ...that never stops the GUI
    assert progress and max(progress) > 0.5  # and says how far it is


def test_an_edit_during_a_save_is_not_in_the_file_and_the_project_stays_modified(page, cyclegan, qtbot, tmp_path):
    project = large_project(qtbot, page, cyclegan, tmp_path)
    layer = project.layers[0]
    before = project.mask(layer.id).copy()
    path = tmp_path / "during.ora"

    outcome = page.files.save_project_file(path)
    assert page.files.busy  # the save runs...
    stroke(qtbot, page.canvas, [(300, 1300), (1800, 1300)])  # ...while the user paints on
    after = project.mask(layer.id).copy()
    assert not np.array_equal(after, before)
    assert outcome.wait()
    assert np.array_equal(saved_mask(path, layer.id), before)  # the project as it was when saved
    assert np.array_equal(project.mask(layer.id), after) and project.modified  # the edit is kept, unsaved
