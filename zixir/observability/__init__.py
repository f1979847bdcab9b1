"""Observability: logs now; spans and metrics join them here."""

from __future__ import annotations

from zixir.observability.logs import configure_logging

__all__ = ["configure_logging"]
