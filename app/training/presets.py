"""Training presets: Quick look / Default / The paper's. Each sets the steps and the training picture sizes
of any trainer's config (the rest stay at the paper's defaults), so an artist picks one and starts; the
Advanced options show every field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Preset:
    key: str
    title: str
    purpose: str
    max_steps: int | None  # None: the paper's number of steps
    max_side: int | None  # the training crop's longest side at most this (None: the paper's size)
    reporting: dict[str, int]  # sample / checkpoint intervals suited to the length


PRESETS = (
    Preset("quick", "Quick look", "a short, small run to see whether the data works", 1_000, 128,
           {"log_every": 10, "sample_every": 100, "checkpoint_every": 250}),
    Preset("default", "Default", "a usable model at the paper's picture size in a fraction of its time", 20_000, None,
           {"sample_every": 500, "checkpoint_every": 1_000}),
    Preset("paper", "The paper's", "the published settings: the best quality, and days on one GPU", None, None, {}),
)
DEFAULT_PRESET = "default"
# Size fields scaled down together so their ratios (and a model's size multiples) hold.
SIZE_FIELDS = ("crop_size", "crop_height", "crop_width", "load_size", "min_width")


def preset_values(preset: Preset, defaults: dict[str, Any]) -> dict[str, Any]:
    """The config values `preset` gives a trainer whose paper defaults are `defaults` (its fields only)."""
    values = dict(defaults)
    if preset.max_steps is not None and "total_steps" in values:
        values["total_steps"] = min(defaults["total_steps"], preset.max_steps)
    sizes = [defaults[f] for f in SIZE_FIELDS if f in ("crop_size", "crop_height", "crop_width")
             and isinstance(defaults.get(f), int)]
    if preset.max_side is not None and sizes and max(sizes) > preset.max_side:
        scale = max(sizes) // preset.max_side  # an integer factor keeps multiples of 16, 32… multiples
        for field in SIZE_FIELDS:
            if isinstance(defaults.get(field), int):
                values[field] = defaults[field] // scale
    for field, every in preset.reporting.items():
        if field in values:
            values[field] = min(defaults[field], every)
    if "decay_steps" in values and values.get("total_steps") != defaults.get("total_steps"):
        values["decay_steps"] = None  # the second half of the shorter run, as the paper's schedule
    return values


def matching_preset(values: dict[str, Any], defaults: dict[str, Any]) -> Preset | None:
    """The preset whose values the form shows now (None once the user changed one of them)."""
    return next((p for p in PRESETS if all(values.get(k) == v for k, v in preset_values(p, defaults).items())),
                None)


def describe_preset(preset: Preset, defaults: dict[str, Any]) -> str:
    """"1,000 steps, 128 px pictures: …" for the dialog."""
    values = preset_values(preset, defaults)
    parts = []
    if "total_steps" in values:
        parts.append(f"{values['total_steps']:,} steps")
    if isinstance(values.get("crop_size"), int):
        parts.append(f"{values['crop_size']} px pictures")
    elif isinstance(values.get("crop_height"), int) and isinstance(values.get("crop_width"), int):
        parts.append(f"{values['crop_width']}x{values['crop_height']} px pictures")
    return f"{', '.join(parts)} — {preset.purpose}."
