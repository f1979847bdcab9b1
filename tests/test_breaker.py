"""CircuitBreaker: its states and transitions, probes, exclusions, listeners and async use.

A fake clock drives every timeout; threads meet on events and barriers, never on sleeps.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from prometheus_client import REGISTRY

from zixir.errors import CircuitOpenError
from zixir.resilience import BreakerStatistics, CircuitBreaker

WAIT = 10.0  # seconds a thread may wait for another before the test fails


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Boom(Exception):
    """The dependency's failure in these tests."""


def fail() -> None:
    raise Boom("down")


def raising(error: BaseException) -> Callable[[], None]:
    """A function that raises `error`."""

    def raise_it() -> None:
        raise error

    return raise_it


def tripped(clock: FakeClock, **options: Any) -> CircuitBreaker:
    """A breaker with threshold 2 and a 10 s open period, opened at clock time 0."""
    options = {"failure_threshold": 2, "reset_timeout": 10.0, "name": "svc", **options}
    breaker = CircuitBreaker(clock=clock, **options)
    for _ in range(2):
        with pytest.raises(Boom):
            breaker.call(fail)
    assert breaker.state == "open"
    return breaker


def test_a_closed_breaker_passes_calls_and_their_results_through() -> None:
    breaker = CircuitBreaker()
    assert breaker.call(lambda a, b=0: a + b, 2, b=3) == 5
    assert breaker.state == "closed"
    assert breaker.name.startswith("breaker-")


def test_it_opens_after_failure_threshold_consecutive_failures() -> None:
    breaker = CircuitBreaker(failure_threshold=3, clock=FakeClock())
    for _ in range(2):
        with pytest.raises(Boom):
            breaker.call(fail)
    assert breaker.state == "closed"
    with pytest.raises(Boom):
        breaker.call(fail)
    assert breaker.state == "open"


def test_a_success_resets_the_consecutive_failure_count() -> None:
    breaker = CircuitBreaker(failure_threshold=2, clock=FakeClock())
    for _ in range(3):
        with pytest.raises(Boom):
            breaker.call(fail)
        breaker.call(lambda: None)
    assert breaker.state == "closed"
    assert breaker.statistics().consecutive_failures == 0


def test_an_open_breaker_fails_fast_naming_itself_and_the_wait() -> None:
    clock = FakeClock()
    breaker = tripped(clock)
    clock.advance(2.5)
    called = []
    with pytest.raises(
        CircuitOpenError,
        match=r"^circuit breaker 'svc' is open; the call was not made; "
        r"retry in 7\.5s$",
    ) as caught:
        breaker.call(called.append, 1)
    assert called == []
    assert caught.value.breaker == "svc"
    assert caught.value.retry_after == 7.5


def test_it_turns_half_open_exactly_when_reset_timeout_has_passed() -> None:
    clock = FakeClock()
    breaker = tripped(clock)
    clock.advance(9.999)
    assert breaker.state == "open"
    clock.advance(0.001)
    assert breaker.state == "half_open"


def test_a_successful_probe_closes_the_breaker() -> None:
    clock = FakeClock()
    breaker = tripped(clock)
    clock.advance(10)
    assert breaker.call(lambda: "probe") == "probe"
    assert breaker.state == "closed"
    assert breaker.statistics().consecutive_failures == 0


def test_failed_probes_grow_the_open_period_up_to_max_reset_timeout() -> None:
    clock = FakeClock()
    breaker = tripped(clock, backoff_multiplier=3.0, max_reset_timeout=50.0)
    periods = []
    for _ in range(4):
        periods.append(breaker.statistics().reset_timeout)
        clock.advance(breaker.statistics().retry_after)
        with pytest.raises(Boom):
            breaker.call(fail)  # the probe fails
        assert breaker.state == "open"
    assert periods == [10.0, 30.0, 50.0, 50.0]
    clock.advance(50)
    breaker.call(lambda: None)
    assert breaker.statistics().reset_timeout == 10.0  # a good probe restores the base period


