"""The two modes: choosing one, Fast within 3/255 of Exact on real photos with the shipped (trained) models, Fast's
sessions made in the background and kept on disk, and every architecture's ONNX graph run by onnxruntime to the
PyTorch output."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from engine import inference, registry
from engine.api import (
    DecodeCodes,
    EncodeImage,
    JobRef,
    Mode,
    RenderLabels,
    StylizeImage,
    TranslateImage,
    pick_mode,
)
from engine.catalog import Catalog
from engine.checkpoints import read_checkpoint
from engine.handlers import Engine
from engine.imageio import read_label_map, read_rgb
from engine.worker import JobContext
from tests.hierarchyflow_fixtures import write_tiny_flow
from tests.translation_fixtures import photo as random_photo
from tests.translation_fixtures import tiny_generator, write_tiny_cut

CTX = JobContext(JobRef(0, "test", 0), lambda event: None)
CPU = torch.device("cpu")
RESOURCES = Path(__file__).resolve().parents[2] / "resources"
FAST_TOLERANCE = 3 / 255  # the promise of Fast mode (README, Performance)


# --- choosing the mode -----------------------------------------------------------------------------------------


def test_the_mode_is_fast_by_default_else_the_environment_else_the_override(monkeypatch):
    monkeypatch.delenv("I2I_MODE", raising=False)
    assert pick_mode() is Mode.FAST
    monkeypatch.setenv("I2I_MODE", "Exact")
    assert pick_mode() is Mode.EXACT
    assert pick_mode("fast") is Mode.FAST
    assert pick_mode("exact") is Mode.EXACT
    monkeypatch.setenv("I2I_MODE", "quick")
    with pytest.raises(ValueError, match="mode 'quick' is not one of exact, fast"):
        pick_mode()


def test_the_engine_loads_fast_paths_only_in_fast_mode():
    photo = read_rgb(RESOURCES / "samples" / "default_brush_summer2winter.jpg")[:64, :96]
    exact, fast = Engine(Catalog(), CPU, mode=Mode.EXACT), Engine(Catalog(), CPU, mode=Mode.FAST)
    request = TranslateImage("cut-summer2winter-default", photo)
    exact.translate_image(request, CTX)
    fast.translate_image(request, CTX)
    assert isinstance(exact.models.load(request.model_id).nets["AtoB"], torch.nn.Module)
    assert type(fast.models.load(request.model_id).nets["AtoB"]).__name__ == "OnnxTranslator"


# --- Fast within 3/255 of Exact, real photos, the shipped models -------------------------------------------------


def both_modes(run) -> tuple[np.ndarray, np.ndarray]:
    """Exact's output, and Fast's with its sessions made before its first result (so the ONNX paths are tested)."""
    return tuple(run(Engine(Catalog(), CPU, mode=mode, wait_for_sessions=True)) for mode in (Mode.EXACT, Mode.FAST))


def assert_faithful(exact: np.ndarray, fast: np.ndarray) -> None:
    assert exact.shape == fast.shape
    assert np.abs(exact - fast).max() <= FAST_TOLERANCE


def test_fast_translation_is_within_3_levels_of_exact():
    photo = read_rgb(RESOURCES / "samples" / "default_brush_summer2winter.jpg")
    assert_faithful(*both_modes(lambda e: e.translate_image(TranslateImage("cut-summer2winter-default", photo), CTX)))


def test_fast_label_rendering_is_within_3_levels_of_exact():
    labels = read_label_map(RESOURCES / "scenes" / "starter_landscape.png")
    request = RenderLabels("spade-landscape-default", labels, size=labels.shape)
    assert_faithful(*both_modes(lambda e: e.render_labels(request, CTX)))


def test_fast_swapping_is_within_3_levels_of_exact():
    photo = read_rgb(RESOURCES / "samples" / "default_sae_swap.jpg")
    texture = read_rgb(RESOURCES / "samples" / "default_stylize.jpg")[:, :512]

    def swap(engine: Engine) -> np.ndarray:
        own = engine.encode_image(EncodeImage("sae-wallpapers-default", photo), CTX)
        other = engine.encode_image(EncodeImage("sae-wallpapers-default", texture), CTX)
        return engine.decode_codes(DecodeCodes("sae-wallpapers-default", own.structure, other.texture, own.size),
                                   CTX).image

    assert_faithful(*both_modes(swap))


def test_fast_stylisation_is_within_3_levels_of_exact():
    photo = read_rgb(RESOURCES / "samples" / "default_stylize.jpg")[:, :512]
    style = read_rgb(RESOURCES / "styles" / "ink_wash.jpg")
    for strength in (1.0, 0.5):
        request = StylizeImage("hierarchyflow-default", photo, style, strength)
        assert_faithful(*both_modes(lambda e, r=request: e.stylize_image(r, CTX)))


# --- sessions made in the background, kept on disk ---------------------------------------------------------------


@pytest.fixture
def tiny_cut(tmp_path) -> tuple[Catalog, str]:
    catalog = Catalog()
    entry = Engine(catalog, CPU, mode=Mode.EXACT).import_model(str(write_tiny_cut(tmp_path / "t.safetensors")), {})
    return catalog, entry.id


class Gate:
    """Holds every export until opened, and counts the ONNX Runtime runs."""

    def __init__(self, monkeypatch) -> None:
        self.open, self.runs = threading.Event(), 0
        export, call = inference.export, inference.OnnxSession.__call__

        def held_export(graph, target):
            assert self.open.wait(30)
            export(graph, target)

        def counted_call(session, *inputs):
            self.runs += 1
            return call(session, *inputs)

        monkeypatch.setattr(inference, "export", held_export)
        monkeypatch.setattr(inference.OnnxSession, "__call__", counted_call)


def translate(engine: Engine, model_id: str, image: np.ndarray) -> np.ndarray:
    return engine.translate_image(TranslateImage(model_id, image), CTX)


def session_of(engine: Engine, model_id: str) -> inference.GraphSession:
    return engine.models.load(model_id).nets["AtoB"].session


def test_pytorch_serves_until_the_background_session_is_ready_then_onnx(monkeypatch, tiny_cut):
    catalog, model_id = tiny_cut
    gate, image = Gate(monkeypatch), random_photo(1)
    exact = translate(Engine(catalog, CPU, mode=Mode.EXACT), model_id, image)
    fast = Engine(catalog, CPU, mode=Mode.FAST)
    before = translate(fast, model_id, image)  # the export is held: the PyTorch path answers at once
    assert session_of(fast, model_id).state is inference.State.PENDING and gate.runs == 0
    assert np.array_equal(before, exact)
    gate.open.set()
    assert fast.models.sessions.join(30)
    after = translate(fast, model_id, image)
    assert session_of(fast, model_id).state is inference.State.READY and gate.runs == 1
    assert np.abs(after - exact).max() <= FAST_TOLERANCE
    fast.close()


def test_the_disk_cache_is_reused_by_the_next_engine(tiny_cut):
    catalog, model_id = tiny_cut
    first = Engine(catalog, CPU, mode=Mode.FAST, wait_for_sessions=True)
    translate(first, model_id, random_photo(1))
    files = list(inference.cache_dir().glob("*.onnx"))
    assert first.models.sessions.exports == 1 and len(files) == 1
    second = Engine(catalog, CPU, mode=Mode.FAST)  # in the background, from the file
    assert second.models.load(model_id) and second.models.sessions.join(30)
    assert second.models.sessions.exports == 0 and session_of(second, model_id).state is inference.State.READY
    assert list(inference.cache_dir().glob("*.onnx")) == files
    second.close()


def test_a_corrupt_cache_file_is_rebuilt(tiny_cut, caplog):
    catalog, model_id = tiny_cut
    image = random_photo(2)
    expected = translate(Engine(catalog, CPU, mode=Mode.FAST, wait_for_sessions=True), model_id, image)
    (cached,) = inference.cache_dir().glob("*.onnx")
    cached.write_bytes(b"not a graph")
    engine = Engine(catalog, CPU, mode=Mode.FAST, wait_for_sessions=True)
    with caplog.at_level(logging.WARNING, "engine.inference"):
        assert np.abs(translate(engine, model_id, image) - expected).max() < 1e-6
    assert "unreadable" in caplog.text and engine.models.sessions.exports == 1
    assert session_of(engine, model_id).state is inference.State.READY
    ort.InferenceSession(str(cached), providers=["CPUExecutionProvider"])  # whole again


def test_a_failed_build_stays_on_pytorch_and_says_so_once(monkeypatch, tiny_cut, caplog):
    catalog, model_id = tiny_cut

    def broken(graph, target):
        raise RuntimeError("no exporter today")

    monkeypatch.setattr(inference, "export", broken)
    image = random_photo(3)
    exact = translate(Engine(catalog, CPU, mode=Mode.EXACT), model_id, image)
    fast = Engine(catalog, CPU, mode=Mode.FAST)
    with caplog.at_level(logging.WARNING, "engine.inference"):
        outputs = [translate(fast, model_id, image) for _ in range(2)]
        assert fast.models.sessions.join(30)
        outputs.append(translate(fast, model_id, image))
    assert all(np.array_equal(out, exact) for out in outputs)
    assert session_of(fast, model_id).state is inference.State.FAILED
    assert caplog.text.count("no exporter today") == 1
    fast.close()


def test_an_unloaded_model_drops_its_session_and_a_closed_engine_builds_nothing(monkeypatch, tiny_cut):
    catalog, model_id = tiny_cut
    gate = Gate(monkeypatch)
    fast = Engine(catalog, CPU, mode=Mode.FAST)
    session = session_of(fast, model_id)
    fast.models.forget(model_id)  # as removing the model or the store's eviction does
    gate.open.set()
    assert fast.models.sessions.join(30)
    assert session.state is inference.State.CLOSED and session.session is None
    fast.close()
    later = session_of(fast, model_id)  # loaded again after close: nothing is built, PyTorch serves
    assert later.state is inference.State.FAILED and translate(fast, model_id, random_photo(4)).shape == (64, 80, 3)
    assert gate.runs == 0


def test_fast_stylisation_keeps_the_slider_cache_on_onnx(monkeypatch, tmp_path):
    """HierarchyFlow's content pass, reverse pass and Style-Net run as three graphs; a strength change reruns only
    the reverse passes."""
    catalog = Catalog()
    exact = Engine(catalog, CPU, mode=Mode.EXACT)
    model_id = exact.import_model(str(write_tiny_flow(tmp_path / "f.safetensors")), {}).id
    fast = Engine(catalog, CPU, mode=Mode.FAST, wait_for_sessions=True)
    content, style = random_photo(5, (48, 56)), random_photo(6, (40, 40))
    fast.stylize_image(StylizeImage(model_id, content, style, 1.0), CTX)
    flow = fast.models.load(model_id).nets["flow"]
    assert {kind: s.state for kind, s in flow.graph_sessions().items()} == dict.fromkeys(
        ("content", "reverse", "style"), inference.State.READY)
    runs = Gate(monkeypatch)
    runs.open.set()
    for strength in (0.5, 0.25):
        request = StylizeImage(model_id, content, style, strength)
        out = fast.stylize_image(request, CTX)
        assert np.abs(out - exact.stylize_image(request, CTX)).max() <= FAST_TOLERANCE
    # 0.5: the photo's own code (Style-Net), R(c(s)) and R(c(0)); 0.25: R(c(s)) alone, the rest cached
    assert runs.runs == 4


# --- ONNX graphs: onnxruntime gives the PyTorch output ---------------------------------------------------------


def run_onnx(graph: inference.OnnxGraph, path: Path, inputs: tuple[torch.Tensor, ...]) -> list[np.ndarray]:
    inference.export(graph, path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    return session.run(None, {n: x.numpy() for n, x in zip(graph.input_names, inputs, strict=True) if n in names})


def official_nets(official: Path, method: str, file: str, options: dict | None = None) -> tuple[dict, dict]:
    ckpt = read_checkpoint(official / method / "small" / file)
    arch = registry.detect(ckpt.state_dict)
    hparams = arch.resolve_hparams(ckpt.state_dict, {**ckpt.options, **(options or {})})
    return arch.load(ckpt, hparams), hparams


@pytest.mark.parametrize("method", ["cyclegan", "cut"])
def test_translation_graphs_run_in_onnxruntime_at_any_size(tmp_path, method):
    generator = tiny_generator(method)
    hparams = {"directions": ["AtoB"]}
    graph = registry.by_method(method).onnx({"AtoB": generator}, hparams)
    x = torch.rand(1, 3, 44, 60) * 2 - 1  # not the traced 64x64
    (out,) = run_onnx(graph, tmp_path / "g.onnx", (x,))
    with torch.inference_mode():
        assert np.abs(out - generator(x).numpy()).max() < 1e-4


def test_spade_graph_gives_the_official_output(official, tmp_path):
    nets, hparams = official_nets(official, "spade", "ade20k_like/latest_net_G.pth",
                                  {"label_nc": 8, "crop_size": 160, "aspect_ratio": 5 / 3})
    io = np.load(official / "spade" / "small" / "ade20k_like" / "io_seed0.npz")
    seg = torch.from_numpy(io["input_semantics"])
    (out,) = run_onnx(registry.by_method("spade").onnx(nets, hparams), tmp_path / "g.onnx", (seg,))
    assert np.abs(out - io["output"]).max() < 1e-4


def test_sae_graph_gives_the_official_swap(official, tmp_path):
    nets, hparams = official_nets(official, "sae", "latest_checkpoint.pth")
    io = np.load(official / "sae" / "small" / "io_seed0.npz")
    noise = [torch.from_numpy(io[k]) for k in io.files if k.startswith("noise__G.")]
    inputs = (torch.from_numpy(io["structure_code_structure_img"]), torch.from_numpy(io["texture_code_texture_img"]),
              *noise)
    (out,) = run_onnx(registry.by_method("sae").onnx(nets, hparams), tmp_path / "g.onnx", inputs)
    assert np.abs(out - io["swap_alpha1"]).max() < 1e-4


def test_hierarchyflow_graph_gives_the_official_output(official, tmp_path):
    nets, hparams = official_nets(official, "hierarchyflow", "0.ckpt.pth.tar")
    io = np.load(official / "hierarchyflow" / "small" / "io_seed0.npz")
    inputs = (torch.from_numpy(io["content"]), torch.from_numpy(io["style"]))
    (out,) = run_onnx(registry.by_method("hierarchyflow").onnx(nets, hparams), tmp_path / "g.onnx", inputs)
    assert np.abs(out - io["output_raw"]).max() < 1e-4


def test_exporting_leaves_the_network_as_it_was():
    """The exporter runs a trace in the top module's mode: a wrapper left in training mode would advance the
    spectral norms' power iteration and the BatchNorm statistics of a SPADE generator."""
    from engine.models import spade

    torch.manual_seed(0)
    generator = spade.SPADEGenerator(ngf=2, semantic_nc=5).eval()
    hparams = spade.resolve_hparams(generator.state_dict(), {"label_nc": 5})
    before = {k: v.clone() for k, v in generator.state_dict().items()}
    inference.export(spade.onnx_graph({"netG": generator}, hparams), Path("/dev/null"))
    assert all(torch.equal(v, before[k]) for k, v in generator.state_dict().items())


