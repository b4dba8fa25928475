"""Training configurations as plain dataclasses (torch-free, so the GUI builds its forms from them).

Every trainer's config subclasses `RunConfig`, the options every run has (its folder, device, length and
reporting); a subclass restates one of those fields to give it its own default or help, which keeps the field's
place, flag and JSON key. Field metadata: "help" (one line for the form and --help), "group" (the form
section), and optionally "choices", "checks_data" (the dataset check depends on it; every "Data" field does)
and "looks_for" (the weight files a path option is looked up as). Defaults are the paper's unless the help
says "ours".
"""

from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

VGG19_FILE = "vgg19-dcbfe4f3.pth"  # torchvision's file name for the ImageNet VGG-19


def opt(default: Any, help: str, group: str = "Training", **extra: Any) -> Any:
    return field(default=default, metadata={"help": help, "group": group, **extra})


@dataclass
class RunConfig:
    """Where a run goes, how it runs, how long, and how often it reports."""

    out: str = opt("", "run folder (checkpoints, samples, events.jsonl)", "Run")
    name: str = opt("", "run name (empty: the run folder's name)", "Run")
    device: str = opt("auto", "compute device", "Run", choices=("auto", "cuda", "mps", "cpu"))
    amp: bool = opt(True, "mixed precision on CUDA", "Run")
    seed: int = opt(0, "random seed", "Run")
    workers: int = opt(0, "data loading worker processes", "Run")
    total_steps: int = opt(100_000, "training iterations")
    batch_size: int = opt(1, "images per step and process")
    log_every: int = opt(10, "steps between loss events", "Reporting")
    sample_every: int = opt(500, "steps between sample grids", "Reporting")
    checkpoint_every: int = opt(2000, "steps between checkpoints", "Reporting")
    keep_checkpoints: int = opt(3, "checkpoints kept (older ones are deleted)", "Reporting")


RUN_COUNTS = ("total_steps", "batch_size", "log_every", "sample_every", "checkpoint_every", "keep_checkpoints")


@dataclass
class SpadeConfig(RunConfig):
    # data
    images: str = opt("", "folder of photos (official SPADE custom layout)", "Data")
    labels: str = opt("", "folder of label maps, matched to photos by file name", "Data")
    instances: str | None = opt(None, "optional folder of instance maps", "Data")
    palette: str = opt("landscape", "label palette (resources/palettes name or a JSON file)", "Data")
    label_nc: int | None = opt(None, "number of label ids (empty: from the palette)", "Data")
    contain_dontcare_label: bool = opt(False, "label 255 means 'dontcare' (an extra input channel)", "Data")
    no_instance: bool = opt(True, "do not use instance maps", "Data")
    max_images: int | None = opt(None, "use at most this many pairs (empty: all)", "Data")
    ignore_unknown_ids: bool = opt(
        False, "label ids outside the palette become dontcare instead of stopping (needs contain_dontcare_label)",
        "Data")
    # network (the paper's defaults)
    ngf: int = opt(64, "generator width", "Network")
    ndf: int = opt(64, "discriminator width", "Network")
    num_D: int = opt(2, "discriminator scales", "Network")
    n_layers_D: int = opt(4, "layers per discriminator", "Network")
    crop_size: int = opt(256, "training crop size (output width)", "Network")
    aspect_ratio: float = opt(1.0, "width / height of the output", "Network")
    num_upsampling_layers: str = opt("normal", "generator depth", "Network", choices=("normal", "more", "most"))
    use_vae: bool = opt(False, "train an image encoder for style images (multimodal output)", "Network")
    z_dim: int = opt(256, "style code size (with the encoder)", "Network")
    nhidden: int = opt(128, "SPADE's hidden width (128 in the paper and every official file; ours: smaller for "
                            "tiny models)", "Network")
    # optimisation (the paper's defaults)
    total_steps: int = opt(100_000, "training iterations; the learning rate decays linearly over the second half")
    lr_G: float = opt(1e-4, "generator learning rate")
    lr_D: float = opt(4e-4, "discriminator learning rate")
    beta1: float = opt(0.0, "Adam beta1")
    beta2: float = opt(0.999, "Adam beta2")
    lambda_feat: float = opt(10.0, "feature-matching loss weight")
    lambda_vgg: float = opt(10.0, "VGG-19 perceptual loss weight (off when no VGG-19 weights are found)")
    lambda_kld: float = opt(0.05, "KL weight of the image encoder")
    lambda_l1: float = opt(0.0, "ours, not in the paper: pixel L1 to the real photo (for tiny models without VGG)")
    vgg_weights: str | None = opt(None, f"{VGG19_FILE} (empty: look in $TORCH_HOME/hub/checkpoints)",
                                  looks_for=(VGG19_FILE,))


