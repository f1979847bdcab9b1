"""RetryPolicy: backoff schedules, jitter, stop conditions, errors, async attempts and logs.

The policy's clock and sleeps are fakes that record waits instead of waiting.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, register_random
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from zixir import RestartBackoff
from zixir.errors import CircuitOpenError, InvalidArgumentError, RetryError
from zixir.resilience import (
    CircuitBreaker,
    DecorrelatedJitter,
    ExponentialBackoff,
    FractionJitter,
    FullJitter,
    JitterStrategy,
    RetryPolicy,
)

# One random source for the property tests, registered so hypothesis seeds and replays it.
RNG = random.Random(0)
register_random(RNG)


class FakeTime:
    """A clock with sync and async sleeps that move it instead of waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


def policy(clock: FakeTime, **options: Any) -> RetryPolicy:
    """A policy on the fake clock, without jitter unless asked."""
    options = {"jitter": 0.0, **options}
    return RetryPolicy(clock=clock, sleep=clock.sleep, async_sleep=clock.async_sleep, **options)


def flaky(
    *errors: Exception, result: object = "done", took: tuple[FakeTime, float] | None = None
) -> Callable[[], object]:
    """A function that raises `errors` one per call, then returns `result`."""
    pending = list(errors)

    def call() -> object:
        if took is not None:
            took[0].now += took[1]
        if pending:
            raise pending.pop(0)
        return result

    call.__qualname__ = "fetch"
    return call


def test_a_first_success_returns_at_once_without_waiting() -> None:
    clock = FakeTime()
    assert policy(clock).call(lambda a, b: a * b, 6, b=7) == 42
    assert clock.waits == []


def test_retryable_errors_are_retried_after_exponentially_growing_waits() -> None:
    clock = FakeTime()
    fn = flaky(TimeoutError("1"), TimeoutError("2"), TimeoutError("3"))
    retry = policy(clock, max_attempts=4, initial_delay=0.5, multiplier=3.0, retry_on=TimeoutError)
    assert retry.call(fn) == "done"
    assert clock.waits == [0.5, 1.5, 4.5]


def test_waits_are_capped_at_max_delay() -> None:
    clock = FakeTime()
    fn = flaky(*[OSError("x")] * 5)
    assert policy(clock, max_attempts=6, initial_delay=1.0, max_delay=5.0).call(fn) == "done"
    assert clock.waits == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_giving_up_raises_retry_error_with_every_error_chained_from_the_last() -> None:
    clock = FakeTime()
    errors = [TimeoutError("slow"), TimeoutError("slower"), TimeoutError("slowest")]
    fn = flaky(*errors, took=(clock, 0.25))
    message = (
        r"^fetch failed 3 times in 3\.8s and the retry policy gave up "
        r"\(max_attempts=3 reached\); last error: TimeoutError\('slowest'\)$"
    )
    with pytest.raises(RetryError, match=message) as caught:
        policy(clock, max_attempts=3).call(fn)
    assert caught.value.errors == errors
    assert caught.value.__cause__ is errors[-1]
    assert clock.waits == [1.0, 2.0]


def test_a_single_attempt_policy_says_one_time() -> None:
    with pytest.raises(RetryError, match=r"^fetch failed 1 time in 0\.0s and the retry policy gave up"):
        policy(FakeTime(), max_attempts=1).call(flaky(OSError("x")))


def test_a_non_retryable_error_propagates_unchanged_at_once() -> None:
    clock = FakeTime()
    error = ValueError("bad input")
    with pytest.raises(ValueError) as caught:
        policy(clock, retry_on=(TimeoutError, ConnectionError)).call(flaky(error))
    assert caught.value is error
    assert caught.value.__cause__ is None
    assert clock.waits == []


def test_retry_on_accepts_a_predicate() -> None:
    clock = FakeTime()
    retry = policy(clock, retry_on=lambda error: "retry" in str(error))
    assert retry.call(flaky(OSError("please retry"))) == "done"
    with pytest.raises(OSError, match="^final$"):
        retry.call(flaky(OSError("final")))
    assert clock.waits == [1.0]


