"""Sandboxes against what a user would reach for instead: pebble and ProcessPoolExecutor.

A warm call runs in an already-started worker; Zixir's enforces a timeout, a CPU-time and
a memory limit, pebble's a timeout, and a bare ProcessPoolExecutor nothing. Calls are
timed in alternating rounds and the raw per-call times are printed too. The second part
times how long a call takes from passing a limit to its result being back. Requires
``pebble`` (the ``bench`` extra).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pebble

from benchmarks.harness import Comparison, compare, progress
from benchmarks.sandbox_targets import double, hog_past, spin, spin_past
from zixir.sandbox import Sandbox

CALLS = 500  # warm calls per timed round
LIMIT_RUNS = 7  # calls that pass each limit
KILL_BUDGET = 0.100  # seconds from a limit passed to the result back (median)


def run() -> list[Comparison]:
    """Measures the sandbox's targets; returns the table rows."""
    rows: list[Comparison] = []
    with (
        Sandbox(timeout=5.0, cpu_time=5.0, memory="256MB", workers=1) as sandbox,
        pebble.ProcessPool(max_workers=1) as pool,
        ProcessPoolExecutor(max_workers=1) as executor,
    ):

        def zixir_calls() -> None:
            for i in range(CALLS):
                sandbox.run(double, i).unwrap()

        def pebble_calls() -> None:
            for i in range(CALLS):
                pool.schedule(double, args=(i,), timeout=5.0).result()

        def executor_calls() -> None:
            for i in range(CALLS):
                executor.submit(double, i).result()

        case = "warm call, timeout + cpu + memory enforced"
        for peer, theirs, target in [
            ("pebble schedule(timeout=5)", pebble_calls, 0.5),
            ("ProcessPoolExecutor.submit (no limits)", executor_calls, 1.0),
        ]:
            row = compare(case, peer, zixir_calls, theirs, target=target)
            progress(
                f"{case}: zixir {row.zixir_seconds / CALLS * 1e6:.0f} us/call, "
                f"{peer} {row.peer_seconds / CALLS * 1e6:.0f} us/call"
            )
            rows.append(row)
    rows.extend(_kill_latencies())
    return rows


def _kill_latencies() -> list[Comparison]:
    """For each limit: seconds from passing it to the result back, against the budget.

    The call notes in a file when it passes its limit: the CPU-bound one ahead of time, the
    memory one just before its last 10 MB, so the figures are exact or slightly overstated.
    """
    rows = []
    stamp = os.path.join(tempfile.mkdtemp(prefix="zixir-bench-sandbox-"), "passed")
    with (
        Sandbox(timeout=0.3, workers=1) as timed,
        Sandbox(cpu_time=0.3, workers=1) as cpu,
        Sandbox(memory="64MB", workers=1) as memory,
    ):
        cases: list[tuple[str, Sandbox, str, Callable[..., None], tuple[Any, ...]]] = [
            ("timeout 0.3 s", timed, "timeout", spin, ()),
            ("cpu_time 0.3 s", cpu, "cpu", spin_past, (0.3, stamp)),
            ("memory 64 MB", memory, "memory", hog_past, (70_000_000, stamp)),
        ]
        for name, sandbox, reason, fn, args in cases:
            lags = []
            for _ in range(LIMIT_RUNS):
                Path(stamp).unlink(missing_ok=True)
                sandbox.run(double, 0).unwrap()  # the replaced worker imports the targets now
                started = time.time()
                result = sandbox.run(fn, *args)
                returned = time.time()
                if result.reason != reason:
                    raise RuntimeError(f"{name}: expected reason {reason!r}, got {result!r}")
                passed = started + 0.3 if fn is spin else float(Path(stamp).read_text())
                lags.append(returned - passed)
            lag = statistics.median(lags)
            progress(f"{name}: limit passed to result back: median {lag * 1e3:.1f} ms of {LIMIT_RUNS} calls")
            rows.append(
                Comparison(f"limit passed to result back: {name}", f"budget {KILL_BUDGET * 1e3:.0f} ms", lag,
                           KILL_BUDGET, 1.0)
            )  # fmt: skip
    return rows