@dataclass
class SaeConfig(RunConfig):
    # data
    images: str = opt("", "folder of photos, any sizes (short side at least crop_size)", "Data")
    max_images: int | None = opt(None, "use at most this many photos (empty: all)", "Data")
    load_size: int | None = opt(None, "scale each photo's short side to this before the random crop (empty: "
                                      "crop_size, as the paper's LSUN training)", "Data")
    # network: the official option names and defaults
    crop_size: int = opt(256, "training crop size (square, a multiple of 2^netE_num_downsampling_sp)", "Network",
                         checks_data=True)  # smaller photos are left out
    spatial_code_ch: int = opt(8, "structure code channels", "Network")
    global_code_ch: int = opt(2048, "texture code size", "Network")
    netE_scale_capacity: float = opt(1.0, "encoder width multiplier", "Network")
    netE_num_downsampling_sp: int = opt(4, "encoder downsamplings to the structure code (cell = 2^n px)", "Network")
    netE_num_downsampling_gl: int = opt(2, "further downsamplings to the texture code", "Network")
    netE_nc_steepness: float = opt(2.0, "how fast the encoder widens per downsampling", "Network")
    netG_scale_capacity: float = opt(1.0, "generator width multiplier", "Network")
    netG_num_base_resnet_layers: int = opt(2, "generator residual blocks before upsampling", "Network")
    netD_scale_capacity: float = opt(1.0, "image discriminator width multiplier (1: StyleGAN2's widths)", "Network")
    netPatchD_scale_capacity: float = opt(1.0, "patch discriminator width multiplier (1: StyleGAN2's widths)",
                                          "Network")
    # the co-occurrence patch discriminator
    patch_size: int | None = opt(None, "patches are resized to this square before D_patch (empty: crop_size / 2, a "
                                       "quarter of the image's area)", "Patches")
    patch_min_scale: float = opt(0.125, "smallest patch side, as a fraction of the image side", "Patches")
    patch_max_scale: float = opt(0.25, "largest patch side, as a fraction of the image side", "Patches")
    patch_num_crops: int = opt(8, "patches per image, for the query and for the reference", "Patches")
    # optimisation (the paper's defaults)
    total_steps: int = opt(100_000, "training iterations at a constant learning rate (ours: the paper states no "
                                    "count)")
    batch_size: int = opt(8, "images per step and process, even: half are reconstructed, half get the other "
                             "half's texture (the paper: 64 on 8 GPUs)")
    lr: float = opt(0.002, "Adam learning rate of E, G, D and D_patch")
    beta1: float = opt(0.0, "Adam beta1")
    beta2: float = opt(0.99, "Adam beta2")
    lambda_L1: float = opt(1.0, "reconstruction L1 weight")
    lambda_GAN: float = opt(1.0, "image GAN weight (half on reconstructions, half on swaps); 0: no D")
    lambda_PatchGAN: float = opt(1.0, "co-occurrence patch GAN weight; 0: no D_patch")
    lambda_R1: float = opt(10.0, "R1 gamma of the image discriminator")
    lambda_patch_R1: float = opt(1.0, "R1 gamma of the patch discriminator")
    R1_once_every: int = opt(16, "lazy R1: the penalty every this many steps (scaled by it)")


# --- unpaired translation (thesis ch. 3): CycleGAN, CUT / FastCUT, SinCUT ---------------------------------

