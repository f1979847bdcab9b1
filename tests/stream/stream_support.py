"""Thread-leak checks for stream tests: a run's threads end once their in-flight item returns."""

from __future__ import annotations

import threading
import time

WAIT = 5.0


def stream_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("zixir-stream")]


def wait_for_no_stream_threads(timeout: float = WAIT) -> bool:
    """Joins every stream thread with a deadline (a join, not a sleep)."""
    deadline = time.monotonic() + timeout
    for thread in stream_threads():
        thread.join(max(0.0, deadline - time.monotonic()))
    return not stream_threads()
