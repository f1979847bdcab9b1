"""Named counts shared by the demo's threads and actors, read live by its progress lines."""

from __future__ import annotations

import threading
from collections import Counter

__all__ = ["Counts"]


class Counts:
    """Thread-safe named counts (a fixed, small set of names) and maxima."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, name: str, n: int = 1) -> None:
        """Adds `n` to the count `name`."""
        with self._lock:
            self._counts[name] += n

    def at_least(self, name: str, value: int) -> None:
        """Raises the count `name` to `value` if it is below (a maximum)."""
        with self._lock:
            if self._counts[name] < value:
                self._counts[name] = value

    def snapshot(self) -> dict[str, int]:
        """A copy of every count."""
        with self._lock:
            return dict(self._counts)

    def __getitem__(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def __repr__(self) -> str:
        return f"Counts({self.snapshot()})"