def test_giveup_stops_at_once_and_the_error_propagates_unchanged() -> None:
    clock = FakeTime()
    fatal = OSError(401, "unauthorized")
    fn = flaky(OSError(503, "unavailable"), fatal)
    with pytest.raises(OSError) as caught:
        policy(clock, max_attempts=5, giveup=lambda error: getattr(error, "errno", None) == 401).call(fn)
    assert caught.value is fatal
    assert clock.waits == [1.0]


def test_max_total_time_stops_when_the_next_wait_would_pass_it() -> None:
    clock = FakeTime()
    fn = flaky(*[OSError("down")] * 9, took=(clock, 1.0))
    # Attempts end at 1, 3, 6 and 11 s. After the third, 6 + 4 s ends exactly at the limit
    # (allowed); after the fourth, 11 + 8 s would pass it.
    message = (
        r"^fetch failed 4 times in 11\.0s and the retry policy gave up \(waiting 8\.0s more "
        r"would pass max_total_time=10\.0s\); last error: OSError\('down'\)$"
    )
    with pytest.raises(RetryError, match=message):
        policy(clock, max_attempts=10, max_total_time=10.0).call(fn)
    assert clock.waits == [1.0, 2.0, 4.0]


def test_without_max_attempts_max_total_time_alone_bounds_the_retries() -> None:
    clock = FakeTime()
    fn = flaky(*[OSError("down")] * 100)
    with pytest.raises(RetryError) as caught:
        policy(clock, max_attempts=None, initial_delay=1.0, multiplier=1.0, max_total_time=5.0).call(fn)
    assert len(caught.value.errors) == 6
    assert clock.waits == [1.0] * 5


def test_circuit_open_error_is_not_retried_by_default_even_under_a_broad_retry_on() -> None:
    clock = FakeTime()
    for options in ({}, {"retry_on": Exception}, {"retry_on": (RuntimeError, OSError)}):
        error = CircuitOpenError("open", "svc", 5.0)
        with pytest.raises(CircuitOpenError) as caught:
            policy(clock, **options).call(flaky(error))
        assert caught.value is error
    assert clock.waits == []


def test_circuit_open_error_is_retried_when_asked_for_no_sooner_than_the_breaker_allows() -> None:
    clock = FakeTime()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=7.0, name="svc", clock=clock)
    attempts: list[float] = []

    def service() -> str:
        attempts.append(clock.now)
        if len(attempts) == 1:
            raise ConnectionError("refused")
        return "answer"

    retry = policy(clock, max_attempts=3, retry_on=(ConnectionError, CircuitOpenError))
    assert retry.call(breaker.call, service) == "answer"
    # 1st attempt fails and opens the breaker; the 2nd is refused at t=1 with 6 s to go;
    # the 3rd waits those 6 s (more than the schedule's 2 s) and is the successful probe.
    assert clock.waits == [1.0, 6.0]
    assert attempts == [0.0, 7.0]
    assert breaker.state == "closed"

    predicate = policy(FakeTime(), retry_on=lambda error: True)
    assert predicate.call(flaky(CircuitOpenError("open", "svc", 0.5))) == "done"


def test_delays_reads_the_schedule_without_sleeping() -> None:
    clock = FakeTime()
    retry = policy(clock, max_attempts=5, initial_delay=1.0, multiplier=2.0, max_delay=6.0)
    assert retry.delays() == [1.0, 2.0, 4.0, 6.0]
    assert retry.delays(2) == [1.0, 2.0]
    assert clock.waits == []
    with pytest.raises(ValueError, match=r"^this policy has no max_attempts: pass delays\(count=\.\.\.\)$"):
        policy(clock, max_attempts=None, max_total_time=9.0).delays()


def test_a_seeded_random_source_repeats_the_jittered_schedule() -> None:
    first = RetryPolicy(max_attempts=6, jitter=0.5, random=random.Random(42)).delays()
    again = RetryPolicy(max_attempts=6, jitter=0.5, random=random.Random(42)).delays()
    assert first == again
    assert first != RetryPolicy(max_attempts=6, jitter=0.0).delays()


