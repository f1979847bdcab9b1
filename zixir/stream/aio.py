"""Bridges between sync and async code: `run_async` runs a coroutine from sync code (also
inside a running loop's thread), `gather` awaits many awaitables and returns one outcome
each, never cancelling its caller for an awaitable's error."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from zixir import _validate
from zixir.errors import ArgumentTypeError, LoopBoundError

__all__ = ["Outcome", "gather", "run_async"]

T = TypeVar("T")


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def run_async(awaitable: Awaitable[T], *, timeout: float | None = None) -> T:
    """Runs `awaitable` to its end from sync code and returns its result.

    Without a running loop in this thread, it runs on a new loop here. Called from a
    thread whose loop is running (sync code called by async code), it runs on a new loop
    in a helper thread while this thread waits: that blocks the caller's loop until it
    returns, without deadlock as long as the awaitable does not need that loop.

    Args:
        awaitable: A coroutine, or an awaitable not bound to this thread's running loop.
        timeout: Seconds after which the awaitable is cancelled (TimeoutError), or None.

    Returns:
        The awaitable's result; its exception is raised here.

    Raises:
        LoopBoundError: `awaitable` is a future or task of this thread's running loop, or
            it awaited one: it can only be awaited, from that loop.
        ArgumentTypeError: `awaitable` is not awaitable.
        TimeoutError: `timeout` passed.
    """
    if not hasattr(awaitable, "__await__"):
        raise ArgumentTypeError(f"run_async takes a coroutine or another awaitable, got {awaitable!r}", "awaitable")
    limit = _validate.optional_number("timeout", timeout, above=0)
    caller = _running_loop()
    if isinstance(awaitable, asyncio.Future) and caller is not None and awaitable.get_loop() is caller:
        raise LoopBoundError(
            f"{awaitable!r} belongs to the event loop running in this thread, which run_async would "
            "block: await it instead"
        )

    async def main() -> T:
        async with asyncio.timeout(limit):
            return await awaitable

    if caller is None:
        return _bound(asyncio.run, main())
    outcome: list[Any] = []

    def helper() -> None:
        try:
            outcome.append((True, _bound(asyncio.run, main())))
        except BaseException as error:
            outcome.append((False, error))

    thread = threading.Thread(target=helper, name="zixir-run-async", daemon=True)
    thread.start()
    thread.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


def _bound(runner: Any, coro: Coroutine[Any, Any, T]) -> T:
    try:
        return runner(coro)  # type: ignore[no-any-return]
    except RuntimeError as error:
        if "attached to a different loop" in str(error) or "different event loop" in str(error):
            raise LoopBoundError(
                "the awaitable given to run_async awaited a future of another event loop (the caller's): "
                "await it from that loop instead"
            ) from error
        raise


def _close_unstarted(aws: tuple[Awaitable[Any], ...]) -> None:
    """Closes the coroutines cancelled before they started (held back by the limit), which
    would otherwise warn that they were never awaited."""
    for aw in aws:
        if inspect.iscoroutine(aw) and inspect.getcoroutinestate(aw) == inspect.CORO_CREATED:
            aw.close()


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """What one awaitable of `gather` ended with.

    Attributes:
        value: Its result, or None when it failed.
        error: Its exception (TimeoutError when `gather`'s timeout cancelled it), or None.
    """

    value: T | None
    error: BaseException | None

    @property
    def ok(self) -> bool:
        """True when the awaitable returned."""
        return self.error is None

    def unwrap(self) -> T:
        """The value, or raises the error."""
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


async def gather(*aws: Awaitable[T], limit: int | None = None, timeout: float | None = None) -> list[Outcome[T]]:
    """Awaits every awaitable, at most `limit` at once, and returns one Outcome per awaitable.

    An awaitable's error is its outcome: the others go on, and the caller is neither
    cancelled nor raised at. Only the caller's own cancellation cancels them all.

    Args:
        aws: Coroutines or other awaitables.
        limit: Awaitables running at once; None for all.
        timeout: Seconds for the whole gather; awaitables still running then are
            cancelled and their outcome's error is a TimeoutError.

    Returns:
        The outcomes, in the order of `aws`.
    """
    bound = None if limit is None else _validate.whole("limit", limit)
    seconds = _validate.optional_number("timeout", timeout, above=0)
    gate = asyncio.Semaphore(bound) if bound is not None else None

    async def one(aw: Awaitable[T]) -> T:
        if gate is None:
            return await aw
        async with gate:
            return await aw

    tasks = [asyncio.ensure_future(one(aw)) for aw in aws]
    if not tasks:
        return []
    try:
        _, late = await asyncio.wait(tasks, timeout=seconds)
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
        _close_unstarted(aws)
        raise
    for task in late:
        task.cancel()
    if late:
        await asyncio.wait(late)
        _close_unstarted(aws)
    outcomes: list[Outcome[T]] = []
    for task in tasks:
        if task in late:
            outcomes.append(Outcome(None, TimeoutError(f"gather's timeout of {seconds}s passed first; cancelled")))
        elif task.cancelled():
            outcomes.append(Outcome(None, asyncio.CancelledError("cancelled")))
        elif task.exception() is not None:
            outcomes.append(Outcome(None, task.exception()))
        else:
            outcomes.append(Outcome(task.result(), None))
    return outcomes
