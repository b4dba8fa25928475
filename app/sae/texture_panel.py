"""Texture-code edits of a Swapping Autoencoder photo: global principal-component sliders (GANSpace-style
gains), named attribute sliders, and the statistics they come from (computed from photos, stored with
the model). The panel owns only the slider values and shows the model's CodeStats; the engine work on them is
app/sae/code_stats.py's, asked for through the panel's intents. The page applies the edits to the texture
code (engine.codes.shift_texture) and records them in the project."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.sae.direction_sliders import DirectionSliders
from app.sae.looks import Look, unique_names
from app.sae.stats_dialogs import NewAttributeDialog
from app.widgets.files import PHOTO, PHOTO_FILTER, existing_folder, open_file_names
from engine.api import (
    CodeStats,
)
from engine.codes import MIN_STATS_PHOTOS

MAX_GLOBAL = 8  # principal components offered as sliders
PC_LIMIT = 3.0  # standard deviations
ATTRIBUTE_LIMIT = 2.0  # whole mean differences

NO_MODEL = "Choose a Swapping Autoencoder model first."
LOADING = "Reading the model's editing directions…"
NO_STATS = (f"This model has no editing directions yet. Compute them from a folder of at least {MIN_STATS_PHOTOS} "
            "photos like the ones you edit (below); they are stored with the model.")
NO_ATTRIBUTES = "No attributes yet. Make one from two groups of photos, e.g. summer and snow."


@dataclass(frozen=True)
class TextureEdits:
    """Slider values of one photo. gains[i]: standard deviations along texture component i; attributes:
    (name, amount), 1 = the whole mean difference. Canonical: no trailing zero gains, no zero amounts,
    so TextureEdits() means "no edit"."""

    gains: tuple[float, ...] = ()
    attributes: tuple[tuple[str, float], ...] = ()

    def attribute_amounts(self) -> dict[str, float]:
        """The attributes as engine.codes.shift_texture takes them."""
        return dict(self.attributes)


def canonical(gains: Sequence[float], attributes: Sequence[tuple[str, float]]) -> TextureEdits:
    gains = [float(g) for g in gains]
    while gains and not gains[-1]:
        gains.pop()
    return TextureEdits(tuple(gains), tuple((str(n), float(a)) for n, a in attributes if a))


def variance_shares(stats: CodeStats) -> list[float] | None:
    """Each texture component's share of the codes' total variance, or None when it cannot be told.

    Texture codes are unit vectors, so their total variance is E|x - mean|^2 = 1 - |mean|^2, times
    n / (n - 1) for the sample estimate the engine's std uses.
    """
    total = 1.0 - float(np.dot(stats.texture_mean, stats.texture_mean))
    variances = np.square(np.asarray(stats.texture_std, np.float64))
    if total <= 1e-6 or not len(variances):
        return None
    if stats.count > 1:
        total *= stats.count / (stats.count - 1)
    shares = variances / total
    return shares.tolist() if shares.sum() <= 1.0 + 1e-3 else None


def pc_labels(stats: CodeStats) -> tuple[list[str], list[str]]:
    """Slider labels ("Look 1", until the thumbnails tell what each does: app/sae/looks.py) and tooltips for the
    strongest texture components."""
    n = min(MAX_GLOBAL, len(stats.texture_std))
    shares = variance_shares(stats)
    labels, tips = [], []
    for i in range(n):
        labels.append(f"Look {i + 1}")
        explained = f" ({_percent(shares[i])} of how they differ)" if shares else ""
        tips.append(f"Changes the photo's look the {_ordinal(i + 1)}most common way the model's photos differ"
                    f"{explained}. ±100% is as far as those photos go (principal component {i + 1}, "
                    f"±{PC_LIMIT:g} standard deviations).")
    return labels, tips


def _ordinal(n: int) -> str:
    return {1: "", 2: "second ", 3: "third "}.get(n, f"{n}th ")


def _percent(share: float) -> str:
    """Whole percent, one decimal below 10% (small components differ by fractions)."""
    return f"{share:.0%}" if share >= 0.095 else f"{share:.1%}"


def _repolish(widget: QWidget, role: str) -> None:
    """Change a themed role property and make the style sheet see it."""
    widget.setProperty("role", role)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


class TextureEditsPanel(QWidget):
    edits_changed = Signal(object, bool)  # TextureEdits, final
    stats_changed = Signal(object)  # CodeStats | None
    compute_requested = Signal(list)  # photo files and folders to compute the directions from
    attribute_requested = Signal(str, tuple, tuple)  # name, group A's paths, group B's paths
    remove_requested = Signal(str)  # an attribute's name (the user confirmed)
    cancel_requested = Signal()  # stop the running change of the statistics

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model_id: str | None = None
        self._stats: CodeStats | None = None
        self._loading = False
        self._edits = TextureEdits()
        self._changing = False  # a change of the statistics is running

        self.global_sliders = DirectionSliders(limit=PC_LIMIT, pictures=True)
        self.global_sliders.values_changed.connect(self._sliders_moved)
        global_box = QGroupBox("Whole photo")
        QVBoxLayout(global_box).addWidget(self.global_sliders)

        self.attribute_sliders = DirectionSliders(limit=ATTRIBUTE_LIMIT, full=1.0, removable=True, pictures=True)
        self.attribute_sliders.values_changed.connect(self._sliders_moved)
        self.attribute_sliders.remove_requested.connect(self._confirm_remove)
        self.new_attribute = QPushButton("New attribute…")
        self.new_attribute.setToolTip("Name the texture direction between two groups of photos")
        self.new_attribute.clicked.connect(self._ask_attribute)
        attribute_box = QGroupBox("Attributes")
        box = QVBoxLayout(attribute_box)
        box.addWidget(self.attribute_sliders)
        self.attribute_sliders.footer.insertWidget(0, self.new_attribute)

        self.source_label = QLabel(wordWrap=True)
        self.source_label.setProperty("role", "muted")
        self.compute = QPushButton("Compute directions from photos…")
        self.compute.setToolTip(f"Embed a folder of photos (at least {MIN_STATS_PHOTOS}) and store their principal "
                                "texture and structure directions with the model (attributes are kept)")
        menu = QMenu(self.compute)
        menu.addAction("A folder of photos…", self._choose_folder)
        menu.addAction("Photo files…", self._choose_files)
        self.compute.setMenu(menu)
        self.progress = QProgressBar(textVisible=False)
        self.progress.setMaximumHeight(8)
        self.progress_text = QLabel(wordWrap=True)
        self.progress_text.setProperty("role", "muted")
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(self.cancel_requested)
        self.message = QLabel(wordWrap=True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        job_row = QHBoxLayout()
        job_row.addWidget(self.progress, 1)
        job_row.addWidget(self.cancel)
        stats_box = QGroupBox("Statistics")
        box = QVBoxLayout(stats_box)
        box.addWidget(self.source_label)
        box.addWidget(self.compute)
        box.addLayout(job_row)
        box.addWidget(self.progress_text)
        box.addWidget(self.message)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)  # room for the first group box's title
        layout.addWidget(global_box)
        layout.addWidget(attribute_box)
        layout.addWidget(stats_box)
        layout.addStretch()
        self._show_stats()
        self.show_change("")

    # --- what the page uses -------------------------------------------------------------------------

    def show_model(self, model_id: str | None) -> None:
        """Show `model_id`'s directions, being read anew. The slider values are kept for the directions the
        model has; the others are dropped (edits_changed says so once they are known)."""
        changed = model_id != self._model_id
        self._model_id = model_id
        if model_id is None:
            return  # no statistics to wait for
        self._loading = True
        if changed:
            self._stats = None
            self.global_sliders.set_directions([])
            self.attribute_sliders.set_directions([])
            self.stats_changed.emit(None)
        self._show_stats()

    def stats(self) -> CodeStats | None:
        return self._stats

    def edits(self) -> TextureEdits:
        return self._edits

    def set_edits(self, edits: TextureEdits) -> None:
        """Show `edits` without announcing them. Directions the model lacks are dropped (kept until its
        statistics are read, so a page may set a document's edits right after a new model)."""
        edits = canonical(edits.gains, edits.attributes)
        self._edits = edits if self._loading else self._fit(edits)
        self._show_values()

    def compute_from(self, paths: Sequence[str]) -> None:
        """Ask for the model's principal directions from photo files and folders."""
        if self._model_id and paths:
            self.compute_requested.emit([str(p) for p in paths])

    def show_looks(self, components: Sequence[Look | None], attributes: Sequence[Look | None]) -> None:
        """The sliders' end pictures and, for the global ones, the names their ends tell (None: not in yet)."""
        names = unique_names([look.name if look else None for look in components])
        for row, look in enumerate(components[:self.global_sliders.count()]):
            self.global_sliders.set_label(row, names[row])
            self.global_sliders.set_pictures(row, look.left if look else None, look.right if look else None)
        for row, look in enumerate(attributes[:self.attribute_sliders.count()]):
            self.attribute_sliders.set_pictures(row, look.left if look else None, look.right if look else None)

    def attribute_names(self) -> list[str]:
        return [name for name, _ in self._stats.attributes] if self._stats else []

    # --- statistics -------------------------------------------------------------------------------

    def apply_stats(self, stats: CodeStats | None) -> None:
        """New statistics: rebuild the sliders, keeping the values of directions that still exist."""
        self._loading = False
        self._stats = stats
        labels, tips = pc_labels(stats) if stats else ([], [])
        self.global_sliders.set_directions(labels, tips)
        names = self.attribute_names()
        self.attribute_sliders.set_directions(names, [f"'{n}': 100% adds the whole difference between the looks of "
                                                      "its two groups of photos" for n in names])
        kept = self._fit(self._edits)
        changed = kept != self._edits
        self._edits = kept
        self._show_values()
        self._show_stats()
        self.stats_changed.emit(stats)
        if changed:
            self.edits_changed.emit(kept, True)

    def _fit(self, edits: TextureEdits) -> TextureEdits:
        amounts = edits.attribute_amounts()
        return canonical(edits.gains[:self.global_sliders.count()],
                         [(n, amounts[n]) for n in self.attribute_names() if n in amounts])

    def _show_values(self) -> None:
        self.global_sliders.set_values(self._edits.gains)
        amounts = self._edits.attribute_amounts()
        self.attribute_sliders.set_values([amounts.get(n, 0.0) for n in self.attribute_names()])

    def _show_stats(self) -> None:
        stats, busy = self._stats, self._changing
        ready = bool(self._model_id) and not self._loading
        hint = NO_MODEL if not self._model_id else LOADING if self._loading else ""
        self.global_sliders.set_hint(hint or NO_STATS)
        self.attribute_sliders.set_hint(hint or NO_ATTRIBUTES)
        if stats:
            photos = f" ({stats.count} photos)" if stats.count and str(stats.count) not in stats.source else ""
            self.source_label.setText(f"Directions: {stats.source or 'stored with the model'}{photos}.")
        else:
            self.source_label.setText("No directions stored with this model." if ready else "")
        self.source_label.setVisible(bool(self.source_label.text()))
        self.compute.setEnabled(ready and not busy)
        _repolish(self.compute, "primary" if ready and not self.global_sliders.count() else "")
        self.new_attribute.setEnabled(ready and not busy)  # a model without directions takes attributes too
        self.attribute_sliders.setEnabled(not busy)

    # --- changes of the statistics ---------------------------------------------------------------------

    def show_change(self, doing: str) -> None:
        """The running change of the statistics ("" when none runs): progress, cancel, buttons waiting."""
        self._changing = bool(doing)
        if doing:
            self.progress.setRange(0, 0)  # busy until the engine reports a fraction
            self.progress_text.setText(doing)
        for widget in (self.progress, self.progress_text, self.cancel):
            widget.setVisible(bool(doing))
        self._show_stats()

    def show_progress(self, fraction: float, text: str) -> None:
        self.progress.setRange(0, 1000)
        self.progress.setValue(round(1000 * fraction))
        if text:
            self.progress_text.setText(text[:1].upper() + text[1:])

    def show_message(self, text: str, *, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
        _repolish(self.message, "error" if error else "muted")

    # --- user actions ---------------------------------------------------------------------------------

    def _sliders_moved(self, _values: Any, final: bool) -> None:
        names = self.attribute_names()
        self._edits = canonical(self.global_sliders.values(), list(zip(names, self.attribute_sliders.values())))
        self.edits_changed.emit(self._edits, final)

    def _choose_folder(self) -> None:
        folder = existing_folder(self, "Compute directions from a folder of photos", PHOTO)
        if folder:
            self.compute_from([folder])

    def _choose_files(self) -> None:
        paths = open_file_names(self, "Compute directions from photos", PHOTO_FILTER, PHOTO)
        self.compute_from(paths)

    def _ask_attribute(self) -> None:
        dialog = NewAttributeDialog(self.attribute_names(), self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.attribute_requested.emit(dialog.attribute_name(), dialog.group_a.paths(),
                                          dialog.group_b.paths())

    def _confirm_remove(self, row: int) -> None:
        name = self.attribute_names()[row]
        answer = QMessageBox.question(
            self, "Remove attribute",
            f"Remove the attribute '{name}' from {self._model_id}? It is deleted from the model's file; "
            "photos that use it lose that edit.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Yes:
            self.remove_requested.emit(name)
