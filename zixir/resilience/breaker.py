"""Circuit breakers: stop calling a dependency that keeps failing, then probe it to recover.

`CircuitBreaker` guards functions, coroutines and ``with`` blocks; docs/resilience.md explains it.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from types import CoroutineType, TracebackType
from typing import Any, Literal, ParamSpec, Self, TypeAlias, TypeVar, cast

from loguru import logger

from zixir import _validate
from zixir._counters import GaugeChild
from zixir._counters import counter as _counter
from zixir._counters import gauge as _gauge
from zixir.errors import ArgumentTypeError, CircuitOpenError
from zixir.observability import events
from zixir.resilience.counting import FailureCount

__all__ = ["BreakerListener", "BreakerState", "BreakerStatistics", "CircuitBreaker", "ErrorFilter"]

#: The three states of a breaker.
BreakerState: TypeAlias = Literal["closed", "open", "half_open"]
#: Exception types (one, or a tuple), or a predicate on the exception.
ErrorFilter: TypeAlias = type[Exception] | tuple[type[Exception], ...] | Callable[[Exception], bool]
#: Called as ``listener(breaker, old_state, new_state)`` after each transition.
BreakerListener: TypeAlias = Callable[["CircuitBreaker", BreakerState, BreakerState], object]

P = ParamSpec("P")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

_TRANSITIONS = _counter(
    "zixir_breaker_transitions",
    "Circuit breaker state changes, by breaker and new state",
    ("breaker", "state"),
)
_REJECTIONS = _counter("zixir_breaker_rejections", "Calls a circuit breaker refused without making them", ("breaker",))
_STATES = _gauge(
    "zixir_breaker_state",
    "Circuit breakers in each state, by breaker name: 1 or 0 for a uniquely named breaker",
    ("breaker", "state"),
)
_ALL_STATES: tuple[BreakerState, ...] = ("closed", "open", "half_open")
_NAMES = itertools.count(1)
#: The metrics label of every breaker created without a name.
_UNNAMED = "unnamed"
# The breakers whose `with` block is running in this thread or task, innermost last.
_ENTERED: ContextVar[tuple[tuple[CircuitBreaker, int], ...]] = ContextVar("zixir_breakers", default=())


@dataclass(frozen=True, slots=True)
class BreakerStatistics:
    """A snapshot of a breaker's state and counters (totals since the breaker was built).

    Attributes:
        name: The breaker's name.
        state: ``"closed"``, ``"open"`` or ``"half_open"``.
        consecutive_failures: Failures since the last success.
        total_calls: Calls let through (rejected calls are not made, so not counted here).
        total_successes: Calls that returned, or raised an excluded error (the dependency
            answered).
        total_failures: Calls that raised a counted error.
        total_rejections: Calls refused with CircuitOpenError.
        opened_at: Clock time the breaker last opened; None while closed.
        reset_timeout: The current open period in seconds (it grows after failed probes).
        retry_after: Seconds until an open breaker lets a probe through; 0.0 otherwise.
    """

    name: str
    state: BreakerState
    consecutive_failures: int
    total_calls: int
    total_successes: int
    total_failures: int
    total_rejections: int
    opened_at: float | None
    reset_timeout: float
    retry_after: float


class CircuitBreaker:
    """Fails fast while a dependency is failing, and lets one probe call test its recovery.

    Closed, calls go through; after `failure_threshold` consecutive failures (or a failure
    rate of at least `failure_rate` over the last `window` calls) it opens and refuses
    calls with CircuitOpenError for `reset_timeout` seconds. Then it is half-open: one
    probe call goes through; success closes it, failure opens it again for
    `backoff_multiplier` times longer (up to `max_reset_timeout`). Thread-safe.

    Args:
        failure_threshold: Consecutive failures that open the breaker; None to open on the
            failure rate only.
        reset_timeout: Seconds the breaker stays open before its first probe.
        name: Names the breaker in errors, logs and metrics. Without one it is
            ``"breaker-<n>"`` in errors and logs, and its metrics are counted with every
            other unnamed breaker's under ``breaker="unnamed"`` (one series, however many
            breakers a process creates).
        failure_rate: Opens the breaker when this fraction (0 < rate <= 1) of the calls in
            the window failed; None (the default) to count consecutive failures only.
        window: How many recent calls the failure rate is taken over (20 by default);
            only with `failure_rate`.
        minimum_calls: Calls the window needs before the rate can open the breaker (the
            window size by default); only with `failure_rate`.
        backoff_multiplier: Factor (>= 1) the open period grows by after each failed probe.
        max_reset_timeout: Cap on the open period; ten times `reset_timeout` if omitted.
        exclude: Exception types, or a predicate, for errors that pass through without
            counting as failures (they count as successes: the dependency answered).
        clock: Seconds from a monotonic clock; ``time.monotonic`` by default.

    Raises:
        ArgumentTypeError: An argument has the wrong type (a TypeError).
        InvalidArgumentError: An argument is NaN, infinite or out of range, or window
            options lack `failure_rate` (a ValueError). ``.argument`` names it.
    """

    def __init__(
        self,
        *,
        failure_threshold: int | None = 5,
        reset_timeout: float = 30.0,
        name: str | None = None,
        failure_rate: float | None = None,
        window: int | None = None,
        minimum_calls: int | None = None,
        backoff_multiplier: float = 2.0,
        max_reset_timeout: float | None = None,
        exclude: ErrorFilter = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if name is not None and not isinstance(name, str):
            raise ArgumentTypeError(f"name must be a str, got {name!r}", "name")
        self.name: str = f"breaker-{next(_NAMES)}" if name is None else name
        self._metric_label = _UNNAMED if name is None else name
        self._base_timeout = _validate.number("reset_timeout", reset_timeout, above=0)
        self._multiplier = _validate.number("backoff_multiplier", backoff_multiplier, at_least=1)
        self._max_timeout = (
            10 * self._base_timeout
            if max_reset_timeout is None
            else _validate.number("max_reset_timeout", max_reset_timeout, at_least=self._base_timeout)
        )
        self._counts = FailureCount(failure_threshold, failure_rate, window, minimum_calls)
        self._excluded = _validate.error_filter("exclude", exclude)
        self._clock = _validate.function("clock", clock, "a callable returning seconds")
        self._lock = threading.Lock()
        self._listeners: tuple[BreakerListener, ...] = ()
        self._state: BreakerState = "closed"
        self._generation = 0  # bumped by each transition: outcomes of older calls are ignored
        self._probing = False
        self._opened_at: float | None = None
        self._timeout = self._base_timeout
        self._calls = self._successes = self._failures = self._rejections = 0
        # One series per state, all present (0 or 1), as Prometheus' enum idiom; the box
        # holds the current state's series, left by the finalizer when the breaker goes.
        self._gauges = {state: _STATES.labels(self._metric_label, state) for state in _ALL_STATES}
        self._in_state = [self._gauges["closed"]]
        self._in_state[0].inc()
        weakref.finalize(self, _leave_state, self._in_state)

    # -- public surface -------------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        """``"closed"``, ``"open"`` or ``"half_open"`` (open turns half-open when time is up)."""
        with self._lock:
            moved = self._refresh()
            state = self._state
        self._notify(moved)
        return state

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Calls ``fn(*args, **kwargs)`` through the breaker.

        Returns:
            What `fn` returns.

        Raises:
            CircuitOpenError: The breaker is open, or half-open with its probe in flight.
            TypeError: `fn` returned a coroutine: use `call_async` for async functions.
        """
        generation = self._admit()
        try:
            result = fn(*args, **kwargs)
        except BaseException as error:
            self._finish(generation, error)
            raise
        if isinstance(result, CoroutineType):  # the call has not run; counting it would be a lie
            result.close()
            self._finish(generation, GeneratorExit())
            raise TypeError(f"{fn!r} is async: use `await breaker.call_async(...)`")
        self._finish_success(generation)
        return result

    async def call_async(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Awaits ``fn(*args, **kwargs)`` through the breaker (cancellation is not a failure).

        Returns:
            What the awaitable returns.

        Raises:
            CircuitOpenError: The breaker is open, or half-open with its probe in flight.
        """
        generation = self._admit()
        try:
            result = await fn(*args, **kwargs)
        except BaseException as error:
            self._finish(generation, error)
            raise
        self._finish_success(generation)
        return result

    def __call__(self, fn: F) -> F:
        """Decorates a function or an ``async def`` function: each call goes through the breaker."""
        if not callable(fn):
            raise TypeError(f"a CircuitBreaker decorates callables, got {fn!r}")
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def guarded_async(*args: Any, **kwargs: Any) -> Any:
                return await self.call_async(fn, *args, **kwargs)

            return cast(F, guarded_async)

        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            return self.call(fn, *args, **kwargs)

        return cast(F, guarded)

    def __enter__(self) -> Self:
        """Admits the block as one call (or raises CircuitOpenError); its errors count."""
        generation = self._admit()
        _ENTERED.set((*_ENTERED.get(), (self, generation)))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Records the block's outcome; never suppresses its exception."""
        entered = _ENTERED.get()
        index = max((i for i, (breaker, _) in enumerate(entered) if breaker is self), default=-1)
        if index < 0:
            raise RuntimeError(f"{self!r} was exited in a thread or task that did not enter it")
        generation = entered[index][1]
        _ENTERED.set(entered[:index] + entered[index + 1 :])
        self._finish(generation, exc)

    async def __aenter__(self) -> Self:
        """As ``__enter__``, for ``async with``."""
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """As ``__exit__``, for ``async with``."""
        self.__exit__(exc_type, exc, tb)

    def add_listener(self, listener: BreakerListener) -> None:
        """Calls ``listener(breaker, old_state, new_state)`` after every transition.

        Listeners run on the thread that caused the transition, after the breaker's lock is
        released; one that raises is logged and skipped.

        Raises:
            TypeError: `listener` is not callable.
        """
        if not callable(listener):
            raise TypeError(f"listener must be callable as listener(breaker, old, new), got {listener!r}")
        with self._lock:
            self._listeners = (*self._listeners, listener)

    def remove_listener(self, listener: BreakerListener) -> None:
        """Stops calling `listener`.

        Raises:
            ValueError: `listener` was not added.
        """
        with self._lock:
            if listener not in self._listeners:
                raise ValueError(f"{listener!r} is not a listener of {self.name!r}")
            index = self._listeners.index(listener)
            self._listeners = self._listeners[:index] + self._listeners[index + 1 :]

    def reset(self) -> None:
        """Forces the breaker closed, with no failures counted and the base open period."""
        with self._lock:
            moved = self._move("closed") if self._state != "closed" else None
            self._counts.clear()
            self._generation += 1
        self._notify(moved)

    def statistics(self) -> BreakerStatistics:
        """A snapshot of the state and the counters."""
        with self._lock:
            moved = self._refresh()
            stats = BreakerStatistics(
                self.name,
                self._state,
                self._counts.consecutive,
                self._calls,
                self._successes,
                self._failures,
                self._rejections,
                self._opened_at,
                self._timeout,
                self._retry_after(),
            )
        self._notify(moved)
        return stats

    def __repr__(self) -> str:
        stats = self.statistics()
        detail = {
            "open": f", retry in {stats.retry_after:.1f}s",
            "closed": "",
            "half_open": ", probe in flight" if self._probing else ", awaiting a probe",
        }
        return (
            f"CircuitBreaker({self.name!r}, state={stats.state!r}, "
            f"failures={stats.consecutive_failures}{detail[stats.state]})"
        )

    # -- the state machine (the _methods below run under self._lock unless they say so) ----

    def _admit(self) -> int:
        """Lets a call through and returns its generation, or raises (no lock held)."""
        with self._lock:
            if self._state == "closed":  # the fast path: nothing to decide
                self._calls += 1
                return self._generation
            moved = self._refresh()
            if self._state == "half_open" and not self._probing:
                self._probing = True
                self._calls += 1
                generation = self._generation
                error = None
            else:
                self._rejections += 1
                error = self._refusal()
        self._notify(moved)
        if error is not None:
            _REJECTIONS.labels(breaker=self._metric_label).inc()
            raise error
        return generation

    def _refusal(self) -> CircuitOpenError:
        if self._state == "half_open":
            return CircuitOpenError(
                f"circuit breaker {self.name!r} is half-open and its one probe call is in "
                "flight; the call was not made; retry when the probe finishes",
                self.name,
                0.0,
            )
        wait = self._retry_after()
        return CircuitOpenError(
            f"circuit breaker {self.name!r} is open; the call was not made; retry in {wait:.1f}s",
            self.name,
            wait,
        )

    def _finish_success(self, generation: int) -> None:
        """Records a success (no lock held)."""
        with self._lock:
            self._successes += 1
            if generation != self._generation:
                return
            if self._state == "closed":
                self._counts.succeeded()
                return
            moved = self._move("closed")  # the probe succeeded
        self._notify(moved)

    def _finish(self, generation: int, error: BaseException | None) -> None:
        """Records how a call ended (no lock held).

        No error, or an excluded one, is a success. An interrupt (a BaseException that is not
        an Exception) counts neither way, but frees the probe slot.
        """
        if error is None:
            self._finish_success(generation)
            return
        if not isinstance(error, Exception):
            with self._lock:
                if generation == self._generation and self._state == "half_open":
                    self._probing = False
            return
        try:
            excluded = bool(self._excluded(error))
        except Exception:
            logger.bind(event=events.BREAKER_EXCLUDE_FAILED, breaker=self.name).exception(
                "the exclude predicate of circuit breaker {!r} raised; counting a failure", self.name
            )
            excluded = False
        if excluded:
            self._finish_success(generation)
            return
        moved = None
        with self._lock:
            self._failures += 1
            if generation == self._generation:
                if self._state == "half_open":
                    self._counts.consecutive += 1
                    self._timeout = min(self._timeout * self._multiplier, self._max_timeout)
                    moved = self._move("open")
                elif self._counts.failed():
                    moved = self._move("open")
        self._notify(moved)

    def _retry_after(self) -> float:
        if self._state != "open" or self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self._timeout - self._clock())

    def _refresh(self) -> tuple[BreakerState, BreakerState] | None:
        """Turns an open breaker half-open once its open period is over."""
        if self._state == "open" and self._retry_after() <= 0.0:
            return self._move("half_open")
        return None

    def _move(self, new: BreakerState) -> tuple[BreakerState, BreakerState]:
        old, self._state = self._state, new
        self._in_state[0].dec()
        self._in_state[0] = self._gauges[new]
        self._in_state[0].inc()
        self._generation += 1
        self._probing = False
        if new == "open":
            self._opened_at = self._clock()
            self._counts.clear_window()
        elif new == "closed":
            self._opened_at = None
            self._timeout = self._base_timeout
            self._counts.clear()
        return old, new

    def _notify(self, moved: tuple[BreakerState, BreakerState] | None) -> None:
        """Counts, logs and announces a transition (no lock held: listeners may call back)."""
        if moved is None:
            return
        old, new = moved
        _TRANSITIONS.labels(breaker=self._metric_label, state=new).inc()
        logger.bind(event=events.BREAKER_TRANSITION, breaker=self.name, old_state=old, state=new).log(
            "WARNING" if new == "open" else "INFO", "circuit breaker {!r}: {} -> {}", self.name, old, new
        )
        for listener in self._listeners:
            try:
                listener(self, old, new)
            except Exception:
                logger.bind(
                    event=events.BREAKER_LISTENER_FAILED, breaker=self.name, old_state=old, state=new
                ).exception("a listener of circuit breaker {!r} raised on {} -> {}; ignored", self.name, old, new)


def _leave_state(box: list[GaugeChild]) -> None:
    """A breaker was collected: it no longer counts in its last state."""
    box[0].dec()