@given(
    initial=st.floats(0.0, 10.0),
    multiplier=st.floats(1.0, 5.0),
    cap_over=st.floats(0.0, 100.0),
    attempts=st.integers(1, 30),
    fraction=st.floats(0.0, 1.0),
)
def test_the_schedule_grows_is_capped_and_its_jitter_stays_within_the_fraction(
    initial: float, multiplier: float, cap_over: float, attempts: int, fraction: float
) -> None:
    shape = {
        "max_attempts": attempts,
        "initial_delay": initial,
        "multiplier": multiplier,
        "max_delay": initial + cap_over,
    }
    plain = RetryPolicy(jitter=0.0, **shape).delays()
    assert len(plain) == attempts - 1
    assert all(a <= b for a, b in itertools.pairwise(plain))
    assert all(initial <= d <= initial + cap_over for d in plain)
    jittered = RetryPolicy(jitter=fraction, random=RNG, **shape).delays()
    for wait, base in zip(jittered, plain, strict=True):
        assert base * (1 - fraction) - 1e-9 <= wait <= base * (1 + fraction) + 1e-9


@given(initial=st.floats(0.001, 10.0), cap_over=st.floats(0.0, 100.0), attempts=st.integers(1, 30))
def test_full_jitter_draws_between_zero_and_the_schedule(initial: float, cap_over: float, attempts: int) -> None:
    shape = {"max_attempts": attempts, "initial_delay": initial, "max_delay": initial + cap_over}
    plain = RetryPolicy(jitter=0.0, **shape).delays()
    full = RetryPolicy(jitter=FullJitter(), random=RNG, **shape).delays()
    assert all(0.0 <= wait <= base for wait, base in zip(full, plain, strict=True))


@given(
    initial=st.floats(0.001, 10.0),
    cap_over=st.floats(0.0, 100.0),
    attempts=st.integers(1, 30),
    growth=st.floats(1.0, 5.0),
)
def test_decorrelated_jitter_grows_from_the_previous_wait_within_base_and_cap(
    initial: float, cap_over: float, attempts: int, growth: float
) -> None:
    cap = initial + cap_over
    waits = RetryPolicy(
        attempts,
        initial_delay=initial,
        max_delay=cap,
        random=RNG,
        jitter=DecorrelatedJitter(growth),
    ).delays()
    previous = initial
    for wait in waits:
        assert initial - 1e-9 <= wait <= min(cap, previous * growth) + 1e-9
        previous = wait


def test_a_custom_jitter_strategy_gets_the_schedule_and_the_policys_random_source() -> None:
    seen: list[tuple[float, float, float, float]] = []
    source = random.Random(3)

    class Halve:
        def delay(self, backoff: float, *, previous: float, base: float, cap: float, rng: random.Random) -> float:
            assert rng is source
            seen.append((backoff, previous, base, cap))
            return backoff / 2

    assert isinstance(Halve(), JitterStrategy)
    retry = RetryPolicy(4, initial_delay=2.0, max_delay=5.0, jitter=Halve(), random=source)
    assert retry.delays() == [1.0, 2.0, 2.5]
    assert seen == [(2.0, 2.0, 2.0, 5.0), (4.0, 1.0, 2.0, 5.0), (5.0, 2.0, 2.0, 5.0)]


def test_async_calls_retry_with_the_async_sleep() -> None:
    clock = FakeTime()
    calls: list[int] = []

    async def fetch(n: int) -> int:
        calls.append(n)
        if len(calls) < 3:
            raise ConnectionError("reset")
        return n * 2

    assert asyncio.run(policy(clock).call_async(fetch, 21)) == 42
    assert clock.waits == [1.0, 2.0]

    async def always() -> None:
        raise ConnectionError("reset")

    with pytest.raises(
        RetryError,
        match=r"^test_async_calls_retry_with_the_async_sleep\.<locals>\.always "
        r"failed 3 times in 3\.0s",
    ):
        asyncio.run(policy(clock).call_async(always))


