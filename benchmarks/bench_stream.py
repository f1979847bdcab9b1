"""Streams against their floors (hand-written generators and loops) and aiostream.

aiostream comes with the ``peers`` extra, which ``make bench`` installs.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

from benchmarks.harness import Comparison, compare, progress
from zixir.stream import Stream

ITEMS = 1_000_000
TASKS = 20_000
BOUND = 64


def _double(x: int) -> int:
    return x * 2


def _kept(x: int) -> bool:
    return x % 3 == 0


def batched(items: Iterable[Any], n: int) -> Iterator[list[Any]]:
    """The five-line floor."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


async def _source() -> AsyncIterator[int]:
    for i in range(ITEMS):
        yield i


async def _floor_async() -> int:
    n, batch = 0, []
    async for x in _source():
        y = _double(x)
        if _kept(y):
            batch.append(y)
            if len(batch) == 100:
                n += 1
                batch = []
    return n + bool(batch)


async def _work(x: int) -> int:
    await asyncio.sleep(0)
    return x


async def _gather_floor() -> int:
    shared = iter(range(TASKS))
    done = 0

    async def worker() -> None:
        nonlocal done
        for x in shared:
            await _work(x)
            done += 1

    await asyncio.gather(*(worker() for _ in range(BOUND)))
    return done


def _run(coro: Callable[[], Any]) -> Callable[[], object]:
    return lambda: asyncio.run(coro())


def _peak(items: int) -> float:
    """Traced peak memory (MiB) of a fast source into a sink busy 2 us per item."""

    def slow_sink(batch: list[int]) -> None:
        end = time.perf_counter() + 2e-6 * len(batch)
        while time.perf_counter() < end:
            pass

    tracemalloc.start()
    Stream(range(items)).map(_double).batch(64).for_each(slow_sink)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def run() -> list[Comparison]:
    """Times the four stream cases; returns the table rows."""
    from aiostream import pipe, stream

    async def aiostream_pipeline() -> int:
        xs = stream.iterate(_source()) | pipe.map(_double) | pipe.filter(_kept) | pipe.chunks(100)  # type: ignore[arg-type,unused-ignore]
        n = 0
        async with xs.stream() as chunks:
            async for _ in chunks:
                n += 1
        return n

    async def aiostream_map() -> int:
        return len(await stream.list(stream.iterate(range(TASKS)) | pipe.map(_work, task_limit=BOUND)))  # type: ignore[arg-type,unused-ignore]

    async def ours_async() -> int:
        return await Stream.defer(_source).map(_double).filter(_kept).batch(100).acount()

    async def ours_amap() -> int:
        return await Stream(range(TASKS)).amap(_work, concurrency=BOUND).acount()

    rows = [
        compare(
            f"map|filter|batch(100), {ITEMS:,} items",
            "batched(filter(map(...)), 100)",
            lambda: Stream(range(ITEMS)).map(_double).filter(_kept).batch(100).count(),
            lambda: sum(1 for _ in batched(filter(_kept, map(_double, range(ITEMS))), 100)),
            target=1.5,
            repeats=5,
        ),
        compare(
            "async map|filter|batch(100)",
            "plain async for loop",
            _run(ours_async),
            _run(_floor_async),
            target=1.6,
            repeats=5,
        ),
        compare(
            "async map|filter|batch(100)",
            "aiostream map|filter|chunks",
            _run(ours_async),
            _run(aiostream_pipeline),
            target=0.5,
            repeats=5,
        ),
        compare(
            f"amap x{TASKS:,}, concurrency={BOUND}",
            f"{BOUND} gather workers, shared iterator",
            _run(ours_amap),
            _run(_gather_floor),
            target=2.0,
        ),
        compare(
            f"amap x{TASKS:,}, concurrency={BOUND}",
            f"aiostream map task_limit={BOUND}",
            _run(ours_amap),
            _run(aiostream_map),
            target=1 / 3,
        ),
    ]
    progress("fast source into a slow sink: traced peak memory")
    small, large = _peak(10_000), _peak(ITEMS)
    rows.append(
        Comparison("peak memory, 1e6 items, slow sink", "peak at 1e4 items + 64 KiB", large, small + 1 / 16, 1.0, "MiB")
    )
    return rows
