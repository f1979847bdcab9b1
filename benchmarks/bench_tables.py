"""Cache tables: a query answered by an index against the same query scanning the table.

Two caches hold the same 100,000 records (filled once, the LMDB file copied); one has an
index on the queried field. The query matches 10 records. Each indexed round runs the
query `INDEXED_LOOPS` times and reports the time of one, so that its figure is not lost in
timer noise; each scan round runs it once.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from typing import Any

from benchmarks.harness import Comparison, compare, progress
from zixir.cache import Cache

N = 100_000  # records per table
GROUPS = 10_000  # distinct values of the indexed field: a query for one matches N // GROUPS
WHERE: dict[str, Any] = {"group": 7}
INDEXED_LOOPS = 200  # indexed queries per timed round
TARGET = 1 / 50  # the indexed query at least 50 times faster than the scan
MAP_SIZE = 256 << 20  # room for every record from the start: no map growth while filling
TABLE = "items"


def _record(i: int) -> dict[str, Any]:
    return {"n": i, "group": i % GROUPS, "name": f"item{i:06}", "score": i * 0.5}


def run() -> list[Comparison]:
    """Measures the indexed query's target; returns the table rows."""
    with tempfile.TemporaryDirectory(prefix="zixir-bench-tables-") as root, contextlib.ExitStack() as opened:
        return _run(root, opened)


def _run(root: str, opened: contextlib.ExitStack) -> list[Comparison]:
    indexed_path, scanned_path = os.path.join(root, "indexed"), os.path.join(root, "scanned")
    _fill(indexed_path)
    os.makedirs(scanned_path)
    shutil.copyfile(os.path.join(indexed_path, "data.mdb"), os.path.join(scanned_path, "data.mdb"))

    indexed = Cache(indexed_path, map_size=MAP_SIZE)
    opened.callback(indexed.close)
    scanned = Cache(scanned_path, map_size=MAP_SIZE)
    opened.callback(scanned.close)
    progress(f"tables: indexing 'group' of {N:,} records")
    indexed.create_index(TABLE, "group")

    expected = [r for r in (_record(i) for i in range(N)) if r["group"] == WHERE["group"]]
    for cache, plan, decoded in [(indexed, "index group", len(expected)), (scanned, "scan", N)]:
        found = cache.query(TABLE, WHERE)
        explained = cache.explain(TABLE, WHERE)
        got = ([{k: v for k, v in r.items() if k != "_id"} for r in found], (str(explained), explained.reads))
        if got != (expected, (plan, decoded)):
            raise RuntimeError(f"{cache!r} answered {got[1]}, expected {(plan, decoded)}")

    def indexed_query() -> float:
        query = indexed.query
        start = time.perf_counter()
        for _ in range(INDEXED_LOOPS):
            query(TABLE, WHERE)
        return (time.perf_counter() - start) / INDEXED_LOOPS

    def scan_query() -> float:
        start = time.perf_counter()
        scanned.query(TABLE, WHERE)
        return time.perf_counter() - start

    row = compare(
        f"query {len(expected)} of {N:,} records, indexed",
        "the same query, no index (full scan)",
        indexed_query,
        scan_query,
        target=TARGET,
        self_timed=True,
    )
    progress(
        f"tables: indexed {row.zixir_seconds * 1e6:.1f} us, scan {row.peer_seconds * 1e3:.1f} ms "
        f"({row.peer_seconds / row.zixir_seconds:,.0f}x faster; target >= {1 / TARGET:.0f}x)"
    )
    return [row]


def _fill(path: str) -> None:
    """Inserts the `N` records one by one (tables have no batch insert)."""
    with Cache(path, map_size=MAP_SIZE) as cache:
        insert = cache.insert
        for i in range(N):
            if i % 25_000 == 0:
                progress(f"tables: inserting records {i:,} to {min(i + 25_000, N):,} of {N:,}")
            insert(TABLE, _record(i))