_DATAROOT_HELP = "folder holding trainA and trainB (the official layout); or give a and b"
_A_HELP = "folder of domain A photos (the inputs), any sizes (short side at least crop_size)"
_B_HELP = "folder of domain B photos (the look to learn), any sizes (short side at least crop_size)"
_LOAD_HELP = "scale each photo's short side to this before the random crop (empty: crop_size x 286 / 256, as the " \
             "official 286 px load for 256 px crops)"
_STEPS_HELP = "training iterations: a constant learning rate, then linearly to 0 over decay_steps"
_DECAY_HELP = "the last steps, where the learning rate decays (empty: the second half, as the paper)"


@dataclass
class DomainFoldersConfig(RunConfig):
    """A run on two folders of photos, one per domain (or a dataset holding trainA and trainB)."""

    dataroot: str = opt("", _DATAROOT_HELP, "Data")
    a: str = opt("", _A_HELP, "Data")
    b: str = opt("", _B_HELP, "Data")
    max_images: int | None = opt(None, "use at most this many photos per domain (empty: all)", "Data")
    load_size: int | None = opt(None, _LOAD_HELP, "Data")


@dataclass
class CycleGanConfig(DomainFoldersConfig):
    # network (the paper's)
    ngf: int = opt(64, "generator width", "Network")
    n_blocks: int = opt(9, "generator residual blocks (the paper: 9 for 256 px, 6 for 128 px training)", "Network")
    ndf: int = opt(64, "discriminator width", "Network")
    n_layers_D: int = opt(3, "PatchGAN layers (3: 70x70 patches)", "Network")
    crop_size: int = opt(256, "training crop size (square, a multiple of 4)", "Network", checks_data=True)
    # optimisation (the paper's defaults)
    total_steps: int = opt(200_000, _STEPS_HELP + " (the paper: 200 epochs of ~1,000 photos at batch 1)")
    decay_steps: int | None = opt(None, _DECAY_HELP)
    batch_size: int = opt(1, "photo pairs per step and process")
    lr: float = opt(0.0002, "Adam learning rate of both generators and both discriminators")
    beta1: float = opt(0.5, "Adam beta1")
    beta2: float = opt(0.999, "Adam beta2")
    lambda_cycle: float = opt(10.0, "cycle-consistency weight (L1, both directions)")
    lambda_identity: float = opt(0.5, "identity-mapping weight, times lambda_cycle (G_A(b) ~ b, G_B(a) ~ a); 0: off")
    pool_size: int = opt(50, "the discriminators see a history of this many translations (0: only the newest)")


CUT_MODES = ("CUT", "FastCUT")
FLIP_CHOICES = ("mode", "on", "off")


@dataclass
class CutConfig(DomainFoldersConfig):
    # the variant
    mode: str = opt("CUT", "CUT (PatchNCE on A and, as identity, on B) or FastCUT (stronger PatchNCE on A only, "
                           "flip equivariance)", "Training", choices=CUT_MODES)
    # network (the paper's)
    ngf: int = opt(64, "generator width", "Network")
    n_blocks: int = opt(9, "generator residual blocks", "Network")
    ndf: int = opt(64, "discriminator width", "Network")
    n_layers_D: int = opt(3, "PatchGAN layers (3: 70x70 patches; anti-aliased, as CUT's)", "Network")
    crop_size: int = opt(256, "training crop size (square, a multiple of 4)", "Network", checks_data=True)
    netF_nc: int = opt(256, "units per layer of the patch projection MLP", "Network")
    # the contrastive loss (the paper's)
    nce_layers: str = opt("0,4,8,12,16", "generator layers whose features PatchNCE compares (pixels, both "
                                         "downsampling convs, residual blocks 1 and 5)", "PatchNCE")
    num_patches: int = opt(256, "locations sampled per layer and image", "PatchNCE")
    nce_T: float = opt(0.07, "temperature", "PatchNCE")
    lambda_NCE: float | None = opt(None, "lambda_X, PatchNCE weight on A -> B (empty: CUT 1, FastCUT 10)",
                                   "PatchNCE")
    lambda_NCE_Y: float | None = opt(None, "lambda_Y, PatchNCE identity weight on B -> B (empty: CUT 1, "
                                           "FastCUT 0)", "PatchNCE")
    flip_equivariance: str = opt("mode", "flip the generator's input, and its features back, at random (mode: "
                                         "FastCUT only)", "PatchNCE", choices=FLIP_CHOICES)
    # optimisation (the paper's defaults)
    total_steps: int = opt(200_000, _STEPS_HELP + " (the paper: CUT 400 epochs, FastCUT 200, at batch 1)")
    decay_steps: int | None = opt(None, _DECAY_HELP)
    batch_size: int = opt(1, "photo pairs per step and process")
    lr: float = opt(0.0002, "Adam learning rate of G, D and the projection MLP")
    beta1: float = opt(0.5, "Adam beta1")
    beta2: float = opt(0.999, "Adam beta2")
    lambda_GAN: float = opt(1.0, "LSGAN weight")