def test_the_default_max_reset_timeout_is_ten_times_reset_timeout() -> None:
    clock = FakeClock()
    breaker = tripped(clock, backoff_multiplier=100.0)
    clock.advance(10)
    with pytest.raises(Boom):
        breaker.call(fail)
    assert breaker.statistics().reset_timeout == 100.0


def test_half_open_lets_exactly_one_probe_through() -> None:
    clock = FakeClock()
    breaker = tripped(clock)
    clock.advance(10)
    probe_running, finish_probe = threading.Event(), threading.Event()
    results: list[object] = []

    def probe() -> str:
        probe_running.set()
        assert finish_probe.wait(WAIT)
        return "probed"

    prober = threading.Thread(target=lambda: results.append(breaker.call(probe)), daemon=True)
    prober.start()
    assert probe_running.wait(WAIT)

    barrier = threading.Barrier(4, timeout=WAIT)
    made: list[int] = []
    refused: list[CircuitOpenError] = []

    def contender(number: int) -> None:
        barrier.wait()
        try:
            breaker.call(made.append, number)
        except CircuitOpenError as error:
            refused.append(error)

    contenders = [threading.Thread(target=contender, args=(n,), daemon=True) for n in range(4)]
    for thread in contenders:
        thread.start()
    for thread in contenders:
        thread.join(WAIT)
    assert made == []
    assert len(refused) == 4
    assert {error.retry_after for error in refused} == {0.0}
    assert breaker.state == "half_open"

    finish_probe.set()
    prober.join(WAIT)
    assert results == ["probed"]
    assert breaker.state == "closed"
    assert breaker.statistics().total_rejections == 4


def test_a_caller_during_the_probe_is_told_the_probe_is_in_flight() -> None:
    clock = FakeClock()
    breaker = tripped(clock)
    clock.advance(10)
    message = (
        r"^circuit breaker 'svc' is half-open and its one probe call is in flight; "
        r"the call was not made; retry when the probe finishes$"
    )

    def probe() -> None:
        with pytest.raises(CircuitOpenError, match=message):
            breaker.call(lambda: None)
        assert repr(breaker) == "CircuitBreaker('svc', state='half_open', failures=2, probe in flight)"

    breaker.call(probe)
    assert breaker.state == "closed"


def test_the_function_runs_without_the_breaker_lock_held() -> None:
    breaker = CircuitBreaker()

    def look_from_another_thread() -> None:
        # With the lock held, the other thread would block here until the timeout.
        looker = threading.Thread(target=breaker.statistics, daemon=True)
        looker.start()
        looker.join(WAIT)
        assert not looker.is_alive()

    breaker.call(look_from_another_thread)


def test_a_late_failure_of_a_call_made_before_the_breaker_opened_is_not_counted_again() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=10.0, clock=clock)

    def slow_failure() -> None:
        for _ in range(2):
            with pytest.raises(Boom):
                breaker.call(fail)  # these open the breaker at t=0 meanwhile
        clock.advance(4)
        raise Boom("late")

    with pytest.raises(Boom, match="late"):
        breaker.call(slow_failure)
    stats = breaker.statistics()
    assert (stats.opened_at, stats.retry_after, stats.total_failures) == (0.0, 6.0, 3)


def test_the_failure_rate_over_the_window_opens_the_breaker() -> None:
    breaker = CircuitBreaker(failure_threshold=None, failure_rate=0.5, window=4, clock=FakeClock())
    for outcome in (True, False, True, False, False):  # 2 of 3, then never a failure to judge
        if outcome:
            with pytest.raises(Boom):
                breaker.call(fail)
        else:
            breaker.call(lambda: None)
    assert breaker.state == "closed"
    with pytest.raises(Boom):
        breaker.call(fail)  # the last 4: fail ok ok fail, 2/4 = 0.5 >= 0.5
    assert breaker.state == "open"


