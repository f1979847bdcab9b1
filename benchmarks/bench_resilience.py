"""The cost of a circuit breaker and a retry policy on calls that succeed, against peers.

Peers are pybreaker and tenacity (the ``bench`` extra); each case times 10,000 calls.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.harness import Comparison, compare, progress
from zixir.resilience import CircuitBreaker, RetryPolicy

CALLS = 10_000


def _work(x: int) -> int:
    return x + 1


def _bare() -> object:
    for i in range(CALLS):
        _work(i)
    return None


def _through(call: Callable[..., object]) -> Callable[[], object]:
    """`CALLS` calls of ``call(_work, i)``: the same loop for Zixir and each peer."""

    def loop() -> object:
        for i in range(CALLS):
            call(_work, i)
        return None

    return loop


def _added(row: Comparison) -> str:
    per_call = (row.zixir_seconds - row.peer_seconds) / CALLS * 1e6
    return f"{row.case}: {per_call:+.2f} us per call against {row.peer}"


def run() -> list[Comparison]:
    """Times the breaker and the retry policy on the success path; returns the table rows."""
    import pybreaker
    import tenacity

    breaker = CircuitBreaker(failure_threshold=5, reset_timeout=30.0, name="bench")
    peer_breaker = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=30)
    policy = RetryPolicy(max_attempts=3, initial_delay=1.0, multiplier=2.0, max_delay=30.0, retry_on=(TimeoutError,))
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(3),
        wait=tenacity.wait_exponential(multiplier=1.0, max=30.0) + tenacity.wait_random(0, 0.1),
        retry=tenacity.retry_if_exception_type(TimeoutError),
        reraise=True,
    )

    rows = [
        compare(
            f"{CALLS:,} breaker.call(f), closed",
            f"{CALLS:,} bare f()",
            _through(breaker.call),
            _bare,
            target=None,
        ),
        compare(
            f"{CALLS:,} breaker.call(f), closed",
            f"{CALLS:,} pybreaker .call(f)",
            _through(breaker.call),
            _through(peer_breaker.call),
            target=1.0,
        ),
        compare(
            f"{CALLS:,} policy.call(f), first try ok",
            f"{CALLS:,} bare f()",
            _through(policy.call),
            _bare,
            target=None,
        ),
        compare(
            f"{CALLS:,} policy.call(f), first try ok",
            f"{CALLS:,} tenacity Retrying(f)",
            _through(policy.call),
            _through(retrying),
            target=1.0,
        ),
    ]
    for row in rows:
        progress(_added(row))
    return rows