@dataclass
class SinCutConfig(RunConfig):
    # data: one photo per domain
    source: str = opt("", "the photo to translate (domain A), e.g. a painting", "Data")
    target: str = opt("", "the photo whose look to learn (domain B), e.g. a photograph", "Data")
    min_width: int = opt(384, "each step scales each photo to a random width between min_width and load_size "
                              "(the paper: 384 to 1024)", "Data")
    load_size: int = opt(1024, "the largest width a photo is scaled to", "Data")
    # network: CUT's ResNet generator (ours: the paper's SinCUT uses a StyleGAN2-based one); StyleGAN2's D
    ngf: int = opt(64, "generator width", "Network")
    n_blocks: int = opt(9, "generator residual blocks", "Network")
    crop_size: int = opt(128, "random crops per photo and step are this square (a multiple of 4 and of "
                              "D_patch_size)", "Network", checks_data=True)
    D_patch_size: int = opt(64, "the crops are cut into tiles of this size before the discriminator: its "
                                "limited view keeps the source's structure", "Network")
    netD_scale_capacity: float = opt(0.25, "discriminator width multiplier (1: StyleGAN2's widths; ours: 0.25)",
                                     "Network")
    netF_nc: int = opt(256, "units per layer of the patch projection MLP", "Network")
    # the contrastive loss (official SinCUT values where the paper gives none)
    nce_layers: str = opt("0,4,8,12,16", "generator layers whose features PatchNCE compares", "PatchNCE")
    num_patches: int = opt(1, "locations sampled per layer and crop; the negatives are every other crop's (the "
                              "official SinCUT)", "PatchNCE")
    nce_T: float = opt(0.07, "temperature", "PatchNCE")
    lambda_NCE: float = opt(4.0, "PatchNCE weight on source -> target (the official SinCUT)", "PatchNCE")
    lambda_NCE_Y: float = opt(4.0, "PatchNCE identity weight on target -> target (the official SinCUT)", "PatchNCE")
    # optimisation: StyleGAN2's, as the paper's SinCUT
    total_steps: int = opt(100_000, _STEPS_HELP + " (the official SinCUT: 8 + 8 epochs of 6,250 steps)")
    decay_steps: int | None = opt(None, _DECAY_HELP.replace("the paper", "the official SinCUT"))
    batch_size: int = opt(16, "crops per photo per step and process")
    lr: float = opt(0.002, "Adam learning rate of G, D and the projection MLP")
    beta1: float = opt(0.0, "Adam beta1")
    beta2: float = opt(0.99, "Adam beta2")
    lambda_GAN: float = opt(1.0, "non-saturating GAN weight")
    lambda_R1: float = opt(1.0, "R1 gradient penalty weight (gamma) of the discriminator")
    lambda_identity: float = opt(1.0, "L1 identity weight: G(target) ~ target (the official SinCUT)")


# --- style transfer (HierarchyFlow) ------------------------------------------------------------------------

HF_VARIANTS = {"HF": (30, 120), "HF+": (12, 60, 120), "HF++": (30, 120, 480)}  # the paper's names, the code's widths
HF_RECIPES = ("official", "paper")
HF_WEIGHT_TYPES = ("learned", "fixed", "softmax", "sigmoid", "attention")
VGG_NORMALISED_FILE = "vgg_normalised.pth"  # the AdaIN paper's VGG-19 encoder, as the official trainer uses
HF_VGG_FILES = (VGG_NORMALISED_FILE, VGG19_FILE)  # what HierarchyFlow looks for, in this order


