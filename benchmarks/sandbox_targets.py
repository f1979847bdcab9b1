"""The functions the sandbox benchmark runs in worker processes.

Standard library only: a fresh worker imports this module on its first call, and a
benchmark that timed that import (zixir, pebble...) against a 0.3 s limit would be wrong.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

__all__ = ["double", "hog_past", "spin", "spin_past"]

_LEAD = 0.02  # the CPU-bound call notes its time this much before passing the limit


def double(x: int) -> int:
    """The work of a warm call: next to nothing, so the rows time the round trip."""
    return x * 2


def spin() -> None:
    """Burns CPU until killed."""
    while True:
        pass


def spin_past(cpu_seconds: float, stamp: str) -> None:
    """Burns CPU; notes in `stamp` the wall-clock time when it will have burnt `cpu_seconds`."""
    began = time.process_time()
    while time.process_time() - began < cpu_seconds - _LEAD:
        pass
    Path(stamp).write_text(repr(time.time() + _LEAD))  # spinning: CPU time runs at wall speed
    spin()


def hog_past(size: int, stamp: str) -> None:
    """Makes `size` bytes resident (noting the time just before the last 10 MB) and waits."""
    block = b"x" * (size - 10_000_000)  # written, so resident
    Path(stamp).write_text(repr(time.time()))
    more = b"x" * 10_000_000
    threading.Event().wait()
    del block, more
