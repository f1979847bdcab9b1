"""Resilience: circuit breakers, retry policies and the backoff schedule they share.

See docs/resilience.md for the guide; `CircuitBreaker` and `RetryPolicy` are the entry points.
Names load on first use, so importing the package (or only its backoff) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zixir import _lazy

if TYPE_CHECKING:
    from zixir.resilience.backoff import (
        DecorrelatedJitter,
        ExponentialBackoff,
        FractionJitter,
        FullJitter,
        JitterStrategy,
    )
    from zixir.resilience.breaker import BreakerState, BreakerStatistics, CircuitBreaker
    from zixir.resilience.retry import RetryPolicy

__all__ = [
    "BreakerState",
    "BreakerStatistics",
    "CircuitBreaker",
    "DecorrelatedJitter",
    "ExponentialBackoff",
    "FractionJitter",
    "FullJitter",
    "JitterStrategy",
    "RetryPolicy",
]

_HOMES = {
    "BreakerState": "breaker",
    "BreakerStatistics": "breaker",
    "CircuitBreaker": "breaker",
    "DecorrelatedJitter": "backoff",
    "ExponentialBackoff": "backoff",
    "FractionJitter": "backoff",
    "FullJitter": "backoff",
    "JitterStrategy": "backoff",
    "RetryPolicy": "retry",
}

__getattr__, __dir__ = _lazy.attributes(globals(), _HOMES)
