"""Observability: opt-in JSON logs, stable event names, Prometheus metrics, and an HTTP
server for metrics, health and spans.

Submodules load on first use: `events` and `logs` are cheap; `metrics` imports
prometheus_client and registers Zixir's collector (so do `serve` and `health`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zixir.observability import events, metrics
    from zixir.observability.logs import configure_logging
    from zixir.observability.server import ObservabilityServer, serve
    from zixir.observability.tree_health import HealthReport, health

__all__ = ["HealthReport", "ObservabilityServer", "configure_logging", "events", "health", "metrics", "serve"]

_SUBMODULES = ("events", "metrics")
_NAMES = {
    "configure_logging": "logs",
    "HealthReport": "tree_health",
    "health": "tree_health",
    "ObservabilityServer": "server",
    "serve": "server",
}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    elif name in _NAMES:
        value = getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
