"""``zixir demo``: a supervised agentic pipeline with injected faults, and ``zixir tour``."""

from __future__ import annotations

__all__: list[str] = []
