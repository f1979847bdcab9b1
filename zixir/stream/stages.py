"""Stage descriptions: what each operator does to the items, as a fused snippet (per-item
stages) or as a generator of its own, sync and async."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Literal

from zixir import _validate
from zixir.errors import ArgumentTypeError, InvalidArgumentError
from zixir.resilience import RetryPolicy
from zixir.stream.fuse import Snippet, call
from zixir.stream.run import Run
from zixir.stream.stats import Tally

__all__ = [
    "Batch",
    "Filter",
    "FlatMap",
    "Map",
    "OnError",
    "Scan",
    "Stage",
    "Take",
    "TakeWhile",
    "check_on_error",
    "check_sync_function",
]

#: How a stage handles an item's error: fail the run, skip the item, or retry it.
OnError = Literal["fail", "skip"] | RetryPolicy


def check_on_error(on_error: object) -> OnError:
    """Checks an ``on_error=`` argument.

    Raises:
        InvalidArgumentError: An unknown string.
        ArgumentTypeError: Neither a string nor a RetryPolicy.
    """
    if isinstance(on_error, RetryPolicy):
        return on_error
    if isinstance(on_error, str):
        if on_error not in ("fail", "skip"):
            raise InvalidArgumentError(
                f'on_error must be "fail", "skip" or a RetryPolicy, got {on_error!r}', "on_error"
            )
        return on_error  # type: ignore[return-value]
    raise ArgumentTypeError(f'on_error must be "fail", "skip" or a RetryPolicy, got {on_error!r}', "on_error")


def check_sync_function(name: str, fn: object, operator: str) -> Callable[..., Any]:
    """Checks that `fn` is a plain callable; an async one names the async operator to use.

    Raises:
        ArgumentTypeError: `fn` is not callable, or is a coroutine function.
    """
    _validate.function(name, fn)
    if inspect.iscoroutinefunction(fn):
        raise ArgumentTypeError(
            f"{operator}() takes a sync function, got the coroutine function {fn!r}: "
            f"use amap({getattr(fn, '__name__', 'fn')}, concurrency=N) for async work",
            name,
        )
    return fn  # type: ignore[return-value]


class Stage:
    """One operator of a pipeline, with its name for stats and metrics.

    A stage either gives a `Snippet` (it is fused with its neighbours) or implements
    `sync` and `aio` itself; its generator counts the items it takes in ``tally.inp``.
    """

    operator = "stage"
    #: Only async runs can run it (amap).
    async_only = False
    #: In async runs, `aio` takes a sync upstream as it is (to read it without awaiting).
    sync_upstream = False

    def __init__(self, name: str | None) -> None:
        if name is not None and (not isinstance(name, str) or not name):
            raise ArgumentTypeError(f"name must be a non-empty str, got {name!r}", "name")
        self.name = name or self.operator

    def snippet(self, tally: Tally, run: Run, *, is_async: bool) -> Snippet | None:
        """The stage's fused code, or None when it runs as its own generator."""
        return None

    def sync(self, up: Iterator[Any], tally: Tally, run: Run) -> Iterator[Any]:
        """The stage's output when run by a sync consumer."""
        raise NotImplementedError  # every stage without a snippet overrides it

    def aio(self, up: AsyncIterator[Any], tally: Tally, run: Run) -> AsyncIterator[Any]:
        """The stage's output when run by an async consumer."""
        raise NotImplementedError  # every stage without a snippet overrides it

    def measures_time(self) -> bool:
        """Whether the stage measures its time even when timing is off (concurrent stages)."""
        return False

    def __repr__(self) -> str:
        return f"{self.operator}({self.name!r})" if self.name != self.operator else f"{self.operator}()"


class _Calling(Stage):
    """A stage that calls a user function per item, with ``on_error`` handling."""

    def __init__(self, fn: Callable[..., Any], name: str | None, on_error: object, blocking: bool = False) -> None:
        super().__init__(name)
        self.fn = check_sync_function("fn", fn, self.operator)
        self.on_error = check_on_error(on_error)
        if not isinstance(blocking, bool):
            raise ArgumentTypeError(f"blocking must be a bool, got {blocking!r}", "blocking")
        self.blocking = blocking

    def function(self, tally: Tally) -> tuple[Callable[..., Any], str]:
        """The function to call per item (retried, timed) and the error mode of its calls."""
        fn = self.fn
        mode = "fail"
        if isinstance(self.on_error, RetryPolicy):
            fn = functools.partial(self.on_error.call, fn)
        elif self.on_error == "skip":
            mode = "skip"
        return tally.timer(fn), mode

    def threaded(self, is_async: bool) -> bool:
        """Whether calls go to a thread: ``blocking=True`` stages in async runs."""
        return is_async and self.blocking

    def aio(self, up: AsyncIterator[Any], tally: Tally, run: Run) -> AsyncIterator[Any]:
        from zixir.stream.operators_async import blocking_stage

        fn, mode = self.function(tally)
        return blocking_stage(self.operator, fn, mode, up, tally, run)


class Map(_Calling):
    operator = "map"

    def snippet(self, tally: Tally, run: Run, *, is_async: bool) -> Snippet | None:
        if self.threaded(is_async):
            return None
        fn, mode = self.function(tally)
        return Snippet(body=call("x", "f{k}(x)", mode), env={"f{k}": fn})


class Filter(_Calling):
    operator = "filter"

    def snippet(self, tally: Tally, run: Run, *, is_async: bool) -> Snippet | None:
        if self.threaded(is_async):
            return None
        fn, mode = self.function(tally)
        return Snippet(body=call("keep", "f{k}(x)", mode) + "if not keep:\n    continue\n", env={"f{k}": fn})