@dataclass
class HierarchyFlowConfig(RunConfig):
    # data
    content: str = opt("", "folder of content photos, any sizes (the photos to stylise)", "Data")
    style: str = opt("", "folder of style images, any sizes (the looks to learn)", "Data")
    max_images: int | None = opt(None, "use at most this many images per folder (empty: all)", "Data")
    # the recipe
    recipe: str = opt("official", "official: the released code (style loss on relu1_1..relu4_1, lr 1e-4, k 0.8); "
                                  "paper: Fan et al. 2023, sec. 3.2.3, 4 and Table 7 (relu1_1..relu3_1, lr 1e-5, "
                                  "k 0.7). The paper's eqs. 5 and 7 are Euclidean norms; both recipes average "
                                  "squared errors, as the code", "Training", choices=HF_RECIPES)
    k: float | None = opt(None, "aligned-style loss: the share of channels per layer matched to the style, those "
                                "already closest (1 or negative: the plain style loss) (empty: official 0.8; paper "
                                "0.7, Table 7's best SSIM; the paper's text says 0.8)", "Training")
    style_layers: str = opt("", "VGG-19 layers of the style loss, e.g. relu1_1,relu2_1,relu3_1 (empty: official "
                                "relu1_1..relu4_1, paper relu1_1..relu3_1)", "Training")
    lambda_style: float = opt(0.1, "style loss weight lambda (loss = content + lambda x style; both recipes 0.1)")
    # network (the released config)
    variant: str = opt("HF", "network size: HF [30,120] (the released config), HF+ [12,60,120], HF++ "
                             "[30,120,480] (the code's widths for the paper's names)", "Network",
                       choices=tuple(HF_VARIANTS))
    out_channels: str = opt("", "ours: block widths instead of the variant's, comma-separated, each a multiple "
                                "(at least twice) of the one before, starting from 3 (e.g. 6,12 for tiny models)",
                            "Network")
    weight_type: str = opt("learned", "fusion weight of the reverse pass (learned: the released config)", "Network",
                           choices=HF_WEIGHT_TYPES)
    pad_size: int = opt(10, "reflection padding of the content before the flow", "Network")
    crop_height: int = opt(256, "training crop height (RandomResizedCrop of content and style)", "Network")
    crop_width: int = opt(512, "training crop width", "Network")
    scale_min: float = opt(0.8, "RandomResizedCrop: smallest crop area, as a share of the image's", "Network")
    scale_max: float = opt(1.0, "RandomResizedCrop: largest crop area, as a share of the image's", "Network")
    # optimisation (the released config)
    total_steps: int = opt(300_000, "training iterations; the learning rate follows a cosine from lr to 0")
    batch_size: int = opt(1, "content/style pairs per step and process (the official: 1 per GPU)")
    lr: float | None = opt(None, "Adam learning rate (empty: official 1e-4, paper 1e-5)")
    beta1: float = opt(0.9, "Adam beta1")
    beta2: float = opt(0.999, "Adam beta2")
    vgg_weights: str | None = opt(None, f"{VGG_NORMALISED_FILE} (the official AdaIN encoder) or torchvision's "
                                        f"{VGG19_FILE} (empty: look in $TORCH_HOME/hub/checkpoints; random: "
                                        "random weights, for tests only)", looks_for=HF_VGG_FILES)
    # reporting
    checkpoint_every: int = opt(500, "steps between checkpoints (the official: every 500)", "Reporting")


# --- multi-class translation (DeepI2I) -----------------------------------------------------------------------

BIGGAN_G_FILE, BIGGAN_D_FILE = "G.pth", "D.pth"  # BigGAN-PyTorch's 128 px release (its G_ema.pth renamed G.pth)


