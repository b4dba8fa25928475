"""The painter's document: a label map, the photo rendered from it (derived) and, for models with an image
encoder, a hidden style image that guides the render."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.document import Document, Layer
from app.painter.render import LABELS, PHOTO, STYLE, resize_rgb
from engine.imageio import read_label_map

STARTER_SCENE = Path(__file__).resolve().parents[2] / "resources" / "scenes" / "starter_landscape.png"
STARTER_PALETTE = "landscape"


def painter_document(labels: np.ndarray, settings: dict | None = None, style: np.ndarray | None = None) -> Document:
    """A document with the painter's layers: the label map, a (not yet rendered) photo and the style image."""
    layers = [Layer(LABELS, "labels", np.ascontiguousarray(labels, dtype=np.uint8)), photo_layer(labels.shape)]
    if style is not None:
        layers.append(style_layer(style, labels.shape))
    return Document(*labels.shape, settings=settings, layers=layers)


def photo_layer(size: tuple[int, int]) -> Layer:
    """Rendered from the labels: derived, so rendering is no edit."""
    return Layer(PHOTO, "rgb", np.zeros((*size, 3), np.float32), editable=False, derived=True)


def style_layer(image: np.ndarray, size: tuple[int, int]) -> Layer:
    """Hidden: it guides the render, it is not part of the picture."""
    return Layer(STYLE, "rgb", resize_rgb(image, size), visible=False, editable=False)


def complete_document(doc: Document, background: int) -> list[str]:
    """Give a document from a file the painter's layers it lacks (before it is shown, so the document as opened
    has them); returns notes for the user."""
    notes = []
    if not doc.has_layer(LABELS):
        notes.append("the project has no label layer: an empty one was added")
        doc.add_layer(Layer(LABELS, "labels", np.full((doc.height, doc.width), background, np.uint8)))
    if doc.has_layer(PHOTO):
        doc.set_layer_property(PHOTO, derived=True)
    else:
        doc.add_layer(photo_layer((doc.height, doc.width)))
    doc.modified = False  # the document as opened: what it lacked is the painter's, not the user's work
    return notes


def starter_document() -> Document:
    return painter_document(read_label_map(STARTER_SCENE).astype(np.uint8), {"palette": STARTER_PALETTE})
