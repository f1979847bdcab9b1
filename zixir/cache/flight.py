"""Single flight: concurrent callers computing one missing key wait for the first one.

`Cache.get_or_compute` holds a key's flight while it computes; the flight is forgotten
when its last caller leaves, so the table never grows with the keys ever computed.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Hashable, Iterator

__all__ = ["in_flight", "single_flight"]


class _Flight:
    __slots__ = ("callers", "lock")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.callers = 0


_flights_lock = threading.Lock()
_flights: dict[Hashable, _Flight] = {}


@contextlib.contextmanager
def single_flight(name: Hashable) -> Iterator[None]:
    """Holds `name`'s flight: one caller at a time runs the body, in arrival order."""
    with _flights_lock:
        flight = _flights.get(name)
        if flight is None:
            flight = _flights[name] = _Flight()
        flight.callers += 1
    try:
        with flight.lock:
            yield
    finally:
        with _flights_lock:
            flight.callers -= 1
            if not flight.callers:
                del _flights[name]


def in_flight() -> int:
    """How many keys have a flight now (for tests: zero once every caller is done)."""
    with _flights_lock:
        return len(_flights)
