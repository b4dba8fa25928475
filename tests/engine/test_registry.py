"""The registry: every official layout is detected as its own architecture and as no other, the order keeps the
precedence rules, and every architecture survives random init -> official file -> detect -> load unchanged."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import registry, stylize, tiling
from engine.api import Capabilities, DecodeCodes, Mode, ModelEntry, RenderLabels, Task, Variation
from engine.architecture import Architecture, Hparams, Nets
from engine.catalog import Catalog
from engine.checkpoints import StateDict, canonicalize, read_checkpoint
from engine.handlers import Engine
from engine.models import cut, cyclegan, deepi2i, hierarchyflow, hit, sae, spade
from tests.translation_fixtures import photo

CPU = torch.device("cpu")
NOT_WEIGHTS = {"optimizer.pt", "state_dict.pth"}  # training state kept beside the networks, no network in it


# --- official layouts: each detected as itself and as nothing else -------------------------------------------


def _key_lists(node: object, path: str = "") -> Iterator[tuple[str, list[dict]]]:
    """Every list of {"key", "shape"} records in a manifest, named by where it is."""
    if isinstance(node, list) and node and all(isinstance(e, dict) and {"key", "shape"} <= set(e) for e in node):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _key_lists(value, f"{path}/{key}")


def _shapes(records: list[dict]) -> StateDict:
    return canonicalize({e["key"]: torch.empty(e["shape"], device="meta") for e in records})


def official_layouts(root: Path) -> Iterator[tuple[str, str, StateDict]]:
    """(folder, where, state dict) for every network in the official fixtures: the full-size layouts of the
    manifests (released CycleGAN files with their legacy InstanceNorm keys too) and the small files."""
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        manifest = json.loads((folder / "manifest_full.json").read_text())
        legacy = manifest.get("legacy_keys_in_released_pretrained_files", {}).get("possible_extra_keys", [])
        for where, records in _key_lists({k: v for k, v in manifest.items() if not k.startswith("legacy")}):
            yield folder.name, where, _shapes(records)
            if legacy:
                yield folder.name, f"{where} + legacy keys", _shapes(records + legacy)
        if (backbone := folder / "munit_backbone_keys.json").is_file():  # MUNIT's generator, beside HIT's
            yield "munit", f"{backbone.name}/gen_keys", _shapes(json.loads(backbone.read_text())["gen_keys"])
        for path in sorted((folder / "small").rglob("*")):
            if path.suffix in (".pth", ".pt", ".tar") and path.name not in NOT_WEIGHTS:
                yield folder.name, str(path.relative_to(folder)), read_checkpoint(path).state_dict


def test_every_official_layout_is_detected_as_its_architecture_and_no_other(official):
    seen: set[str] = set()
    for folder, where, state_dict in official_layouts(official):
        accepted = [arch.method for arch in registry.ARCHITECTURES if arch.detect(state_dict)]
        owner = registry.find(folder)
        if owner is None:  # a model this version does not have yet (DeepI2I, HIT): nothing may claim it
            assert accepted == [], f"{folder} {where} is taken for {accepted}"
            continue
        seen.add(folder)
        assert registry.detect(state_dict) is owner, f"{folder} {where}"
        # another detector may accept it only where a precedence rule puts the owner first
        assert set(accepted) - {folder} <= set(owner.before), f"{folder} {where} is also taken for {accepted}"
    assert seen == {arch.method for arch in registry.ARCHITECTURES}  # every architecture has official layouts


def test_the_order_keeps_every_precedence_rule():
    methods = [arch.method for arch in registry.ARCHITECTURES]
    assert methods.index("cut") < methods.index("cyclegan")  # the rule CUT states
    for arch in registry.ARCHITECTURES:
        assert all(methods.index(arch.method) < methods.index(later) for later in arch.before if later in methods)
    registry.check_order(registry.ARCHITECTURES)


def test_registering_places_an_architecture_by_its_rules(monkeypatch):
    monkeypatch.setattr(registry, "ARCHITECTURES", registry.ARCHITECTURES)
    first = dataclasses.replace(cut.ARCHITECTURE, method="cut-like", before=("cut",))
    registry.register(first)
    methods = [arch.method for arch in registry.ARCHITECTURES]
    assert methods.index("cut-like") == methods.index("cut") - 1
    registry.register(dataclasses.replace(cut.ARCHITECTURE, method="last", before=()))
    assert registry.ARCHITECTURES[-1].method == "last" and registry.find("last") is not None
    with pytest.raises(ValueError, match="same method"):
        registry.register(first)
    with pytest.raises(ValueError, match="cyclegan must be tried before spade"):
        registry.check_order([spade.ARCHITECTURE, dataclasses.replace(cyclegan.ARCHITECTURE, before=("spade",))])


# --- random init -> the official layout -> detect -> load: the same hparams and the same output -------------


def _spade(folder: Path) -> tuple[Nets, Path, dict, dict]:
    torch.manual_seed(0)
    generator = spade.SPADEGenerator(ngf=4, semantic_nc=6, nhidden=8).eval()
    options = {"label_nc": 5, "crop_size": 64}  # what the weights cannot tell
    torch.save(generator.state_dict(), folder / "latest_net_G.pth")
    hparams = spade.resolve_hparams(generator.state_dict(), options)
    return {"netG": generator}, folder / "latest_net_G.pth", options, hparams


def _sae(folder: Path) -> tuple[Nets, Path, dict, dict]:
    hparams = sae.config_hparams(global_code_ch=16, netE_scale_capacity=0.125, netG_scale_capacity=0.03125)
    torch.manual_seed(0)
    encoder, generator = (net.eval() for net in sae.build(hparams))
    torch.save({**{f"E.{k}": v for k, v in encoder.state_dict().items()},
                **{f"G.{k}": v for k, v in generator.state_dict().items()}}, folder / "latest_checkpoint.pth")
    return {"netE": encoder, "netG": generator}, folder / "latest_checkpoint.pth", {}, hparams


def _cyclegan(folder: Path) -> tuple[Nets, Path, dict, dict]:
    """A training run's pair: importing G_A brings G_B."""
    hparams = cyclegan.config_hparams(ngf=4, n_blocks=2, directions=("AtoB", "BtoA"))
    torch.manual_seed(0)
    nets = {"AtoB": cyclegan.build(hparams), "BtoA": cyclegan.build(hparams)}
    for direction, side in (("AtoB", "A"), ("BtoA", "B")):
        torch.save(nets[direction].state_dict(), folder / f"latest_net_G_{side}.pth")
    return nets, folder / "latest_net_G_A.pth", {}, hparams


