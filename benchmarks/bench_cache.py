"""The cache against what a user would reach for instead: diskcache, and raw py-lmdb.

Every row times a loop of operations on warm data (the harness runs each side once to warm
up, then alternates). The raw py-lmdb peers use the environment settings `zixir.Cache`
uses at default durability (no fsync, one spare read transaction), so their rows show
what the cache's own layer costs: key encoding, TTL header, Zixir serialization, memory
tier. Requires ``diskcache`` (the ``bench`` extra).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from typing import Any

import diskcache  # type: ignore[import-untyped]
import lmdb
import msgpack

from benchmarks.harness import Comparison, compare, progress
from zixir.cache import Cache

N = 20_000  # operations per timed loop (gets)
PUTS = 5_000  # puts per timed loop: diskcache.set costs tens of microseconds each
BATCH = 10_000  # records per put_many
BATCH_TARGET = 100_000  # records per second
MAP_SIZE = 64 << 20


def _value(i: int) -> dict[str, Any]:
    """A real-shaped value: four fields, one a list (a memory-tier hit must copy it)."""
    return {"user": i, "score": i * 0.5, "tags": ["a", "b"], "name": f"n{i}"}


def run() -> list[Comparison]:
    """Measures the cache's targets; returns the table rows."""
    with tempfile.TemporaryDirectory(prefix="zixir-bench-cache-") as root, contextlib.ExitStack() as opened:
        return _run(root, opened)


def _run(root: str, opened: contextlib.ExitStack) -> list[Comparison]:
    keys = [f"user:{i}" for i in range(N)]
    lkeys = [k.encode() for k in keys]
    values = [_value(i) for i in range(N)]
    records: dict[str | bytes, Any] = dict(zip(keys, values, strict=True))
    progress(f"cache: {N:,} records of {len(msgpack.packb(values[0]))} msgpack bytes")

    def place(name: str) -> str:
        return os.path.join(root, name)

    hot = Cache(place("hot"), memory_items=N, map_size=MAP_SIZE)
    opened.callback(hot.close)
    cold = Cache(place("cold"), memory_items=0, map_size=MAP_SIZE)
    opened.callback(cold.close)
    writes = Cache(place("writes"), memory_items=0, map_size=MAP_SIZE)
    opened.callback(writes.close)
    dc = diskcache.Cache(place("diskcache"))
    opened.callback(dc.close)
    # The settings zixir.Cache opens its environment with at default durability.
    raw = lmdb.open(
        place("lmdb"), map_size=MAP_SIZE, max_spare_txns=1, sync=False, metasync=False,
        readahead=False,
    )  # fmt: skip
    opened.callback(raw.close)

    hot.put_many(records)
    cold.put_many(records)
    with dc.transact():
        for key, value in records.items():
            dc.set(key, value)
    with raw.begin(write=True) as txn:
        for lkey, value in zip(lkeys, values, strict=True):
            txn.put(lkey, msgpack.packb(value))

    def hot_get() -> None:
        get = hot.get
        for key in keys:
            get(key)

    def cold_get() -> None:
        get = cold.get
        for key in keys:
            get(key)

    def dc_get() -> None:
        get = dc.get
        for key in keys:
            get(key)

    def raw_get() -> None:
        begin, unpackb = raw.begin, msgpack.unpackb
        for lkey in lkeys:
            with begin() as txn:
                unpackb(txn.get(lkey))

    put_keys, put_lkeys, put_values = keys[:PUTS], lkeys[:PUTS], values[:PUTS]

    def zixir_put() -> None:
        put = writes.put
        for key, value in zip(put_keys, put_values, strict=True):
            put(key, value)

    def dc_set() -> None:
        set_ = dc.set
        for key, value in zip(put_keys, put_values, strict=True):
            set_(key, value)

    def raw_put() -> None:
        begin, packb = raw.begin, msgpack.packb
        for lkey, value in zip(put_lkeys, put_values, strict=True):
            with begin(write=True) as txn:
                txn.put(lkey, packb(value))

    batch: dict[str | bytes, Any] = dict(zip(keys[:BATCH], values[:BATCH], strict=True))

    def zixir_batch() -> None:
        writes.put_many(batch)

    def dc_batch() -> None:
        set_ = dc.set
        with dc.transact():
            for key, value in batch.items():
                set_(key, value)

    def timed_batch() -> float:
        start = time.perf_counter()
        writes.put_many(batch)
        return time.perf_counter() - start

    hot_get()
    served = hot.stats().memory_entries
    if served != N:
        raise RuntimeError(f"the memory tier holds {served} of {N} entries: not a memory-tier test")

    memory_get, lmdb_get, put = (
        "get, memory tier (dict, copied)",
        "get from LMDB (memory_items=0)",
        "put (default durability)",
    )
    rows: list[Comparison] = []
    for case, peer, ours, theirs, target, ops in [
        (memory_get, "the same get, memory_items=0", hot_get, cold_get, 0.8, N),
        (memory_get, "diskcache.Cache.get", hot_get, dc_get, 1 / 4, N),
        (lmdb_get, "diskcache.Cache.get", cold_get, dc_get, 1 / 3, N),
        (lmdb_get, "py-lmdb txn.get + msgpack, own txn", cold_get, raw_get, 1.5, N),
        (put, "diskcache.Cache.set", zixir_put, dc_set, 1 / 5, PUTS),
        (put, "py-lmdb put + msgpack, own txn", zixir_put, raw_put, None, PUTS),
    ]:
        row = compare(case, peer, ours, theirs, target=target)
        progress(
            f"{case}: zixir {row.zixir_seconds / ops * 1e6:.2f} us/op, {peer} {row.peer_seconds / ops * 1e6:.2f} us/op"
        )
        rows.append(row)

    batch_case = f"put_many {BATCH:,} records"
    row = compare(
        batch_case, "diskcache.set x10k in one transact()", zixir_batch, dc_batch, target=None,
        repeats=5,
    )  # fmt: skip
    rows.append(row)
    rate, peer_rate = BATCH / row.zixir_seconds, BATCH / row.peer_seconds
    verdict = "meets" if rate >= BATCH_TARGET else "MISSES"
    progress(
        f"put_many: {rate:,.0f} records/s ({verdict} the {BATCH_TARGET:,} records/s target); "
        f"diskcache in one transact(): {peer_rate:,.0f} records/s"
    )
    # The same target as a row: each side returns its own seconds, the peer a fixed budget.
    budget = BATCH / BATCH_TARGET
    row = compare(
        batch_case, f"budget: {BATCH_TARGET:,} records/s", timed_batch, lambda: budget,
        target=1.0, repeats=5, self_timed=True,
    )  # fmt: skip
    rows.append(row)
    return rows
