"""The contract between the GUI and the engine: torch-free requests, events and records.

This is the only engine module the GUI imports. Images cross the boundary as numpy arrays:
RGB images are float32 HxWx3 in [0, 1]; label and instance maps are integer HxW arrays.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any, Generic, TypeVar, Union

import numpy as np


class Task(StrEnum):
    """What a model does, which decides the tool that can drive it (engine/tasks/ has one service per task)."""

    LABEL_TO_IMAGE = "LabelToImage"  # a label map (+ style image or seed) -> a photo
    IMAGE_TO_IMAGE = "ImageToImage"  # a photo -> the photo in another domain, one generator per direction
    STRUCTURE_TEXTURE = "StructureTexture"  # a photo <-> structure and texture codes
    CONTENT_STYLE = "ContentStyle"  # a photo + a style image -> the photo in that style
    MULTI_DOMAIN = "MultiDomain"  # a photo + a target class/domain/node + a style code or seed -> a photo (next)


@dataclass(frozen=True)
class Capabilities:
    """What a tool needs to know about a model, stated by its architecture (torch-free, stored in the catalog).

    Sizes are in pixels. Fields a model's task does not use keep their defaults."""

    size_multiple: int = 1  # sides are multiples of this (inputs are padded up to it; one code cell)
    min_size: int = 1  # the smallest side a model works at (smaller photos are padded up or refused)
    fixed_size: tuple[int, int] | None = None  # the one (H, W) the model can produce
    default_size: tuple[int, int] | None = None  # the (H, W) it produces when none is asked for
    receptive_margin: int = 0  # input px a change reaches in the output: tiles overlap and regions grow by it
    directions: tuple[str, ...] = ()  # the generators held (ImageToImage), the first being the default
    style_image: bool = False  # takes a reference image for its style
    style_seed: bool = False  # draws a random style code from a seed
    encoder: bool = False  # embeds photos into codes (StructureTexture)
    min_style_size: int = 0  # the smallest side of a style image
    dontcare_label: bool = False  # label maps may use 255 (dontcare) besides the classes' ids
    domains: tuple[str, ...] = ()  # the target classes, domains or nodes (MultiDomain)

    @property
    def margin_cells(self) -> int:
        """The receptive margin in whole cells of size_multiple px."""
        return -(-self.receptive_margin // self.size_multiple)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Capabilities:
        known = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        for name in ("fixed_size", "default_size", "directions", "domains"):  # JSON lists back to tuples
            if isinstance(known.get(name), list):
                known[name] = tuple(known[name])
        return cls(**known)


@dataclass(frozen=True)
class ModelEntry:
    """One model in the catalog, as the GUI and the CLI list it (no torch needed).

    capabilities: None only for entries written before catalogs stored them; the engine fills them in from the
    architecture before it hands an entry out (engine.model_store)."""

    id: str
    method: str
    task: Task
    size_rule: str
    license: str
    source: str
    sha256: str
    name: str = ""
    hparams: dict[str, Any] = field(default_factory=dict)
    classes: tuple[tuple[int, str], ...] = ()
    palette: str = ""
    added: str = ""
    notes: str = ""
    builtin: bool = False
    capabilities: Capabilities | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "task", Task(self.task))  # callers and catalog files may give the string

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["task"] = self.task.value
        data["classes"] = [[i, n] for i, n in self.classes]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelEntry:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["classes"] = tuple((int(i), str(n)) for i, n in known.get("classes", ()))
        if isinstance(known.get("capabilities"), dict):
            known["capabilities"] = Capabilities.from_json(known["capabilities"])
        return cls(**known)


class Mode(StrEnum):
    """How the engine runs the networks. EXACT: float32 PyTorch, equal to the official outputs within the fixture
    tests' 1e-4. FAST (the default): per architecture the fastest path measured within 3/255 of Exact on real photos
    (README, Performance); its ONNX Runtime sessions are made in the background and kept on disk, the Exact path
    serving until they are ready (engine.inference.SessionBuilder), so it never delays a result."""

    EXACT = "exact"
    FAST = "fast"


MODE_ENV = "I2I_MODE"
DEFAULT_MODE = Mode.FAST


