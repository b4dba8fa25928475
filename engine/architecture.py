"""What an architecture states about itself: the descriptor each engine/models/<method>.py declares once.

The descriptor says how to recognise the architecture's weights, read its hyper-parameters and capabilities, load
its networks, which import options it takes, and which task serves it. The task's own descriptor class (in
engine/tasks/<task>.py) adds what that task calls on the loaded networks. engine/registry.py lists them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from engine.api import DIRECTIONS, Capabilities, Task

if TYPE_CHECKING:
    import torch
    from torch import nn

    from engine.checkpoints import Checkpoint, StateDict
    from engine.inference import OnnxGraph

Hparams = Mapping[str, Any]  # an architecture's JSON-able hyper-parameters, as its resolve_hparams returns them
Nets = dict[str, "nn.Module"]  # a loaded model's eval-mode networks by role (engine/tasks/<task>.py says which)
OptionCheck = Callable[[Any], Any]  # an import option's value -> the value normalised, or ValueError("must be ...")


@dataclass(frozen=True, kw_only=True)
class Architecture:
    """One architecture. Subclassed per task (engine/tasks/<task>.py), which sets `task`."""

    task: ClassVar[Task]
    method: str  # the catalog's name for it: "spade", "cut", ...
    title: str
    license_note: str  # the official weights' licence, for imports that do not say
    detect: Callable[[StateDict], bool]  # True for the architecture's state dicts (official layouts and ours)
    # hparams from tensor shapes, completed and checked by options (official names or ours); ValueError if they
    # do not fit the weights
    resolve_hparams: Callable[[StateDict, Hparams], dict[str, Any]]
    capabilities: Callable[[Hparams], Capabilities]  # torch-free: what tools need to know
    size_rule: Callable[[Hparams], str]  # the sizes it takes, in words, for listings
    load: Callable[[Checkpoint, Hparams], Nets]  # strict load; eval mode, on the CPU
    # The import options resolve_hparams reads: name -> check. An option not listed would be ignored, so it is refused.
    options: Mapping[str, OptionCheck] = field(default_factory=dict, hash=False, compare=False)
    # methods whose `detect` also accepts some of this architecture's files: the registry tries this one first
    before: tuple[str, ...] = ()
    # the main network as one ONNX graph, as `models export ID --onnx` writes it; None: not exportable
    onnx: Callable[[Nets, Hparams], OnnxGraph] | None = None
    # Fast mode (engine.api.Mode): the loaded networks on their fastest measured path, the same roles called the
    # same way; None: Fast runs them as Exact does
    fast: Callable[[Nets, Hparams, torch.device], Nets] | None = None


# --- import option checks: what an option's value must be --------------------------------------------------


def whole(low: int = 1, high: int = 1 << 16) -> OptionCheck:
    def check(value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"must be a whole number from {low} to {high}")
        return value
    return check


def real(low: float, high: float) -> OptionCheck:
    def check(value: Any) -> float:
        # compared, never converted first: a 400-digit int does not fit a float; NaN fails every comparison
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise ValueError(f"must be a number from {low:g} to {high:g}")
        return float(value)
    return check


def flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, str)) and str(value).strip().lower() in ("true", "false", "1", "0"):
        return str(value).strip().lower() in ("true", "1")
    raise ValueError("must be True or False")


def word(choices: Iterable[str] = ()) -> OptionCheck:
    choices = tuple(choices)

    def check(value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"must be one of {', '.join(choices)}" if choices else "must be a word")
        if not choices:
            return value
        canonical = {c.lower(): c for c in choices}.get(value.strip().lower())
        if canonical is None:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return canonical
    return check


def direction_names(value: Any) -> Any:
    ok = isinstance(value, str) or (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value))
    if not ok or not value:
        raise ValueError(f"must be {', '.join(DIRECTIONS)} or {','.join(DIRECTIONS)}")
    return value


def whole_list(value: Any) -> list[int]:
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, (list, tuple)) else [None]
    check = whole()
    try:
        return [check(int(v.strip()) if isinstance(v, str) else v) for v in items]
    except ValueError:
        raise ValueError("must be whole numbers separated by commas, e.g. 30,120") from None


def check_layout(net: nn.Module, state_dict: Mapping[str, Any], what: str) -> None:
    """Before a strict load: a one-line error naming the first keys that are missing, unexpected or wrongly
    shaped."""
    expected = net.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    wrong = [f"{k} {list(state_dict[k].shape)} (expected {list(expected[k].shape)})"
             for k in expected if k in state_dict and state_dict[k].shape != expected[k].shape]
    for problem, keys in (("lacks", missing), ("has unexpected", unexpected), ("has wrongly shaped", wrong)):
        if keys:
            raise ValueError(f"the {what} weights {problem} keys: {', '.join(keys[:3])}"
                             f"{' ...' if len(keys) > 3 else ''} ({len(keys)} in all)")


def check_option_names(arch: Architecture, names: Iterable[str]) -> None:
    """Refuse an option the architecture would ignore, naming those it takes."""
    if unknown := [name for name in names if name not in arch.options]:
        raise ValueError(f"option {unknown[0]} is not one that {arch.method} models take; they take: "
                         f"{', '.join(arch.options)}")


def check_option_values(arch: Architecture, options: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """The options with the values of those the architecture takes checked and normalised (None: not given);
    others pass unchanged (our own files carry derived hparams too). `where` prefixes the message."""
    out = dict(options)
    for name, value in options.items():
        if name in arch.options and value is not None:
            try:
                out[name] = arch.options[name](value)
            except ValueError as exc:
                raise ValueError(f"{where}option {name} {exc}, got {_shown(value)}") from None
    return out


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
