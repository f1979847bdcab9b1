"""The state of one run of a pipeline: its stats, its span, and what must be stopped when
it ends (threads and tasks the stages started, iterators they opened)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable
from typing import Any

from loguru import logger

from zixir.stream.stats import RunStats
from zixir.tracing._context import CURRENT, run_in
from zixir.tracing.spans import Span, start_span

__all__ = ["Run", "tag"]


def tag(error: BaseException, stage: object) -> None:
    """Marks `error` as raised by `stage`, so the run's stats count it there (first tag wins)."""
    if getattr(error, "_zixir_stage", None) is None:
        with contextlib.suppress(AttributeError):  # an exception type with __slots__ and no __dict__
            error._zixir_stage = stage  # type: ignore[attr-defined]


class Run:
    """One run of a pipeline.

    Stages register here what they start; `close` stops it all: the threads are told to
    stop (each ends once its in-flight item returns), the tasks are cancelled, the
    closers run (last registered first).

    The run is one span, ``stream.run``, under the span current when it starts; the
    threads and tasks it starts run under it (`contextual` for work handed to executors).

    Args:
        stats: The run's figures.
        timed: Whether stages time their function calls.
    """

    def __init__(self, stats: RunStats, *, timed: bool) -> None:
        self.stats = stats
        self.timed = timed
        self.span: Span = start_span("stream.run", CURRENT.get(), {})
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.tasks: list[asyncio.Task[Any]] = []
        self._closers: list[Callable[[], object]] = []
        self._lock = threading.Lock()

    def on_close(self, closer: Callable[[], object]) -> None:
        """Runs `closer` when the run ends (at once if it has ended)."""
        with self._lock:
            if not self.stopping.is_set():
                self._closers.append(closer)
                return
        closer()

    def thread(self, target: Callable[[], object], name: str) -> threading.Thread:
        """Starts a daemon thread that belongs to the run; it must watch `stopping`."""
        span = self.span

        def traced() -> None:
            run_in(span, target)

        thread = threading.Thread(target=traced, name=f"zixir-stream-{name}", daemon=True)
        self.threads.append(thread)
        thread.start()
        return thread

    def task(self, coro: Any, name: str) -> asyncio.Task[Any]:
        """Starts a task that belongs to the run; `close` cancels it."""
        context = contextvars.copy_context()
        context.run(CURRENT.set, self.span)
        task = asyncio.get_running_loop().create_task(coro, name=f"zixir-stream-{name}", context=context)
        self.tasks.append(task)
        return task

    def finish(self, outcome: str, error: BaseException | None) -> None:
        """Records the run's outcome in its stats and metrics, and ends its span with the
        outcome and each stage's items in and out as attributes (once)."""
        self.stats.finish(outcome, error)
        span = self.span
        if span.end is not None:
            return
        span.set_attribute("outcome", outcome)
        seen: set[str] = set()
        for stage in self.stats.snapshot().stages:
            name, n = stage.name, 2
            while name in seen:  # two stages of one name: the second is "name#2"
                name, n = f"{stage.name}#{n}", n + 1
            seen.add(name)
            span.set_attribute(f"stage.{name}.in", stage.items_in)
            span.set_attribute(f"stage.{name}.out", stage.items_out)
            if stage.errors:
                span.set_attribute(f"stage.{name}.errors", stage.errors)
        if outcome == "failed" and error is not None:
            span.record_error(error)
        span.finish()

    def close(self) -> None:
        """Stops everything the run started; idempotent."""
        with self._lock:
            if self.stopping.is_set():
                return
            self.stopping.set()
            closers, self._closers = self._closers, []
        for task in self.tasks:
            task.cancel()
        for closer in reversed(closers):
            try:
                closer()
            except Exception as error:  # one failing closer must not keep the others from running
                logger.opt(exception=error).warning("closing a stream stage failed")
