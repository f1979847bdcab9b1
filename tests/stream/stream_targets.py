"""Module-level functions a Sandbox worker can import for the stream tests."""

from __future__ import annotations

import os
import time

__all__ = ["nap", "pid_then_sleep"]


def nap(seconds: float) -> float:
    """Sleeps `seconds` and returns them."""
    time.sleep(seconds)
    return seconds


def pid_then_sleep(path: str) -> None:
    """Writes this worker's pid to `path`, then sleeps a minute."""
    with open(path, "w") as f:
        f.write(str(os.getpid()))
    time.sleep(60)