def test_minimum_calls_lets_the_rate_open_a_partly_filled_window() -> None:
    breaker = CircuitBreaker(failure_threshold=None, failure_rate=1.0, window=10, minimum_calls=2, clock=FakeClock())
    with pytest.raises(Boom):
        breaker.call(fail)
    assert breaker.state == "closed"
    with pytest.raises(Boom):
        breaker.call(fail)
    assert breaker.state == "open"


def test_the_rate_counts_only_the_last_window_calls() -> None:
    breaker = CircuitBreaker(failure_threshold=10, failure_rate=0.5, window=4, clock=FakeClock())
    for _ in range(4):
        breaker.call(lambda: None)
    with pytest.raises(Boom):
        breaker.call(fail)  # window: ok ok ok fail, 1/4
    assert breaker.state == "closed"
    with pytest.raises(Boom):
        breaker.call(fail)  # window: ok ok fail fail, 2/4 (2/6 of all calls)
    assert breaker.state == "open"


def test_consecutive_failures_still_open_a_breaker_with_a_rate() -> None:
    breaker = CircuitBreaker(failure_threshold=2, failure_rate=1.0, window=10, clock=FakeClock())
    for _ in range(2):
        with pytest.raises(Boom):
            breaker.call(fail)
    assert breaker.state == "open"


def test_excluded_error_types_pass_through_without_counting() -> None:
    breaker = CircuitBreaker(failure_threshold=1, exclude=(KeyError, LookupError), clock=FakeClock())
    for _ in range(3):
        with pytest.raises(KeyError):
            breaker.call({}.__getitem__, "missing")
    assert breaker.state == "closed"
    stats = breaker.statistics()
    assert (stats.total_successes, stats.total_failures) == (3, 0)


def test_an_exclude_predicate_decides_per_error() -> None:
    breaker = CircuitBreaker(failure_threshold=1, exclude=lambda error: "404" in str(error), clock=FakeClock())
    with pytest.raises(Boom):
        breaker.call(raising(Boom("404 not found")))
    assert breaker.state == "closed"
    with pytest.raises(Boom):
        breaker.call(fail)
    assert breaker.state == "open"


def test_an_excluded_error_from_the_probe_closes_the_breaker() -> None:
    clock = FakeClock()
    breaker = tripped(clock, exclude=KeyError)
    clock.advance(10)
    with pytest.raises(KeyError):
        breaker.call({}.__getitem__, "missing")
    assert breaker.state == "closed"


def test_a_raising_exclude_predicate_is_logged_and_the_error_counts(
    records: list[dict[str, Any]],
) -> None:
    def broken(error: Exception) -> bool:
        raise RuntimeError("predicate bug")

    breaker = CircuitBreaker(failure_threshold=1, exclude=broken, name="p", clock=FakeClock())
    with pytest.raises(Boom):
        breaker.call(fail)
    assert breaker.state == "open"
    assert any(
        r["message"] == "the exclude predicate of circuit breaker 'p' raised; counting a failure" for r in records
    )


def test_listeners_hear_every_transition_in_order() -> None:
    clock = FakeClock()
    heard: list[tuple[CircuitBreaker, str, str]] = []
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=5.0, clock=clock)
    breaker.add_listener(lambda b, old, new: heard.append((b, old, new)))
    with pytest.raises(Boom):
        breaker.call(fail)
    clock.advance(5)
    with pytest.raises(Boom):
        breaker.call(fail)
    clock.advance(10)
    breaker.call(lambda: None)
    assert [(old, new) for _, old, new in heard] == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]
    assert all(b is breaker for b, _, _ in heard)


def test_a_raising_listener_is_logged_and_the_breaker_keeps_working(
    records: list[dict[str, Any]],
) -> None:
    breaker = CircuitBreaker(failure_threshold=1, name="noisy", clock=FakeClock())
    heard: list[str] = []

    def broken(b: CircuitBreaker, old: str, new: str) -> None:
        raise RuntimeError("listener bug")

    breaker.add_listener(broken)
    breaker.add_listener(lambda b, old, new: heard.append(new))
    with pytest.raises(Boom):
        breaker.call(fail)
    assert breaker.state == "open"
    assert heard == ["open"]
    assert any(
        r["message"] == "a listener of circuit breaker 'noisy' raised on closed -> open; ignored"
        and r["exception"] is not None
        for r in records
    )


