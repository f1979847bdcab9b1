"""Resilience: circuit breakers and retry policies for calls to dependencies that fail.

See docs/resilience.md for the guide; `CircuitBreaker` and `RetryPolicy` are the entry points.
"""

from __future__ import annotations

from zixir.resilience.breaker import BreakerState, BreakerStatistics, CircuitBreaker
from zixir.resilience.retry import DecorrelatedJitter, FullJitter, JitterStrategy, RetryPolicy

__all__ = [
    "BreakerState",
    "BreakerStatistics",
    "CircuitBreaker",
    "DecorrelatedJitter",
    "FullJitter",
    "JitterStrategy",
    "RetryPolicy",
]
