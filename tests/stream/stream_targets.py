"""Module-level functions a Sandbox worker can import for the stream tests."""

from __future__ import annotations

import os
import time

__all__ = ["nap", "quick_or_hang"]


def nap(seconds: float) -> float:
    """Sleeps `seconds` and returns them."""
    time.sleep(seconds)
    return seconds


def quick_or_hang(fifo: str | None) -> str:
    """Returns at once for None; else writes this worker's pid to the `fifo` and sleeps a minute."""
    if fifo is None:
        return "quick"
    with open(fifo, "w") as f:
        f.write(f"{os.getpid()}\n")
    time.sleep(60)
    return "slept"
