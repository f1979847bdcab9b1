"""When a circuit breaker opens: consecutive failures, or a failure rate over recent calls.

`FailureCount` keeps the counts a `CircuitBreaker` decides on; the breaker holds its lock.
"""

from __future__ import annotations

from collections import deque

from zixir import _validate
from zixir.errors import InvalidArgumentError

__all__ = ["FailureCount"]


class FailureCount:
    """Counts a closed breaker's outcomes and says when they should open it.

    Not thread-safe on its own: the breaker calls it under its lock.

    Args:
        failure_threshold: Consecutive failures that trip; None to trip on the rate only.
        failure_rate: The failure fraction (0 < rate <= 1) over the window that trips; None
            to count consecutive failures only.
        window: How many recent calls the rate is taken over (20 by default).
        minimum_calls: Calls the window needs before the rate can trip (the window size by
            default).

    Raises:
        ArgumentTypeError: A count or the rate is not a number of the right kind.
        InvalidArgumentError: A value is out of range, window options lack `failure_rate`,
            or neither a threshold nor a rate is given.
    """

    __slots__ = (
        "_minimum_calls",
        "_outcomes",
        "_rate",
        "_threshold",
        "_window_failures",
        "_window_size",
        "consecutive",
    )

    def __init__(
        self, failure_threshold: int | None, failure_rate: float | None, window: int | None, minimum_calls: int | None
    ) -> None:
        self._threshold = None if failure_threshold is None else _validate.whole("failure_threshold", failure_threshold)
        self._rate: float | None = None
        self._window_size = self._minimum_calls = 0
        if failure_rate is None:
            if window is not None or minimum_calls is not None:
                raise InvalidArgumentError(
                    "window and minimum_calls apply to the failure rate: pass failure_rate too",
                    "window" if window is not None else "minimum_calls",
                )
            if self._threshold is None:
                raise InvalidArgumentError(
                    "failure_threshold=None needs failure_rate, or the breaker could never open", "failure_threshold"
                )
        else:
            self._rate = _validate.number("failure_rate", failure_rate, above=0, at_most=1)
            self._window_size = 20 if window is None else _validate.whole("window", window)
            self._minimum_calls = (
                self._window_size if minimum_calls is None else _validate.whole("minimum_calls", minimum_calls)
            )
            if self._minimum_calls > self._window_size:
                raise InvalidArgumentError(
                    f"minimum_calls={minimum_calls} cannot exceed window={self._window_size}; "
                    "lower minimum_calls or widen the window",
                    "minimum_calls",
                )
        #: Failures since the last success.
        self.consecutive = 0
        self._outcomes: deque[bool] = deque()  # the rate window, True for a failure
        self._window_failures = 0

    def succeeded(self) -> None:
        """Records a closed breaker's success."""
        self.consecutive = 0
        if self._rate is not None:
            self._record(False)

    def failed(self) -> bool:
        """Records a closed breaker's failure; True when the breaker should open."""
        self.consecutive += 1
        if self._rate is not None:
            self._record(True)
        if self._threshold is not None and self.consecutive >= self._threshold:
            return True
        return (
            self._rate is not None
            and len(self._outcomes) >= self._minimum_calls
            and self._window_failures / len(self._outcomes) >= self._rate
        )

    def clear_window(self) -> None:
        """Forgets the rate window (the breaker opened: its calls start a new window later)."""
        self._outcomes.clear()
        self._window_failures = 0

    def clear(self) -> None:
        """Forgets everything (the breaker closed)."""
        self.consecutive = 0
        self.clear_window()

    def _record(self, failed: bool) -> None:
        self._outcomes.append(failed)
        self._window_failures += failed
        if len(self._outcomes) > self._window_size:  # bounded: the window's size
            self._window_failures -= self._outcomes.popleft()
