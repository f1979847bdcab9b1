"""Stopping a run early closes everything upstream: generators, threads, tasks."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from tests.stream.stream_support import stream_threads, wait_for_no_stream_threads
from zixir import Stream


class Source:
    def __init__(self) -> None:
        self.closed = threading.Event()

    def items(self) -> Iterator[int]:
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            self.closed.set()

    async def aitems(self) -> AsyncIterator[int]:
        try:
            n = 0
            while True:
                yield n
                n += 1
                await asyncio.sleep(0)
        finally:
            self.closed.set()


def boom(x: object) -> object:
    raise ValueError("boom")


BUILDS: list[Callable[[Stream[int]], Stream[Any]]] = [
    lambda s: s.map(lambda x: x),
    lambda s: s.buffer(4),
    lambda s: s.parallel_map(lambda x: x, workers=3),
    lambda s: s.timeout(30.0).batch(3, within=30.0).flat_map(lambda b: b),
    lambda s: s.merge(Stream.range(3)),
]


def test_break_take_and_errors_close_the_source_and_end_every_thread() -> None:
    baseline = threading.active_count()
    for build in BUILDS:
        source = Source()
        for item in build(Stream.defer(source.items)):
            if item == 5:
                break
        assert source.closed.wait(5.0)
        assert wait_for_no_stream_threads(), stream_threads()

        source = Source()
        assert len(build(Stream.defer(source.items)).take(7).to_list()) == 7
        assert source.closed.wait(5.0)
        assert wait_for_no_stream_threads(), stream_threads()

        source = Source()
        try:
            build(Stream.defer(source.items)).map(boom).to_list()
        except ValueError:
            pass
        assert source.closed.wait(5.0)
        assert wait_for_no_stream_threads(), stream_threads()
    assert threading.active_count() == baseline


def test_cancelling_the_consuming_task_closes_the_source_and_cancels_the_stage_tasks() -> None:
    async def main() -> None:
        before = len(asyncio.all_tasks())
        source = Source()
        started = asyncio.Event()

        async def slow(x: int) -> int:
            started.set()
            await asyncio.Event().wait()  # never returns: only cancellation ends it
            return x

        task = asyncio.create_task(Stream.defer(source.aitems).amap(slow, concurrency=4).ato_list())
        await asyncio.wait_for(started.wait(), 5.0)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        assert source.closed.is_set()
        assert len(asyncio.all_tasks()) == before

        source = Source()
        stream = Stream.defer(source.aitems).buffer(3).parallel_map(lambda x: x, workers=2)
        it = stream.__aiter__()
        async for item in it:
            if item == 3:
                break
        await it.aclose()  # type: ignore[attr-defined]
        assert source.closed.is_set()
        assert len(asyncio.all_tasks()) == before

    asyncio.run(main())
    assert wait_for_no_stream_threads(), stream_threads()
