"""Sync generators for stages that cannot be fused: time-bounded batches and windows,
which read upstream in a thread so that a batch leaves on time while the source blocks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from zixir.stream.buffer import _END, Pump
from zixir.stream.run import Run
from zixir.stream.stats import Tally

__all__ = ["timed_batches"]


def timed_batches(
    up: Iterator[Any], size: int, within: float, tally: Tally, run: Run, *, windowed: bool = False
) -> Iterator[list[Any]]:
    """Batches of `size` items, each passed on at most `within` seconds after its first item
    (or, `windowed`, at the end of each `within`-long window that received an item)."""
    pump = Pump(up, 1, "block", tally, run, tally.name)
    clock = time.monotonic
    batch: list[Any] = []
    deadline = clock() + within if windowed else None
    try:
        while True:
            timeout = None if deadline is None else max(0.0, deadline - clock())
            try:
                item = pump.get(timeout)
            except TimeoutError:
                if batch:
                    yield batch
                    batch = []
                deadline = clock() + within if windowed else None
                continue
            if item is _END:
                break
            if not batch and not windowed:
                deadline = clock() + within
            batch.append(item)
            if len(batch) >= size:
                yield batch
                batch = []
                if not windowed:
                    deadline = None
        if batch:
            yield batch
    finally:
        pump.close()
