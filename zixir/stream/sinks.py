"""The ends of a pipeline: lists, folds, counts, callbacks, actors (bounded asks in flight)
and the cache (``put_many`` in batches), each sync and async."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from zixir import _validate
from zixir.errors import ArgumentTypeError
from zixir.stream import compile as _compile
from zixir.tracing._context import CURRENT

if TYPE_CHECKING:
    from zixir.cache import Cache
    from zixir.stream.run import Run
    from zixir.stream.stats import Point

__all__ = ["SinkMixin"]

T = TypeVar("T")
A = TypeVar("A")

_MISSING: Any = object()


class SinkMixin(Generic[T]):
    """The sinks of `Stream`: each runs the pipeline once, to its end or its first error."""

    __slots__ = ()

    if TYPE_CHECKING:

        def _run_sync(self) -> tuple[Run, Iterator[T], Point]: ...

        def _run_async(self) -> tuple[Run, AsyncIterator[T], Point]: ...

    # The run's span is current while a sink consumes (the sink is the pipeline's end).

    def _consume(self, sink: Callable[[Iterator[T], Point], A]) -> A:
        run, it, last = self._run_sync()
        error: BaseException | None = None
        token = CURRENT.set(run.span)
        try:
            return sink(it, last)
        except BaseException as exc:
            error = exc
            raise
        finally:
            try:
                _compile.finish_sync(run, it, error)
            finally:
                CURRENT.reset(token)

    async def _aconsume(self, sink: Callable[[AsyncIterator[T], Point], Awaitable[A]]) -> A:
        run, it, last = self._run_async()
        error: BaseException | None = None
        token = CURRENT.set(run.span)
        try:
            return await sink(it, last)
        except BaseException as exc:
            error = exc
            raise
        finally:
            try:
                await _compile.finish_async(run, it, error)
            finally:
                CURRENT.reset(token)

    # -- sync --------------------------------------------------------------------------

    def to_list(self) -> list[T]:
        """Every item, in a list.

        Raises:
            AsyncSourceError: The stream needs an async run (use `ato_list`).
        """

        def sink(it: Iterator[T], last: Point) -> list[T]:
            items = list(it)
            last.n = len(items)
            return items

        return self._consume(sink)

    def count(self) -> int:
        """How many items the stream has."""

        def sink(it: Iterator[T], last: Point) -> int:
            for _ in it:
                last.n += 1
            return last.n

        return self._consume(sink)

    def reduce(self, fn: Callable[[A, T], A], initial: A) -> A:
        """``fn(acc, item)`` folded over the items from `initial`."""

        def sink(it: Iterator[T], last: Point) -> A:
            acc = initial
            for item in it:
                last.n += 1
                acc = fn(acc, item)
            return acc

        return self._consume(sink)

    def for_each(self, fn: Callable[[T], object]) -> None:
        """Calls ``fn(item)`` for each item."""

        def sink(it: Iterator[T], last: Point) -> None:
            for item in it:
                last.n += 1
                fn(item)

        self._consume(sink)

    def first(self, default: Any = _MISSING) -> T:
        """The first item (upstream then stops), or `default` for an empty stream.

        Raises:
            LookupError: The stream is empty and no default was given.
        """

        def sink(it: Iterator[T], last: Point) -> T:
            for item in it:
                last.n = 1
                return item
            if default is _MISSING:
                raise LookupError("first() of an empty stream: pass first(default=...) to get a value instead")
            return default  # type: ignore[no-any-return]

        return self._consume(sink)

    def to_actor(self, ref: Any, method: str, *, in_flight: int = 16, timeout: float | None = None) -> int:
        """Asks ``ref.proxy().<method>(item)`` for each item, at most `in_flight` at a time.

        The stream waits for the oldest answer when `in_flight` asks are out, so the
        actor's mailbox never holds more than that from this stream.

        Returns:
            How many items were sent (every one answered).

        Raises:
            Exception: An ask's error (the actor's handler raised), after the asks in
                flight are answered.
        """
        ask, bound, wait = _actor_call(ref, method, in_flight, timeout)

        def sink(it: Iterator[T], last: Point) -> int:
            pending: deque[Any] = deque()
            try:
                for item in it:
                    if len(pending) >= bound:
                        pending.popleft().get(timeout=wait)
                    pending.append(ask(item))
                    last.n += 1
                while pending:
                    pending.popleft().get(timeout=wait)
            finally:
                for future in pending:  # answered or not, none is left unread in an error
                    with contextlib.suppress(Exception):
                        future.get(timeout=wait)
            return last.n

        return self._consume(sink)

    def to_cache(
        self,
        cache: Cache,
        key: Callable[[T], Hashable],
        *,
        value: Callable[[T], Any] | None = None,
        batch: int = 256,
        ttl: float | None = _MISSING,
    ) -> int:
        """Stores each item in `cache` under ``key(item)``, `batch` items per ``put_many``.

        Args:
            cache: A zixir Cache.
            key: The item's cache key.
            value: What to store (the item by default).
            batch: Items per transaction.
            ttl: As for ``Cache.put``; the cache's default if omitted.

        Returns:
            How many items were stored.
        """
        put = _cache_put(cache, key, value, batch, ttl)

        def sink(it: Iterator[T], last: Point) -> int:
            batches = iter(lambda: list(itertools.islice(it, put.size)), [])
            for items in batches:
                put(items)
                last.n += len(items)
            return last.n

        return self._consume(sink)

    # -- async -------------------------------------------------------------------------

    async def ato_list(self) -> list[T]:
        """Every item, in a list (sync and async sources)."""

        async def sink(it: AsyncIterator[T], last: Point) -> list[T]:
            items = [item async for item in it]
            last.n = len(items)
            return items

        return await self._aconsume(sink)

    async def acount(self) -> int:
        """How many items the stream has."""

        async def sink(it: AsyncIterator[T], last: Point) -> int:
            async for _ in it:
                last.n += 1
            return last.n

        return await self._aconsume(sink)

    async def areduce(self, fn: Callable[[A, T], A], initial: A) -> A:
        """``fn(acc, item)`` folded over the items from `initial`."""

        async def sink(it: AsyncIterator[T], last: Point) -> A:
            acc = initial
            async for item in it:
                last.n += 1
                acc = fn(acc, item)
            return acc

        return await self._aconsume(sink)

    async def afor_each(self, fn: Callable[[T], object]) -> None:
        """Calls ``fn(item)`` for each item, awaiting what it returns if awaitable."""

        async def sink(it: AsyncIterator[T], last: Point) -> None:
            async for item in it:
                last.n += 1
                result = fn(item)
                if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                    await result

        await self._aconsume(sink)

    async def afirst(self, default: Any = _MISSING) -> T:
        """The first item, or `default` for an empty stream (LookupError without one)."""

        async def sink(it: AsyncIterator[T], last: Point) -> T:
            async for item in it:
                last.n = 1
                return item
            if default is _MISSING:
                raise LookupError("afirst() of an empty stream: pass afirst(default=...) to get a value instead")
            return default  # type: ignore[no-any-return]

        return await self._aconsume(sink)

    async def ato_actor(self, ref: Any, method: str, *, in_flight: int = 16, timeout: float | None = None) -> int:
        """`to_actor` for async runs; answers are awaited in one helper thread."""
        ask, bound, wait = _actor_call(ref, method, in_flight, timeout)
        loop = asyncio.get_running_loop()

        def answer(future: Any) -> Any:
            return future.get(timeout=wait)  # pykka's get takes the timeout by keyword only

        async def sink(it: AsyncIterator[T], last: Point) -> int:
            pending: deque[Any] = deque()
            with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="zixir-stream-actor") as waiter:
                try:
                    async for item in it:
                        if len(pending) >= bound:
                            await loop.run_in_executor(waiter, answer, pending.popleft())
                        pending.append(ask(item))
                        last.n += 1
                    while pending:
                        await loop.run_in_executor(waiter, answer, pending.popleft())
                finally:
                    pending.clear()
            return last.n

        return await self._aconsume(sink)

    async def ato_cache(
        self,
        cache: Cache,
        key: Callable[[T], Hashable],
        *,
        value: Callable[[T], Any] | None = None,
        batch: int = 256,
        ttl: float | None = _MISSING,
    ) -> int:
        """`to_cache` for async runs (each ``put_many`` runs in a thread)."""
        put = _cache_put(cache, key, value, batch, ttl)

        async def sink(it: AsyncIterator[T], last: Point) -> int:
            loop = asyncio.get_running_loop()
            items: list[T] = []
            with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="zixir-stream-cache") as writer:
                async for item in it:
                    items.append(item)
                    if len(items) >= put.size:
                        await loop.run_in_executor(writer, put, items)
                        last.n += len(items)
                        items = []
                if items:
                    await loop.run_in_executor(writer, put, items)
                    last.n += len(items)
            return last.n

        return await self._aconsume(sink)


def _actor_call(ref: Any, method: str, in_flight: int, timeout: float | None) -> tuple[Any, int, float | None]:
    if not hasattr(ref, "proxy"):
        raise ArgumentTypeError(f"to_actor takes an ActorRef, got {ref!r}", "ref")
    if not isinstance(method, str):
        raise ArgumentTypeError(f"method must be the method's name as a str, got {method!r}", "method")
    bound = _validate.whole("in_flight", in_flight)
    wait = _validate.optional_number("timeout", timeout, above=0)
    return getattr(ref.proxy(), method), bound, wait


class _CachePut:
    __slots__ = ("cache", "key", "size", "ttl", "value")

    def __init__(self, cache: Any, key: Callable[[Any], Any], value: Callable[[Any], Any] | None, size: int, ttl: Any):
        self.cache, self.key, self.value, self.size, self.ttl = cache, key, value, size, ttl

    def __call__(self, items: list[Any]) -> None:
        value = self.value
        mapping = {self.key(item): item if value is None else value(item) for item in items}
        if self.ttl is _MISSING:
            self.cache.put_many(mapping)
        else:
            self.cache.put_many(mapping, ttl=self.ttl)


def _cache_put(cache: Any, key: Any, value: Any, batch: int, ttl: Any) -> _CachePut:
    if not hasattr(cache, "put_many"):
        raise ArgumentTypeError(f"to_cache takes a zixir Cache, got {cache!r}", "cache")
    _validate.function("key", key, "a function from an item to its cache key")
    if value is not None:
        _validate.function("value", value, "a function from an item to the value to store")
    return _CachePut(cache, key, value, _validate.whole("batch", batch), ttl)
