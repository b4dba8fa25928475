"""A trainer's options form, generated from `trainers.configs.describe()`: a tab per group, an
editor per field chosen by its type, labelled in plain words (the config field's name in the tooltip), the
default in every tooltip, changed values in bold."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QLocale, Signal
from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

INT_MAX = 2**31 - 1
_EMPTY_MEANS = re.compile(r"\(empty: ([^)]*)\)")
# Plain words for the fields whose help does not start with them; the others take the help's first phrase.
PLAIN_LABELS = {
    "amp": "Mixed precision (CUDA)", "workers": "Data loading processes", "total_steps": "Training steps",
    "batch_size": "Images per step", "log_every": "Steps between loss reports",
    "sample_every": "Steps between sample pictures", "checkpoint_every": "Steps between saves",
    "keep_checkpoints": "Saves kept", "label_nc": "Number of labels", "contain_dontcare_label": "Has a 'don't care' label",
    "no_instance": "No instance maps", "max_images": "Use at most (images)",
    "ignore_unknown_ids": "Unknown labels become 'don't care'", "crop_size": "Training picture size (px)",
    "aspect_ratio": "Output width / height", "use_vae": "Learn a style encoder", "nhidden": "SPADE hidden width",
    "lr_G": "Generator learning speed", "lr_D": "Discriminator learning speed", "lr": "Learning speed",
    "beta1": "Optimizer momentum (β1)", "beta2": "Optimizer averaging (β2)", "lambda_feat": "Feature matching weight",
    "lambda_vgg": "Perceptual (VGG) loss weight", "lambda_kld": "Style encoder KL weight",
    "lambda_l1": "Pixel difference weight", "vgg_weights": "VGG-19 weights file",
    "load_size": "Scale photos to (px)", "netE_num_downsampling_sp": "Structure code cell (downsamplings)",
    "netE_num_downsampling_gl": "Texture code downsamplings", "netE_nc_steepness": "Encoder widening",
    "netG_num_base_resnet_layers": "Generator residual blocks", "netD_scale_capacity": "Discriminator width",
    "netPatchD_scale_capacity": "Patch discriminator width", "patch_size": "Patch size for D_patch (px)",
    "lambda_L1": "Reconstruction weight", "lambda_GAN": "Adversarial weight", "lambda_PatchGAN": "Patch realism weight",
    "lambda_R1": "Discriminator smoothing (R1)", "lambda_patch_R1": "Patch discriminator smoothing (R1)",
    "R1_once_every": "Smoothing every (steps)", "decay_steps": "Learning-speed decay steps",
    "lambda_cycle": "Cycle consistency weight", "lambda_identity": "Identity weight",
    "pool_size": "Discriminator history", "mode": "Variant", "netF_nc": "Patch projection width",
    "nce_layers": "Compared generator layers", "num_patches": "Patches per layer", "nce_T": "Contrast temperature",
    "lambda_NCE": "Patch contrast weight", "lambda_NCE_Y": "Identity contrast weight",
    "flip_equivariance": "Random flips", "min_width": "Smallest width (px)", "D_patch_size": "Discriminator tile (px)",
    "recipe": "Recipe", "k": "Aligned style share (k)", "style_layers": "Style loss layers",
    "lambda_style": "Style weight", "variant": "Network size", "out_channels": "Block widths",
    "pad_size": "Padding (px)", "crop_height": "Training picture height (px)", "crop_width": "Training picture width (px)",
    "scale_min": "Smallest crop area", "scale_max": "Largest crop area",
}


@dataclass
class _Field:
    spec: dict[str, Any]
    label: QLabel
    editor: QWidget
    notes: QVBoxLayout  # under the help text; the dialog adds notes such as "VGG-19 weights not found"
    get: Callable[[], Any]  # raises ValueError for text that is not a value of the field's type
    set: Callable[[Any], None]


def field_type(spec: dict[str, Any]) -> tuple[str, bool]:
    """("int", True) for "int | None": the base type name and whether None is allowed."""
    parts = [p.strip() for p in str(spec["type"]).split("|")]
    base = next((p for p in parts if p != "None"), "str")
    return base, "None" in parts


def plain_label(spec: dict[str, Any]) -> str:
    """What a field is called in the form: plain words, else the help's first phrase, else the field's name."""
    if spec["name"] in PLAIN_LABELS:
        return PLAIN_LABELS[spec["name"]]
    phrase = re.split(r" \(|; |: |, ", str(spec["help"]))[0]
    return phrase[:1].upper() + phrase[1:] if 5 <= len(phrase) <= 36 else spec["name"]


def format_value(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int) and abs(value) >= 1000:
        return f"{value:,}"  # as the spin box shows it
    if isinstance(value, float):
        return f"{value:g}"  # 0.0001, not 1.0000e-04 or 0.000100
    return str(value)


class OptionsForm(QTabWidget):
    changed = Signal()

    def __init__(self, specs: list[dict[str, Any]], *, skip: set[str] = frozenset(),
                 first: tuple[str, ...] = (), parent: QWidget | None = None) -> None:
        """`skip`: fields edited elsewhere; `first`: groups whose tabs come first, the rest follow in
        the config's order."""
        super().__init__(parent)
        self._fields: dict[str, _Field] = {}
        self._tabs: dict[str, int] = {}  # group -> tab index
        shown = [s for s in specs if s["name"] not in skip]
        groups = list(dict.fromkeys(s["group"] or "Options" for s in shown))
        groups.sort(key=lambda g: first.index(g) if g in first else len(first))
        grids = {group: self._add_page(group) for group in groups}
        for spec in shown:
            self._add_row(grids[spec["group"] or "Options"], spec)
        for grid in grids.values():
            grid.setRowStretch(grid.rowCount(), 1)
        self.reset_to_defaults()

    # --- values -------------------------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        """Every field's value. Raises ValueError naming the first field whose text is no value."""
        out = {}
        for name, f in self._fields.items():
            try:
                out[name] = f.get()
            except ValueError:
                raise ValueError(f"{f.label.text()} ({name}): '{f.editor.text()}' is not a number") from None
        return out

    def errors(self) -> list[str]:
        try:
            self.values()
        except ValueError as exc:
            return [str(exc)]
        return []

    def set_values(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name in self._fields:
                self._fields[name].set(value)
        self._mark_changed()

    def reset_to_defaults(self) -> None:
        self.set_values({name: f.spec["default"] for name, f in self._fields.items()})

    def editor(self, name: str) -> QWidget:
        return self._fields[name].editor

    def tab_of(self, name: str) -> int:
        """The index of the tab that shows field `name`."""
        return self._tabs[self._fields[name].spec["group"] or "Options"]

    def add_note(self, name: str, note: QWidget) -> None:
        """Show `note` under the help text of field `name`."""
        self._fields[name].notes.addWidget(note)

    # --- construction -------------------------------------------------------------------------

    def _add_page(self, group: str) -> QGridLayout:
        page = QWidget()
        grid = QGridLayout(page)
        grid.setColumnStretch(2, 1)
        grid.setHorizontalSpacing(12)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(page)
        self._tabs[group] = self.addTab(scroll, group)
        return grid

    def _add_row(self, grid: QGridLayout, spec: dict[str, Any]) -> None:
        editor, get, set_ = _make_editor(spec)
        label = QLabel(plain_label(spec))
        tip = f"{spec['help']}\nDefault: {format_value(spec['default'])}\nConfig field: {spec['name']}"
        for widget in (label, editor):
            widget.setToolTip(tip)
        # An empty default already shows in the editor as what empty means ("from the palette").
        default = "" if spec["default"] is None else f" · default {format_value(spec['default'])}"
        help_ = QLabel(spec["help"] + default)
        help_.setProperty("role", "muted")
        help_.setWordWrap(True)
        notes = QVBoxLayout()
        notes.setContentsMargins(0, 0, 0, 0)
        notes.addWidget(help_)
        row = grid.rowCount()
        grid.addWidget(label, row, 0)
        grid.addWidget(editor, row, 1)
        grid.addLayout(notes, row, 2)
        self._fields[spec["name"]] = _Field(spec, label, editor, notes, get, set_)
        for signal in ("toggled", "currentTextChanged", "valueChanged", "textChanged"):
            if hasattr(editor, signal):
                getattr(editor, signal).connect(self._on_edit)
                break

    def _on_edit(self, *_: Any) -> None:
        self._mark_changed()
        self.changed.emit()

    def _mark_changed(self) -> None:
        for f in self._fields.values():
            try:
                differs = f.get() != f.spec["default"]
            except ValueError:
                differs = True
            font = f.label.font()
            font.setBold(differs)
            f.label.setFont(font)


def _make_editor(spec: dict[str, Any]) -> tuple[QWidget, Callable[[], Any], Callable[[Any], None]]:
    base, optional = field_type(spec)
    empty_means = _EMPTY_MEANS.search(spec["help"])
    if spec.get("choices"):
        combo = QComboBox()
        combo.addItems([str(c) for c in spec["choices"]])
        return combo, combo.currentText, lambda v: combo.setCurrentText(str(v))
    if base == "bool":
        box = QCheckBox()
        return box, box.isChecked, lambda v: box.setChecked(bool(v))
    if base == "int":
        spin = QSpinBox()
        spin.setRange(0, INT_MAX)
        spin.setGroupSeparatorShown(True)
        spin.setMinimumWidth(130)
        if optional:  # the minimum stands for "empty" (None), shown as what empty means
            spin.setSpecialValueText(empty_means.group(1) if empty_means else "empty")

            def get_int() -> int | None:
                return None if spin.value() == spin.minimum() else spin.value()

            return spin, get_int, lambda v: spin.setValue(spin.minimum() if v is None else int(v))
        return spin, spin.value, lambda v: spin.setValue(int(v))
    line = QLineEdit()
    line.setMinimumWidth(180)
    if empty_means:
        line.setPlaceholderText(empty_means.group(1))
    if base == "float":
        validator = QDoubleValidator(line)
        validator.setLocale(QLocale.c())  # the value goes through float(): "0.0001", never "0,0001"
        line.setValidator(validator)

        def get_float() -> float | None:
            text = line.text().strip()
            return None if optional and not text else float(text)

        return line, get_float, lambda v: line.setText("" if v is None else format_value(float(v)))

    def get_text() -> str | None:
        text = line.text().strip()
        return None if optional and not text else text

    return line, get_text, lambda v: line.setText("" if v is None else str(v))
