"""The architectures the engine knows, one line each, in detection order: the first whose `detect` accepts a state
dict wins. An architecture's `before` names those that must be tried after it (their detectors also accept some of
its files); the order is checked against these rules, here and by tests/engine/test_registry.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.architecture import Architecture
from engine.checkpoints import CheckpointError, StateDict
from engine.models import cut, cyclegan, deepi2i, hierarchyflow, hit, sae, spade

ARCHITECTURES: tuple[Architecture, ...] = (
    spade.ARCHITECTURE,
    sae.ARCHITECTURE,
    cut.ARCHITECTURE,  # before cyclegan: both are `model.N` ResNets
    cyclegan.ARCHITECTURE,
    hierarchyflow.ARCHITECTURE,
    deepi2i.ARCHITECTURE,
    hit.ARCHITECTURE,
    hit.MUNIT_ARCHITECTURE,
)


def check_order(architectures: Sequence[Architecture]) -> None:
    """Refuse two architectures of one method, and an order that breaks a `before` rule."""
    position = {arch.method: i for i, arch in enumerate(architectures)}
    if len(position) != len(architectures):
        raise ValueError("two architectures have the same method")
    for i, arch in enumerate(architectures):
        if late := [m for m in arch.before if position.get(m, len(architectures)) < i]:
            raise ValueError(f"{arch.method} must be tried before {', '.join(late)}")


def register(arch: Architecture) -> None:
    """Add an architecture (a plug-in's, a test's): tried just before the first one its `before` names, else last."""
    global ARCHITECTURES
    listed = list(ARCHITECTURES)
    at = min((i for i, a in enumerate(listed) if a.method in arch.before), default=len(listed))
    listed.insert(at, arch)
    check_order(listed)
    ARCHITECTURES = tuple(listed)


def detect(state_dict: StateDict) -> Architecture:
    for arch in ARCHITECTURES:
        if arch.detect(state_dict):
            return arch
    sample = ", ".join(list(state_dict)[:3]) or "no keys"
    known = ", ".join(a.method for a in ARCHITECTURES)
    raise CheckpointError(f"unknown architecture: the weights ({sample}, ...) match none of: {known}")


def find(method: str) -> Architecture | None:
    return next((arch for arch in ARCHITECTURES if arch.method == method), None)


def by_method(method: str) -> Architecture:
    if (arch := find(method)) is None:
        raise CheckpointError(f"this version of I2I Studio has no '{method}' architecture")
    return arch


check_order(ARCHITECTURES)
