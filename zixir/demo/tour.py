"""``zixir tour``: a short tour of the engine, storage format, cache and sandboxes.

Run with ``zixir tour``; it needs no configuration and writes only to a
temporary directory, which it removes.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import tempfile
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from zixir import engine, serialization
from zixir.cache import LOOKUP_IMPLEMENTATION, Cache
from zixir.sandbox import Sandbox

__all__ = ["tour"]


@serialization.register
@dataclass(frozen=True)
class Reading:
    """A sensor reading, stored and loaded back with its types intact."""

    sensor: str
    at: dt.datetime
    values: tuple[float, ...]
    calibration: Decimal


def _engine_tour() -> None:
    print(f"engine implementation: {engine.IMPLEMENTATION}")
    print("  list_sum([1e16, 1.0, -1e16])  =", engine.list_sum([1e16, 1.0, -1e16]), "(naive sum: 0.0)")
    print("  dot_product([1, 2, 3], [4, 5, 6]) =", engine.dot_product([1, 2, 3], [4, 5, 6]))
    print("  mat_mul 2x2 @ 2x2 =", engine.mat_mul([1, 2, 3, 4], [5, 6, 7, 8], 2, 2, 2))
    print("  run('list_std', [2, 4, 4, 4, 5, 5, 7, 9]) =", engine.run("list_std", [2, 4, 4, 4, 5, 5, 7, 9]))
    rng = random.Random(42)
    xs = [rng.random() for _ in range(1_000_000)]
    ys = [rng.random() for _ in range(1_000_000)]
    start = time.perf_counter()
    dot = engine.dot_product(xs, ys)
    ours = time.perf_counter() - start
    start = time.perf_counter()
    naive = sum(x * y for x, y in zip(xs, ys))
    theirs = time.perf_counter() - start
    print(
        f"  dot of two 1e6-float lists: {dot:.6f} in {ours * 1e3:.2f} ms "
        f"(a Python generator: {theirs * 1e3:.1f} ms, {theirs / ours:.0f}x slower)"
    )
    assert math.isclose(dot, naive, rel_tol=1e-9)
    try:
        engine.dot_product([1.0, 2.0], [1.0])
    except ValueError as exc:
        print(f"  bad input is a clear error: {type(exc).__name__}: {exc}")


def _storage_tour(directory: Path) -> None:
    reading = Reading("t-17", dt.datetime(2026, 11, 22, 9, 30, tzinfo=dt.UTC), (20.5, 21.0), Decimal("0.10"))
    path = directory / "reading.bin"
    path.write_bytes(serialization.dumps({("t-17", 1): reading, "seen": {1, 2}}))
    loaded = serialization.loads(path.read_bytes())
    print(
        f"serialization: {path.stat().st_size} bytes on disk, read back equal: "
        f"{loaded == {('t-17', 1): reading, 'seen': {1, 2}}}"
    )
    print(
        f"  types kept: {type(loaded[('t-17', 1)]).__name__}, "
        f"{type(loaded[('t-17', 1)].values).__name__}, {type(loaded['seen']).__name__}"
    )


def _cache_tour(directory: Path) -> None:
    with Cache(directory / "cache", default_ttl=60.0) as cache:
        cache.put("model:v3", {"weights": (0.2, 0.8)})
        for name, age in [("ada", 36), ("grace", 45), ("linus", 28)]:
            cache.insert("users", {"name": name, "age": age})
        cache.create_index("users", "age")
        over_30 = cache.query("users", where={"age": (">", 30)}, order_by="age")
        print(
            f"cache: get('model:v3') = {cache.get('model:v3')}; users over 30 by index: "
            f"{[user['name'] for user in over_30]}"
        )
        print(
            f"  {cache.stats().entries} entry on disk, kept {cache.stats().memory_entries} "
            "in memory; expires in 60 s, across restarts"
        )
        print(f"  read path: {LOOKUP_IMPLEMENTATION}")


def _sandbox_tour() -> None:
    with Sandbox(timeout=0.5, memory="64MB") as sandbox:
        print("sandbox: factorial(20) in a worker process =", sandbox.run_module("math", "factorial", [20]).value)
        for what, result in [
            ("sleep(5) with timeout=0.5", sandbox.run_module("time", "sleep", [5])),
            ("bytearray(300 MB) with memory=64MB", sandbox.run_module("builtins", "bytearray", [300_000_000])),
            ("os._exit(3)", sandbox.run_module("os", "_exit", [3])),
        ]:
            print(
                f"  {what}: reason={result.reason}, after {result.duration:.2f} s; "
                "the worker was replaced, this process is fine"
            )


def tour() -> None:
    """Runs the tour and prints what each step produced."""
    with tempfile.TemporaryDirectory(prefix="zixir-demo-") as directory:
        _engine_tour()
        _storage_tour(Path(directory))
        _cache_tour(Path(directory))
        _sandbox_tour()


if __name__ == "__main__":
    tour()
