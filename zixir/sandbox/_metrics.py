"""The sandbox's counters, created when the first pool is made, never at import.

Shared by every sandbox in the process: calls by how they ended, and workers replaced.
"""

from __future__ import annotations

import threading
from typing import Any

from zixir._counters import counter

__all__ = ["Metrics", "shared"]


class Metrics:
    """``zixir_sandbox_calls_total{reason}`` and ``zixir_sandbox_workers_replaced_total``."""

    def __init__(self) -> None:
        self.calls = counter("zixir_sandbox_calls", "Sandboxed calls, by how they ended", ("reason",))
        self.replaced = counter("zixir_sandbox_workers_replaced", "Sandbox workers retired and replaced", ())
        self._by_reason: dict[str, Any] = {}  # one entry per reason, "ok" included: bounded

    def count_call(self, reason: str) -> None:
        """Counts a finished call under its reason (``"ok"`` for a success)."""
        counted_as = self._by_reason.get(reason)
        if counted_as is None:  # labels() costs microseconds: look it up once
            counted_as = self._by_reason.setdefault(reason, self.calls.labels(reason))
        counted_as.inc()


_shared: Metrics | None = None
_lock = threading.Lock()


def shared() -> Metrics:
    """The process's counters, created on the first call."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = Metrics()
        return _shared
