"""What ``import zixir`` costs a fresh process, against importing pykka and loguru alone.

Each command runs as a whole new Python process, the two alternating, 21 times each; the
rows are the medians of wall time and of the child's peak RSS (its own ``ru_maxrss``).
"""

from __future__ import annotations

import statistics
import sys

from benchmarks.harness import Comparison, progress, whole_process

RUNS = 21
ZIXIR = "import zixir; zixir.Supervisor"
PEER = "import pykka, loguru"


def _one_process(code: str) -> tuple[float, float]:
    """Runs ``python -c code``; returns its wall seconds and its peak RSS in MiB."""
    return whole_process([sys.executable, "-c", code])


def run() -> list[Comparison]:
    """Times both imports in alternating fresh processes; returns the table rows."""
    progress(f"{ZIXIR!r} vs {PEER!r}, {RUNS} fresh processes each")
    _one_process(ZIXIR), _one_process(PEER)  # warm the page cache and .pyc files
    ours: list[tuple[float, float]] = []
    theirs: list[tuple[float, float]] = []
    for _ in range(RUNS):
        ours.append(_one_process(ZIXIR))
        theirs.append(_one_process(PEER))
    return [
        Comparison(
            "import zixir (fresh process)",
            "import pykka, loguru",
            statistics.median(wall for wall, _ in ours),
            statistics.median(wall for wall, _ in theirs),
            target=1.3,
        ),
        Comparison(
            "import zixir: peak RSS",
            "import pykka, loguru: peak RSS",
            statistics.median(rss for _, rss in ours),
            statistics.median(rss for _, rss in theirs),
            target=1.2,
            unit="MiB",
        ),
    ]
