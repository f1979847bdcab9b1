"""Where a stream's items come from: iterables (sync or async), factories, ranges, actors
and queues. A source opens a fresh iterator per run, or says why it cannot."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from typing import Any

from zixir import _validate
from zixir.errors import ArgumentTypeError, AsyncSourceError, SourceConsumedError
from zixir.stream.run import Run

__all__ = ["END", "ActorSource", "FactorySource", "IterableSource", "QueueSource", "Source"]


class _End:
    """The marker that ends a queue source (``zixir.stream.END``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "zixir.stream.END"


#: Put on a queue read by `Stream.from_queue` to end the stream.
END: Any = _End()


class Source:
    """A stream's source: opens an iterator per run."""

    #: Reading it may block (a queue, an actor): async runs read it in a thread.
    blocking = False

    def is_async(self) -> bool:
        """Whether the source yields with ``async for`` only."""
        return False

    def open_sync(self, run: Run) -> Iterator[Any]:
        """A fresh iterator for a sync run."""
        raise NotImplementedError  # every source overrides it

    def open_async(self, run: Run) -> Iterator[Any] | AsyncIterator[Any]:
        """A fresh iterator for an async run: async, or sync to read inline."""
        return self.open_sync(run)

    def describe(self) -> str:
        return type(self).__name__


class IterableSource(Source):
    """Any iterable or async iterable; a one-shot iterator (a generator) runs once.

    Args:
        items: The iterable.
        blocking: Its iteration may block: async runs read it in a thread.
    """

    def __init__(self, items: Iterable[Any] | AsyncIterable[Any], *, blocking: bool = False) -> None:
        self._async = hasattr(items, "__aiter__")
        if not self._async and not hasattr(items, "__iter__"):
            raise ArgumentTypeError(
                f"Stream takes an iterable or an async iterable, got {type(items).__name__}: {items!r}", "source"
            )
        self.items = items
        self.blocking = blocking
        # An iterator is its own iterator: it can be run once only.
        self._one_shot = (items.__aiter__() is items) if self._async else (iter(items) is items)  # type: ignore[union-attr, arg-type]
        self._used = False
        self._lock = threading.Lock()

    def is_async(self) -> bool:
        return self._async

    def _claim(self) -> None:
        if not self._one_shot:
            return
        with self._lock:
            if self._used:
                kind = type(self.items).__name__
                raise SourceConsumedError(
                    f"this stream's source is a one-shot iterator ({kind}) that an earlier run "
                    f"consumed; to run the stream again, give it a way to make a fresh one: "
                    f"Stream.defer(lambda: make_{kind}())"
                )
            self._used = True

    def open_sync(self, run: Run) -> Iterator[Any]:
        if self._async:
            raise AsyncSourceError("async source")  # Stream names the async way to run it
        self._claim()
        return iter(self.items)  # type: ignore[arg-type]

    def open_async(self, run: Run) -> Iterator[Any] | AsyncIterator[Any]:
        self._claim()
        if self._async:
            return self.items.__aiter__()  # type: ignore[union-attr]
        return iter(self.items)  # type: ignore[arg-type]

    def describe(self) -> str:
        return type(self.items).__name__


class FactorySource(Source):
    """A function called at each run for a fresh iterable: `Stream.defer`."""

    def __init__(self, factory: Callable[[], Iterable[Any] | AsyncIterable[Any]], *, is_async: bool | None) -> None:
        self.factory = _validate.function("factory", factory, "a function of no arguments returning an iterable")
        self._async = is_async

    def is_async(self) -> bool:
        return bool(self._async)

    def _open(self) -> Iterable[Any] | AsyncIterable[Any]:
        items = self.factory()
        if self._async is None:
            self._async = hasattr(items, "__aiter__")
        return items

    def open_sync(self, run: Run) -> Iterator[Any]:
        items = self._open()
        if hasattr(items, "__aiter__"):
            raise AsyncSourceError("async source")
        return iter(items)

    def open_async(self, run: Run) -> Iterator[Any] | AsyncIterator[Any]:
        items = self._open()
        if hasattr(items, "__aiter__"):
            return items.__aiter__()
        return iter(items)


class QueueSource(Source):
    """Items taken from a `queue.Queue` (blocking: async runs read it in a thread) or an
    `asyncio.Queue` (async runs only), until `end` is taken."""

    def __init__(self, q: queue.Queue[Any] | asyncio.Queue[Any], end: object) -> None:
        if not isinstance(q, (queue.Queue, asyncio.Queue)):
            raise ArgumentTypeError(f"from_queue takes a queue.Queue or an asyncio.Queue, got {q!r}", "q")
        self.queue = q
        self.end = end
        self.blocking = isinstance(q, queue.Queue)

    def is_async(self) -> bool:
        return isinstance(self.queue, asyncio.Queue)

    def open_sync(self, run: Run) -> Iterator[Any]:
        if isinstance(self.queue, asyncio.Queue):
            raise AsyncSourceError("async source")
        return _queue_items(self.queue, self.end, run)

    def open_async(self, run: Run) -> Iterator[Any] | AsyncIterator[Any]:
        if isinstance(self.queue, asyncio.Queue):
            return _aqueue_items(self.queue, self.end)
        return self.open_sync(run)


def _queue_items(q: queue.Queue[Any], end: object, run: Run) -> Iterator[Any]:
    # Wakes every 50 ms to see whether the run was stopped from another thread.
    while not run.stopping.is_set():
        try:
            item = q.get(timeout=0.05)
        except queue.Empty:
            continue
        if item is end:
            return
        yield item


async def _aqueue_items(q: asyncio.Queue[Any], end: object) -> AsyncIterator[Any]:
    while (item := await q.get()) is not end:
        yield item


class ActorSource(Source):
    """Items got by asking an actor, ``in_flight`` asks at a time, until one answers `end`.

    Args:
        ref: The actor's ref.
        method: The method to call (no arguments) for the next item.
        in_flight: Asks sent ahead of the consumer.
        end: The answer that ends the stream.
        timeout: Seconds to wait for an answer, or None.
    """

    blocking = True

    def __init__(self, ref: Any, method: str, in_flight: int, end: object, timeout: float | None) -> None:
        if not hasattr(ref, "proxy"):
            raise ArgumentTypeError(f"from_actor takes an ActorRef, got {ref!r}", "ref")
        if not isinstance(method, str):
            raise ArgumentTypeError(f"method must be the method's name as a str, got {method!r}", "method")
        self.ref = ref
        self.method = method
        self.in_flight = _validate.whole("in_flight", in_flight)
        self.end = end
        self.timeout = _validate.optional_number("timeout", timeout, above=0)

    def open_sync(self, run: Run) -> Iterator[Any]:
        return _actor_items(self, run)


def _actor_items(source: ActorSource, run: Run) -> Iterator[Any]:
    ask = getattr(source.ref.proxy(), source.method)
    pending: deque[Any] = deque()
    while True:
        while len(pending) < source.in_flight:
            pending.append(ask())
        item = pending.popleft().get(timeout=source.timeout)
        if item is source.end:
            return  # answers to asks still in flight are dropped with their futures
        yield item