# --- Fast never needs more memory than the budget Exact plans from -------------------------------------------


class CountedRuns:
    """Counts the ONNX Runtime runs."""

    def __init__(self, monkeypatch) -> None:
        self.runs = 0
        call = inference.OnnxSession.__call__

        def counted(session, *inputs):
            self.runs += 1
            return call(session, *inputs)

        monkeypatch.setattr(inference.OnnxSession, "__call__", counted)


def test_a_render_too_large_for_onnx_in_the_memory_budget_runs_in_pytorch(monkeypatch):
    from engine import tiling
    from engine.models import spade

    torch.manual_seed(0)
    generator = spade.SPADEGenerator(ngf=2, semantic_nc=5).eval()
    hparams = spade.resolve_hparams(generator.state_dict(), {"label_nc": 5})
    fast = registry.by_method("spade").fast({"netG": generator}, hparams, CPU)["netG"]
    runs = CountedRuns(monkeypatch)
    # ONNX Runtime's estimate for a 64x64 render fits, a 128x128 one (4x the pixels) does not
    small_bytes = 64 * 64 * 4 * spade.activation_floats(generator) * inference.ONNX_MEMORY_OVERHEAD
    monkeypatch.setattr(tiling, "memory_budget", lambda device: int(2 * small_bytes))
    labels = np.random.default_rng(0).integers(0, 5, (40, 56))
    for size, onnx_runs in (((64, 64), 1), ((128, 128), 1)):
        exact = spade.render(generator, hparams, labels, size=size)
        assert_faithful(exact, spade.render(fast, hparams, labels, size=size))
        assert runs.runs == onnx_runs, f"{size}: {runs.runs} ONNX runs"


def test_a_translation_pass_too_large_for_onnx_in_the_memory_budget_runs_in_pytorch(monkeypatch, tiny_cut):
    from engine import tiling

    catalog, model_id = tiny_cut
    image = random_photo(1)
    fast = Engine(catalog, CPU, mode=Mode.FAST, wait_for_sessions=True)
    runs = CountedRuns(monkeypatch)
    request = TranslateImage(model_id, image, tile=max(image.shape[:2]) + 8)  # one pass, whatever the budget
    assert_faithful(translate(Engine(catalog, CPU, mode=Mode.EXACT), model_id, image),
                    fast.translate_image(request, CTX))
    assert runs.runs == 1
    monkeypatch.setattr(tiling, "memory_budget", lambda device: 1 << 10)
    exact = Engine(catalog, CPU, mode=Mode.EXACT).translate_image(request, CTX)
    assert np.array_equal(fast.translate_image(request, CTX), exact)
    assert runs.runs == 1  # the small budget kept ONNX Runtime out
    fast.close()
