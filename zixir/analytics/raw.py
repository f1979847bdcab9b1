"""An experiment's raw events: each `record` call kept as it came, in the experiment's
cache, bounded by a count and optionally by an age.

Events are stored one key each under sequence numbers, with a small head record (the
oldest kept and the next number); every append drops what the bounds no longer allow, in
the same write transaction, so the store never holds more than `limit` events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_RAW_EVENTS", "RawEvent", "append", "read"]

#: The largest `events` setting an experiment accepts.
MAX_RAW_EVENTS = 10_000_000


@dataclass(frozen=True, slots=True)
class RawEvent:
    """One recorded outcome.

    Attributes:
        at: Wall-clock seconds when it was recorded.
        unit: The unit id.
        variant: The unit's variant.
        metric: The metric's name.
        value: The value added.
        counted: False when the unit was excluded (its bucket moved), so the value is
            not in the sums.
    """

    at: float
    unit: str
    variant: str
    metric: str
    value: float
    counted: bool


def _key(prefix: str, seq: int) -> str:
    return f"{prefix}ev/{seq:020d}"


def append(txn: Any, prefix: str, event: RawEvent, limit: int, retention: float | None) -> None:
    """Stores `event` and drops the oldest beyond `limit` or older than `retention` seconds."""
    head, nxt = txn.get(prefix + "ev", [0, 0])
    txn.put(_key(prefix, nxt), [event.at, event.unit, event.variant, event.metric, event.value, event.counted])
    nxt += 1
    while nxt - head > limit:
        txn.delete(_key(prefix, head))
        head += 1
    if retention is not None:
        horizon = event.at - retention
        while head < nxt:
            stored = txn.get(_key(prefix, head))
            if stored is not None and stored[0] >= horizon:
                break
            txn.delete(_key(prefix, head))
            head += 1
    txn.put(prefix + "ev", [head, nxt])


def read(txn: Any, prefix: str, now: float, retention: float | None, metric: str | None) -> list[RawEvent]:
    """The kept events, oldest first (those past `retention` at `now` left out)."""
    head, nxt = txn.get(prefix + "ev", [0, 0])
    horizon = None if retention is None else now - retention
    found = []
    for seq in range(head, nxt):
        stored = txn.get(_key(prefix, seq))
        if stored is None or (horizon is not None and stored[0] < horizon):
            continue
        event = RawEvent(float(stored[0]), str(stored[1]), str(stored[2]), str(stored[3]), float(stored[4]),
                      bool(stored[5]))  # fmt: skip
        if metric is None or event.metric == metric:
            found.append(event)
    return found