def _cut(folder: Path) -> tuple[Nets, Path, dict, dict]:
    hparams = cut.config_hparams(ngf=4, n_blocks=2)
    torch.manual_seed(0)
    nets = {"AtoB": cut.build(hparams)}
    torch.save(nets["AtoB"].state_dict(), folder / "latest_net_G.pth")
    return nets, folder / "latest_net_G.pth", {}, hparams


def _hierarchyflow(folder: Path) -> tuple[Nets, Path, dict, dict]:
    """The official trainer's snapshot of the DDP-wrapped model."""
    hparams = hierarchyflow.config_hparams(out_channels=[6, 12])
    torch.manual_seed(0)
    flow = hierarchyflow.build(hparams)
    path = folder / "model_save" / "0.ckpt.pth.tar"
    path.parent.mkdir()
    torch.save({"step": 0, "state_dict": {f"module.{k}": v for k, v in flow.state_dict().items()}}, path)
    return {"flow": flow}, path, {}, hparams


def _deepi2i(folder: Path) -> tuple[Nets, Path, dict, dict]:
    """The official training's experiment folder: G.pth, D.pth, E1.pth, A1.pth side by side."""
    torch.manual_seed(0)
    nets = {"G": deepi2i.Generator(8).eval(), "E1": deepi2i.Discriminator(8).eval(), "A1": deepi2i.Adaptor(8).eval()}
    for role, net in {**nets, "D": deepi2i.Discriminator(8)}.items():
        torch.save(net.state_dict(), folder / f"{role}.pth")
    return nets, folder / "G.pth", {"classes": "lion,tiger"}, deepi2i.config_hparams(ch=8, class_names=["lion", "tiger"])


def _hit(folder: Path) -> tuple[Nets, Path, dict, dict]:
    """The official trainer's outputs/<name>/checkpoints/gen_%08d.pt = {'gen': ...} (tree from config.yaml)."""
    torch.manual_seed(0)
    gen = hit.AdaINGen(dim=4, mlp_dim=8, n_res=1, tree=[2, 2, 1, 1, 2]).eval()
    path = folder / "outputs" / "toy" / "checkpoints" / "gen_00000001.pt"
    path.parent.mkdir(parents=True)
    (path.parent.parent / "config.yaml").write_text("max_iter: 10\ntree:\n  - 2\n  - 2\n  - 1\n  - 1\n  - 2\n")
    torch.save({"gen": gen.state_dict()}, path)
    hparams = {**hit.generator_hparams(gen.state_dict()), "pad_type": "reflect", "tree": [2, 2, 1, 1, 2],
               "tree_source": f"config {(path.parent.parent / 'config.yaml').resolve()}",
               "class_names": ["leaf 0", "leaf 1", "leaf 2", "level 1 · 0", "level 1 · 1", "root"]}
    return {"gen": gen}, path, {}, hparams


def _munit(folder: Path) -> tuple[Nets, Path, dict, dict]:
    """The official trainer's gen_%08d.pt = {'a': gen_a, 'b': gen_b}."""
    torch.manual_seed(0)
    nets = {"a": hit.AdaINGen(dim=4, mlp_dim=8, n_res=2).eval(), "b": hit.AdaINGen(dim=4, mlp_dim=8, n_res=2).eval()}
    torch.save({k: net.state_dict() for k, net in nets.items()}, folder / "gen_00000001.pt")
    hparams = {**hit.generator_hparams(nets["a"].state_dict()), "pad_type": "reflect", "class_names": ["A", "B"]}
    return nets, folder / "gen_00000001.pt", {}, hparams


