"""The sandbox's counters, created when the first pool is made, never at import.

Shared by every sandbox in the process: calls by how they ended and how long they took,
and workers replaced.
"""

from __future__ import annotations

import threading
from typing import Any

from zixir._counters import counter, histogram

__all__ = ["DURATION_BUCKETS", "Metrics", "shared"]

#: Seconds, from a millisecond (a warm call's round trip) to ten minutes (batch work).
DURATION_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    600.0,
)


class Metrics:
    """``zixir_sandbox_calls_total{reason}``, ``zixir_sandbox_call_duration_seconds{reason}``
    and ``zixir_sandbox_workers_replaced_total``."""

    def __init__(self) -> None:
        self.calls = counter("zixir_sandbox_calls", "Sandboxed calls, by how they ended", ("reason",))
        self.durations = histogram(
            "zixir_sandbox_call_duration_seconds",
            "Seconds from sending a sandboxed call to its result, by how it ended",
            ("reason",),
            DURATION_BUCKETS,
        )
        self.replaced = counter("zixir_sandbox_workers_replaced", "Sandbox workers retired and replaced", ())
        # One entry per reason, "ok" included: bounded. labels() costs microseconds: looked up once.
        self._by_reason: dict[str, tuple[Any, Any]] = {}

    def count_call(self, reason: str, duration: float) -> None:
        """Counts a finished call under its reason (``"ok"`` for a success), and its duration."""
        series = self._by_reason.get(reason)
        if series is None:
            series = self._by_reason.setdefault(reason, (self.calls.labels(reason), self.durations.labels(reason)))
        series[0].inc()
        series[1].observe(duration)


_shared: Metrics | None = None
_lock = threading.Lock()


def shared() -> Metrics:
    """The process's counters, created on the first call."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = Metrics()
        return _shared