def test_attempt_timeout_cancels_a_slow_async_attempt_and_retries_it() -> None:
    clock = FakeTime()
    cancelled: list[int] = []

    async def hang_then_answer(attempts: list[int]) -> str:
        attempts.append(len(attempts) + 1)
        if len(attempts) == 1:
            try:
                await asyncio.Event().wait()  # never set: only the timeout ends it
            except asyncio.CancelledError:
                cancelled.append(len(attempts))
                raise
        return "answer"

    retry = policy(clock, attempt_timeout=0.01)
    assert asyncio.run(retry.call_async(hang_then_answer, [])) == "answer"
    assert cancelled == [1]

    async def hang() -> None:
        await asyncio.Event().wait()

    with pytest.raises(RetryError) as caught:
        asyncio.run(policy(clock, max_attempts=2, attempt_timeout=0.001).call_async(hang))
    assert [str(error) for error in caught.value.errors] == [
        f"attempt {n} of test_attempt_timeout_cancels_a_slow_async_attempt_and_retries_it"
        ".<locals>.hang "
        "took longer than attempt_timeout=0.001s and was cancelled"
        for n in (1, 2)
    ]
    assert all(isinstance(error, TimeoutError) for error in caught.value.errors)


def test_the_functions_own_timeout_error_is_not_blamed_on_attempt_timeout() -> None:
    async def times_out() -> None:
        raise TimeoutError("upstream timed out")

    with pytest.raises(RetryError) as caught:
        asyncio.run(policy(FakeTime(), max_attempts=1, attempt_timeout=60.0).call_async(times_out))
    assert str(caught.value.errors[0]) == "upstream timed out"


def test_sync_calls_refuse_attempt_timeout_because_a_thread_cannot_be_interrupted() -> None:
    retry = policy(FakeTime(), attempt_timeout=5.0)
    message = (
        r"^attempt_timeout=5\.0 applies to async calls only \(fetch is sync, and a thread cannot "
        r"be interrupted\): use call_async with an async function, or a policy without "
        r"attempt_timeout$"
    )
    fn = flaky()
    with pytest.raises(TypeError, match=message):
        retry.call(fn)
    with pytest.raises(TypeError, match=message):
        retry(fn)


def test_cancellation_and_interrupts_are_never_retried() -> None:
    clock = FakeTime()

    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        policy(clock).call(interrupted)

    async def cancelled() -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(policy(clock).call_async(cancelled))
    assert clock.waits == []


def test_the_decorator_retries_sync_and_async_functions() -> None:
    clock = FakeTime()
    retry = policy(clock)
    failures = [OSError("a"), OSError("b")]

    @retry
    def sync_fetch(x: int) -> int:
        """Fetches."""
        if failures:
            raise failures.pop()
        return x

    @retry
    async def async_fetch(x: int) -> int:
        if len(clock.waits) < 3:
            raise OSError("c")
        return x

    assert (sync_fetch(1), sync_fetch.__name__, sync_fetch.__doc__) == (1, "sync_fetch", "Fetches.")
    assert asyncio.run(async_fetch(2)) == 2
    assert clock.waits == [1.0, 2.0, 1.0]
    with pytest.raises(TypeError, match=r"^a RetryPolicy decorates callables, got None$"):
        retry(None)  # type: ignore[type-var]


def test_call_refuses_an_async_function() -> None:
    async def fetch() -> None:
        pass

    with pytest.raises(TypeError, match=r"fetch is async: use `await policy\.call_async\(\.\.\.\)`$"):
        policy(FakeTime()).call(fetch)


def test_each_retry_and_the_giving_up_are_logged(records: list[dict[str, Any]]) -> None:
    clock = FakeTime()
    with pytest.raises(RetryError):
        policy(clock, max_attempts=2).call(flaky(OSError("x"), OSError("y"), took=(clock, 0.5)))
    assert [(r["level"].name, r["message"]) for r in records] == [
        ("INFO", "fetch failed on attempt 1 with OSError('x'); retrying in 1.000s"),
        (
            "WARNING",
            "fetch failed 2 times in 2.0s and the retry policy gave up "
            "(max_attempts=2 reached); last error: OSError('y')",
        ),
    ]
    records.clear()
    policy(clock).call(flaky(OSError("x")))
    assert [r["message"] for r in records][-1] == "fetch succeeded on attempt 2"


