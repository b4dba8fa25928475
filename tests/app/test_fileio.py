"""Label PNGs, exports, OpenRaster projects and autosave (plain Python: no Qt needed)."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.document import Document, Layer
from app.fileio import (
    MAX_SIDE,
    Autosave,
    FileError,
    export_image,
    load_ora,
    read_label_image,
    save_ora,
    write_label_png,
)
from app.fileio import ora as ora_module
from engine import palettes
from engine.palettes import Palette
from engine.storage import user_data_dir

RNG = np.random.default_rng(0)


@pytest.fixture
def palette() -> Palette:
    """Ids 0..14 plus dontcare 255, like the landscape palette with a void value."""
    base = palettes.load("landscape")
    return Palette("test", "Test", base.classes, 255, "")


def _png(image: Image.Image, path: Path) -> Path:
    image.save(path)
    return path


def _labels(h: int = 40, w: int = 56) -> np.ndarray:
    labels = RNG.integers(0, 15, (h, w)).astype(np.uint8)
    labels[0, :3] = 255
    return labels


# --- label maps -------------------------------------------------------------------------------------------


def test_label_png_round_trip_is_exact_and_indexed(tmp_path: Path, palette: Palette) -> None:
    labels = _labels()
    path = tmp_path / "map.png"
    write_label_png(path, labels, palette)
    with Image.open(path) as image:
        assert image.mode == "P"
        colours = np.asarray(image.convert("RGB"))
    assert (colours == palette.lut()[labels]).all()  # other programs see the class colours
    result = read_label_image(path, palette)
    assert result.labels.dtype == np.uint8
    assert (result.labels == labels).all()
    assert result.message is None and not result.unknown_colours and not result.ids_outside_palette


def test_indexed_png_gives_indices_even_when_colours_repeat(tmp_path: Path, palette: Palette) -> None:
    ids = np.array([[1, 2], [2, 1]], dtype=np.uint8)
    image = Image.frombytes("P", (2, 2), ids.tobytes())
    image.putpalette([0, 0, 0] * 256)  # every entry black: the colours say nothing
    assert (read_label_image(_png(image, tmp_path / "p.png"), palette).labels == ids).all()


def test_ids_outside_the_palette_are_reported(tmp_path: Path, palette: Palette) -> None:
    ids = np.array([[0, 14, 40], [300, 255, 40]], dtype=np.uint16)
    result = read_label_image(_png(Image.fromarray(ids), tmp_path / "wide.png"), palette)
    assert result.ids_outside_palette == [40, 300]
    assert result.labels.tolist() == [[0, 14, 255], [255, 255, 255]]
    assert "40, 300" in result.message and "\n" not in result.message


def test_rgb_label_image_maps_exact_colours(tmp_path: Path, palette: Palette) -> None:
    labels = _labels()
    path = _png(Image.fromarray(palette.colorize(labels)), tmp_path / "rgb.png")
    result = read_label_image(path, palette)
    assert (result.labels == labels).all() and result.message is None


def test_unknown_colours_are_reported_with_counts(tmp_path: Path) -> None:
    landscape = palettes.load("landscape")  # no dontcare: strays get the first id
    rgb = landscape.colorize(np.full((10, 10), 3, dtype=np.uint8))
    rgb[0, :5] = (255, 0, 255)
    rgb[1, :2] = (1, 2, 3)
    rgba = np.dstack([rgb, np.full((10, 10), 255, np.uint8)])
    result = read_label_image(_png(Image.fromarray(rgba), tmp_path / "odd.png"), landscape)
    assert result.unknown_colours == [((255, 0, 255), 5), ((1, 2, 3), 2)]
    assert (result.labels[0, :5] == 0).all() and (result.labels[2:] == 3).all()
    assert "#ff00ff 5 px" in result.message and "'sky' (0)" in result.message


def test_huge_label_map_is_refused(tmp_path: Path, palette: Palette) -> None:
    path = _png(Image.new("L", (8000, 8000)), tmp_path / "huge.png")  # zeros compress to a few kB
    with pytest.raises(FileError, match=f"8000x8000.*at most {MAX_SIDE}"):
        read_label_image(path, palette)


def test_unreadable_and_truncated_images(tmp_path: Path, palette: Palette) -> None:
    good = tmp_path / "good.png"
    write_label_png(good, _labels(200, 200), palette)
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(good.read_bytes()[:300])
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image at all")
    for path in (truncated, junk, tmp_path / "missing.png"):
        with pytest.raises(FileError) as info:
            read_label_image(path, palette)
        assert "\n" not in str(info.value) and path.name in str(info.value)


def test_export_full_resolution_in_each_format(tmp_path: Path) -> None:
    rgb = RNG.integers(0, 256, (300, 500, 3)).astype(np.float32) / 255
    for name in ("out.png", "out.jpg", "out.tiff"):
        export_image(tmp_path / name, rgb)
        with Image.open(tmp_path / name) as image:
            assert image.size == (500, 300) and image.mode == "RGB"
    assert (np.asarray(Image.open(tmp_path / "out.png")) == np.rint(rgb * 255)).all()
    with pytest.raises(FileError, match="unknown image type"):
        export_image(tmp_path / "out.xyz", rgb)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jpg", "out.png", "out.tiff"]  # no temp files


# --- OpenRaster -------------------------------------------------------------------------------------------


def _document(palette: Palette, h: int = 48, w: int = 64) -> Document:
    doc = Document(h, w, settings={"model_id": "spade-landscape", "seed": 1234, "palette": "landscape",
                                   "style": {"name": "sunset.jpg", "strength": 0.5}})
    u8 = RNG.integers(0, 256, (h, w, 3)).astype(np.uint8)
    doc.add_layer(Layer("photo", "rgb", u8.astype(np.float32) / 255, editable=False))
    doc.add_layer(Layer("style", "rgb", u8[::-1].astype(np.float32) / 255, visible=False, editable=False))
    doc.add_layer(Layer("labels", "labels", _labels(h, w), opacity=0.6))
    doc.add_layer(Layer("mask", "mask", RNG.integers(0, 256, (h, w)).astype(np.float32) / 255, opacity=0.25))
    return doc


def _same(a: Document, b: Document) -> None:
    assert (a.height, a.width, a.settings) == (b.height, b.width, b.settings)
    assert [la.name for la in a.layers] == [lb.name for lb in b.layers]
    for la, lb in zip(a.layers, b.layers, strict=True):
        assert (la.kind, la.visible, la.opacity, la.editable) == (lb.kind, lb.visible, lb.opacity, lb.editable)
        assert la.data.dtype == lb.data.dtype and (la.data == lb.data).all(), la.name


def test_ora_round_trip_is_exact(tmp_path: Path, palette: Palette) -> None:
    doc = _document(palette)
    save_ora(tmp_path / "a.ora", doc, palette=palette)
    loaded = load_ora(tmp_path / "a.ora")
    assert loaded.notes == [] and not loaded.document.modified
    _same(doc, loaded.document)


def test_ora_layout_follows_the_spec(tmp_path: Path, palette: Palette) -> None:
    save_ora(tmp_path / "a.ora", _document(palette), palette=palette)
    with zipfile.ZipFile(tmp_path / "a.ora") as zf:
        first = zf.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED and not first.extra
        assert zf.read("mimetype") == b"image/openraster"
        root = ET.fromstring(zf.read("stack.xml"))
        assert (root.tag, root.get("w"), root.get("h")) == ("image", "64", "48")
        layers = root.find("stack").findall("layer")
        assert [la.get("name") for la in layers] == ["mask", "labels", "style", "photo"]  # top first
        assert [la.get("visibility") for la in layers] == ["visible", "visible", "hidden", "visible"]
        with Image.open(BytesIO(zf.read(layers[1].get("src")))) as labels:
            assert labels.mode == "P"  # Krita and GIMP show the class colours
        with Image.open(BytesIO(zf.read("mergedimage.png"))) as merged:
            assert merged.size == (64, 48)
        with Image.open(BytesIO(zf.read("Thumbnails/thumbnail.png"))) as thumb:
            assert max(thumb.size) <= 256


def _foreign_ora(path: Path) -> np.ndarray:
    """What Krita might write: an RGBA layer at an offset inside a group, a background, no metadata."""
    sticker = np.zeros((10, 12, 4), np.uint8)
    sticker[2:8, 3:9] = (200, 30, 40, 255)
    sticker[2, 3, 3] = 128  # half transparent: the document cannot show it, the file keeps it
    files = {"data/bg.png": Image.new("RGB", (32, 24), (10, 120, 200)),
             "data/sticker.png": Image.fromarray(sticker),
             "data/labels.png": Image.new("RGBA", (32, 24), (0, 0, 0, 255))}
    stack = ('<?xml version="1.0"?><image w="32" h="24"><stack>'
             '<stack name="group" x="2" y="1" opacity="0.5">'
             '<layer name="sticker" src="data/sticker.png" x="4" y="3" composite-op="svg:multiply"/></stack>'
             '<layer name="labels" src="data/labels.png" visibility="hidden"/>'
             '<layer name="background" src="data/bg.png"/></stack></image>')
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "image/openraster")
        zf.writestr("stack.xml", stack)
        for name, image in files.items():
            buffer = BytesIO()
            image.save(buffer, "PNG")
            zf.writestr(name, buffer.getvalue())
    return sticker


def test_foreign_ora_keeps_every_layer(tmp_path: Path, palette: Palette) -> None:
    sticker = _foreign_ora(tmp_path / "krita.ora")
    loaded = load_ora(tmp_path / "krita.ora")
    doc = loaded.document
    assert [la.name for la in doc.layers] == ["background", "labels", "sticker"]
    assert all(la.kind == "rgb" and not la.editable for la in doc.layers)  # "labels" is not guessed at
    assert any("3 layers from another program" in n for n in loaded.notes)
    assert any("groups" in n for n in loaded.notes)
    shown = doc.layer("sticker")
    assert shown.opacity == 0.5 and (shown.data[4 + 5, 6 + 5] * 255).round().tolist() == [200, 30, 40]

    doc.add_layer(Layer("painted", "labels", np.zeros((24, 32), np.uint8)))
    save_ora(tmp_path / "back.ora", doc, palette=palette)
    with zipfile.ZipFile(tmp_path / "back.ora") as zf:
        element = next(e for e in ET.fromstring(zf.read("stack.xml")).iter("layer") if e.get("name") == "sticker")
        assert (element.get("x"), element.get("y"), element.get("composite-op")) == ("6", "4", "svg:multiply")
        assert (np.asarray(Image.open(BytesIO(zf.read(element.get("src"))))) == sticker).all()
    again = load_ora(tmp_path / "back.ora").document
    assert [la.name for la in again.layers] == ["background", "labels", "sticker", "painted"]
    assert again.layer("painted").kind == "labels" and again.layer("labels").kind == "rgb"


@pytest.mark.parametrize("damage", ["garbage", "truncated", "no stack", "missing layer", "too big"])
def test_bad_ora_gives_one_line_error(tmp_path: Path, palette: Palette, damage: str) -> None:
    path = tmp_path / "bad.ora"
    save_ora(path, _document(palette), palette=palette)
    if damage == "garbage":
        path.write_bytes(b"PK\x03\x04 this is no zip")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:2000])
    else:
        with zipfile.ZipFile(path) as zf:
            entries = {i.filename: zf.read(i) for i in zf.infolist()}
        if damage == "no stack":
            del entries["stack.xml"]
        elif damage == "missing layer":
            del entries["data/layer001.png"]
        else:
            entries["stack.xml"] = b'<image w="8000" h="8000"><stack/></image>'
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in entries.items():
                zf.writestr(name, data)
    with pytest.raises(FileError) as info:
        load_ora(path)
    assert "\n" not in str(info.value) and "bad.ora" in str(info.value)


def test_failed_save_keeps_the_previous_file(tmp_path: Path, palette: Palette,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.ora"
    doc = _document(palette)
    save_ora(path, doc, palette=palette)
    before = path.read_bytes()
    doc.set_setting("seed", 99)

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("engine.storage.os.fsync", broken)  # the disk fills up while writing
    with pytest.raises(FileError, match="No space left"):
        save_ora(path, doc, palette=palette)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["a.ora"]
    monkeypatch.setattr(ora_module, "_png", broken)  # or the encoder fails half-way
    with pytest.raises(OSError):
        save_ora(path, doc, palette=palette)
    assert path.read_bytes() == before


# --- autosave ---------------------------------------------------------------------------------------------


def test_autosave_offers_recovery_after_a_crash(tmp_path: Path, palette: Palette) -> None:
    autosave = Autosave(tmp_path / "autosave")
    doc = _document(palette)
    path = autosave.save(doc, key="doc-1", title="Untitled 1", palette=palette, source="/x/scene.ora")
    assert autosave.pending() == []  # this live process's own autosave is not offered

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    note = path.with_suffix(".json")
    info = json.loads(note.read_text())
    note.write_text(json.dumps(info | {"pid": int(dead.stdout)}))  # as if that process had crashed

    [recovery] = autosave.pending()
    assert (recovery.path, recovery.title, recovery.source) == (path, "Untitled 1", Path("/x/scene.ora"))
    _same(doc, load_ora(recovery.path).document)
    autosave.discard(recovery.path)
    assert autosave.pending() == [] and not any((tmp_path / "autosave").iterdir())


def test_autosave_default_folder_and_keys(palette: Palette) -> None:
    autosave = Autosave()
    assert autosave.folder == user_data_dir() / "autosave"
    with pytest.raises(ValueError, match="autosave key"):
        autosave.save(_document(palette), key="../escape", title="x")
    autosave.discard("never-saved")  # nothing to remove is fine
