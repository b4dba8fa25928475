"""Shared test set-up: a private data directory per test and the official-format fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("I2I_FIXTURES", REPO.parent / "shared" / "fixtures" / "official"))

# Every trainer a test starts (the GUI starts them detached, on purpose) watches this session's process and
# stops when it is gone (trainers.runner.WATCH_ENV), so a test killed by a timeout leaves no run training on.
# Set in os.environ, not per test: detached runs inherit the environment of the process that starts them.
os.environ["I2I_TRAINER_WATCH_PID"] = str(os.getpid())


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path_factory, monkeypatch):
    """No test ever reads or writes the user's real catalog. Tests run in Exact mode unless they ask for Fast (or
    clear $I2I_MODE to test the default): Fast's background sessions would make a model's outputs depend on when
    its session got ready, and cost every test an export."""
    monkeypatch.setenv("I2I_STUDIO_DATA", str(tmp_path_factory.mktemp("i2i-data")))
    monkeypatch.setenv("I2I_MODE", "exact")


@pytest.fixture
def official() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"official-format fixtures not found at {FIXTURES} (set I2I_FIXTURES)")
    return FIXTURES