OFFICIAL_FILES: dict[str, Callable[[Path], tuple[Nets, Path, dict, dict]]] = {
    "spade": _spade, "sae": _sae, "cyclegan": _cyclegan, "cut": _cut, "hierarchyflow": _hierarchyflow,
    "deepi2i": _deepi2i, "hit": _hit, "munit": _munit}


def outputs(arch: Architecture, nets: Nets, hparams: Hparams) -> list[np.ndarray]:
    """What the architecture's task makes with these networks, through the descriptor as the services call it."""
    caps = arch.capabilities(hparams)
    if arch.task is Task.LABEL_TO_IMAGE:
        labels = np.random.default_rng(0).integers(0, 5, (64, 96))
        return [arch.render(nets, hparams, RenderLabels("m", labels), CPU)]
    if arch.task is Task.IMAGE_TO_IMAGE:
        return [tiling.translate(nets[d], caps, photo(1), tile=10_000, device=CPU) for d in caps.directions]
    if arch.task is Task.STRUCTURE_TEXTURE:
        structure, texture = arch.encode(nets, photo(1, (128, 144)), CPU)
        image, _, _ = arch.decode(nets, hparams, DecodeCodes("m", structure, texture, (128, 144)), CPU)
        return [structure, texture, image]
    if arch.task is Task.MULTI_DOMAIN:
        varier = arch.varier(nets, hparams)
        with torch.inference_mode():
            encoding = varier.encode(tiling.to_tensor(photo(1, (128, 128)), CPU) * 2 - 1)
            mixed = {"deepi2i": Variation(0, 2, target_b=1, mix=0.3, weight=0.5, temperature=0.8),
                     "hit": Variation(0, 2, target_b=4, mix=0.3, temperature=0.8)}
            images = varier.generate(encoding, [Variation(1, 3), Variation(0, 2, seed_b=5, seed_mix=0.4),
                                                mixed.get(arch.method, Variation(0, 2, temperature=0.8))])
        return [images.numpy()]
    stylist = arch.stylist(nets)
    return [stylize.Stylizer()(("m", ""), stylist, caps, photo(1), photo(2), 0.6, tile=10_000, device=CPU)]


@pytest.mark.parametrize("arch", registry.ARCHITECTURES, ids=lambda arch: arch.method)
def test_random_init_survives_the_official_layout(arch, tmp_path):
    assert arch.method in OFFICIAL_FILES, f"add how the official code saves {arch.method} models"
    folder = tmp_path / f"{arch.method}_run"
    folder.mkdir()
    nets, path, options, hparams = OFFICIAL_FILES[arch.method](folder)
    assert registry.detect(read_checkpoint(path).state_dict) is arch

    engine = Engine(Catalog(), CPU, mode=Mode.EXACT)  # the official outputs, bit for bit
    entry = engine.import_model(str(path), options)
    assert (entry.method, entry.task, entry.hparams) == (arch.method, arch.task, hparams)
    assert entry.capabilities == arch.capabilities(hparams)
    loaded_hparams, loaded = engine.loaded(entry.id)
    assert set(loaded) == set(nets)
    for role, net in nets.items():
        assert not loaded[role].training
        assert all(torch.equal(v, loaded[role].state_dict()[k]) for k, v in net.state_dict().items()), role
    for ours, theirs in zip(outputs(arch, loaded, loaded_hparams), outputs(arch, nets, hparams), strict=True):
        assert np.array_equal(ours, theirs)


# --- capabilities in the catalog --------------------------------------------------------------------------


def test_capabilities_survive_json_and_old_catalogs_get_them_from_the_architecture(tmp_path):
    builtin = Catalog().entries()
    assert all(e.capabilities == registry.by_method(e.method).capabilities(e.hparams) for e in builtin)
    for entry in builtin:
        assert ModelEntry.from_json(json.loads(json.dumps(entry.to_json()))) == entry
        assert json.loads(json.dumps(entry.to_json()))["task"] == entry.task.value

    old = [{k: v for k, v in e.to_json().items() if k != "capabilities"} for e in builtin]
    (tmp_path / "old.json").write_text(json.dumps({"format": 1, "models": old}))
    catalog = Catalog(tmp_path / "none.json", builtin_file=tmp_path / "old.json")
    assert all(e.capabilities is None for e in catalog.entries())  # read without torch: nothing to say them
    engine = Engine(catalog, CPU)
    assert [e.capabilities for e in engine.models.entries()] == [e.capabilities for e in builtin]
    stranger = ModelEntry("x", "no-such-method", Task.IMAGE_TO_IMAGE, "", "", "", "")
    hand_made = ModelEntry("y", "cyclegan", Task.IMAGE_TO_IMAGE, "", "", "", "", hparams={"directions": ["AtoB"]})
    assert engine.models.capabilities(stranger) == engine.models.capabilities(hand_made) == Capabilities()