def test_a_removed_listener_is_not_called_and_removing_a_stranger_is_an_error() -> None:
    breaker = CircuitBreaker(failure_threshold=1, clock=FakeClock())
    heard: list[str] = []

    def listener(b: CircuitBreaker, old: str, new: str) -> None:
        heard.append(new)

    breaker.add_listener(listener)
    breaker.remove_listener(listener)
    with pytest.raises(Boom):
        breaker.call(fail)
    assert heard == []
    with pytest.raises(ValueError, match=r"is not a listener of 'breaker-\d+'$"):
        breaker.remove_listener(listener)
    with pytest.raises(TypeError, match=r"^listener must be callable"):
        breaker.add_listener("nope")  # type: ignore[arg-type]


def test_transitions_are_logged(records: list[dict[str, Any]]) -> None:
    breaker = CircuitBreaker(failure_threshold=1, name="logged", clock=FakeClock())
    with pytest.raises(Boom):
        breaker.call(fail)
    assert [(r["level"].name, r["message"]) for r in records] == [
        ("WARNING", "circuit breaker 'logged': closed -> open")
    ]


def test_transitions_and_rejections_are_counted_in_prometheus() -> None:
    def sample(metric: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(metric, labels) or 0.0

    breaker = CircuitBreaker(failure_threshold=1, name="metered", clock=FakeClock())
    with pytest.raises(Boom):
        breaker.call(fail)
    with pytest.raises(CircuitOpenError):
        breaker.call(lambda: None)
    assert sample("zixir_breaker_transitions_total", breaker="metered", state="open") == 1.0
    assert sample("zixir_breaker_transitions_total", breaker="metered", state="closed") == 0.0
    assert sample("zixir_breaker_rejections_total", breaker="metered") == 1.0


def test_the_with_block_counts_its_errors_and_reraises_them() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, clock=clock)
    for _ in range(2):
        with pytest.raises(Boom), breaker:
            raise Boom("in the block")
    assert breaker.state == "open"
    ran = []
    with pytest.raises(CircuitOpenError), breaker:
        ran.append(True)
    assert ran == []


def test_nested_with_blocks_record_their_own_outcomes() -> None:
    breaker = CircuitBreaker(failure_threshold=3, clock=FakeClock())
    with pytest.raises(Boom), breaker:
        with breaker:
            pass  # inner: success
        raise Boom("outer fails")
    stats = breaker.statistics()
    assert (stats.total_successes, stats.consecutive_failures) == (1, 1)


def test_exiting_a_breaker_that_was_not_entered_is_an_error() -> None:
    breaker = CircuitBreaker(name="stray")
    with pytest.raises(RuntimeError, match=r"^CircuitBreaker\('stray', .*was exited in a thread or task"):
        breaker.__exit__(None, None, None)


def test_the_decorator_guards_sync_and_async_functions() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, clock=clock)

    @breaker
    def double(x: int) -> int:
        """Doubles."""
        if x < 0:
            raise Boom("negative")
        return 2 * x

    @breaker
    async def triple(x: int) -> int:
        return 3 * x

    assert (double(2), double.__name__, double.__doc__) == (4, "double", "Doubles.")
    assert asyncio.run(triple(2)) == 6
    for _ in range(2):
        with pytest.raises(Boom):
            double(-1)
    with pytest.raises(CircuitOpenError):
        double(1)
    with pytest.raises(CircuitOpenError):
        asyncio.run(triple(1))
    with pytest.raises(TypeError, match=r"^a CircuitBreaker decorates callables, got 3$"):
        breaker(3)  # type: ignore[type-var]


