"""`RestartBackoff`: how long a supervisor waits before restarting a child that keeps crashing.

Its own module, so that supervisors without a backoff never load the schedule or `random`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from zixir import _validate
from zixir.errors import ArgumentTypeError, InvalidArgumentError
from zixir.resilience.backoff import ExponentialBackoff, FractionJitter

__all__ = ["RestartBackoff"]


@dataclass(frozen=True, slots=True)
class RestartBackoff:
    """Exponential delay between restarts of the same child (Akka's BackoffSupervisor).

    The n-th consecutive restart waits ``min(max_delay, initial_delay * multiplier**n)``,
    varied by ±`jitter` (a fraction): the schedule of `zixir.resilience.ExponentialBackoff`
    with a `FractionJitter`, as a `RetryPolicy` computes its waits. A child that has run for
    `reset_after` seconds since its last start counts as healthy again: its next restart
    waits `initial_delay`.

    Raises:
        InvalidArgumentError: a NaN or infinite number, a negative delay, a `max_delay`
            below `initial_delay`, a multiplier below 1, or jitter outside [0, 1) (a
            ValueError; ``.argument`` names the argument).
        ArgumentTypeError: a number that is not an int or float, or a `random` that is not
            a ``random.Random`` (a TypeError).
    """

    initial_delay: float = 0.1
    max_delay: float = 10.0
    multiplier: float = 2.0
    jitter: float = 0.1
    reset_after: float = 30.0
    random: random.Random = field(default_factory=random.Random, compare=False, repr=False)
    _schedule: ExponentialBackoff = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        fraction = _validate.number("jitter", self.jitter, at_least=0)
        if fraction >= 1:
            raise InvalidArgumentError(
                f"RestartBackoff jitter must be a fraction in [0, 1), got {self.jitter}", "jitter"
            )
        _validate.number("reset_after", self.reset_after, at_least=0)
        if not isinstance(self.random, random.Random):
            raise ArgumentTypeError(f"random must be a random.Random, got {self.random!r}", "random")
        schedule = ExponentialBackoff(self.initial_delay, self.max_delay, self.multiplier, FractionJitter(fraction))
        object.__setattr__(self, "_schedule", schedule)

    def delay(self, attempt: int) -> float:
        """Seconds to wait before restart number `attempt` (0 for the first)."""
        return self._schedule.delay(attempt, self.random)
