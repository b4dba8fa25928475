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


def test_edits_from_two_processes_are_not_lost(tmp_path):
    """The GUI and a training process edit the same catalog: every add survives."""
    import subprocess
    import sys

    script = (
        "import sys; from pathlib import Path; from engine.catalog import Catalog; "
        "from tests.engine.test_catalog import entry\n"
        "c = Catalog(Path(sys.argv[1]), Path(sys.argv[1]).with_name('none.json'))\n"
        "for i in range(15): c.add(entry(f'{sys.argv[2]}-{i}'))\n"
    )
    user = tmp_path / "models.json"
    procs = [subprocess.Popen([sys.executable, "-c", script, str(user), name]) for name in ("gui", "trainer")]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    ids = {e.id for e in Catalog(user, tmp_path / "none.json").entries()}
    assert len(ids) == 30


def test_a_stale_lock_from_a_killed_process_is_taken_over(tmp_path):
    lock = tmp_path / "models.json.lock"
    lock.write_text("12345")
    os.utime(lock, (0, 0))  # very old
    catalog = Catalog(tmp_path / "models.json", tmp_path / "none.json")
    catalog.add(entry("after-crash"))
    assert [e.id for e in catalog.entries()] == ["after-crash"] and not lock.exists()