def test_call_async_counts_failures_and_successes() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=1.0, clock=clock)

    async def broken() -> None:
        raise Boom("async down")

    async def ok(value: int) -> int:
        return value

    async def scenario() -> None:
        with pytest.raises(Boom):
            await breaker.call_async(broken)
        assert breaker.state == "open"
        clock.advance(1)
        assert await breaker.call_async(ok, 7) == 7
        async with breaker:
            pass
        with pytest.raises(Boom):
            async with breaker:
                raise Boom("in async block")

    asyncio.run(scenario())
    assert breaker.state == "open"
    assert breaker.statistics().total_successes == 2


def test_async_callers_during_the_probe_are_refused() -> None:
    clock = FakeClock()
    breaker = tripped(clock)
    clock.advance(10)

    async def scenario() -> list[object]:
        release = asyncio.Event()

        async def probe() -> str:
            await release.wait()
            return "probed"

        prober = asyncio.create_task(breaker.call_async(probe))
        await asyncio.sleep(0)  # let the probe start (a scheduling yield, not a wait on time)
        others = [breaker.call_async(asyncio.sleep, 0) for _ in range(3)]
        refused = await asyncio.gather(*others, return_exceptions=True)
        release.set()
        return [*refused, await prober]

    outcome = asyncio.run(scenario())
    assert [type(o) for o in outcome[:3]] == [CircuitOpenError] * 3
    assert outcome[3] == "probed"
    assert breaker.state == "closed"


def test_a_cancelled_probe_is_not_a_failure_and_frees_the_probe_slot() -> None:
    clock = FakeClock()
    breaker = tripped(clock)
    clock.advance(10)

    async def scenario() -> None:
        probe = asyncio.create_task(breaker.call_async(asyncio.Event().wait))
        await asyncio.sleep(0)
        probe.cancel()
        with pytest.raises(asyncio.CancelledError):
            await probe
        assert breaker.state == "half_open"
        assert await breaker.call_async(asyncio.sleep, 0, "next probe") == "next probe"

    asyncio.run(scenario())
    assert breaker.state == "closed"
    assert breaker.statistics().total_failures == 2


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit, GeneratorExit])
def test_an_interrupt_is_not_a_failure_and_frees_the_probe_slot(
    interrupt: type[BaseException],
) -> None:
    clock = FakeClock()
    breaker = tripped(clock)
    clock.advance(10)

    with pytest.raises(interrupt):
        breaker.call(raising(interrupt()))
    assert breaker.state == "half_open"
    with pytest.raises(interrupt), breaker:
        raise interrupt()
    assert breaker.call(lambda: "probe") == "probe"
    assert breaker.statistics().total_failures == 2


def test_interrupts_in_the_closed_state_count_nothing() -> None:
    breaker = CircuitBreaker(failure_threshold=1, clock=FakeClock())
    with pytest.raises(KeyboardInterrupt):
        breaker.call(raising(KeyboardInterrupt()))
    assert breaker.state == "closed"


def test_call_refuses_an_async_function_without_counting_it() -> None:
    breaker = CircuitBreaker(failure_threshold=1)

    async def coroutine_function() -> None:
        raise Boom("never runs")

    with pytest.raises(TypeError, match=r"is async: use `await breaker\.call_async\(\.\.\.\)`$"):
        breaker.call(coroutine_function)
    stats = breaker.statistics()
    assert (stats.state, stats.total_successes, stats.total_failures) == ("closed", 0, 0)


def test_reset_forces_the_breaker_closed_with_the_base_period() -> None:
    clock = FakeClock()
    breaker = tripped(clock)
    clock.advance(10)
    with pytest.raises(Boom):
        breaker.call(fail)  # failed probe: open for 20 s
    heard: list[str] = []
    breaker.add_listener(lambda b, old, new: heard.append(f"{old}->{new}"))
    breaker.reset()
    assert heard == ["open->closed"]
    assert breaker.statistics() == BreakerStatistics(
        name="svc",
        state="closed",
        consecutive_failures=0,
        total_calls=3,
        total_successes=0,
        total_failures=3,
        total_rejections=0,
        opened_at=None,
        reset_timeout=10.0,
        retry_after=0.0,
    )
    breaker.reset()  # already closed: no transition
    assert heard == ["open->closed"]


