"""Bounded read-ahead: a thread (sync runs) or a task (async runs) that reads upstream
into at most `size` items, with an overflow strategy; the `buffer` operator and the
reader behind every time-based stage."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from zixir import _validate
from zixir.errors import BufferFullError, InvalidArgumentError
from zixir.stream.run import Run
from zixir.stream.stages import Stage
from zixir.stream.stats import Tally

__all__ = ["OVERFLOWS", "APump", "Buffer", "Pump"]

OVERFLOWS = ("block", "drop_oldest", "drop_newest", "fail")

_END: Any = object()


def check_overflow(overflow: object, allowed: tuple[str, ...] = OVERFLOWS) -> str:
    """Checks an ``overflow=`` argument."""
    if overflow not in allowed:
        raise InvalidArgumentError(
            f"overflow must be one of {', '.join(repr(a) for a in allowed)}, got {overflow!r}", "overflow"
        )
    return overflow


class Pump:
    """A thread reading `it` into a deque of at most `size` items.

    The thread ends when upstream ends or fails, or once its in-flight item returns after
    `close` (the consumer stopped, or the run ended); it closes `it` itself.
    """

    def __init__(
        self,
        it: Iterator[Any],
        size: int,
        overflow: str,
        tally: Tally,
        run: Run,
        name: str,
        notify: Callable[[], object] | None = None,
    ) -> None:
        self.notify = notify
        self.items: deque[Any] = deque()
        self.size = size
        self.overflow = overflow
        self.tally = tally
        self.ready = threading.Condition()
        self.closed = False
        self.error: BaseException | None = None
        self._it = it
        run.on_close(self.close)
        self.thread = run.thread(self._loop, name)

    def _loop(self) -> None:
        it, items, ready, tally = self._it, self.items, self.ready, self.tally
        try:
            for item in it:
                tally.inp.n += 1
                with ready:
                    while self.overflow == "block" and len(items) >= self.size and not self.closed:
                        ready.wait()
                    if self.closed:
                        return
                    if len(items) >= self.size:
                        if self.overflow == "fail":
                            self.error = BufferFullError(
                                f"the {tally.name} buffer of {self.size} items was full when an item "
                                'arrived (overflow="fail"): consume faster, raise n, or choose another overflow',
                                self.size,
                            )
                            items.append(_END)
                            ready.notify_all()
                            return
                        tally.skipped += 1
                        if self.overflow == "drop_newest":
                            continue
                        items.popleft()
                    items.append(item)
                    ready.notify_all()
                if self.notify is not None:
                    self.notify()
        except BaseException as error:
            self.error = error
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()
            with ready:
                items.append(_END)
                ready.notify_all()
            if self.notify is not None:
                self.notify()

    def get(self, timeout: float | None = None) -> Any:
        """The next item; `_END` after the last one; raises upstream's error.

        Raises:
            TimeoutError: No item came within `timeout` seconds.
        """
        with self.ready:
            if not self.items and not self.ready.wait_for(lambda: self.items, timeout):
                raise TimeoutError
            item = self.items.popleft()
            if item is _END:
                self.items.appendleft(_END)
                if self.error is not None:
                    raise self.error
            self.ready.notify_all()
            return item

    def close(self) -> None:
        with self.ready:
            self.closed = True
            self.ready.notify_all()

    def __iter__(self) -> Iterator[Any]:
        try:
            while (item := self.get()) is not _END:
                yield item
        finally:
            self.close()


class APump:
    """`Pump` for async runs: a task reads `it` into at most `size` items."""

    def __init__(self, it: AsyncIterator[Any], size: int, overflow: str, tally: Tally, run: Run, name: str) -> None:
        self.items: deque[Any] = deque()
        self.size = size
        self.overflow = overflow
        self.tally = tally
        self.error: BaseException | None = None
        self.changed = asyncio.Event()
        self._it = it
        self.task = run.task(self._loop(), name)

    async def _loop(self) -> None:
        it, items, tally = self._it, self.items, self.tally
        try:
            async for item in it:
                tally.inp.n += 1
                while self.overflow == "block" and len(items) >= self.size:
                    self.changed.clear()
                    await self.changed.wait()
                if len(items) >= self.size:
                    if self.overflow == "fail":
                        self.error = BufferFullError(
                            f"the {tally.name} buffer of {self.size} items was full when an item "
                            'arrived (overflow="fail"): consume faster, raise n, or choose another overflow',
                            self.size,
                        )
                        return
                    tally.skipped += 1
                    if self.overflow == "drop_newest":
                        continue
                    items.popleft()
                items.append(item)
                self.changed.set()
        except Exception as error:
            self.error = error
        finally:
            items.append(_END)
            self.changed.set()
            close = getattr(it, "aclose", None)
            if close is not None:
                await close()

    async def get(self) -> Any:
        """The next item; `_END` after the last one; raises upstream's error."""
        while not self.items:
            self.changed.clear()
            await self.changed.wait()
        item = self.items.popleft()
        if item is _END:
            self.items.appendleft(_END)
            if self.error is not None:
                raise self.error
        self.changed.set()
        return item

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    async def __aiter__(self) -> AsyncIterator[Any]:
        try:
            while (item := await self.get()) is not _END:
                yield item
        finally:
            await self.close()


class Buffer(Stage):
    operator = "buffer"

    def __init__(self, size: int, overflow: str, name: str | None) -> None:
        super().__init__(name)
        self.size = _validate.whole("n", size)
        self.overflow = check_overflow(overflow)

    def sync(self, up: Iterator[Any], tally: Tally, run: Run) -> Iterator[Any]:
        return iter(Pump(up, self.size, self.overflow, tally, run, self.name))

    async def aio(self, up: AsyncIterator[Any], tally: Tally, run: Run) -> AsyncIterator[Any]:
        pump = APump(up, self.size, self.overflow, tally, run, self.name)
        try:
            while (item := await pump.get()) is not _END:
                yield item
        finally:
            await pump.close()