def pick_mode(override: str | None = None) -> Mode:
    """`override`, else $I2I_MODE, else DEFAULT_MODE (Fast); a ValueError naming the modes for anything else."""
    choice = (override or os.environ.get(MODE_ENV) or DEFAULT_MODE).strip().lower()
    try:
        return Mode(choice)
    except ValueError:
        raise ValueError(f"mode '{choice}' is not one of {', '.join(Mode)}") from None


@dataclass(frozen=True)
class DeviceInfo:
    kind: str  # "cuda", "mps" or "cpu"
    name: str  # human-readable, e.g. "CUDA: NVIDIA H100" or "CPU (2 threads)"


# --- requests -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListModels:
    """Result value: tuple[ModelEntry, ...], built-in models first."""


@dataclass(frozen=True)
class ImportModel:
    """Import a checkpoint file into the user's catalog; the architecture is detected from its keys.

    `options` carries dataset conventions the weights cannot reveal (e.g. SPADE's label_nc,
    contain_dontcare_label, no_instance, num_upsampling_layers, aspect_ratio), using the official
    option names; a name the detected architecture does not know is refused with the list of those it
    knows. One option belongs to the import itself, not the architecture: ALLOW_NONFINITE = True keeps
    weights that hold NaN or infinite values (refused otherwise; imported with a warning in the notes).
    Result value: ModelEntry.
    """

    path: str
    options: dict[str, Any] | None = None


# The import option that is not an architecture's: keep weights that hold NaN or infinite values.
ALLOW_NONFINITE = "allow_nonfinite"
# Every refusal of non-finite weights says this, so the GUI can offer to import anyway.
NONFINITE_REFUSAL = "NaN or infinite"

_OPTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_import_options(pairs: list[str]) -> dict[str, Any]:
    """`["label_nc=150", "aspect_ratio=2.0"]` -> typed values, as the official option files write them.

    Only the form is checked here (NAME=VALUE, a name given once); whether the architecture knows the
    name and takes the value is checked at import, against the detected architecture."""
    options: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"option {pair!r} is not NAME=VALUE")
        if not _OPTION_NAME.match(name):
            raise ValueError(f"option name {name!r} is not a name (letters, digits and _ only)")
        if name in options:
            raise ValueError(f"option {name} is given twice")
        if not value.strip():
            raise ValueError(f"option {name} has no value (write {name}=VALUE)")
        options[name] = parse_option_value(value.strip())
    return options


def parse_option_value(text: str) -> Any:
    """'True' -> True, '150' -> 150, '2.0' -> 2.0, 'None' -> None, anything else stays text. Numbers
    must be finite ('nan', 'inf' and overflowing ones stay text, so the option's check names them)."""
    if text in ("True", "true", "False", "false"):
        return text.lower() == "true"
    if text == "None":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


@dataclass(frozen=True)
class RemoveModel:
    """Remove a user model from the catalog (the file itself is left alone). Result value: model id."""

    model_id: str


@dataclass(frozen=True)
class GetDeviceInfo:
    """Result value: DeviceInfo."""


@dataclass(frozen=True, eq=False)
class RenderLabels:
    """Render a photo from a label map with a LabelToImage model. Result value: HxWx3 float32 in [0, 1].

    size: output (H, W); None means the size the checkpoint implies. style: an RGB image for the
    model's encoder (only models that have one). seed: random style code (models with a z input);
    None means the model's deterministic path.
    """

    model_id: str
    labels: np.ndarray
    instances: np.ndarray | None = None
    size: tuple[int, int] | None = None
    style: np.ndarray | None = None
    seed: int | None = None


# --- StructureTexture models (Swapping Autoencoder) -----------------------------------------------
# The GUI holds the codes (small numpy arrays) and edits them with engine.codes; the engine only
# embeds photos and generates from codes, so a slider move never reruns the encoder.


@dataclass(frozen=True, eq=False)
class Embedding:
    """A photo in a StructureTexture model's code space.

    structure: (C, h, w) float32, one code per cell of `cell` x `cell` pixels, covering the photo
    padded up to whole cells; texture: (D,) float32. Both are L2-normalised as the encoder gives them.
    size: the photo's (H, W).
    """

    structure: np.ndarray
    texture: np.ndarray
    size: tuple[int, int]
    cell: int