@dataclass
class DeepI2IConfig(RunConfig):
    # data
    images: str = opt("", "folder of class folders: one subfolder of photos per class (the subfolder names, sorted, "
                          "are the model's classes), any sizes", "Data")
    max_images: int | None = opt(None, "use at most this many photos per class (empty: all)", "Data")
    flip: bool = opt(False, "ours: random horizontal flips (the official HDF5 data has none)", "Data")
    # BigGAN weights: the official transfer learning (both empty: from scratch)
    biggan_G: str = opt("", f"BigGAN-PyTorch 128 px generator {BIGGAN_G_FILE} (G_ema.pth renamed): G starts from "
                            "it (with biggan_D; both empty: train from scratch)", "Network",
                        looks_for=(BIGGAN_G_FILE,))
    biggan_D: str = opt("", f"BigGAN-PyTorch 128 px discriminator {BIGGAN_D_FILE}: D and the encoder E1 start from "
                            "it", "Network", looks_for=(BIGGAN_D_FILE,))
    # network (scripts/DeepI2I.sh)
    ch: int = opt(96, "width of G, D and the encoder (G_ch = D_ch; BigGAN's release: 96)", "Network")
    dim_z: int = opt(120, "noise size (6 chunks, one per generator stage)", "Network")
    shared_dim: int = opt(128, "class embedding size", "Network")
    n_classes: int | None = opt(None, "rows of the class embedding (empty: 1000 with BigGAN weights, the number of "
                                      "classes from scratch)", "Network")
    attention: int = opt(64, "resolution of the self-attention blocks in G and D (64, the release; 0: none)",
                         "Network")
    # optimisation (the code's defaults)
    total_steps: int = opt(100_000, "training iterations (ours: the paper gives no count; the code runs 100 "
                                    "epochs at 32 photos per step, 3,125 steps per 1,000 photos)")
    batch_size: int = opt(32, "photos per step and process (the code: 4 x 8 accumulations)")
    phase1_steps: int = opt(500, "with BigGAN weights: the first steps train only the adaptor A1, then A1 and G "
                                 "(the encoder stays frozen); from scratch everything trains from the start")
    lr_G: float = opt(1e-4, "generator learning rate")
    lr_D: float = opt(4e-4, "discriminator learning rate (also the encoder's and the adaptor's, as the code)")
    beta1: float = opt(0.0, "Adam beta1")
    beta2: float = opt(0.999, "Adam beta2")
    adam_eps: float = opt(1e-6, "Adam epsilon")
    lambda_rec: float = opt(1.0, "weight of the reconstruction loss (L1 between the discriminator's features of "
                                 "each input and of its translation) against the hinge GAN loss")
    checkpoint_every: int = opt(1000, "steps between checkpoints (the code: every 1000)", "Reporting")


def find_vgg19_weights(explicit: str | Path | None = None, names: tuple[str, ...] = (VGG19_FILE,)) -> Path | None:
    """The VGG-19 weights file: `explicit` if given, else the first of `names` (default: torchvision's
    download) in the torch hub cache.

    The cache is looked up where torch.hub puts it: $TORCH_HOME, $XDG_CACHE_HOME/torch, ~/.cache/torch
    (each + hub/checkpoints/<name>). None when no file is found.
    """
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"VGG19 weights not found at {path} (expected {' or '.join(names)})")
        return path
    xdg = os.environ.get("XDG_CACHE_HOME")
    homes = (os.environ.get("TORCH_HOME"), xdg and os.path.join(xdg, "torch"), Path.home() / ".cache" / "torch")
    for name in names:
        for home in homes:
            if home and (candidate := Path(home).expanduser() / "hub" / "checkpoints" / name).is_file():
                return candidate
    return None


def describe(config_type: type) -> list[dict[str, Any]]:
    """The fields of a config as plain data: name, type name, default, help, group, choices, checks_data,
    looks_for."""
    return [{
        "name": f.name,
        "type": f.type if isinstance(f.type, str) else f.type.__name__,
        "default": None if f.default is MISSING else f.default,
        "help": f.metadata.get("help", ""),
        "group": f.metadata.get("group", ""),
        "choices": f.metadata.get("choices"),
        "checks_data": bool(f.metadata.get("checks_data", f.metadata.get("group") == "Data")),
        "looks_for": f.metadata.get("looks_for"),
    } for f in fields(config_type)]
