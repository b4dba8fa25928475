"""How long `main.py models list` takes to answer, against the bare start of Python importing engine.api.

Listing reads only the catalog (JSON): the torch-free CLI module must not pull in torch. Each command is run
REPEATS times as a fresh process; the medians and their ratio are printed (1.0 would mean listing costs nothing
beyond starting Python with the API).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REPEATS = 7


def _median_seconds(argv: list[str]) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        subprocess.run(argv, cwd=REPO, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    baseline = _median_seconds([sys.executable, "-c", "import engine.api"])
    listing = _median_seconds([sys.executable, "main.py", "models", "list"])
    with_torch = _median_seconds([sys.executable, "-c", "import torch"])
    print(f"cli start: python -c 'import engine.api' {baseline:.3f} s, main.py models list {listing:.3f} s "
          f"(ratio {listing / baseline:.2f}); import torch alone {with_torch:.3f} s")


if __name__ == "__main__":
    main()
