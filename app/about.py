"""Help > About: version, the licences of the model families in the catalog, the data directory."""

from __future__ import annotations

import html
import tomllib
from importlib import metadata
from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

from engine.api import ModelEntry

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def app_version() -> str:
    """The installed distribution's version; a source checkout reads its pyproject.toml."""
    try:
        return metadata.version("i2i-studio")
    except metadata.PackageNotFoundError:
        return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["version"]


def about_html(entries: tuple[ModelEntry, ...], data_dir: Path) -> str:
    licences: dict[str, set[str]] = {}
    for entry in entries:
        licences.setdefault(entry.method, set()).add(entry.license or "not stated")
    if licences:
        rows = "".join(
            f"<li><b>{html.escape(method)}</b>: {html.escape('; '.join(sorted(notes)))}</li>"
            for method, notes in sorted(licences.items())
        )
        licence_part = f"<p>Model families in your library and their licences:</p><ul>{rows}</ul>"
    else:
        licence_part = "<p>No models in your library yet.</p>"
    return (
        f"<h2>I2I Studio {html.escape(app_version())}</h2>"
        "<p>Edit images with deep image-to-image models, and train them.</p>"
        f"{licence_part}"
        f"<p>Data directory:<br><code>{html.escape(str(data_dir))}</code></p>"
    )


def show_about(parent: QWidget, entries: tuple[ModelEntry, ...], data_dir: Path) -> None:
    QMessageBox.about(parent, "About I2I Studio", about_html(entries, data_dir))