class Tap(_Calling):
    operator = "tap"

    def snippet(self, tally: Tally, run: Run, *, is_async: bool) -> Snippet | None:
        if self.threaded(is_async):
            return None
        fn, mode = self.function(tally)
        return Snippet(body=call("", "f{k}(x)", mode), env={"f{k}": fn})


class TakeWhile(_Calling):
    operator = "take_while"

    def snippet(self, tally: Tally, run: Run, *, is_async: bool) -> Snippet | None:
        if self.threaded(is_async):
            return None
        fn, mode = self.function(tally)
        return Snippet(body=call("keep", "f{k}(x)", mode) + "if not keep:\n    break\n", env={"f{k}": fn})


class DropWhile(_Calling):
    operator = "drop_while"

    def snippet(self, tally: Tally, run: Run, *, is_async: bool) -> Snippet | None:
        if self.threaded(is_async):
            return None
        fn, mode = self.function(tally)
        return Snippet(
            setup="dropping{k} = True\n",
            body="if dropping{k}:\n" + textwrap_indent(call("drop", "f{k}(x)", mode)) + "    if drop:\n"
            "        continue\n    dropping{k} = False\n",
            env={"f{k}": fn},
        )


class Scan(_Calling):
    operator = "scan"

    def __init__(self, fn: Callable[..., Any], initial: object, name: str | None, on_error: object) -> None:
        super().__init__(fn, name, on_error)
        self.initial = initial

    def snippet(self, tally: Tally, run: Run, *, is_async: bool) -> Snippet | None:
        fn, mode = self.function(tally)
        return Snippet(
            setup="acc{k} = initial{k}\n",
            body=call("acc{k}", "f{k}(acc{k}, x)", mode) + "x = acc{k}\n",
            env={"f{k}": fn, "initial{k}": self.initial},
        )


class FlatMap(_Calling):
    operator = "flat_map"

    def snippet(self, tally: Tally, run: Run, *, is_async: bool) -> Snippet | None:
        if self.threaded(is_async):
            return None
        fn, mode = self.function(tally)
        emit = call("ys", "f{k}(x)", mode)
        if is_async:
            emit += "if hasattr(ys, '__aiter__'):\n    async for y in ys:\n        YIELD(y)\nelse:\n"
            emit += "    for y in ys:\n        YIELD(y)\n"
        else:
            emit += "for y in ys:\n    YIELD(y)\n"
        return Snippet(emit=emit, env={"f{k}": fn})

    def aio(self, up: AsyncIterator[Any], tally: Tally, run: Run) -> AsyncIterator[Any]:
        from zixir.stream.operators_async import blocking_stage

        fn, mode = self.function(tally)
        return blocking_stage(self.operator, lambda x: list(fn(x)), mode, up, tally, run, flatten=True)


class Enumerate(Stage):
    operator = "enumerate"

    def __init__(self, start: int, name: str | None) -> None:
        super().__init__(name)
        if isinstance(start, bool) or not isinstance(start, int):
            raise ArgumentTypeError(f"start must be an int, got {start!r}", "start")
        self.start = start

    def snippet(self, tally: Tally, run: Run, *, is_async: bool) -> Snippet | None:
        return Snippet(setup="n{k} = start{k}\n", body="x = (n{k}, x)\nn{k} += 1\n", env={"start{k}": self.start})


class Take(Stage):
    operator = "take"

    def __init__(self, count: int, name: str | None) -> None:
        super().__init__(name)
        self.count = _validate.whole("n", count, at_least=0)

    def snippet(self, tally: Tally, run: Run, *, is_async: bool) -> Snippet | None:
        return Snippet(
            setup="if limit{k} == 0:\n    return\n",
            emit="YIELD(x)\nif i{k} >= limit{k}:\n    break\n",
            env={"limit{k}": self.count},
        )


class Drop(Stage):
    operator = "drop"

    def __init__(self, count: int, name: str | None) -> None:
        super().__init__(name)
        self.count = _validate.whole("n", count, at_least=0)

    def snippet(self, tally: Tally, run: Run, *, is_async: bool) -> Snippet | None:
        return Snippet(body="if i{k} <= limit{k}:\n    continue\n", env={"limit{k}": self.count})


class Batch(Stage):
    """``batch(n)``: lists of n items, the last one partial. With ``within``, see `operators_*`."""

    operator = "batch"

    def __init__(self, size: int, within: float | None, name: str | None) -> None:
        super().__init__(name)
        self.size = _validate.whole("n", size)
        self.within = _validate.optional_number("within", within, above=0)

    def snippet(self, tally: Tally, run: Run, *, is_async: bool) -> Snippet | None:
        if self.within is not None:
            return None
        return Snippet(
            setup="b{k} = []\nadd{k} = b{k}.append\n",
            emit="add{k}(x)\nif len(b{k}) >= size{k}:\n    YIELD(b{k})\n    b{k} = []\n    add{k} = b{k}.append\n",
            after="if b{k}:\n    YIELD(b{k})\n",
            env={"size{k}": self.size},
        )

    def sync(self, up: Iterator[Any], tally: Tally, run: Run) -> Iterator[Any]:
        from zixir.stream.operators_sync import timed_batches

        assert self.within is not None
        return timed_batches(up, self.size, self.within, tally, run)

    def aio(self, up: AsyncIterator[Any], tally: Tally, run: Run) -> AsyncIterator[Any]:
        from zixir.stream.operators_async import atimed_batches

        assert self.within is not None
        return atimed_batches(up, self.size, self.within, tally, run)


def textwrap_indent(code: str) -> str:
    """`code` one level deeper."""
    return "".join(f"    {line}\n" for line in code.splitlines())