@dataclass(frozen=True, eq=False)
class EncodeImage:
    """Embed a photo (HxWx3 float32 in [0, 1]) with a StructureTexture model. Result value: Embedding.

    Photos whose sides are not multiples of the model's cell are padded (reflect) and the padding is
    cropped off again on decode. Too small a photo fails with a message naming the minimum size.
    """

    model_id: str
    image: np.ndarray


@dataclass(frozen=True, eq=False)
class DecodeCodes:
    """Generate from codes. Result value: DecodedPatch.

    size: the photo's (H, W), as in the Embedding. region: structure-code cells (top, left, bottom,
    right), end exclusive, to regenerate; the engine adds the generator's receptive-field margin itself,
    so the patch equals the same pixels of a full decode. None: the whole photo. scale < 1: a quick
    preview generated from a proportionally resized structure code, returned at full `size` (ignores
    region). noise_seed: the generator's per-pixel noise is drawn once per (seed, code size), so
    repeated decodes of one photo agree.
    photo: the photo at its own resolution (HxWx3 float32 in [0, 1], `size` being its working copy's), with
    base_codes (structure, texture) the codes it was embedded as: the result is then the photo plus the change
    the codes make against base_codes, upsampled to the photo's size (engine/detail.py), and the patch is in the
    photo's pixels (the whole photo, or the part a region reaches). With the codes equal to base_codes it is the
    photo itself.
    soft_mask (h, w) cell weights in [0, 1] with unmasked_codes (structure, texture), onto a photo: the codes apply
    inside the mask and unmasked_codes outside, the two results blended by the mask feathered at pixel resolution
    along the photo's edges (engine.codes.soft_mask), so region edits have no cell steps at their edges.
    thumbnail > 0, with scale < 1: the image comes back at most that many px on its long side (onto a photo: the
    photo's small copy plus the change), top and left 0.
    """

    model_id: str
    structure: np.ndarray
    texture: np.ndarray
    size: tuple[int, int]
    region: tuple[int, int, int, int] | None = None
    scale: float = 1.0
    noise_seed: int = 0
    photo: np.ndarray | None = None
    base_codes: tuple[np.ndarray, np.ndarray] | None = None
    soft_mask: np.ndarray | None = None
    unmasked_codes: tuple[np.ndarray, np.ndarray] | None = None
    thumbnail: int = 0


@dataclass(frozen=True, eq=False)
class DecodedPatch:
    """image: hxwx3 float32 in [0, 1], to be placed at pixel (top, left) of the photo."""

    image: np.ndarray
    top: int
    left: int


@dataclass(frozen=True, eq=False)
class CodeStats:
    """Editing directions of a StructureTexture model, computed from photos and stored with the model.

    texture_components (k, D) and structure_components (k, C): unit principal directions, strongest
    first; *_std: the spread of the codes along each (one slider unit = one standard deviation).
    attributes: named texture directions (mean of group B minus mean of group A).
    """

    texture_mean: np.ndarray
    texture_components: np.ndarray
    texture_std: np.ndarray
    structure_mean: np.ndarray
    structure_components: np.ndarray
    structure_std: np.ndarray
    attributes: tuple[tuple[str, np.ndarray], ...] = ()
    source: str = ""  # where they came from, for the user: "shipped with the model", "24 photos in ..."
    count: int = 0  # photos used


@dataclass(frozen=True)
class GetCodeStats:
    """Result value: CodeStats, or None when the model has none yet."""

    model_id: str


@dataclass(frozen=True)
class ComputeCodeStats:
    """Embed photos (files or folders of them) and store their principal directions with the model,
    replacing earlier ones but keeping attributes. Result value: CodeStats. At least
    engine.codes.MIN_STATS_PHOTOS readable photos are needed."""

    model_id: str
    paths: tuple[str, ...]


@dataclass(frozen=True)
class AddAttribute:
    """Name the texture direction from group A to group B (e.g. summer -> snow); stored with the model,
    replacing one of the same name. Result value: CodeStats."""

    model_id: str
    name: str
    group_a: tuple[str, ...]
    group_b: tuple[str, ...]


@dataclass(frozen=True)
class RemoveAttribute:
    """Result value: CodeStats."""

    model_id: str
    name: str


