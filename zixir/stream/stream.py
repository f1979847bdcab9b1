"""`Stream`: a lazy pipeline description, run by ``for`` and the sync sinks, or by
``async for`` and the async sinks."""

from __future__ import annotations

import asyncio
import contextlib
import queue
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Hashable,
    Iterable,
    Iterator,
)
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from zixir.stream import compile as _compile
from zixir.stream import stages as _st
from zixir.stream.sinks import SinkMixin
from zixir.stream.sources import END, ActorSource, FactorySource, IterableSource, QueueSource, Source
from zixir.stream.stats import PipelineStats, RunStats

if TYPE_CHECKING:
    from zixir.sandbox import Sandbox

__all__ = ["Stream"]

T = TypeVar("T")
U = TypeVar("U")
K = TypeVar("K", bound=Hashable)

Overflow = Literal["block", "drop_oldest", "drop_newest", "fail"]


class Stream(SinkMixin[T], Generic[T]):
    """A lazy pipeline: a source and stages, run anew by each ``for``, ``async for`` or sink.

    Operators return a new Stream and run nothing. Sync runs (``for``, `to_list`...) take
    sync sources; async runs (``async for``, `ato_list`...) take both (a sync source is
    read inline, or in a thread when it blocks). Per-item stages next to each other are
    fused into one loop. Every buffer between stages is bounded.

    Args:
        source: An iterable (infinite ones too) or an async iterable. A one-shot iterator
            (a generator) runs once: a second run raises SourceConsumedError; use
            `Stream.defer` for a source that runs again. Another Stream is copied.
        blocking: Iterating `source` may block (a socket, a slow file): async runs read it
            in a thread so the event loop keeps running.

    Raises:
        ArgumentTypeError: `source` is not iterable.
    """

    __slots__ = ("_last", "_source", "_stages", "_timed")

    def __init__(self, source: Iterable[T] | AsyncIterable[T] | Stream[T], *, blocking: bool = False) -> None:
        self._stages: tuple[_st.Stage, ...]
        if isinstance(source, Stream):
            self._source: Source = source._source
            self._stages = source._stages
            self._timed: bool = source._timed
        else:
            self._source = IterableSource(source, blocking=blocking)
            self._stages = ()
            self._timed = False
        self._last: list[RunStats] = []  # the latest run's stats, shared by nothing else

    # -- sources -----------------------------------------------------------------------

    @classmethod
    def range(cls, *args: int) -> Stream[int]:
        """The stream of ``range(*args)``; runs any number of times."""
        return Stream(range(*args))

    @classmethod
    def defer(cls, factory: Callable[[], Iterable[U] | AsyncIterable[U]]) -> Stream[U]:
        """A stream whose source is made by `factory` at each run (a generator function)."""
        stream: Stream[U] = Stream(())
        stream._source = FactorySource(factory, is_async=None)
        return stream

    @classmethod
    def from_queue(cls, q: queue.Queue[Any] | asyncio.Queue[Any], *, end: object = END) -> Stream[Any]:
        """Items taken from `q` until `end` (default `zixir.stream.END`) is taken.

        A `queue.Queue` works in sync and async runs (read in a thread there); an
        `asyncio.Queue` in async runs.
        """
        stream: Stream[Any] = Stream(())
        stream._source = QueueSource(q, end)
        return stream

    @classmethod
    def from_actor(
        cls, ref: Any, method: str, *, in_flight: int = 4, end: object = None, timeout: float | None = None
    ) -> Stream[Any]:
        """Items got by asking the actor: ``ref.proxy().<method>()`` until it answers `end`.

        At most `in_flight` asks are outstanding, so the actor's mailbox stays bounded.
        In async runs the asks are awaited in a thread.

        Args:
            ref: The actor's ActorRef.
            method: The name of a method taking no arguments that returns the next item.
            in_flight: Asks sent ahead of the consumer (answers after `end` are dropped).
            end: The answer that ends the stream (compared with ``is``).
            timeout: Seconds to wait for each answer; None waits as the actor's asks do.
        """
        stream: Stream[Any] = Stream(())
        stream._source = ActorSource(ref, method, in_flight, end, timeout)
        return stream

    # -- the description ---------------------------------------------------------------

    def _with(self, stage: _st.Stage) -> Stream[Any]:
        stream: Stream[Any] = Stream.__new__(Stream)
        stream._source = self._source
        stream._stages = (*self._stages, stage)
        stream._timed = self._timed
        stream._last = []
        return stream

    def __repr__(self) -> str:
        stages = "".join(f".{stage!r}" for stage in self._stages)
        return f"Stream({self._source.describe()}){stages}"

    def timed(self, enabled: bool = True) -> Stream[T]:
        """This stream with per-stage timing of function calls on (about 0.1 us per call).

        Concurrent stages (`parallel_map`, `amap`, `blocking=True` stages) always measure
        their workers' busy time.
        """
        stream: Stream[T] = Stream(self)
        stream._timed = bool(enabled)
        return stream

    def stats(self) -> PipelineStats | None:
        """The figures of this stream object's latest run (live while it runs), or None."""
        return self._last[-1].snapshot() if self._last else None

    # -- per-item operators -----------------------------------------------------------

    def map(
        self, fn: Callable[[T], U], *, name: str | None = None, on_error: _st.OnError = "fail", blocking: bool = False
    ) -> Stream[U]:
        """``fn(item)`` for each item.

        Args:
            fn: A sync function (for async work use `amap`).
            name: The stage's name in stats and metrics.
            on_error: "fail" (the error ends the run), "skip" (the item is dropped; the
                error is counted and kept among the stage's recent errors), or a
                RetryPolicy (the call is retried; when the policy gives up the run fails).
            blocking: In async runs, call `fn` in a thread (one per stage, an item at a
                time) so the event loop keeps running; sync runs call it inline.
        """
        return self._with(_st.Map(fn, name, on_error, blocking))

    def filter(
        self,
        predicate: Callable[[T], object],
        *,
        name: str | None = None,
        on_error: _st.OnError = "fail",
        blocking: bool = False,
    ) -> Stream[T]:
        """The items for which `predicate` is true; other arguments as `map`."""
        return self._with(_st.Filter(predicate, name, on_error, blocking))

    def flat_map(
        self,
        fn: Callable[[T], Iterable[U]],
        *,
        name: str | None = None,
        on_error: _st.OnError = "fail",
        blocking: bool = False,
    ) -> Stream[U]:
        """Each item of ``fn(item)``, in order (async runs also take async iterables)."""
        return self._with(_st.FlatMap(fn, name, on_error, blocking))

    def tap(self, fn: Callable[[T], object], *, name: str | None = None, on_error: _st.OnError = "fail") -> Stream[T]:
        """Calls ``fn(item)`` for its effect and passes the item on unchanged."""
        return self._with(_st.Tap(fn, name, on_error))

    def take(self, n: int, *, name: str | None = None) -> Stream[T]:
        """The first `n` items; upstream stops (and is closed) once they are taken."""
        return self._with(_st.Take(n, name))

    def drop(self, n: int, *, name: str | None = None) -> Stream[T]:
        """All items but the first `n`."""
        return self._with(_st.Drop(n, name))

    def take_while(self, predicate: Callable[[T], object], *, name: str | None = None) -> Stream[T]:
        """Items while `predicate` holds; the first that fails ends the stream."""
        return self._with(_st.TakeWhile(predicate, name, "fail"))

    def drop_while(self, predicate: Callable[[T], object], *, name: str | None = None) -> Stream[T]:
        """Items from the first for which `predicate` fails on."""
        return self._with(_st.DropWhile(predicate, name, "fail"))

    def enumerate(self, start: int = 0, *, name: str | None = None) -> Stream[tuple[int, T]]:
        """``(index, item)`` pairs, counting from `start`."""
        return self._with(_st.Enumerate(start, name))

    def scan(
        self, fn: Callable[[U, T], U], initial: U, *, name: str | None = None, on_error: _st.OnError = "fail"
    ) -> Stream[U]:
        """Running accumulation: yields ``acc = fn(acc, item)`` per item, from `initial`.

        With ``on_error="skip"``, a failing item is dropped and the accumulator kept.
        """
        return self._with(_st.Scan(fn, initial, name, on_error))

    def batch(self, n: int, *, within: float | None = None, name: str | None = None) -> Stream[list[T]]:
        """Lists of `n` items; the last may be shorter.

        Args:
            n: Items per batch.
            within: Seconds after a batch's first item at which it is passed on however
                short. The source is then read by a thread (sync runs) or a task (async
                runs), so a batch leaves on time even while the source blocks.
            name: The stage's name.
        """
        return self._with(_st.Batch(n, within, name))

    def window(self, seconds: float, *, max_items: int = 10_000, name: str | None = None) -> Stream[list[T]]:
        """Lists of the items that arrived in each `seconds`-long window (tumbling).

        Windows with no item are skipped. The source is read by a thread (sync runs) or a
        task (async runs). A window holds at most `max_items` (10,000 by default); a full
        window is passed on early.
        """
        from zixir.stream.timing import Window

        return self._with(Window(seconds, max_items, name))

    def distinct(
        self, key: Callable[[T], Hashable] | None = None, *, max_keys: int = 100_000, name: str | None = None
    ) -> Stream[T]:
        """Items whose key (the item itself by default) was not seen before.

        At most `max_keys` keys (100,000 by default) are remembered; past it the oldest is
        forgotten, and an item with a forgotten key passes again.
        """
        from zixir.stream.combine import Distinct

        return self._with(Distinct(key, max_keys, name))

    def throttle(
        self,
        rate: float,
        per: float = 1.0,
        *,
        burst: int | None = None,
        name: str | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], object] | None = None,
        async_sleep: Callable[[float], Awaitable[object]] | None = None,
    ) -> Stream[T]:
        """At most `rate` items per `per` seconds, by token bucket: items wait, none is dropped.

        Args:
            rate: Items allowed per `per` seconds.
            per: The period, in seconds.
            burst: Items that may pass at once after a quiet spell; ``max(1, int(rate))``
                by default.
            name: The stage's name.
            clock: Monotonic seconds (for tests); `time.monotonic` by default.
            sleep: The wait of sync runs (for tests); `time.sleep` by default.
            async_sleep: The wait of async runs (for tests); `asyncio.sleep` by default.
        """
        from zixir.stream.timing import Throttle

        return self._with(Throttle(rate, per, burst, name, clock, sleep, async_sleep))

    def timeout(self, seconds: float, *, name: str | None = None) -> Stream[T]:
        """Fails with ItemTimeoutError when the next item takes longer than `seconds`.

        Sync runs read upstream in a thread to be able to stop waiting; async runs use
        ``asyncio.timeout`` (the pending upstream step is cancelled).
        """
        from zixir.stream.timing import Timeout

        return self._with(Timeout(seconds, name))

    # -- combining ---------------------------------------------------------------------

    def zip(self, *others: Stream[Any] | Iterable[Any]) -> Stream[tuple[Any, ...]]:
        """Tuples of one item from this stream and from each of `others`; ends with the shortest."""
        from zixir.stream.combine import Zip

        return self._with(Zip(_streams(others), None))

    def chain(self, *others: Stream[Any] | Iterable[Any]) -> Stream[Any]:
        """This stream's items, then each of `others`' in turn."""
        from zixir.stream.combine import Chain

        return self._with(Chain(_streams(others), None))

    def merge(self, *others: Stream[Any] | Iterable[Any], buffer: int = 4) -> Stream[Any]:
        """Items from this stream and `others` as they come (interleaved).

        Each input is read by its own thread (sync runs) or task (async runs) into a
        shared queue of at most `buffer` items per input (4 by default).
        """
        from zixir.stream.combine import Merge

        return self._with(Merge(_streams(others), buffer, None))

    # -- buffering and concurrency -----------------------------------------------------

    def buffer(self, n: int, *, overflow: Overflow = "block", name: str | None = None) -> Stream[T]:
        """Reads upstream ahead of the consumer into at most `n` items.

        Upstream is read by a thread (sync runs) or a task (async runs).

        Args:
            n: The bound.
            overflow: When full: "block" (upstream waits), "drop_oldest", "drop_newest"
                (the arriving item), or "fail" (BufferFullError). Dropped items are
                counted as skipped.
            name: The stage's name.
        """
        from zixir.stream.buffer import Buffer

        return self._with(Buffer(n, overflow, name))

    def parallel_map(
        self,
        fn: Callable[[T], U],
        *,
        workers: int = 4,
        ordered: bool = True,
        executor: Literal["thread"] | Sandbox = "thread",
        buffer: int | None = None,
        name: str | None = None,
        on_error: _st.OnError = "fail",
    ) -> Stream[U]:
        """``fn(item)`` on `workers` threads, or in a Sandbox's worker processes.

        At most ``workers + buffer`` items are taken from upstream and not yet passed on,
        so a fast producer waits for a slow consumer.

        Args:
            fn: A sync function; with a Sandbox, one it can pickle (module-level).
            workers: Calls running at once.
            ordered: Pass results in input order (True) or as they finish.
            executor: "thread", or a Sandbox: each item runs in its workers with its
                limits; a limit breach or an error in fn is the item's error.
            buffer: Results that may wait for the consumer; ``2 * workers`` by default.
            name: The stage's name.
            on_error: As for `map`; a RetryPolicy retries the item's call.
        """
        from zixir.stream.parallel import ParallelMap

        return self._with(ParallelMap(fn, workers, ordered, executor, buffer, name, on_error))

    def amap(
        self,
        fn: Callable[[T], Awaitable[U]],
        *,
        concurrency: int = 16,
        ordered: bool = True,
        buffer: int | None = None,
        name: str | None = None,
        on_error: _st.OnError = "fail",
    ) -> Stream[U]:
        """``await fn(item)`` with up to `concurrency` calls at once (async runs only).

        Args:
            fn: A coroutine function.
            concurrency: Calls in flight at most.
            ordered: Pass results in input order (True) or as they finish.
            buffer: Results that may wait for the consumer; ``concurrency`` by default.
            name: The stage's name.
            on_error: As for `map`; a RetryPolicy retries with ``call_async``.
        """
        from zixir.stream.parallel import AsyncMap

        return self._with(AsyncMap(fn, concurrency, ordered, buffer, name, on_error))

    def tee(self, n: int = 2, *, max_lag: int = 64) -> tuple[Stream[T], ...]:
        """`n` streams that share one run of this one, each seeing every item.

        The shared run starts when the first of them is iterated; each runs once. A branch
        at most `max_lag` items (64 by default) ahead of the slowest open branch waits for
        it, so branches are consumed together: from threads, tasks, or interleaved. A
        branch that is closed (its consumer stopped) no longer holds the others back.
        """
        from zixir.stream.group import tee

        return tee(self, n, max_lag)

    def group_by(
        self,
        key: Callable[[T], K],
        *,
        max_groups: int = 1_000,
        buffer: int = 256,
        overflow: Literal["fail", "drop_oldest", "drop_newest"] = "fail",
        name: str | None = None,
    ) -> Stream[tuple[K, Stream[T]]]:
        """``(key, substream)`` for each new key; the substream has that key's items.

        Reading any substream (or the outer stream) reads upstream and routes items to
        their groups' buffers of at most `buffer` items each (256 by default). A group
        whose buffer is full applies `overflow`: "fail" (BufferFullError, the default),
        "drop_oldest" or "drop_newest". A group never iterated keeps its first `buffer`
        items and then overflows; a group whose consumer stopped (or that was dropped)
        discards its items. More than `max_groups` open groups (1,000 by default) is a
        GroupLimitError.
        """
        from zixir.stream.group import GroupBy

        return self._with(GroupBy(key, max_groups, buffer, overflow, name))

    # -- running -----------------------------------------------------------------------

    def _async_hint(self) -> str:
        return (
            f"{self!r} has an async source or an async-only stage (amap): run it with "
            "`async for`, or the async sinks (`await stream.ato_list()`, `acount()`, `areduce()`, "
            "`afor_each()`, `afirst()`, `ato_actor()`, `ato_cache()`)"
        )

    def _run_sync(self) -> tuple[Any, Iterator[Any], Any]:
        run = _compile.start(self._stages, timed=self._timed)
        self._last[:] = [run.stats]
        try:
            it, last = _compile.compile_sync(self._source, self._stages, run, self._async_hint)
        except BaseException as error:
            run.close()
            run.finish("failed", error)
            raise
        return run, it, last

    def _run_async(self) -> tuple[Any, AsyncIterator[Any], Any]:
        run = _compile.start(self._stages, timed=self._timed)
        self._last[:] = [run.stats]
        try:
            it, last = _compile.compile_async(self._source, self._stages, run)
        except BaseException as error:
            run.close()
            run.finish("failed", error)
            raise
        return run, it, last

    def __iter__(self) -> Iterator[T]:
        run, it, last = self._run_sync()
        return _compile.drive_sync(run, it, last)

    def __aiter__(self) -> AsyncGenerator[T, None]:
        run, it, last = self._run_async()
        return _compile.drive_async(run, it, last)

    @contextlib.asynccontextmanager
    async def aiter(self) -> AsyncIterator[AsyncGenerator[T, None]]:
        """A run of the stream for ``async with stream.aiter() as items: async for ...``.

        Leaving the block closes the run at once, even after a ``break``: upstream
        generators, tasks, threads and sandbox calls are stopped before the next line
        runs. A bare ``async for`` that breaks leaves that to asyncio's finalizer of the
        abandoned generator, which runs it later, on the event loop.
        """
        items = self.__aiter__()
        try:
            yield items
        finally:
            await items.aclose()


def _streams(others: tuple[Stream[Any] | Iterable[Any], ...]) -> tuple[Stream[Any], ...]:
    return tuple(other if isinstance(other, Stream) else Stream(other) for other in others)
