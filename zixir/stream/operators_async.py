"""Async generators for stages that cannot be fused: a sync stage moved to a thread
(``blocking=True``), a blocking source read by a thread, and time-bounded batches."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from zixir.stream.buffer import _END, APump, Pump
from zixir.stream.run import Run, tag
from zixir.stream.stats import Point, Tally

__all__ = ["atimed_batches", "blocking_stage", "thread_reader"]


async def blocking_stage(
    operator: str,
    fn: Callable[[Any], Any],
    mode: str,
    up: AsyncIterator[Any],
    tally: Tally,
    run: Run,
    *,
    flatten: bool = False,
) -> AsyncIterator[Any]:
    """A sync map/filter/tap/flat_map stage whose calls run in one thread of its own."""
    loop = asyncio.get_running_loop()
    clock = time.perf_counter
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"zixir-stream-{tally.name}") as thread:
        try:
            async for item in up:
                tally.inp.n += 1
                started = clock()
                try:
                    result = await loop.run_in_executor(thread, contextvars.copy_context().run, fn, item)
                except Exception as error:
                    if mode == "skip":
                        tally.skip(error)
                        continue
                    tag(error, tally)
                    raise
                finally:
                    tally.seconds += clock() - started
                if operator == "map":
                    yield result
                elif operator in ("filter", "take_while"):
                    if result:
                        yield item
                    elif operator == "take_while":
                        return
                elif operator == "tap":
                    yield item
                elif operator == "drop_while":
                    raise AssertionError("drop_while runs inline")
                elif flatten:
                    for each in result:
                        yield each
        finally:
            close = getattr(up, "aclose", None)
            if close is not None:
                await close()


async def thread_reader(it: Iterator[Any], run: Run, name: str, size: int = 4) -> AsyncIterator[Any]:
    """Items of a blocking sync iterator, read by a thread into at most `size` items."""
    loop = asyncio.get_running_loop()
    arrived = asyncio.Event()

    def notify() -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            loop.call_soon_threadsafe(arrived.set)

    pump = Pump(it, size, "block", Tally(name, "reader", Point(), timed=False), run, name, notify)
    try:
        while True:
            arrived.clear()
            try:
                item = pump.get(timeout=0)
            except TimeoutError:
                await arrived.wait()
                continue
            if item is _END:
                return
            yield item
    finally:
        pump.close()


async def atimed_batches(
    up: AsyncIterator[Any], size: int, within: float, tally: Tally, run: Run, *, windowed: bool = False
) -> AsyncIterator[list[Any]]:
    """Batches of `size` items, each passed on at most `within` seconds after its first item
    (or, `windowed`, at the end of each `within`-long window that received an item)."""
    pump = APump(up, 1, "block", tally, run, tally.name)
    loop = asyncio.get_running_loop()
    batch: list[Any] = []
    deadline = loop.time() + within if windowed else None
    try:
        while True:
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                async with asyncio.timeout(timeout):
                    item = await pump.get()
            except TimeoutError:
                item = None
                if batch:
                    yield batch
                    batch = []
                deadline = loop.time() + within if windowed else None
                continue
            if item is _END:
                break
            if not batch and not windowed:
                deadline = loop.time() + within
            batch.append(item)
            if len(batch) >= size:
                yield batch
                batch = []
                if not windowed:
                    deadline = None
        if batch:
            yield batch
    finally:
        await pump.close()
