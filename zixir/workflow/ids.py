"""Run and dead-letter ids: generated, unique, and sortable by the time they were made.

An id is the UTC time to the microsecond, then random hex: ``20261122T101500.123456Z-3f9a1c``.
"""

from __future__ import annotations

import itertools
import os
import threading
import time

from zixir.errors import ArgumentTypeError, InvalidArgumentError

__all__ = ["check_id", "new_id"]

_lock = threading.Lock()
_last = 0
_serial = itertools.count()


def new_id() -> str:
    """A new id: later ids sort after earlier ones made in this process.

    Two ids made in the same microsecond get consecutive times (the clock is nudged), so
    the order holds even for ids made faster than the clock ticks.
    """
    global _last
    with _lock:
        now = max(time.time_ns() // 1000, _last + 1)
        _last = now
    seconds, micros = divmod(now, 1_000_000)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(seconds))
    return f"{stamp}.{micros:06d}Z-{os.urandom(3).hex()}"


def check_id(name: str, value: object) -> str:
    """`value` if it can key a run or entry: a non-empty str of at most 200 characters
    without NUL.

    Raises:
        ArgumentTypeError: not a str.
        InvalidArgumentError: empty, too long, or containing NUL.
    """
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{name} must be a str, got {type(value).__name__} {value!r}", name)
    if not value or len(value) > 200 or "\x00" in value:
        raise InvalidArgumentError(f"{name} must be 1 to 200 characters without NUL, got {value!r}", name)
    return value