def test_failed_attempts_are_counted_in_prometheus_by_what_followed() -> None:
    def sample(outcome: str) -> float:
        return REGISTRY.get_sample_value("zixir_retry_attempts_total", {"outcome": outcome}) or 0.0

    outcomes = ("retried", "gave_up", "not_retried")
    before = {outcome: sample(outcome) for outcome in outcomes}
    clock = FakeTime()
    policy(clock).call(flaky())
    policy(clock).call(flaky(OSError("x")))
    with pytest.raises(RetryError):
        policy(clock, max_attempts=2).call(flaky(OSError("x"), OSError("y")))
    with pytest.raises(ValueError):
        policy(clock, retry_on=OSError).call(flaky(ValueError("x")))
    assert {o: sample(o) - before[o] for o in outcomes} == {
        "retried": 2.0,
        "gave_up": 1.0,
        "not_retried": 1.0,
    }


def test_the_repr_shows_the_schedule() -> None:
    assert repr(
        RetryPolicy(
            max_attempts=3,
            initial_delay=1.0,
            multiplier=2.0,
            max_delay=30.0,
            jitter=0.1,
            retry_on=(TimeoutError,),
        )
    ) == ("RetryPolicy(max_attempts=3, delays 1.0s x2.0 up to 30.0s, jitter ±10%)")
    assert repr(RetryPolicy(5, initial_delay=0.2, jitter=FullJitter(), max_total_time=60, attempt_timeout=2)) == (
        "RetryPolicy(max_attempts=5, delays 0.2s x2.0 up to 30.0s, jitter FullJitter(), "
        "max_total_time=60.0s, attempt_timeout=2.0s)"
    )
    assert repr(RetryPolicy(jitter=DecorrelatedJitter(), max_delay=10)) == (
        "RetryPolicy(max_attempts=3, delays 1.0s up to 10.0s, jitter DecorrelatedJitter(growth=3.0))"
    )
    assert repr(RetryPolicy(jitter=0)).endswith(", no jitter)")


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"max_attempts": 0}, ValueError, r"^max_attempts must be an int >= 1, got 0$"),
        ({"max_attempts": 2.0}, TypeError, r"^max_attempts must be an int, got 2\.0$"),
        (
            {"max_attempts": None},
            ValueError,
            r"^max_attempts=None needs max_total_time, or retries would never stop$",
        ),
        (
            {"initial_delay": -1},
            ValueError,
            r"^initial_delay must be a finite number >= 0, got -1$",
        ),
        (
            {"initial_delay": 5, "max_delay": 2},
            ValueError,
            r"^max_delay must be a finite number >= 5\.0, got 2$",
        ),
        ({"multiplier": 0.5}, ValueError, r"^multiplier must be a finite number >= 1, got 0\.5$"),
        ({"jitter": 1.5}, ValueError, r"^jitter must be a finite number >= 0 and <= 1, got 1\.5$"),
        (
            {"jitter": "full"},
            TypeError,
            r"^jitter must be a fraction such as 0\.1, or a strategy such as FullJitter\(\), "
            r"got 'full'$",
        ),
        (
            {"jitter": DecorrelatedJitter(), "multiplier": 2.0},
            ValueError,
            r"^DecorrelatedJitter grows each wait from the previous one, "
            r"so multiplier does not apply: "
            r"drop multiplier=, or set DecorrelatedJitter\(growth=\.\.\.\)$",
        ),
        (
            {"jitter": DecorrelatedJitter(), "initial_delay": 0},
            ValueError,
            r"^DecorrelatedJitter needs initial_delay > 0",
        ),
        ({"retry_on": (SystemExit,)}, TypeError, r"^retry_on must hold Exception subclasses"),
        ({"giveup": True}, TypeError, r"^giveup must be a predicate on the exception, got True$"),
        ({"max_total_time": 0}, ValueError, r"^max_total_time must be a finite number > 0, got 0$"),
        (
            {"attempt_timeout": -1},
            ValueError,
            r"^attempt_timeout must be a finite number > 0, got -1$",
        ),
        ({"sleep": 0}, TypeError, r"^sleep must be callable, got 0$"),
        ({"random": 42}, TypeError, r"^random must be a random\.Random, got 42$"),
    ],
)
def test_bad_arguments_are_refused_when_the_policy_is_built(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        RetryPolicy(**options)


def test_decorrelated_jitter_refuses_a_growth_below_one() -> None:
    with pytest.raises(ValueError, match=r"^growth must be a finite number >= 1, got 0\.5$"):
        DecorrelatedJitter(0.5)


@given(
    initial=st.floats(0.0, 10.0),
    multiplier=st.floats(1.0, 5.0),
    cap_over=st.floats(0.0, 100.0),
    fraction=st.floats(0.0, 0.99),
    seed=st.integers(0, 2**32),
)
def test_restart_backoff_and_retry_policy_share_one_schedule(
    initial: float, multiplier: float, cap_over: float, fraction: float, seed: int
) -> None:
    shape = {"initial_delay": initial, "multiplier": multiplier, "max_delay": initial + cap_over}
    waits = RetryPolicy(8, jitter=fraction, random=random.Random(seed), **shape).delays()
    restarts = RestartBackoff(jitter=fraction, random=random.Random(seed), **shape)
    assert [restarts.delay(n) for n in range(7)] == waits
    schedule = ExponentialBackoff(jitter=FractionJitter(fraction), **shape)
    rng = random.Random(seed)
    assert [schedule.delay(n, rng) for n in range(7)] == waits


def test_the_schedule_reaches_its_cap_and_stays_there_however_many_steps() -> None:
    schedule = ExponentialBackoff(0.5, 60.0, 3.0)
    assert [schedule.backoff(n) for n in range(6)] == [0.5, 1.5, 4.5, 13.5, 40.5, 60.0]
    assert schedule.backoff(10_000) == 60.0  # 3.0**10_000 overflows a float
    assert RestartBackoff(jitter=0.0).delay(5_000) == 10.0
    assert ExponentialBackoff(0.0, 5.0).backoff(10_000) == 0.0


@pytest.mark.parametrize(
    ("options", "argument"),
    [
        ({"initial_delay": float("nan")}, "initial_delay"),
        ({"max_delay": float("inf")}, "max_delay"),
        ({"multiplier": float("nan")}, "multiplier"),
        ({"initial_delay": 2.0, "max_delay": 1.0}, "max_delay"),
    ],
)
def test_a_schedule_refuses_numbers_that_cannot_work(options: dict[str, Any], argument: str) -> None:
    shape = {"initial_delay": 1.0, "max_delay": 10.0, **options}
    with pytest.raises(InvalidArgumentError) as caught:
        ExponentialBackoff(**shape)
    assert caught.value.argument == argument
    with pytest.raises(InvalidArgumentError) as caught:
        RestartBackoff(**shape)
    assert caught.value.argument == argument


def test_on_attempt_is_called_with_each_attempt_number_before_it_runs() -> None:
    seen: list[int] = []
    calls = iter([ValueError("one"), ValueError("two"), "done"])

    def flaky() -> str:
        outcome = next(calls)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    policy = RetryPolicy(max_attempts=3, initial_delay=0.0, jitter=0.0, on_attempt=seen.append)
    assert policy.call(flaky) == "done"
    assert seen == [1, 2, 3]


def test_schedule_is_public_and_should_retry_applies_the_call_rules() -> None:
    policy = RetryPolicy(max_attempts=3, initial_delay=1.0, multiplier=2.0, jitter=0.0, max_total_time=10.0)
    assert list(itertools.islice(policy.schedule(), 3)) == [1.0, 2.0, 4.0]
    assert policy.max_attempts == 3
    assert policy.should_retry(ValueError("x"), 1)
    assert not policy.should_retry(ValueError("x"), 3)  # attempts ran out
    assert not policy.should_retry(ValueError("x"), 1, elapsed=9.5, wait=1.0)  # past max_total_time
    typed = RetryPolicy(retry_on=(TimeoutError,))
    assert not typed.should_retry(ValueError("x"), 1)
    assert typed.should_retry(TimeoutError("x"), 1)