def test_statistics_count_calls_successes_failures_and_rejections() -> None:
    clock = FakeClock()
    breaker = tripped(clock)  # two failures
    clock.advance(4)
    for _ in range(3):
        with pytest.raises(CircuitOpenError):
            breaker.call(lambda: None)
    assert breaker.statistics() == BreakerStatistics(
        name="svc",
        state="open",
        consecutive_failures=2,
        total_calls=2,
        total_successes=0,
        total_failures=2,
        total_rejections=3,
        opened_at=0.0,
        reset_timeout=10.0,
        retry_after=6.0,
    )
    with pytest.raises(AttributeError):
        breaker.statistics().state = "closed"  # type: ignore[misc]


def test_the_repr_shows_name_state_failures_and_wait() -> None:
    clock = FakeClock()
    breaker = tripped(clock, name="llm")
    clock.advance(2)
    assert repr(breaker) == "CircuitBreaker('llm', state='open', failures=2, retry in 8.0s)"
    clock.advance(8)
    assert repr(breaker) == "CircuitBreaker('llm', state='half_open', failures=2, awaiting a probe)"
    breaker.reset()
    assert repr(breaker) == "CircuitBreaker('llm', state='closed', failures=0)"


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"failure_threshold": 0}, ValueError, r"^failure_threshold must be an int >= 1, got 0$"),
        ({"failure_threshold": True}, TypeError, r"^failure_threshold must be an int, got True$"),
        ({"reset_timeout": 0}, ValueError, r"^reset_timeout must be a finite number > 0, got 0$"),
        (
            {"reset_timeout": float("inf")},
            ValueError,
            r"^reset_timeout must be a finite number > 0",
        ),
        ({"reset_timeout": "30"}, TypeError, r"^reset_timeout must be a number, got '30'$"),
        (
            {"backoff_multiplier": 0.5},
            ValueError,
            r"^backoff_multiplier must be a finite number >= 1",
        ),
        (
            {"reset_timeout": 10, "max_reset_timeout": 5},
            ValueError,
            r"^max_reset_timeout must be a finite number >= 10\.0, got 5$",
        ),
        (
            {"window": 10},
            ValueError,
            r"^window and minimum_calls apply to the failure rate: pass failure_rate too$",
        ),
        (
            {"failure_threshold": None},
            ValueError,
            r"^failure_threshold=None needs failure_rate, or the breaker could never open$",
        ),
        (
            {"failure_rate": 0},
            ValueError,
            r"^failure_rate must be a finite number > 0 and <= 1, got 0$",
        ),
        ({"failure_rate": 1.5}, ValueError, r"^failure_rate must be a finite number > 0 and <= 1"),
        (
            {"failure_rate": 0.5, "window": 5, "minimum_calls": 6},
            ValueError,
            r"^minimum_calls=6 cannot exceed window=5; lower minimum_calls or widen the window$",
        ),
        ({"exclude": (KeyboardInterrupt,)}, TypeError, r"^exclude must hold Exception subclasses"),
        ({"exclude": "KeyError"}, TypeError, r"^exclude must be exception types or a predicate"),
        ({"clock": 3.0}, TypeError, r"^clock must be a callable returning seconds, got 3\.0$"),
        ({"name": 7}, TypeError, r"^name must be a str, got 7$"),
    ],
)
def test_bad_arguments_are_refused_when_the_breaker_is_built(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        CircuitBreaker(**options)


# -- the state machine against a tiny pure model -----------------------------------------


class Model:
    """What the breaker should do, written as plainly as possible (single-threaded)."""

    def __init__(self, threshold: int, timeout: float, growth: float, rate: float | None, window: int) -> None:
        self.threshold, self.timeout, self.growth = threshold, timeout, growth
        self.rate, self.window = rate, window
        self.state, self.failures, self.rejections = "closed", 0, 0
        self.opened_at, self.open_for = 0.0, timeout
        self.outcomes: deque[bool] = deque(maxlen=window)

    def look(self, now: float) -> str:
        if self.state == "open" and now >= self.opened_at + self.open_for:
            self.state = "half_open"
        return self.state

    def open(self, now: float) -> None:
        self.state, self.opened_at = "open", now
        self.outcomes.clear()

    def call(self, now: float, outcome: str) -> None:
        state = self.look(now)
        if state == "open":
            self.rejections += 1
        elif outcome == "interrupt":
            pass
        elif outcome == "fail" and state == "half_open":
            self.failures += 1
            self.open_for = min(self.open_for * self.growth, 10 * self.timeout)
            self.open(now)
        elif outcome == "fail":
            self.failures += 1
            self.outcomes.append(True)
            by_rate = (
                self.rate is not None
                and len(self.outcomes) == self.window
                and sum(self.outcomes) / self.window >= self.rate
            )
            if self.failures >= self.threshold or by_rate:
                self.open(now)
        elif state == "half_open":  # a success, or an excluded error
            self.reset()
        else:
            self.failures = 0
            self.outcomes.append(False)

    def reset(self) -> None:
        self.state, self.failures, self.open_for = "closed", 0, self.timeout
        self.outcomes.clear()


class BreakerMachine(RuleBasedStateMachine):
    """Random calls and clock moves; the breaker must agree with the model at every step."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()

    @initialize(
        threshold=st.integers(1, 4),
        timeout=st.sampled_from([1.0, 2.5, 10.0]),
        growth=st.sampled_from([1.0, 2.0, 3.0]),
        rate=st.sampled_from([None, 0.5, 1.0]),
        window=st.integers(1, 4),
    )
    def build(self, threshold: int, timeout: float, growth: float, rate: float | None, window: int) -> None:
        window_options = {} if rate is None else {"failure_rate": rate, "window": window}
        self.breaker = CircuitBreaker(
            failure_threshold=threshold,
            reset_timeout=timeout,
            backoff_multiplier=growth,
            exclude=(KeyError,),
            clock=self.clock,
            **window_options,
        )
        self.model = Model(threshold, timeout, growth, rate, window)

    def _call(self, outcome: str, fn: Callable[[], object], expected: type[BaseException] | None) -> None:
        self.model.call(self.clock.now, outcome)
        try:
            self.breaker.call(fn)
        except CircuitOpenError:
            pass
        except BaseException as error:
            assert expected is not None and isinstance(error, expected)

    @rule()
    def succeed(self) -> None:
        self._call("ok", lambda: None, None)

    @rule()
    def fail(self) -> None:
        self._call("fail", fail, Boom)

    @rule()
    def raise_an_excluded_error(self) -> None:
        self._call("ok", lambda: {}["missing"], KeyError)

    @rule()
    def interrupt(self) -> None:
        self._call("interrupt", raising(KeyboardInterrupt()), KeyboardInterrupt)

    @rule(seconds=st.sampled_from([0.5, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def reset(self) -> None:
        self.breaker.reset()
        self.model.reset()

    @invariant()
    def agrees_with_the_model(self) -> None:
        stats = self.breaker.statistics()
        model = self.model
        assert stats.state == model.look(self.clock.now)
        assert stats.total_rejections == model.rejections
        assert stats.consecutive_failures == model.failures
        assert stats.reset_timeout == model.open_for
        if model.state == "open":
            assert stats.retry_after == model.opened_at + model.open_for - self.clock.now


BreakerMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
test_the_breaker_follows_its_state_machine_model = BreakerMachine.TestCase


def test_creating_a_metric_again_returns_the_registered_one() -> None:
    # What a second import of the module (importlib.reload) does at its top level.
    from zixir._counters import counter as _counter
    from zixir.resilience import breaker as module

    again = _counter("zixir_breaker_rejections", "again", ("breaker",))
    assert again is module._REJECTIONS
    with pytest.raises(ValueError, match="^counter names leave off '_created'"):
        _counter("zixir_breaker_rejections_created", "clash", ("breaker",))
