"""The README's "Adding an architecture", proved in the GUI: the toy architecture of tests/toy_arch.py, registered by
its one descriptor, is imported through the Library, listed in the Style Brushes page's model picker and translates
a photo there."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.brushes.project import PHOTO
from tests.app.brush_page_fixtures import (  # noqa: F401 (fixtures are found by name)
    dialogs,
    import_model,
    open_photo,
    page,
    write_photo,
)
from tests.toy_arch import toy_registered, write_toy  # noqa: F401 (a fixture)


@pytest.mark.usefixtures("toy_registered")
def test_the_toy_is_listed_in_the_brush_picker_and_translates(main_window, page, qtbot, tmp_path):
    net = write_toy(tmp_path / "models" / "toy_painter.pth", seed=4)
    entry = import_model(main_window, qtbot, tmp_path / "models" / "toy_painter.pth")
    assert (entry.id, entry.method) == ("toy-toy_painter", "toy")
    assert page.layers_panel.model_picker.findData(entry.id) >= 0

    project = open_photo(qtbot, page, write_photo(tmp_path / "photo.png", (60, 80)), entry)
    photo = torch.from_numpy(project.document.layer(PHOTO).data).permute(2, 0, 1)[None]
    with torch.inference_mode():
        expected = net(photo)[0].permute(1, 2, 0).numpy()
    translated = page.translation(project.layers[0]).astype(np.float32) / 255
    assert np.abs(translated - expected).max() <= 1 / 255 + 1e-6