# --- ImageToImage models (CycleGAN, CUT, FastCUT, SinCUT): style brushes -------------------------------
# The GUI translates a photo once per (model, direction) and keeps the result; painting a brush mask only
# composites, so no stroke waits on a model.

DIRECTIONS = ("AtoB", "BtoA")  # a CycleGAN model may hold both generators; CUT-family models hold one
MAX_TRANSLATE_PIXELS = 64_000_000  # larger photos are refused with a message, never an out-of-memory crash



class FullRes(StrEnum):
    """How a translation or stylisation reaches the photo's full resolution (the requests' `full_res`).
    TILED: the network over the whole photo at full size, in tiles when memory requires: the official output.
    DETAIL: the network at WORKING_SIDE px and its change upsampled onto the photo, whose finer detail stays
    (engine/detail.py): what the network did not change is exactly the photo; seconds instead of minutes."""

    TILED = "tiled"
    DETAIL = "detail"


WORKING_SIDE = 1024  # the long side the network sees in FullRes.DETAIL (and Swap & Edit embeds at)


@dataclass(frozen=True, eq=False)
class TranslateImage:
    """Translate a whole photo (float32 HxWx3 in [0, 1], any size from 1 px up to MAX_TRANSLATE_PIXELS) with an
    ImageToImage model; large photos go through overlapping tiles, with progress per tile and cancel between
    tiles. Result value: the translated photo, float32 HxWx3 in [0, 1], the input's size.

    image: grey (HxW), RGBA (alpha over white) and uint8/uint16 arrays are converted as image files are read.
    direction: one of the model's capabilities.directions (AtoB, BtoA or both); "" means its first. tile: the side in pixels of the largest window one pass reads (it bounds the memory); 0 lets
    the engine choose from the photo and the device's memory (one pass when the photo fits).
    full_res: FullRes.TILED (the network at full size) or FullRes.DETAIL (at WORKING_SIDE, the photo's detail
    carried; a photo no larger than that gets the full-size pass either way)."""

    model_id: str
    image: np.ndarray
    direction: str = ""
    tile: int = 0
    full_res: str = FullRes.TILED


# --- ContentStyle models (HierarchyFlow): stylise a photo after a reference image --------------------------

# Style strength s of the presets, increasing with the name's order: s = 0 gives the photo unchanged, s = 1 the
# model's full (official) output; between, the engine interpolates on the model (see
# engine/models/hierarchyflow.py). An app extension: the official code has no knob.
STYLE_PRESETS = {"subtle": 0.5, "balanced": 0.75, "full": 1.0}
# The earlier names, as fidelity to the photo (strong fidelity = the lightest style); still accepted.
OLD_PRESET_NAMES = {"strong": "subtle", "normal": "balanced", "weak": "full"}
FIDELITY_PRESETS = {old: STYLE_PRESETS[new] for old, new in OLD_PRESET_NAMES.items()}


@dataclass(frozen=True, eq=False)
class StylizeImage:
    """Stylise a photo after a style image with a ContentStyle model. Result value: float32 HxWx3 in [0, 1], the
    content's size, or with its long side at most max_side when max_side > 0 (a quick preview).

    content: a photo as TranslateImage takes it (grey, RGBA, uint8/uint16 converted), at least the model's
    capabilities.min_size a side. style: any size from capabilities.min_style_size a side (huge ones are
    downscaled; its size does not matter).
    strength: 0 = the photo unchanged ... 1 = full stylisation (FIDELITY_PRESETS name points on it). tile: as in
    TranslateImage (0: chosen from the photo and memory); full_res as in TranslateImage (the preview size
    max_side, when given, is what the network sees). Repeating a request for the same model and photo with
    another strength or style reuses the photo's content pass when it fits one pass."""

    model_id: str
    content: np.ndarray
    style: np.ndarray
    strength: float = 1.0
    max_side: int = 0
    tile: int = 0
    full_res: str = FullRes.TILED


# --- MultiDomain models (DeepI2I; MUNIT/HIT next): a photo into many targets, side by side -------------------

NORMALIZE_CLIP = "clip"  # ours: (x + 1) / 2 clipped to [0, 1], the same mapping for every result of a grid
NORMALIZE_MINMAX = "minmax"  # the official test's save_image(normalize=True): each image stretched to its own min..max
NORMALIZATIONS = (NORMALIZE_CLIP, NORMALIZE_MINMAX)


