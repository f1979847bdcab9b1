"""Retry policies: call again after a failure, waiting longer each time, within set limits.

`RetryPolicy` retries functions and coroutines with backoff and jitter (docs/resilience.md).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import itertools
import time
from collections.abc import Awaitable, Callable, Iterator
from random import Random
from types import CoroutineType
from typing import Any, ParamSpec, TypeVar, cast

from loguru import logger

from zixir import _validate
from zixir._counters import counter as _counter
from zixir.errors import ArgumentTypeError, CircuitOpenError, InvalidArgumentError, RetryError
from zixir.observability import events
from zixir.resilience.backoff import (
    DecorrelatedJitter,
    ExponentialBackoff,
    FractionJitter,
    JitterStrategy,
)
from zixir.resilience.breaker import ErrorFilter

__all__ = ["RetryPolicy"]

P = ParamSpec("P")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

# Failed attempts only, by what followed: counting every success too would double the cost
# of a policy on the common path (the caller's own request metrics count calls).
_ATTEMPTS = _counter("zixir_retry_attempts", "Failed attempts under retry policies, by what followed", ("outcome",))
_RETRIED = _ATTEMPTS.labels(outcome="retried")
_GAVE_UP = _ATTEMPTS.labels(outcome="gave_up")
_NOT_RETRIED = _ATTEMPTS.labels(outcome="not_retried")


def _describe(fn: object) -> str:
    return str(getattr(fn, "__qualname__", None) or repr(fn))


class RetryPolicy:
    """Calls a function again after a retryable failure, with exponential backoff and jitter.

    The wait after the n-th failure (n from 0) is ``initial_delay * multiplier**n``, capped
    at `max_delay`, then jittered. Attempts stop at `max_attempts`, or when the next wait
    would end after `max_total_time`; the policy then raises RetryError. A non-retryable
    error propagates unchanged at once. Policies hold no per-call state: share them freely.

    Args:
        max_attempts: Attempts in all, the first included; None for no limit but
            `max_total_time`.
        initial_delay: Seconds waited after the first failure.
        multiplier: Growth of the wait per failure (2.0 if omitted; >= 1).
        max_delay: Cap on the wait before jitter.
        jitter: A fraction (0.1: each wait is off by up to ±10%, so it may pass `max_delay`
            by as much), or a strategy: `FullJitter()`, `DecorrelatedJitter()`, or your own.
        retry_on: Exception types, or a predicate, for retryable errors; every Exception
            except CircuitOpenError by default. CircuitOpenError is retried only if a
            listed type is CircuitOpenError (or a subclass), or if the predicate says so.
        giveup: A predicate: when it returns True for an error, that error propagates at once.
        max_total_time: Seconds from the first attempt beyond which no wait may end.
        attempt_timeout: Seconds each attempt of an async call may take (``asyncio.timeout``);
            sync calls cannot honour it (a thread cannot be interrupted), so they refuse it.
        clock: Monotonic seconds, for `max_total_time`; ``time.monotonic`` by default.
        sleep: Waits between sync attempts; ``time.sleep`` by default.
        async_sleep: Awaited between async attempts; ``asyncio.sleep`` by default.
        random: The jitter's random source; a fresh ``random.Random()`` by default.
        on_attempt: Called with the attempt's number (1 for the first) just before each
            attempt of `call` and `call_async`, e.g. to record attempts durably; what it
            raises propagates and no attempt is made.

    Raises:
        ArgumentTypeError: An argument has the wrong type (a TypeError).
        InvalidArgumentError: An argument is NaN, infinite or out of range, or arguments
            contradict each other (a ValueError). ``.argument`` names the argument.
    """

    def __init__(
        self,
        max_attempts: int | None = 3,
        *,
        initial_delay: float = 1.0,
        multiplier: float | None = None,
        max_delay: float = 30.0,
        jitter: float | JitterStrategy = 0.1,
        retry_on: ErrorFilter | None = None,
        giveup: Callable[[Exception], bool] | None = None,
        max_total_time: float | None = None,
        attempt_timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
        async_sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        random: Random | None = None,
        on_attempt: Callable[[int], object] | None = None,
    ) -> None:
        self._max_attempts = None if max_attempts is None else _validate.whole("max_attempts", max_attempts)
        self._max_total_time = _validate.optional_number("max_total_time", max_total_time, above=0)
        if self._max_attempts is None and self._max_total_time is None:
            raise InvalidArgumentError(
                "max_attempts=None needs max_total_time, or retries would never stop", "max_attempts"
            )
        strategy: JitterStrategy
        if isinstance(jitter, (int, float)) and not isinstance(jitter, bool):
            strategy = FractionJitter(jitter)
        elif isinstance(jitter, JitterStrategy):
            strategy = jitter
        else:
            raise ArgumentTypeError(
                f"jitter must be a fraction such as 0.1, or a strategy such as FullJitter(), got {jitter!r}", "jitter"
            )
        if isinstance(jitter, DecorrelatedJitter) and multiplier is not None:
            raise InvalidArgumentError(
                "DecorrelatedJitter grows each wait from the previous one, so multiplier does "
                "not apply: drop multiplier=, or set DecorrelatedJitter(growth=...)",
                "multiplier",
            )
        self._backoff = ExponentialBackoff(
            initial_delay, max_delay, 2.0 if multiplier is None else multiplier, strategy
        )
        self._retryable = _validate.error_filter("retry_on", (Exception,) if retry_on is None else retry_on)
        # CircuitOpenError is retried only when asked for: retrying an open breaker defeats it.
        # A predicate asks for itself; listed types ask only by naming CircuitOpenError.
        kinds = (retry_on,) if isinstance(retry_on, type) else retry_on
        self._retries_open = (
            any(issubclass(kind, CircuitOpenError) for kind in kinds)
            if isinstance(kinds, (tuple, list))
            else kinds is not None
        )
        if giveup is not None:
            _validate.function("giveup", giveup, "a predicate on the exception")
        self._giveup = giveup
        self._attempt_timeout = _validate.optional_number("attempt_timeout", attempt_timeout, above=0)
        self._clock = _validate.function("clock", clock)
        self._sleep = _validate.function("sleep", sleep)
        self._async_sleep = _validate.function("async_sleep", async_sleep)
        if random is not None and not isinstance(random, Random):
            raise ArgumentTypeError(f"random must be a random.Random, got {random!r}", "random")
        self._random = Random() if random is None else random
        self._on_attempt = None if on_attempt is None else _validate.function("on_attempt", on_attempt)

    # -- public surface -------------------------------------------------------------------

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Calls ``fn(*args, **kwargs)`` until it returns or the policy stops.

        Returns:
            What `fn` returns.

        Raises:
            RetryError: The attempts ran out; ``.errors`` holds each attempt's error.
            Exception: A non-retryable error (or one `giveup` accepts), unchanged.
            TypeError: The policy has `attempt_timeout` (async only), or `fn` is async.
        """
        if self._attempt_timeout is not None:
            self._refuse_sync(fn)
        started = self._clock()
        run: _Run | None = None  # built at the first failure: a first-try success stays cheap
        hook = self._on_attempt
        while True:
            if hook is not None:
                hook(1 if run is None else len(run.errors) + 1)
            try:
                result = fn(*args, **kwargs)
            except Exception as error:
                if run is None:
                    run = _Run(self, fn, started)
                outcome = run.failed(error)
                if outcome is None:
                    raise
                if isinstance(outcome, RetryError):
                    raise outcome from error
                self._sleep(outcome)
                continue
            if isinstance(result, CoroutineType):
                result.close()
                raise TypeError(f"{_describe(fn)} is async: use `await policy.call_async(...)`")
            if run is not None:
                run.recovered()
            return result

    async def call_async(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Awaits ``fn(*args, **kwargs)`` until it returns or the policy stops.

        With `attempt_timeout`, an attempt still running after it is cancelled and fails
        with TimeoutError, which is retried if `retry_on` accepts TimeoutError.

        Returns:
            What the awaitable returns.

        Raises:
            RetryError: The attempts ran out; ``.errors`` holds each attempt's error.
            Exception: A non-retryable error (or one `giveup` accepts), unchanged.
        """
        run = _Run(self, fn, self._clock())
        hook = self._on_attempt
        while True:
            if hook is not None:
                hook(len(run.errors) + 1)
            try:
                result = await self._attempt(fn, args, kwargs, run)
            except Exception as error:
                outcome = run.failed(error)
                if outcome is None:
                    raise
                if isinstance(outcome, RetryError):
                    raise outcome from error
                await self._async_sleep(outcome)
                continue
            if run.errors:
                run.recovered()
            return result

    def __call__(self, fn: F) -> F:
        """Decorates a function or an ``async def`` function: each call is retried by the policy.

        Raises:
            TypeError: `fn` is a sync function and the policy has `attempt_timeout`.
        """
        if not callable(fn):
            raise TypeError(f"a RetryPolicy decorates callables, got {fn!r}")
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def retried_async(*args: Any, **kwargs: Any) -> Any:
                return await self.call_async(fn, *args, **kwargs)

            return cast(F, retried_async)
        self._refuse_sync(fn)

        @functools.wraps(fn)
        def retried(*args: Any, **kwargs: Any) -> Any:
            return self.call(fn, *args, **kwargs)

        return cast(F, retried)

    def delays(self, count: int | None = None) -> list[float]:
        """The waits a call would make (jitter drawn from the policy's random source), unwaited.

        `max_total_time` is not applied: it depends on how long the attempts take.

        Args:
            count: How many waits; ``max_attempts - 1`` (every wait a call can make) if omitted.

        Returns:
            The waits in seconds, in order.

        Raises:
            ValueError: `count` is omitted and the policy has no `max_attempts`.
        """
        if count is None:
            if self._max_attempts is None:
                raise ValueError("this policy has no max_attempts: pass delays(count=...)")
            count = self._max_attempts - 1
        return list(itertools.islice(self._schedule(), _validate.whole("count", count, at_least=0)))

    def schedule(self) -> Iterator[float]:
        """The endless schedule of jittered waits a call follows: the n-th follows the n-th
        failure (drawn from the policy's random source as they are taken).

        A caller driving its own attempts (a workflow step, whose waits must not hold a
        thread) takes one wait per failure; `max_attempts` and `max_total_time` are
        applied by `should_retry`, not here.
        """
        return self._backoff.delays(self._random)

    def should_retry(self, error: BaseException, attempt: int, *, elapsed: float = 0.0, wait: float = 0.0) -> bool:
        """Whether the policy makes another attempt after `error` ended attempt `attempt`.

        The rules of `call`: `error` must be retryable (`retry_on`, CircuitOpenError only
        when asked for) and not accepted by `giveup`; `attempt` must be below
        `max_attempts`; and the next wait must end within `max_total_time`.

        Args:
            error: What the attempt raised.
            attempt: The failed attempt's number, 1 for the first.
            elapsed: Seconds since the first attempt started.
            wait: The wait before the next attempt (from `schedule`).

        Returns:
            True if the caller should wait `wait` and try again.
        """
        return self._verdict(error, _validate.whole("attempt", attempt), elapsed, wait) is None

    @property
    def max_attempts(self) -> int | None:
        """Attempts in all, the first included; None when only `max_total_time` limits them."""
        return self._max_attempts

    def __repr__(self) -> str:
        backoff = self._backoff
        jitter = backoff.jitter
        if isinstance(jitter, FractionJitter):
            shown = f"jitter ±{jitter.fraction:.0%}" if jitter.fraction else "no jitter"
        else:
            shown = f"jitter {jitter!r}"
        growth = "" if isinstance(jitter, DecorrelatedJitter) else f" x{backoff.multiplier}"
        extra = "".join(
            f", {label}={value}s"
            for label, value in (("max_total_time", self._max_total_time), ("attempt_timeout", self._attempt_timeout))
            if value is not None
        )
        return (
            f"RetryPolicy(max_attempts={self._max_attempts}, delays "
            f"{backoff.initial_delay}s{growth} up to {backoff.max_delay}s, "
            f"{shown}{extra})"
        )

    # -- internals ------------------------------------------------------------------------

    def _schedule(self) -> Iterator[float]:
        return self.schedule()

    def _verdict(self, error: BaseException, attempt: int, elapsed: float, wait: float | None) -> str | None:
        """None to retry; ``""`` to re-raise `error` unchanged; else why the policy gives up.

        With ``wait=None`` the total-time rule is left for the caller (the wait is not drawn yet).
        """
        retryable = isinstance(error, Exception) and self._retryable(error)
        if not retryable or (not self._retries_open and isinstance(error, CircuitOpenError)):
            return ""
        if self._giveup is not None and isinstance(error, Exception) and self._giveup(error):
            return ""
        if self._max_attempts is not None and attempt >= self._max_attempts:
            return f"max_attempts={self._max_attempts} reached"
        return None if wait is None else self._too_late(elapsed, wait)

    def _too_late(self, elapsed: float, wait: float) -> str | None:
        """Why waiting `wait` more after `elapsed` seconds passes `max_total_time`, or None."""
        if self._max_total_time is not None and elapsed + wait > self._max_total_time:
            return f"waiting {wait:.1f}s more would pass max_total_time={self._max_total_time}s"
        return None

    def _refuse_sync(self, fn: object) -> None:
        if self._attempt_timeout is not None:
            raise TypeError(
                f"attempt_timeout={self._attempt_timeout} applies to async calls only "
                f"({_describe(fn)} is sync, and a thread cannot be interrupted): use call_async "
                "with an async function, or a policy without attempt_timeout"
            )

    async def _attempt(
        self, fn: Callable[..., Awaitable[T]], args: tuple[Any, ...], kwargs: dict[str, Any], run: _Run
    ) -> T:
        if self._attempt_timeout is None:
            return await fn(*args, **kwargs)
        scope = asyncio.timeout(self._attempt_timeout)
        try:
            async with scope:
                return await fn(*args, **kwargs)
        except TimeoutError as error:
            if not scope.expired():
                raise  # the function's own TimeoutError
            raise TimeoutError(
                f"attempt {len(run.errors) + 1} of {_describe(fn)} took longer than "
                f"attempt_timeout={self._attempt_timeout}s and was cancelled"
            ) from error


class _Run:
    """The state of one call under a policy: its start, its errors and its wait schedule."""

    __slots__ = ("errors", "policy", "schedule", "started", "target")

    def __init__(self, policy: RetryPolicy, target: object, started: float) -> None:
        self.policy = policy
        self.target = target
        self.started = started
        self.errors: list[BaseException] = []
        self.schedule: Iterator[float] | None = None  # built at the first failure only

    def recovered(self) -> None:
        target, attempt = _describe(self.target), len(self.errors) + 1
        logger.bind(event=events.RETRY_RECOVERED, target=target, attempt=attempt).info(
            "{} succeeded on attempt {}", target, attempt
        )

    def failed(self, error: Exception) -> float | RetryError | None:
        """The wait before the next attempt, the RetryError to raise, or None to re-raise."""
        policy = self.policy
        self.errors.append(error)
        attempt = len(self.errors)
        verdict = policy._verdict(error, attempt, 0.0, None)
        if verdict == "":
            _NOT_RETRIED.inc()
            return None
        if verdict is not None:
            return self._give_up(verdict)
        if self.schedule is None:
            self.schedule = policy._schedule()
        wait = next(self.schedule)
        if isinstance(error, CircuitOpenError):
            wait = max(wait, error.retry_after)  # no sooner than the breaker will listen
        verdict = policy._too_late(policy._clock() - self.started, wait)
        if verdict is not None:
            return self._give_up(verdict)
        _RETRIED.inc()
        target = _describe(self.target)
        logger.bind(
            event=events.RETRY_ATTEMPT_FAILED,
            target=target,
            attempt=attempt,
            error_type=type(error).__name__,
            wait=wait,
        ).info("{} failed on attempt {} with {!r}; retrying in {:.3f}s", target, attempt, error, wait)
        return wait

    def _give_up(self, reason: str) -> RetryError:
        _GAVE_UP.inc()
        attempts = len(self.errors)
        elapsed = self.policy._clock() - self.started
        message = (
            f"{_describe(self.target)} failed {attempts} time{'s' if attempts > 1 else ''} "
            f"in {elapsed:.1f}s and the retry policy gave up ({reason}); "
            f"last error: {self.errors[-1]!r}"
        )
        logger.bind(
            event=events.RETRY_GAVE_UP,
            target=_describe(self.target),
            attempts=attempts,
            elapsed=round(elapsed, 6),
            cause=reason,
            error_type=type(self.errors[-1]).__name__,
        ).warning("{}", message)
        return RetryError(message, list(self.errors))
