"""Stages that deal in time: tumbling windows, a token-bucket throttle and a per-item timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from zixir import _validate
from zixir.errors import ItemTimeoutError
from zixir.stream import operators_async, operators_sync
from zixir.stream.buffer import _END, Pump
from zixir.stream.run import Run
from zixir.stream.stages import Stage
from zixir.stream.stats import Tally

__all__ = ["Throttle", "Timeout", "TokenBucket", "Window"]


class Window(Stage):
    operator = "window"

    def __init__(self, seconds: float, max_items: int, name: str | None) -> None:
        super().__init__(name)
        self.seconds = _validate.number("seconds", seconds, above=0)
        self.max_items = _validate.whole("max_items", max_items)

    def sync(self, up: Iterator[Any], tally: Tally, run: Run) -> Iterator[Any]:
        return operators_sync.timed_batches(up, self.max_items, self.seconds, tally, run, windowed=True)

    def aio(self, up: AsyncIterator[Any], tally: Tally, run: Run) -> AsyncIterator[Any]:
        return operators_async.atimed_batches(up, self.max_items, self.seconds, tally, run, windowed=True)


class TokenBucket:
    """`rate` tokens per `per` seconds, at most `burst` saved up; `delay` takes one token.

    Args:
        rate: Tokens added per `per` seconds.
        per: The period in seconds.
        burst: The bucket's size (and its level at the start).
        clock: Monotonic seconds.
    """

    __slots__ = ("_clock", "_level", "_stamp", "burst", "interval")

    def __init__(self, rate: float, per: float, burst: int, clock: Callable[[], float]) -> None:
        self.interval = per / rate
        self.burst = burst
        self._clock = clock
        self._level = float(burst)
        self._stamp = clock()

    def delay(self) -> float:
        """Takes a token; returns how long to wait before using it (0.0 if one was saved)."""
        now = self._clock()
        self._level = min(float(self.burst), self._level + (now - self._stamp) / self.interval)
        self._stamp = now
        self._level -= 1.0
        return 0.0 if self._level >= 0 else -self._level * self.interval


class Throttle(Stage):
    operator = "throttle"

    def __init__(
        self,
        rate: float,
        per: float,
        burst: int | None,
        name: str | None,
        clock: Callable[[], float] | None,
        sleep: Callable[[float], object] | None,
        async_sleep: Callable[[float], Awaitable[object]] | None,
    ) -> None:
        super().__init__(name)
        self.rate = _validate.number("rate", rate, above=0)
        self.per = _validate.number("per", per, above=0)
        self.burst = max(1, int(self.rate)) if burst is None else _validate.whole("burst", burst)
        self.clock = time.monotonic if clock is None else _validate.function("clock", clock)
        self.sleep = time.sleep if sleep is None else _validate.function("sleep", sleep)
        self.async_sleep = asyncio.sleep if async_sleep is None else _validate.function("async_sleep", async_sleep)

    def sync(self, up: Iterator[Any], tally: Tally, run: Run) -> Iterator[Any]:
        bucket = TokenBucket(self.rate, self.per, self.burst, self.clock)
        try:
            for item in up:
                tally.inp.n += 1
                wait = bucket.delay()
                if wait:
                    self.sleep(wait)
                yield item
        finally:
            _close(up)

    async def aio(self, up: AsyncIterator[Any], tally: Tally, run: Run) -> AsyncIterator[Any]:
        bucket = TokenBucket(self.rate, self.per, self.burst, self.clock)
        try:
            async for item in up:
                tally.inp.n += 1
                wait = bucket.delay()
                if wait:
                    await self.async_sleep(wait)
                yield item
        finally:
            await _aclose(up)


class Timeout(Stage):
    operator = "timeout"

    def __init__(self, seconds: float, name: str | None) -> None:
        super().__init__(name)
        self.seconds = _validate.number("seconds", seconds, above=0)

    def _error(self, tally: Tally) -> ItemTimeoutError:
        return ItemTimeoutError(
            f"stage {tally.name!r}: no item within {self.seconds}s (after {tally.inp.n} items)", self.seconds
        )

    def sync(self, up: Iterator[Any], tally: Tally, run: Run) -> Iterator[Any]:
        pump = Pump(up, 1, "block", tally, run, self.name)
        try:
            while True:
                try:
                    item = pump.get(self.seconds)
                except TimeoutError:
                    raise self._error(tally) from None
                if item is _END:
                    return
                yield item
        finally:
            pump.close()

    async def aio(self, up: AsyncIterator[Any], tally: Tally, run: Run) -> AsyncIterator[Any]:
        try:
            while True:
                try:
                    async with asyncio.timeout(self.seconds):
                        item = await anext(up)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise self._error(tally) from None
                tally.inp.n += 1
                yield item
        finally:
            await _aclose(up)


def _close(it: object) -> None:
    close = getattr(it, "close", None)
    if close is not None:
        close()


async def _aclose(it: object) -> None:
    close = getattr(it, "aclose", None)
    if close is not None:
        await close()
