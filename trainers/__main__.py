"""`python -m trainers <method> [options]` (one process, or each of torchrun's) and `python -m trainers list`.

Methods are listed explicitly and imported only when chosen, so `list` and a bad method name answer
without loading torch. Exit codes: 0 finished or stopped, 2 bad input (one `error: ...` line), 1 a failure
of our own (details in RUN/traceback.txt), 130 interrupted twice.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from trainers.registry import TRAINERS


def _spade(argv: list[str]) -> int:
    from trainers import spade

    return spade.main(argv)


def _sae(argv: list[str]) -> int:
    from trainers import sae

    return sae.main(argv)


def _cyclegan(argv: list[str]) -> int:
    from trainers import cyclegan

    return cyclegan.main(argv)


def _cut(argv: list[str]) -> int:
    from trainers import cut

    return cut.main(argv)


def _sincut(argv: list[str]) -> int:
    from trainers import cut

    return cut.main_sincut(argv)


def _hierarchyflow(argv: list[str]) -> int:
    from trainers import hierarchyflow

    return hierarchyflow.main(argv)


METHODS: dict[str, Callable[[list[str]], int]] = {"spade": _spade, "sae": _sae, "cyclegan": _cyclegan, "cut": _cut,
                                                  "sincut": _sincut, "hierarchyflow": _hierarchyflow}

USAGE = "usage: python -m trainers {list | METHOD [options] | METHOD --help}   methods: " + ", ".join(METHODS)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr if not argv else sys.stdout)
        return 2 if not argv else 0
    if argv[0] == "list":
        for info in TRAINERS:
            print(f"{info.method}\t{info.title}\t{info.description}")
        return 0
    method = METHODS.get(argv[0])
    if method is None:
        print(f"error: unknown training method '{argv[0]}' (known: {', '.join(METHODS)})", file=sys.stderr)
        return 2
    return method(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
