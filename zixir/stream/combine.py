"""Stages that combine streams (zip, chain, merge) or remember items (distinct)."""

from __future__ import annotations

import asyncio
import queue
from collections.abc import AsyncIterator, Callable, Hashable, Iterator
from typing import TYPE_CHECKING, Any

from zixir import _validate
from zixir.stream.run import Run
from zixir.stream.stages import Stage
from zixir.stream.stats import Tally
from zixir.stream.timing import _aclose, _close

if TYPE_CHECKING:
    from zixir.stream.stream import Stream

__all__ = ["Chain", "Distinct", "Merge", "Zip"]

_DONE: Any = object()


class Distinct(Stage):
    operator = "distinct"

    def __init__(self, key: Callable[[Any], Hashable] | None, max_keys: int, name: str | None) -> None:
        super().__init__(name)
        if key is not None:
            _validate.function("key", key, "a function from an item to its key")
        self.key = key
        self.max_keys = _validate.whole("max_keys", max_keys)

    def _new(self, item: Any, seen: dict[Hashable, None]) -> bool:
        key = item if self.key is None else self.key(item)
        if key in seen:
            return False
        seen[key] = None
        if len(seen) > self.max_keys:
            del seen[next(iter(seen))]  # dicts keep insertion order: the oldest key goes
        return True

    def sync(self, up: Iterator[Any], tally: Tally, run: Run) -> Iterator[Any]:
        seen: dict[Hashable, None] = {}
        try:
            for item in up:
                tally.inp.n += 1
                if self._new(item, seen):
                    yield item
        finally:
            _close(up)

    async def aio(self, up: AsyncIterator[Any], tally: Tally, run: Run) -> AsyncIterator[Any]:
        seen: dict[Hashable, None] = {}
        try:
            async for item in up:
                tally.inp.n += 1
                if self._new(item, seen):
                    yield item
        finally:
            await _aclose(up)


class _Combining(Stage):
    def __init__(self, others: tuple[Stream[Any], ...], name: str | None) -> None:
        super().__init__(name)
        self.others = others


class Zip(_Combining):
    operator = "zip"

    def sync(self, up: Iterator[Any], tally: Tally, run: Run) -> Iterator[Any]:
        its = [iter(other) for other in self.others]
        try:
            for item in up:
                tally.inp.n += 1
                row = [item]
                for it in its:
                    for other in it:
                        row.append(other)
                        break
                    else:
                        return
                yield tuple(row)
        finally:
            for it in (up, *its):
                _close(it)

    async def aio(self, up: AsyncIterator[Any], tally: Tally, run: Run) -> AsyncIterator[Any]:
        its: list[AsyncIterator[Any]] = [other.__aiter__() for other in self.others]
        try:
            async for item in up:
                tally.inp.n += 1
                row = [item]
                for it in its:
                    try:
                        row.append(await anext(it))
                    except StopAsyncIteration:
                        return
                yield tuple(row)
        finally:
            for it in (up, *its):
                await _aclose(it)


class Chain(_Combining):
    operator = "chain"

    def sync(self, up: Iterator[Any], tally: Tally, run: Run) -> Iterator[Any]:
        try:
            for item in up:
                tally.inp.n += 1
                yield item
        finally:
            _close(up)
        for other in self.others:
            it = iter(other)
            try:
                for item in it:
                    tally.inp.n += 1
                    yield item
            finally:
                _close(it)

    async def aio(self, up: AsyncIterator[Any], tally: Tally, run: Run) -> AsyncIterator[Any]:
        try:
            async for item in up:
                tally.inp.n += 1
                yield item
        finally:
            await _aclose(up)
        for other in self.others:
            it = other.__aiter__()
            try:
                async for item in it:
                    tally.inp.n += 1
                    yield item
            finally:
                await _aclose(it)


class Merge(_Combining):
    operator = "merge"

    def __init__(self, others: tuple[Stream[Any], ...], buffer: int, name: str | None) -> None:
        super().__init__(others, name)
        self.buffer = _validate.whole("buffer", buffer)

    def sync(self, up: Iterator[Any], tally: Tally, run: Run) -> Iterator[Any]:
        inputs: list[Iterator[Any]] = [up, *(iter(other) for other in self.others)]
        shared: queue.Queue[tuple[int, Any, BaseException | None]] = queue.Queue(self.buffer * len(inputs))

        def put(entry: tuple[int, Any, BaseException | None]) -> bool:
            while not run.stopping.is_set():  # wakes every 100 ms to see whether the run ended
                try:
                    shared.put(entry, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def reader(index: int, it: Iterator[Any]) -> Callable[[], None]:
            def read() -> None:
                try:
                    for item in it:
                        if not put((index, item, None)):
                            return
                    put((index, _DONE, None))
                except BaseException as error:
                    put((index, _DONE, error))
                finally:
                    _close(it)

            return read

        for index, it in enumerate(inputs):
            run.thread(reader(index, it), f"{self.name}-{index}")
        open_inputs = len(inputs)
        while open_inputs:
            _, item, error = shared.get()
            if error is not None:
                raise error
            if item is _DONE:
                open_inputs -= 1
                continue
            tally.inp.n += 1
            yield item

    async def aio(self, up: AsyncIterator[Any], tally: Tally, run: Run) -> AsyncIterator[Any]:
        inputs: list[AsyncIterator[Any]] = [up, *(other.__aiter__() for other in self.others)]
        shared: asyncio.Queue[tuple[Any, BaseException | None]] = asyncio.Queue(self.buffer * len(inputs))

        async def read(it: AsyncIterator[Any]) -> None:
            try:
                async for item in it:
                    await shared.put((item, None))
                await shared.put((_DONE, None))
            except Exception as error:
                await shared.put((_DONE, error))
            finally:
                await _aclose(it)

        tasks = [run.task(read(it), f"{self.name}-{index}") for index, it in enumerate(inputs)]
        try:
            open_inputs = len(inputs)
            while open_inputs:
                item, error = await shared.get()
                if error is not None:
                    raise error
                if item is _DONE:
                    open_inputs -= 1
                    continue
                tally.inp.n += 1
                yield item
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
