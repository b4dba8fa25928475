"""The engine's Swapping Autoencoder service: embed, decode, editing statistics and attributes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine import code_stats
from engine.api import (
    AddAttribute,
    CodeStats,
    ComputeCodeStats,
    DecodeCodes,
    EncodeImage,
    Failed,
    GetCodeStats,
    JobRef,
    Progress,
    RemoveAttribute,
    Result,
)
from engine.catalog import Catalog
from engine.checkpoints import read_checkpoint, write_checkpoint
from engine.handlers import Engine
from engine.imageio import read_rgb
from engine.worker import JobCancelled, JobContext, Worker
from tests.engine.test_worker import Recorder
from tests.sae_fixtures import write_tiny_sae

CTX = JobContext(JobRef(0, "test", 0), lambda event: None)


def photo(seed: int, size: tuple[int, int] = (64, 80), tint: tuple[float, float, float] = (1, 1, 1)) -> np.ndarray:
    """A smooth random colour field (HxWx3 float32 in [0, 1]): different seeds give different codes."""
    rng = np.random.default_rng(seed)
    coarse = (rng.random((4, 5, 3)) * 255).astype(np.uint8)
    smooth = np.asarray(Image.fromarray(coarse).resize(size[::-1], Image.BICUBIC), np.float32) / 255
    return np.clip(smooth * np.asarray(tint, np.float32), 0, 1)


def save_photos(folder: Path, seeds, **kw) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in seeds:
        paths.append(folder / f"photo_{seed:02d}.png")
        Image.fromarray((photo(seed, **kw) * 255).astype(np.uint8)).save(paths[-1])
    return paths


@pytest.fixture
def engine() -> Engine:
    return Engine(Catalog(), torch.device("cpu"))


@pytest.fixture
def model_id(engine, tmp_path) -> str:
    return engine.import_model(str(write_tiny_sae(tmp_path / "models" / "tiny.safetensors")), None, CTX).id


def test_the_official_fixture_imports_and_embeds_like_the_official_code(official, engine):
    ref = np.load(official / "sae" / "small" / "io_seed0.npz")
    entry = engine.import_model(str(official / "sae" / "small" / "latest_checkpoint.pth"), None, CTX)
    assert (entry.method, entry.task) == ("sae", "StructureTexture")
    image = ref["input_structure_uint8_hwc"].astype(np.float32) / 255
    embedding = engine.encode_image(EncodeImage(entry.id, image), CTX)
    assert embedding.structure.shape == (8, 7, 11) and embedding.texture.shape == (128,)
    assert embedding.size == (112, 176) and embedding.cell == 16
    assert np.abs(embedding.structure - ref["structure_code_structure_img"][0]).max() < 1e-4
    assert np.abs(embedding.texture - ref["texture_code_structure_img"][0]).max() < 1e-4


def test_encode_gives_unit_codes_of_the_documented_shapes(engine, model_id):
    embedding = engine.encode_image(EncodeImage(model_id, photo(0, (70, 90))), CTX)
    assert embedding.size == (70, 90) and embedding.cell == 8
    assert embedding.structure.shape == (8, 9, 12)  # 70x90 px padded to whole 8 px cells
    assert embedding.texture.shape == (32,)
    assert np.allclose(np.linalg.norm(embedding.structure, axis=0), 1, atol=1e-4)
    assert np.isclose(np.linalg.norm(embedding.texture), 1, atol=1e-4)
    with pytest.raises(ValueError, match="56"):
        engine.encode_image(EncodeImage(model_id, photo(0, (40, 90))), CTX)
    with pytest.raises(ValueError, match="HxWx3"):
        engine.encode_image(EncodeImage(model_id, np.zeros((64, 64), np.float32)), CTX)


def test_a_region_decode_equals_the_same_pixels_of_a_full_decode(engine, model_id):
    embedding = engine.encode_image(EncodeImage(model_id, photo(1, (70, 90))), CTX)
    full = engine.decode_codes(DecodeCodes(model_id, embedding.structure, embedding.texture, embedding.size), CTX)
    assert (full.top, full.left) == (0, 0) and full.image.shape == (70, 90, 3)
    assert 0 <= full.image.min() and full.image.max() <= 1 and full.image.std() > 0.01

    patch = engine.decode_codes(DecodeCodes(model_id, embedding.structure, embedding.texture, embedding.size,
                                            region=(2, 3, 5, 7)), CTX)
    assert (patch.top, patch.left) == (16, 24) and patch.image.shape == (24, 32, 3)
    assert np.abs(patch.image - full.image[16:40, 24:56]).max() < 1e-5
    edge = engine.decode_codes(DecodeCodes(model_id, embedding.structure, embedding.texture, embedding.size,
                                           region=(8, 10, 9, 12)), CTX)  # the last cells are cut to the photo
    assert edge.image.shape == (6, 10, 3) and np.abs(edge.image - full.image[64:, 80:]).max() < 1e-5

    again = engine.decode_codes(DecodeCodes(model_id, embedding.structure, embedding.texture, embedding.size), CTX)
    other_seed = engine.decode_codes(DecodeCodes(model_id, embedding.structure, embedding.texture, embedding.size,
                                                 noise_seed=1), CTX)
    assert np.array_equal(full.image, again.image) and not np.allclose(full.image, other_seed.image)
    preview = engine.decode_codes(DecodeCodes(model_id, embedding.structure, embedding.texture, embedding.size,
                                              scale=0.5), CTX)
    assert preview.image.shape == (70, 90, 3)


def test_codes_that_do_not_fit_the_model_are_refused_with_a_reason(engine, model_id):
    structure, texture = np.ones((8, 8, 10), np.float32), np.ones(32, np.float32)

    def decode(**kw):
        request = {"model_id": model_id, "structure": structure, "texture": texture, "size": (64, 80)} | kw
        return engine.decode_codes(DecodeCodes(**request), CTX)

    decode()
    with pytest.raises(ValueError, match=r"\(8, h, w\)"):
        decode(structure=np.ones((4, 8, 10), np.float32))
    with pytest.raises(ValueError, match=r"\(32,\)"):
        decode(texture=np.ones(64, np.float32))
    with pytest.raises(ValueError, match="cells"):
        decode(size=(100, 80))
    with pytest.raises(ValueError, match="region"):
        decode(region=(0, 0, 9, 3))
    with pytest.raises(ValueError, match="NaN"):
        decode(texture=np.full(32, np.nan, np.float32))
    with pytest.raises(ValueError, match="LabelToImage model"):
        engine.encode_image(EncodeImage("spade-landscape-default", photo(0)), CTX)
    with pytest.raises(ValueError, match="no model with id"):
        engine.code_stats("nope")


def assert_orthonormal(components: np.ndarray) -> None:
    assert np.allclose(components @ components.T, np.eye(len(components)), atol=1e-5)


def test_statistics_from_a_folder_are_stored_and_outlive_the_engine(engine, model_id, tmp_path):
    folder = tmp_path / "photos"
    save_photos(folder, range(6))
    save_photos(folder / "more", range(6, 9), size=(300, 400))  # shrunk to a 256 px short side
    (folder / "notes.txt").write_text("not a photo")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnonsense")
    save_photos(tmp_path / "small", [20], size=(40, 40))
    assert engine.code_stats(model_id) is None

    stats = engine.compute_code_stats(ComputeCodeStats(model_id, (str(folder), str(tmp_path / "small"))), CTX)
    assert stats.count == 9
    assert "9 photos" in stats.source and "broken.png" in stats.source and "256 px" in stats.source
    assert "under 56 px" in stats.source and "photo_20.png" in stats.source
    assert stats.texture_components.shape == (8, 32) and stats.texture_std.shape == (8,)  # k = n - 1
    assert stats.structure_components.shape == (8, 8) and stats.structure_mean.shape == (8,)  # k = C
    assert_orthonormal(stats.texture_components)
    assert_orthonormal(stats.structure_components)
    assert np.all(np.diff(stats.texture_std) <= 1e-7) and stats.texture_std[0] > 0

    images = [read_rgb(p) for p in sorted(folder.rglob("photo_*.png"))]
    images = [code_stats.resize_short_side(im, 256) if min(im.shape[:2]) > 256 else im for im in images]
    textures = [engine.encode_image(EncodeImage(model_id, im), CTX).texture for im in images]
    assert np.abs(np.mean(textures, 0) - stats.texture_mean).max() < 1e-5

    assert code_stats.user_file(model_id).is_file()
    reloaded = Engine(Catalog(), torch.device("cpu")).code_stats(model_id)
    for name in code_stats.ARRAYS:
        assert np.array_equal(getattr(reloaded, name), getattr(stats, name)), name
    assert (reloaded.source, reloaded.count) == (stats.source, stats.count)
    again = engine.compute_code_stats(ComputeCodeStats(model_id, (str(folder),)), CTX)
    assert np.array_equal(again.texture_components, stats.texture_components)  # repeatable, signs fixed


def test_too_few_photos_are_refused(engine, model_id, tmp_path):
    save_photos(tmp_path / "few", range(5))
    (tmp_path / "few" / "broken.jpg").write_bytes(b"nonsense")
    with pytest.raises(ValueError, match="need at least 8 photos, found 5 readable in .*few.*broken.jpg"):
        engine.compute_code_stats(ComputeCodeStats(model_id, (str(tmp_path / "few"),)), CTX)
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        engine.compute_code_stats(ComputeCodeStats(model_id, (str(tmp_path / "missing"),)), CTX)
    assert not code_stats.user_file(model_id).exists()


def with_shipped_stats(path: Path, out: Path) -> Path:
    """The tiny model again, now carrying editing statistics as part "stats" (as a trainer would ship them)."""
    ckpt = read_checkpoint(path)
    rng = np.random.default_rng(0)
    shipped = CodeStats(
        rng.random(32, np.float32), np.eye(3, 32, dtype=np.float32), np.ones(3, np.float32),
        rng.random(8, np.float32), np.eye(2, 8, dtype=np.float32), np.ones(2, np.float32),
        attributes=(("night", rng.random(32, np.float32)),), source="500 training photos", count=500)
    tensors, info = code_stats.to_part(shipped)
    write_checkpoint(out, ckpt.state_dict, {**ckpt.metadata, "name": "tiny-shipped", "stats": info},
                     parts={code_stats.PART: tensors})
    return out


def test_shipped_statistics_are_overridden_by_the_users_until_the_model_file_changes(engine, tmp_path):
    path = with_shipped_stats(write_tiny_sae(tmp_path / "tiny.safetensors"), tmp_path / "shipped.safetensors")
    entry = engine.import_model(str(path), None, CTX)
    shipped = engine.code_stats(entry.id)
    assert shipped.source == "shipped with the model (500 training photos)" and shipped.count == 500
    assert [n for n, _ in shipped.attributes] == ["night"]

    save_photos(tmp_path / "photos", range(8))
    mine = engine.compute_code_stats(ComputeCodeStats(entry.id, (str(tmp_path / "photos"),)), CTX)
    assert mine.count == 8 and [n for n, _ in mine.attributes] == ["night"]  # attributes are kept
    assert Engine(Catalog(), torch.device("cpu")).code_stats(entry.id).count == 8

    engine.catalog.upsert(dataclasses.replace(entry, sha256="0" * 64))  # e.g. a training run replaced the file
    stale = engine.code_stats(entry.id)
    assert stale.count == 500 and "another version of the model file" in stale.source


def test_attributes_are_added_replaced_removed_and_kept(engine, model_id, tmp_path):
    summer = save_photos(tmp_path / "summer", [1, 2], tint=(0.4, 0.9, 0.3))
    snow = save_photos(tmp_path / "snow", [3, 4], tint=(1.0, 1.0, 1.0))
    request = AddAttribute(model_id, " snow ", (str(tmp_path / "summer"),), tuple(str(p) for p in snow))
    stats = engine.add_attribute(request, CTX)  # before any statistics: attributes only
    assert [n for n, _ in stats.attributes] == ["snow"] and stats.texture_components.shape == (0, 32)

    def texture(path):
        return engine.encode_image(EncodeImage(model_id, np.asarray(Image.open(path), np.float32) / 255), CTX).texture

    expected = np.mean([texture(p) for p in snow], 0) - np.mean([texture(p) for p in summer], 0)
    assert np.abs(dict(stats.attributes)["snow"] - expected).max() < 1e-5

    save_photos(tmp_path / "photos", range(8))
    stats = engine.compute_code_stats(ComputeCodeStats(model_id, (str(tmp_path / "photos"),)), CTX)
    assert stats.texture_components.shape == (7, 32) and [n for n, _ in stats.attributes] == ["snow"]
    stats = engine.add_attribute(AddAttribute(model_id, "green", request.group_b, request.group_a), CTX)
    stats = engine.add_attribute(dataclasses.replace(request, name="snow", group_a=request.group_b,
                                                     group_b=request.group_a), CTX)
    assert [n for n, _ in stats.attributes] == ["snow", "green"]  # replaced in place
    assert np.abs(dict(stats.attributes)["snow"] + expected).max() < 1e-5

    stats = engine.remove_attribute(RemoveAttribute(model_id, "green"), CTX)
    assert [n for n, _ in stats.attributes] == ["snow"]
    assert [n for n, _ in Engine(Catalog(), torch.device("cpu")).code_stats(model_id).attributes] == ["snow"]
    with pytest.raises(ValueError, match="no attribute 'green' .*snow"):
        engine.remove_attribute(RemoveAttribute(model_id, "green"), CTX)


def test_attribute_names_and_groups_are_checked(engine, model_id, tmp_path):
    save_photos(tmp_path / "a", [1])
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "x.png").write_bytes(b"broken")
    good = (str(tmp_path / "a"),)
    for name, message in (("  ", "needs a name"), ("a\nb", "printable"), ("x" * 41, "at most 40")):
        with pytest.raises(ValueError, match=message):
            engine.add_attribute(AddAttribute(model_id, name, good, good), CTX)
    with pytest.raises(ValueError, match="group B has no readable photos .*x.png"):
        engine.add_attribute(AddAttribute(model_id, "snow", good, (str(tmp_path / "empty"),)), CTX)
    with pytest.raises(ValueError, match="has no attributes"):
        engine.remove_attribute(RemoveAttribute(model_id, "snow"), CTX)
    engine.add_attribute(AddAttribute(model_id, "é" * 40, good, good), CTX)  # any printable text


def test_computing_statistics_can_be_cancelled_between_photos(engine, model_id, tmp_path):
    save_photos(tmp_path / "photos", range(10))
    seen = []

    def on_event(event):
        seen.append(event.message)
        if event.message.startswith("photo 3/"):
            ctx.cancel()

    ctx = JobContext(JobRef(1, "stats", 1), on_event)
    with pytest.raises(JobCancelled):
        engine.compute_code_stats(ComputeCodeStats(model_id, (str(tmp_path / "photos"),)), ctx)
    assert seen[-1].startswith("photo 3/10") and not code_stats.user_file(model_id).exists()


def test_the_worker_serves_the_new_requests(model_id):
    """Through the worker thread as the GUI uses it: results and failures come back as events."""
    recorder = Recorder()
    worker = Worker(Engine(Catalog(), torch.device("cpu")), recorder)
    try:
        encode = worker.submit(EncodeImage(model_id, photo(0)), slot="encode")
        stats = worker.submit(GetCodeStats(model_id), slot="stats")
        worker.submit(ComputeCodeStats(model_id, ()), slot="compute")
        events = recorder.wait_for(lambda evs: sum(isinstance(e, (Result, Failed)) for e in evs) == 3, timeout=60)
    finally:
        worker.stop()
    results = {e.job: e.value for e in events if isinstance(e, Result)}
    assert results[encode].structure.shape == (8, 8, 10) and results[stats] is None
    assert [e.message for e in events if isinstance(e, Failed)] == [
        "no photos or folders given"]
    assert any(isinstance(e, Progress) and e.job == encode for e in events)
