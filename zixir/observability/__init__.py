"""Observability: opt-in JSON logs, Prometheus metrics, and an HTTP server for both and health."""

from __future__ import annotations

from zixir.observability import metrics
from zixir.observability.health import HealthReport, health
from zixir.observability.logs import configure_logging
from zixir.observability.server import ObservabilityServer, serve

__all__ = ["HealthReport", "ObservabilityServer", "configure_logging", "health", "metrics", "serve"]
