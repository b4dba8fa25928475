"""`python -m trainers <method> [options]` (one process, or each of torchrun's) and `python -m trainers list`.

The methods are trainers.registry's list; a method's module is imported only when it is chosen, so `list` and
a bad method name answer without loading torch. Exit codes: 0 finished or stopped, 2 bad input (one
`error: ...` line), 1 a failure of our own (details in RUN/traceback.txt), 130 interrupted twice.
"""

from __future__ import annotations

import os
import sys

from trainers import registry


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    methods = ", ".join(spec.method for spec in registry.TRAINERS)
    if not argv or argv[0] in ("-h", "--help"):
        usage = f"usage: python -m trainers {{list | METHOD [options] | METHOD --help}}   methods: {methods}"
        print(usage, file=sys.stderr if not argv else sys.stdout)
        return 2 if not argv else 0
    if argv[0] == "list":
        for spec in registry.TRAINERS:
            print(f"{spec.method}\t{spec.title}\t{spec.description}")
        return 0
    spec = registry.find(argv[0])
    if spec is None:
        print(f"error: unknown training method '{argv[0]}' (known: {methods})", file=sys.stderr)
        return 2
    from trainers import runner  # torch, and the method's module with it

    return runner.run(spec, argv[1:])


def exit_process(code: int) -> None:
    """Exit with `code`. One of several torchrun processes skips the interpreter's shutdown, whose destructors
    of gloo's threads (the process group is already destroyed) sometimes abort a finished run with SIGABRT."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    exit_process(main())
