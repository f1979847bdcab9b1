"""Concurrent maps: `parallel_map` on threads or in a Sandbox's processes, and `amap` of a
coroutine function; each holds at most ``workers + buffer`` items between upstream and
the consumer, so a fast producer waits for a slow consumer."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import inspect
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from zixir import _validate
from zixir.errors import ArgumentTypeError
from zixir.resilience import RetryPolicy
from zixir.stream.run import Run, tag
from zixir.stream.stages import Stage, check_on_error, check_sync_function
from zixir.stream.stats import Tally
from zixir.stream.timing import _aclose, _close

__all__ = ["AsyncMap", "ParallelMap"]


def _busy(fn: Callable[..., Any], tally: Tally) -> Callable[..., Any]:
    """`fn`, adding each call's duration to the stage's time (calls run on many threads)."""
    lock = threading.Lock()
    clock = time.perf_counter

    def timed(item: Any) -> Any:
        start = clock()
        try:
            return fn(item)
        finally:
            elapsed = clock() - start
            with lock:
                tally.seconds += elapsed

    return timed


class _SandboxCalls:
    """The Sandbox calls one run of a stage has in flight; `cancel_all` kills the running
    ones (their workers are replaced) and refuses new ones.

    Args:
        sandbox: The Sandbox the items run in.
        fn: The function each item is passed to.
    """

    def __init__(self, sandbox: Any, fn: Callable[[Any], Any]) -> None:
        self.sandbox = sandbox
        self.fn = fn
        self.calls: set[concurrent.futures.Future[Any]] = set()
        self.stopped = False
        self.lock = threading.Lock()

    def __call__(self, item: Any) -> Any:
        """``fn(item)`` in the sandbox; a limit breach or fn's error is raised as the item's error."""
        with self.lock:
            if self.stopped:
                raise concurrent.futures.CancelledError("the stream run ended")
            future = self.sandbox.submit(self.fn, item)
            self.calls.add(future)
        try:
            result = future.result()
        finally:
            with self.lock:
                self.calls.discard(future)
        if result.ok:
            return result.value
        if isinstance(result.error, BaseException):
            raise result.error
        return result.unwrap()

    def cancel_all(self) -> None:
        with self.lock:
            self.stopped = True
            calls = list(self.calls)
        for future in calls:
            future.cancel()


class _Concurrent(Stage):
    def measures_time(self) -> bool:
        return True

    def _handle(self, error: Exception, tally: Tally, mode: str) -> None:
        if mode == "skip":
            tally.skip(error)
            return
        tag(error, tally)
        raise error


class ParallelMap(_Concurrent):
    operator = "parallel_map"

    def __init__(
        self,
        fn: Callable[[Any], Any],
        workers: int,
        ordered: bool,
        executor: Any,
        buffer: int | None,
        name: str | None,
        on_error: object,
    ) -> None:
        super().__init__(name)
        self.fn = check_sync_function("fn", fn, "parallel_map")
        self.workers = _validate.whole("workers", workers)
        self.ordered = _bool("ordered", ordered)
        from zixir.sandbox import Sandbox

        if executor != "thread" and not isinstance(executor, Sandbox):
            raise ArgumentTypeError(f'executor must be "thread" or a zixir.Sandbox, got {executor!r}', "executor")
        self.executor = executor
        self.buffer = 2 * self.workers if buffer is None else _validate.whole("buffer", buffer, at_least=0)
        self.on_error = check_on_error(on_error)

    def _call(self, tally: Tally, *, timed: bool = True) -> tuple[Callable[[Any], Any], str, _SandboxCalls | None]:
        fn = self.fn
        calls = None
        if self.executor != "thread":
            fn = calls = _SandboxCalls(self.executor, fn)
        mode = "fail"
        if isinstance(self.on_error, RetryPolicy):
            fn = functools.partial(self.on_error.call, fn)
        elif self.on_error == "skip":
            mode = "skip"
        return (_busy(fn, tally) if timed else fn), mode, calls

    def sync(self, up: Iterator[Any], tally: Tally, run: Run) -> Iterator[Any]:
        call, mode, calls = self._call(tally)
        limit = self.workers + self.buffer
        pool = concurrent.futures.ThreadPoolExecutor(self.workers, thread_name_prefix=f"zixir-stream-{self.name}")
        pending: deque[concurrent.futures.Future[Any]] = deque()
        waiting: set[concurrent.futures.Future[Any]] = set()
        exhausted = False
        try:
            while True:
                while not exhausted and len(pending) + len(waiting) < limit:
                    try:
                        item = next(up)
                    except StopIteration:
                        exhausted = True
                        break
                    tally.inp.n += 1
                    # The call runs in a copy of this context: it continues the run's trace.
                    future = pool.submit(contextvars.copy_context().run, call, item)
                    (pending.append if self.ordered else waiting.add)(future)
                if self.ordered:
                    if not pending:
                        return
                    future = pending.popleft()
                else:
                    if not waiting:
                        return
                    done, _ = concurrent.futures.wait(waiting, return_when=concurrent.futures.FIRST_COMPLETED)
                    future = done.pop()
                    waiting.discard(future)
                try:
                    result = future.result()
                except Exception as error:
                    self._handle(error, tally, mode)
                    continue
                yield result
        finally:
            # Calls not started are cancelled; running ones end with their item (their
            # threads then exit); running Sandbox calls have their workers killed.
            pool.shutdown(wait=False, cancel_futures=True)
            if calls is not None:
                calls.cancel_all()
            _close(up)

    def aio(self, up: AsyncIterator[Any], tally: Tally, run: Run) -> AsyncIterator[Any]:
        plain, mode, calls = self._call(tally, timed=False)  # the workers time the calls
        pool = concurrent.futures.ThreadPoolExecutor(self.workers, thread_name_prefix=f"zixir-stream-{self.name}")
        run.on_close(lambda: pool.shutdown(wait=False, cancel_futures=True))
        if calls is not None:
            run.on_close(calls.cancel_all)

        async def start(item: Any) -> Any:
            context = contextvars.copy_context()  # the worker task's: the run's span is current
            return await asyncio.get_running_loop().run_in_executor(pool, context.run, plain, item)

        return _concurrently(up, start, self.workers, self.buffer, self.ordered, tally, mode, self._handle, run)


class AsyncMap(_Concurrent):
    operator = "amap"
    async_only = True
    sync_upstream = True  # a sync upstream is read by the workers directly, without a lock

    def __init__(
        self,
        fn: Callable[[Any], Awaitable[Any]],
        concurrency: int,
        ordered: bool,
        buffer: int | None,
        name: str | None,
        on_error: object,
    ) -> None:
        super().__init__(name)
        _validate.function("fn", fn)
        if inspect.isfunction(fn) and not inspect.iscoroutinefunction(fn) and fn.__name__ != "<lambda>":
            raise ArgumentTypeError(
                f"amap() takes a coroutine function, got {fn!r}: use map() or parallel_map() for sync work", "fn"
            )
        self.fn = fn
        self.concurrency = _validate.whole("concurrency", concurrency)
        self.ordered = _bool("ordered", ordered)
        self.buffer = self.concurrency if buffer is None else _validate.whole("buffer", buffer, at_least=0)
        self.on_error = check_on_error(on_error)

    def aio(self, up: AsyncIterator[Any] | Iterator[Any], tally: Tally, run: Run) -> AsyncIterator[Any]:
        fn = self.fn
        mode = "fail"
        if isinstance(self.on_error, RetryPolicy):
            fn = functools.partial(self.on_error.call_async, fn)  # type: ignore[call-arg]
        elif self.on_error == "skip":
            mode = "skip"
        return _concurrently(up, fn, self.concurrency, self.buffer, self.ordered, tally, mode, self._handle, run)


_DONE: Any = object()


def _bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ArgumentTypeError(f"{name} must be a bool, got {value!r}", name)
    return value


async def _concurrently(
    up: AsyncIterator[Any] | Iterator[Any],
    start: Callable[[Any], Awaitable[Any]],
    concurrency: int,
    buffer: int,
    ordered: bool,
    tally: Tally,
    mode: str,
    handle: Callable[[Exception, Tally, str], None],
    run: Run,
) -> AsyncIterator[Any]:
    """`concurrency` worker tasks take items from upstream in turn and run `start(item)`;
    at most ``concurrency + buffer`` items are taken and not yet passed on."""
    limit = concurrency + buffer
    clock = time.perf_counter
    pull = asyncio.Lock()
    space = asyncio.Event()
    ready = asyncio.Event()
    results: dict[int, tuple[bool, Any]] = {}  # sequence number -> (ok, value or error)
    state = {"taken": 0, "passed": 0, "open": concurrency}
    failure: list[BaseException] = []

    sync_up: Iterator[Any] | None = None if hasattr(up, "__anext__") else up

    async def take() -> tuple[int, Any]:
        # A sync upstream is read between awaits, so no other worker can be in it: no lock.
        while state["taken"] - state["passed"] >= limit:
            space.clear()
            await space.wait()
        if sync_up is not None:
            item = next(sync_up, _DONE)  # StopIteration cannot leave a coroutine
            if item is _DONE:
                raise StopAsyncIteration
        else:
            async with pull:
                while state["taken"] - state["passed"] >= limit:
                    space.clear()
                    await space.wait()
                item = await anext(up)  # type: ignore[arg-type]
        seq = state["taken"]
        state["taken"] = seq + 1
        return seq, item

    async def worker() -> None:
        try:
            while True:
                try:
                    seq, item = await take()
                except StopAsyncIteration:
                    return
                tally.inp.n += 1
                began = clock()
                try:
                    results[seq] = (True, await start(item))
                except Exception as error:
                    results[seq] = (False, error)
                tally.seconds += clock() - began
                if not ordered or seq == state["passed"]:  # only what the consumer waits for wakes it
                    ready.set()
        except BaseException as error:  # upstream failed: the consumer raises it
            failure.append(error)
            raise
        finally:
            state["open"] -= 1
            ready.set()

    workers = [run.task(worker(), f"{tally.name}-{n}") for n in range(concurrency)]
    try:
        while True:
            if ordered:
                key = state["passed"]
                while key not in results:
                    if failure or (state["open"] == 0 and key >= state["taken"]):
                        break
                    ready.clear()
                    await ready.wait()
                if key not in results:
                    break
                ok, value = results.pop(key)
            else:
                while not results:
                    if failure or state["open"] == 0:
                        break
                    ready.clear()
                    await ready.wait()
                if not results:
                    break
                ok, value = results.pop(next(iter(results)))
            state["passed"] += 1
            space.set()
            if not ok:
                handle(value, tally, mode)
                continue
            yield value
        if failure and not isinstance(failure[0], asyncio.CancelledError):
            raise failure[0]
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        if sync_up is not None:
            _close(sync_up)
        else:
            await _aclose(up)
