"""Turns a stream's description (a source and its stages) into the iterators of one run,
fusing neighbouring per-item stages, and drives the run to its end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from typing import Any

from zixir.errors import AsyncSourceError
from zixir.stream.fuse import Snippet, build
from zixir.stream.run import Run
from zixir.stream.sources import Source
from zixir.stream.stages import Stage
from zixir.stream.stats import Point, RunStats, Tally
from zixir.tracing._context import CURRENT

__all__ = [
    "as_async",
    "compile_async",
    "compile_sync",
    "drive_async",
    "drive_sync",
    "finish_async",
    "finish_sync",
    "outcome_of",
    "start",
]


def start(stages: tuple[Stage, ...], *, timed: bool) -> Run:
    """A new run with the source's tally."""
    run = Run(RunStats(), timed=timed)
    run.stats.add(Tally("source", "source", Point(), timed=False))
    return run


def _tally(stage: Stage, run: Run, inp: Point) -> Tally:
    tally = Tally(stage.name, stage.operator, inp, timed=run.timed)
    run.stats.add(tally, measures_time=stage.measures_time())
    return tally


def compile_sync(
    source: Source, stages: tuple[Stage, ...], run: Run, async_hint: Callable[[], str]
) -> tuple[Iterator[Any], Point]:
    """The iterator of a sync run and the point its consumer counts.

    Raises:
        AsyncSourceError: The source or a stage needs an async run; the message names the
            async way (`async_hint`).
    """
    if source.is_async() or any(stage.async_only for stage in stages):
        raise AsyncSourceError(async_hint())
    it: Iterator[Any] = source.open_sync(run)
    point = run.stats.tallies[0].inp
    pending: list[tuple[Snippet, Tally]] = []

    def flush(it: Iterator[Any]) -> Iterator[Any]:
        if pending:
            fused = build([s for s, _ in pending], [t for _, t in pending], is_async=False, source_async=False)
            it = fused(it)  # type: ignore[assignment]
            pending.clear()
        return it

    for stage in stages:
        tally = _tally(stage, run, point)
        snippet = stage.snippet(tally, run, is_async=False)
        if snippet is not None:
            pending.append((snippet, tally))
            if snippet.emit is not None:
                it = flush(it)
        else:
            it = stage.sync(flush(it), tally, run)
        point = tally.out = Point()
    return flush(it), point


def compile_async(source: Source, stages: tuple[Stage, ...], run: Run) -> tuple[AsyncIterator[Any], Point]:
    """The async iterator of an async run and the point its consumer counts."""
    opened = source.open_async(run)
    it: Iterator[Any] | AsyncIterator[Any] = opened
    if source.blocking and not hasattr(opened, "__anext__"):
        from zixir.stream.operators_async import thread_reader

        it = thread_reader(opened, run, "source")
    point = run.stats.tallies[0].inp
    pending: list[tuple[Snippet, Tally]] = []

    def flush(it: Iterator[Any] | AsyncIterator[Any]) -> Iterator[Any] | AsyncIterator[Any]:
        if pending:
            is_async_source = hasattr(it, "__anext__")
            fused = build([s for s, _ in pending], [t for _, t in pending], is_async=True, source_async=is_async_source)
            it = fused(it)
            pending.clear()
        return it

    for stage in stages:
        tally = _tally(stage, run, point)
        snippet = stage.snippet(tally, run, is_async=True)
        if snippet is not None:
            pending.append((snippet, tally))
            if snippet.emit is not None:
                it = flush(it)
        else:
            up = flush(it)
            it = stage.aio(up if stage.sync_upstream else as_async(up), tally, run)  # type: ignore[arg-type]
        point = tally.out = Point()
    return as_async(flush(it)), point


def as_async(it: Iterator[Any] | AsyncIterator[Any]) -> AsyncIterator[Any]:
    """`it` as an async iterator (a sync one is read inline, and closed with it)."""
    if hasattr(it, "__anext__"):
        return it  # type: ignore[return-value]
    return _inline(it)


async def _inline(it: Iterator[Any]) -> AsyncIterator[Any]:
    try:
        for item in it:
            yield item
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()


def outcome_of(error: BaseException | None) -> str:
    """The run outcome an ending error means."""
    if error is None:
        return "completed"
    if isinstance(error, (GeneratorExit, asyncio.CancelledError, KeyboardInterrupt)):
        return "cancelled"
    return "failed"


def drive_sync(run: Run, it: Iterator[Any], last: Point) -> Iterator[Any]:
    """Yields the run's items, then closes everything (also on break or error).

    The run's span is current while the pipeline works, not while the consumer's loop
    body runs.
    """
    error: BaseException | None = None
    span = run.span
    token: Any = CURRENT.set(span)
    try:
        for item in it:
            last.n += 1
            CURRENT.reset(token)
            token = None
            yield item
            token = CURRENT.set(span)
    except BaseException as exc:
        error = exc
        raise
    finally:
        if token is not None:
            CURRENT.reset(token)
        finish_sync(run, it, error)


def finish_sync(run: Run, it: Iterator[Any], error: BaseException | None) -> None:
    """Closes the run's iterators and threads and records its outcome."""
    try:
        close = getattr(it, "close", None)
        if close is not None:
            close()
    finally:
        run.close()
        run.finish(outcome_of(error), error)


async def drive_async(run: Run, it: AsyncIterator[Any], last: Point) -> AsyncGenerator[Any, None]:
    """Yields the run's items, then closes everything (also on break, error or cancellation).

    The run's span is current while the pipeline works, not while the consumer's loop
    body runs (nor in asyncio's finalizer, which may close the generator from elsewhere).
    """
    error: BaseException | None = None
    span = run.span
    token: Any = CURRENT.set(span)
    try:
        async for item in it:
            last.n += 1
            CURRENT.reset(token)
            token = None
            yield item
            token = CURRENT.set(span)
    except BaseException as exc:
        error = exc
        raise
    finally:
        if token is not None:
            CURRENT.reset(token)
        await finish_async(run, it, error)


async def finish_async(run: Run, it: AsyncIterator[Any], error: BaseException | None) -> None:
    """Closes the run's iterators, tasks and threads and records its outcome."""
    try:
        close = getattr(it, "aclose", None)
        if close is not None:
            await close()
    finally:
        run.close()
        run.finish(outcome_of(error), error)
