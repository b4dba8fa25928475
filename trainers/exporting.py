"""What the official-format exports share: the checkpoint to export (a run's latest or a given file, checked to
be one this trainer wrote), an output folder whose write failures are one line, and the official opt.txt."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine.checkpoints import Checkpoint, CheckpointError, read_checkpoint
from trainers.checkpointing import STATE_SUFFIX, find_resume_point
from trainers.common import TrainError


def checkpoint_to_export(source: Path, *, method: str, title: str,
                         detect: Callable[[Any], Any] | None = None) -> tuple[Checkpoint, Path | None]:
    """(the checkpoint, its training-state file or None) of `source`: a run folder (its latest checkpoint) or a
    model file. TrainError unless a `method` trainer wrote it (`title` names the model; `detect`, the
    architecture's, must know its weights)."""
    if source.is_dir():
        point = find_resume_point(source)
        if point is None:
            raise TrainError(f"{source} has no complete checkpoint to export")
        source, state = point.model, point.state
    else:
        sibling = source.with_name(source.name.removesuffix(".safetensors") + STATE_SUFFIX)
        state = sibling if sibling.is_file() else None
    try:
        ckpt = read_checkpoint(source)
    except CheckpointError as exc:
        raise TrainError(str(exc)) from None
    ours = ckpt.metadata.get("method") == method and "hparams" in ckpt.metadata
    if not ours or (detect is not None and not detect(ckpt.state_dict)):
        raise TrainError(f"{source.name} is not a {title} checkpoint written by this trainer")
    return ckpt, state


@contextmanager
def export_folder(out: Path) -> Iterator[Path]:
    """`out`, created; a failure to write in it (a full disk) becomes one TrainError line."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        yield out
    except OSError as exc:
        raise TrainError(f"cannot write the export to {out}: {exc.strerror or exc}") from None


def options_text(options: Mapping[str, Any], *, width: int) -> bytes:
    """The official repos' opt.txt: one `name: value` line per option, sorted, names right-aligned to `width`."""
    lines = ["----------------- Options ---------------"]
    lines += [f"{k:>{width}}: {v!s:<30}" for k, v in sorted(options.items())]
    lines += ["----------------- End -------------------"]
    return ("\n".join(lines) + "\n").encode("utf-8")
