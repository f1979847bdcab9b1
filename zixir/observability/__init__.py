"""Observability: opt-in JSON logs and Prometheus metrics."""

from __future__ import annotations

from zixir.observability import metrics
from zixir.observability.logs import configure_logging

__all__ = ["configure_logging", "metrics"]
