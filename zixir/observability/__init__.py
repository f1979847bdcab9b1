"""Observability: opt-in JSON logs, stable event names, and Prometheus metrics.

Submodules load on first use: `events` and `logs` are cheap; `metrics` imports
prometheus_client and registers Zixir's collector.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zixir.observability import events, metrics
    from zixir.observability.logs import configure_logging

__all__ = ["configure_logging", "events", "metrics"]

_SUBMODULES = ("events", "metrics")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    elif name == "configure_logging":
        value = importlib.import_module(f"{__name__}.logs").configure_logging
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
