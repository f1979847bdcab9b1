"""What ``import zixir`` costs a fresh process, against importing pykka and loguru alone.

Each command runs as a whole new Python process, the two alternating, 21 times each; the
rows are the medians of wall time and of the child's peak RSS (its own ``ru_maxrss``).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from benchmarks.harness import Comparison, progress

RUNS = 21
ZIXIR = "import zixir; zixir.Supervisor"
PEER = "import pykka, loguru"


def _one_process(code: str) -> tuple[float, float]:
    """Runs ``python -c code``; returns its wall seconds and its peak RSS in MiB."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", code])
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"python -c {code!r} exited with {child.returncode}")
    return elapsed, usage.ru_maxrss / 1024  # Linux reports KiB


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
