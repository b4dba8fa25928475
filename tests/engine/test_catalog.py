"""The catalog is plain JSON, never left half-written."""

from __future__ import annotations

import json
import os

import pytest

from engine.api import ModelEntry
from engine.catalog import Catalog, CatalogError


def entry(model_id: str, **kw) -> ModelEntry:
    return ModelEntry(id=model_id, method="spade", task="LabelToImage", size_rule="any", license="x",
                      source=f"/models/{model_id}.pth", sha256="0" * 64, **kw)


def test_builtin_first_then_user(tmp_path):
    builtin = tmp_path / "builtin.json"
    builtin.write_text(json.dumps({"models": [entry("shipped", classes=((0, "sky"),)).to_json()]}))
    catalog = Catalog(tmp_path / "user" / "models.json", builtin)
    catalog.add(entry("mine"))
    ids = [e.id for e in catalog.entries()]
    assert ids == ["shipped", "mine"]
    assert catalog.get("shipped").builtin and catalog.get("shipped").classes == ((0, "sky"),)
    assert catalog.unique_id("Mine") == "mine-2"
    with pytest.raises(CatalogError, match="ships with the app"):
        catalog.remove("shipped")
    catalog.remove("mine")
    assert [e.id for e in catalog.entries()] == ["shipped"]


def test_a_crash_while_writing_keeps_the_previous_catalog(tmp_path, monkeypatch):
    catalog = Catalog(tmp_path / "models.json", tmp_path / "none.json")
    catalog.add(entry("first"))
    before = (tmp_path / "models.json").read_bytes()

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        catalog.add(entry("second"))
    assert (tmp_path / "models.json").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["models.json"]  # no temporary file left behind


def test_a_corrupt_catalog_is_reported_not_overwritten(tmp_path):
    (tmp_path / "models.json").write_text("{ broken")
    catalog = Catalog(tmp_path / "models.json", tmp_path / "none.json")
    with pytest.raises(CatalogError, match="unreadable"):
        catalog.entries()
    with pytest.raises(CatalogError):
        catalog.add(entry("x"))
    assert (tmp_path / "models.json").read_text() == "{ broken"