@dataclass(frozen=True)
class Variation:
    """One result of a MultiDomain model: with the model and the photo, these numbers reproduce it exactly.

    target: the target's index (capabilities.domains names them). seed: the random draw (DeepI2I's noise z;
    HIT's and MUNIT's style epsilon).
    target_b / mix: the class embedding (HIT: the node sample) interpolated from target (mix 0) towards target_b
    (mix 1).
    seed_b / seed_mix: the draw interpolated from seed's (0) towards seed_b's (1).
    chunk_seeds: per chunk of a hierarchical draw, a seed that replaces that chunk's part of seed's draw (None
    keeps it): chunk 0 sets the coarse layout, later chunks finer detail.
    weight: how strongly the photo's structure is injected, relative to what the model was trained with (1 =
    official; lower gives the class more say over the shape).
    temperature: scales the random draw (DeepI2I's z, HIT's and MUNIT's style epsilon): 0 gives the mean style,
    above 1 a wider spread."""

    target: int
    seed: int = 0
    target_b: int | None = None
    mix: float = 0.0
    seed_b: int | None = None
    seed_mix: float = 0.0
    chunk_seeds: tuple[int | None, ...] = ()
    weight: float = 1.0
    temperature: float = 1.0


@dataclass(frozen=True, eq=False)
class VaryImage:
    """Translate one photo into several variations with a MultiDomain model. Result value: tuple[np.ndarray, ...],
    one float32 HxWx3 image in [0, 1] per variation, in order, at the model's capabilities.fixed_size.

    image: float32 HxWx3 in [0, 1] (grey, RGBA, uint8/uint16 converted as TranslateImage does); a model with a
    fixed square size takes the centre square of it resized to that size, so callers crop first to choose the
    square. normalize: NORMALIZE_CLIP (ours, default) or NORMALIZE_MINMAX (the official test's). Repeated
    requests for the same model and photo reuse the photo's encoding. Fully convolutional models (HIT, MUNIT:
    no fixed_size) take the whole photo and return images of its size.
    style: a reference photo (as image) whose encoded style replaces every variation's random one
    (reference-guided; models with capabilities.style_image)."""

    model_id: str
    image: np.ndarray
    variations: tuple[Variation, ...]
    normalize: str = NORMALIZE_CLIP
    style: np.ndarray | None = None


Request = Union[ListModels, ImportModel, RemoveModel, GetDeviceInfo, RenderLabels, EncodeImage, DecodeCodes,
                GetCodeStats, ComputeCodeStats, AddAttribute, RemoveAttribute, TranslateImage, StylizeImage,
                VaryImage]

# What the Result of each request carries: the engine's handlers are annotated alike (a test checks they agree).
RESULT_TYPES: dict[type, Any] = {
    ListModels: tuple[ModelEntry, ...], ImportModel: ModelEntry, RemoveModel: str, GetDeviceInfo: DeviceInfo,
    RenderLabels: np.ndarray, EncodeImage: Embedding, DecodeCodes: DecodedPatch, GetCodeStats: CodeStats | None,
    ComputeCodeStats: CodeStats, AddAttribute: CodeStats, RemoveAttribute: CodeStats, TranslateImage: np.ndarray,
    StylizeImage: np.ndarray, VaryImage: tuple[np.ndarray, ...],
}


# --- events ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobRef:
    """Identifies one submitted job. `stamp` grows per slot; a result whose stamp is not the
    latest for its slot is stale and never delivered."""

    id: int
    slot: str
    stamp: int


@dataclass(frozen=True)
class Progress:
    job: JobRef
    fraction: float
    message: str = ""


@dataclass(frozen=True, eq=False)
class Preview:
    job: JobRef
    image: np.ndarray


T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class Result(Generic[T]):
    """A job's outcome: `value` has the type RESULT_TYPES names for its request."""

    job: JobRef
    value: T


@dataclass(frozen=True)
class Failed:
    job: JobRef
    message: str


@dataclass(frozen=True)
class Cancelled:
    job: JobRef


Event = Union[Progress, Preview, Result, Failed, Cancelled]
