"""Timing and reporting for the benchmarks: medians of repeated runs, ratios, a table.

Each comparison times Zixir and the peer in the same process, interleaved, so that load
on the machine affects both alike.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Comparison", "compare", "machine", "print_table", "progress", "whole_process"]


@dataclass(frozen=True, slots=True)
class Comparison:
    """One row of the table: Zixir's median time against the peer's.

    `target` is the largest acceptable ``zixir / peer`` ratio; None for a row shown for
    reference only. `unit` is ``"s"`` for times, ``"MiB"`` for memory (the two "seconds"
    fields then hold mebibytes).
    """

    case: str
    peer: str
    zixir_seconds: float
    peer_seconds: float
    target: float | None
    unit: str = "s"

    @property
    def ratio(self) -> float:
        return self.zixir_seconds / self.peer_seconds

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.ratio <= self.target


def progress(message: str) -> None:
    """Shows what is being measured (on stderr, so the table stays clean)."""
    print(f"  … {message}", file=sys.stderr, flush=True)


def compare(
    case: str,
    peer: str,
    zixir: Callable[[], object],
    baseline: Callable[[], object],
    *,
    target: float | None,
    repeats: int = 9,
    self_timed: bool = False,
) -> Comparison:
    """Times both callables `repeats` times, alternating, and keeps each one's median.

    With `self_timed`, each callable returns the seconds it measured itself.
    """
    progress(f"{case} vs {peer}")
    zixir(), baseline()  # warm caches and lazy imports
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(repeats):
        for fn, times in ((zixir, ours), (baseline, theirs)):
            start = time.perf_counter()
            measured = fn()
            elapsed = time.perf_counter() - start
            times.append(float(measured) if self_timed else elapsed)  # type: ignore[arg-type]
    return Comparison(case, peer, statistics.median(ours), statistics.median(theirs), target)


def whole_process(argv: list[str]) -> tuple[float, float]:
    """Runs `argv` as a fresh process (output discarded); returns its wall seconds and its
    peak RSS in MiB (its own ``ru_maxrss``)."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{argv} exited with {child.returncode}")
    return elapsed, usage.ru_maxrss / 1024  # Linux reports KiB


def machine() -> str:
    """A one-line description of where the figures were taken."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def _format_figure(seconds: float, unit: str) -> str:
    if unit != "s":
        return f"{seconds:.1f} {unit}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds * 1e6:.1f} us"


def print_table(title: str, rows: list[Comparison]) -> None:
    """Prints the side-by-side table with ratios and whether each target is met."""
    print(f"\n{title}")
    header = f"| {'case':<44} | {'zixir':>10} | {'peer':<36} | {'peer time':>10} | {'ratio':>6} | {'target':>7} | ok  |"
    print(header)
    print("|" + "|".join("-" * (len(part)) for part in header.split("|")[1:-1]) + "|")
    for row in rows:
        target = "—" if row.target is None else f"<= {row.target:.3g}"
        met = {None: "—", True: "yes", False: "NO"}[row.met]
        print(
            f"| {row.case:<44} | {_format_figure(row.zixir_seconds, row.unit):>10} | {row.peer:<36} "
            f"| {_format_figure(row.peer_seconds, row.unit):>10} | {row.ratio:>6.3g} | {target:>7} "
            f"| {met:<3} |"
        )
