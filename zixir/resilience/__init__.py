"""Resilience: circuit breakers, retry policies and the backoff schedule they share.

See docs/resilience.md for the guide; `CircuitBreaker` and `RetryPolicy` are the entry points.
Names load on first use, so importing the package (or only its backoff) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    """Imports the module that defines `name` on first use (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
