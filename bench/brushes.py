"""Style Brushes latency once a translation is cached: what painting costs the GUI, on the real page, offscreen.

For each photo size: dab-to-display (one mouse move of a stroke, until the canvas has repainted what changed),
the recomposite after an opacity change and after undoing a stroke, and, as the baseline in the same run, a
full-photo recomposite (what a page without dirty rectangles would do on every dab). The translation is random
pixels put in the page's cache: once cached, its content does not change the cost, and the engine's own time
is `bench/translate.py`'s. Two brush layers, a 200-px brush.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

import numpy as np

SIZES = ((1024, 1024), (3000, 4000))
MOVES = 40
BRUSH = 200


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["I2I_STUDIO_DATA"] = tmp
        from PySide6.QtWidgets import QApplication

        from app.brushes.page import StyleBrushPage
        from app.catalog_model import CatalogModel
        from app.engine_bridge import EngineBridge
        from app.theme import apply_theme
        from engine.api import ModelEntry
        from engine.catalog import Catalog

        # listed only: its translation comes from the cache, never from the engine
        Catalog().add(ModelEntry(id="bench", method="cyclegan", task="ImageToImage", size_rule="", license="",
                                 source=os.path.join(tmp, "none"), sha256="", hparams={"directions": ["AtoB"]}))
        app = QApplication.instance() or QApplication(sys.argv[:1])
        apply_theme(app)
        bridge = EngineBridge()
        catalog = CatalogModel(bridge)
        catalog.refresh()
        while catalog.get("bench") is None:
            app.processEvents()
            time.sleep(0.01)
        page = StyleBrushPage(bridge, catalog)
        page.resize(1400, 860)
        page.show()
        print(f"brushes: two layers, a {BRUSH}-px brush, {MOVES} mouse moves per stroke (median / worst)")
        print(f"  {'photo':>11} {'dab->display':>19} {'full recomposite':>17} {'opacity change':>15} {'undo stroke':>12}")
        for size in SIZES:
            dabs, full, opacity, undo = measure(app, page, size)
            print(f"  {size[1]:>5}x{size[0]:<5} {statistics.median(dabs) * 1e3:>8.1f} / {max(dabs) * 1e3:>5.1f} ms "
                  f"{full * 1e3:>14.0f} ms {opacity * 1e3:>12.0f} ms {undo * 1e3:>9.0f} ms", flush=True)
        page.close()
        bridge.shutdown()


def measure(app, page, size: tuple[int, int]) -> tuple[list[float], float, float, float]:
    """(dab-to-display times, full recomposite, opacity change, undo of the stroke), in seconds."""
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtTest import QTest

    from app.brushes.photos import Photo, photo_key

    h, w = size
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (h, w, 3)).astype(np.float32) / 255.0
    project = page.open_photo(Photo(image, "bench.png", key=photo_key(image)))
    page.translator.cancel(forget=True)  # nothing for the engine to do
    key = page.key(project.layers[0])
    page.translator.cache.put(key, rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    page.translator.changed.emit(key)
    project.add_layer(key.model_id, key.direction)
    page.settings.set_brush_size(BRUSH)
    app.processEvents()
    canvas = page.canvas

    def screen(x: float, y: float) -> QPoint:
        origin = canvas.map_to_document(QPointF(0, 0))
        return QPoint(round((x - origin.x()) * canvas.zoom), round((y - origin.y()) * canvas.zoom))

    step = (w - 2 * BRUSH) / MOVES
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, pos=screen(BRUSH, h / 2))
    dabs = []
    for i in range(1, MOVES + 1):
        start = time.perf_counter()
        QTest.mouseMove(canvas, screen(BRUSH + i * step, h / 2 + (i % 5) * BRUSH / 10))
        app.processEvents()  # the repaint of what changed
        dabs.append(time.perf_counter() - start)
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=screen(w - BRUSH, h / 2))
    app.processEvents()
    full = timed(lambda: page.compositor.refresh(None))
    opacity = timed(lambda: project.set_opacity(project.layers[-1].id, 0.5))
    project.undo()
    undo = timed(project.undo)  # the stroke
    project.modified = False
    return dabs, full, opacity, undo


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
