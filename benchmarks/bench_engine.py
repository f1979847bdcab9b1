"""Engine kernels against what a user would write instead: pure Python and numpy.

Run with ``make bench`` (sets OPENBLAS_NUM_THREADS=1 so np.dot is single-threaded).
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from array import array
from collections.abc import Callable

import numpy as np

from benchmarks.harness import Comparison, compare, progress
from zixir import engine

N = 1_000_000
THREAD_N = 100_000  # two such buffers stay in L2/L3
THREAD_CALLS = 400


def _two_threads(fn: Callable[[], object], calls: int) -> float:
    """Seconds from the moment both threads are running until both are done.

    Thread start-up is excluded: a thread woken by a barrier can wait for the GIL until
    the other has done all its calls, which would measure the interpreter, not the kernel.
    """
    running = [0]
    spans: list[tuple[float, float]] = []

    def work() -> None:
        running[0] += 1
        while running[0] < 2:
            time.sleep(0)  # lets the other thread take the GIL
        start = time.perf_counter()
        for _ in range(calls // 2):
            fn()
        spans.append((start, time.perf_counter()))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return max(end for _, end in spans) - min(start for start, _ in spans)


def run() -> list[Comparison]:
    """Measures every engine target of the foundation; returns the table rows."""
    progress(f"engine: {engine.IMPLEMENTATION}, building inputs of {N:,} floats")
    rng = random.Random(1)
    a = [rng.random() for _ in range(N)]
    b = [rng.random() for _ in range(N)]
    na, nb = np.array(a), np.array(b)
    ta, tb = array("d", a[:THREAD_N]), array("d", b[:THREAD_N])

    def serial(fn: Callable[[], object]) -> float:
        start = time.perf_counter()
        for _ in range(THREAD_CALLS):
            fn()
        return time.perf_counter() - start

    def dot() -> object:
        return engine.dot_product(ta, tb)

    # The same two-thread test on a stdlib function that also releases the GIL, sized to
    # take as long per call: what this interpreter and machine allow any such call.
    block = bytes(40_000)

    def sha() -> object:
        return hashlib.sha256(block).digest()

    return [
        compare(
            "dot_product(list, list) 1e6",
            "sum(x*y for x, y in zip(a, b))",
            lambda: engine.dot_product(a, b),
            lambda: sum(x * y for x, y in zip(a, b)),
            target=1 / 8,
            repeats=5,
        ),
        compare(
            "dot_product(list, list) 1e6",
            "np.dot(np.asarray(a), np.asarray(b))",
            lambda: engine.dot_product(a, b),
            lambda: np.dot(np.asarray(a), np.asarray(b)),
            target=1 / 10,
            repeats=5,
        ),
        compare(
            "list_sum(list) 1e6, exact",
            "builtin sum(list), naive",
            lambda: engine.list_sum(a),
            lambda: sum(a),
            target=1 / 1.5,
        ),
        compare(
            "dot_product(float64 buffers) 1e6",
            "np.dot (one BLAS thread)",
            lambda: engine.dot_product(na, nb),
            lambda: np.dot(na, nb),
            target=1.5,
            repeats=21,
        ),
        compare(
            f"{THREAD_CALLS} dot_product 1e5 on 2 threads",
            "the same calls one after the other",
            lambda: _two_threads(dot, THREAD_CALLS),
            lambda: serial(dot),
            target=0.6,
            self_timed=True,
        ),
        compare(
            f"reference: {THREAD_CALLS} sha256(40 kB) on 2 threads",
            "the same calls one after the other",
            lambda: _two_threads(sha, THREAD_CALLS),
            lambda: serial(sha),
            target=None,
            self_timed=True,
        ),
    ]
