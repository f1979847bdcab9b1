"""Exponential backoff with jitter: the one schedule behind retry waits and restart delays.

`ExponentialBackoff` grows a delay by a multiplier up to a cap; a `JitterStrategy` varies it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from random import Random
from typing import Protocol, runtime_checkable

from zixir import _validate
from zixir.errors import ArgumentTypeError, InvalidArgumentError

__all__ = [
    "DecorrelatedJitter",
    "ExponentialBackoff",
    "FractionJitter",
    "FullJitter",
    "JitterStrategy",
]


@runtime_checkable
class JitterStrategy(Protocol):
    """Turns the backoff schedule's delay into the delay actually waited."""

    def delay(self, backoff: float, *, previous: float, base: float, cap: float, rng: Random) -> float:
        """The wait before the next attempt.

        Args:
            backoff: The schedule's delay for this retry: ``base * multiplier**n``, capped.
            previous: The previous wait (`base` before the first retry).
            base: The schedule's initial delay.
            cap: The schedule's maximum delay.
            rng: The caller's random source; draw from it only, so a seeded caller repeats.

        Returns:
            Seconds to wait (>= 0).
        """
        ...


@dataclass(frozen=True, slots=True)
class FractionJitter:
    """The backoff delay, plus or minus up to `fraction` of it (``jitter=0.1`` in a policy).

    Args:
        fraction: How far a wait may stray from the schedule, in [0, 1]; 0 draws nothing.

    Raises:
        InvalidArgumentError: `fraction` is not a finite number in [0, 1].
        ArgumentTypeError: `fraction` is not a number.
    """

    fraction: float = 0.1

    def __post_init__(self) -> None:
        _validate.number("jitter", self.fraction, at_least=0, at_most=1)

    def delay(self, backoff: float, *, previous: float, base: float, cap: float, rng: Random) -> float:
        """The backoff times ``1 + uniform(-fraction, fraction)``; see `JitterStrategy.delay`."""
        if not self.fraction:
            return backoff  # draws nothing, so an unjittered schedule leaves the rng alone
        return backoff * (1.0 + rng.uniform(-self.fraction, self.fraction))


@dataclass(frozen=True, slots=True)
class FullJitter:
    """AWS's "full jitter": a uniform wait between 0 and the backoff delay.

    Spreads clients the most; on average waits half the schedule.
    """

    def delay(self, backoff: float, *, previous: float, base: float, cap: float, rng: Random) -> float:
        """A uniform draw from ``[0, backoff]``; see `JitterStrategy.delay`."""
        return rng.uniform(0.0, backoff)


@dataclass(frozen=True, slots=True)
class DecorrelatedJitter:
    """AWS's "decorrelated jitter": ``min(cap, uniform(base, previous * growth))``.

    Each wait grows from the previous wait rather than from the attempt number, so the
    schedule's multiplier does not apply (a retry policy rejects one alongside it).

    Args:
        growth: How much larger than the previous wait the next may be (AWS uses 3).

    Raises:
        InvalidArgumentError: `growth` is below 1, or not finite.
        ArgumentTypeError: `growth` is not a number.
    """

    growth: float = 3.0

    def __post_init__(self) -> None:
        _validate.number("growth", self.growth, at_least=1)

    def delay(self, backoff: float, *, previous: float, base: float, cap: float, rng: Random) -> float:
        """A uniform draw from ``[base, previous * growth]``, capped; see `JitterStrategy.delay`."""
        return min(cap, rng.uniform(base, previous * self.growth))


@dataclass(frozen=True, slots=True)
class ExponentialBackoff:
    """Delays that start at `initial_delay` and grow by `multiplier` up to `max_delay`, jittered.

    The n-th delay (n from 0) is ``min(max_delay, initial_delay * multiplier**n)``, passed
    through `jitter` and floored at 0. Holds no state: callers pass their random source.

    Args:
        initial_delay: Seconds of the first delay (>= 0).
        max_delay: Cap on the delay before jitter (>= `initial_delay`).
        multiplier: Growth per step (>= 1).
        jitter: How each delay is varied; none by default.

    Raises:
        InvalidArgumentError: A number is not finite or out of range, or a
            `DecorrelatedJitter` comes with ``initial_delay=0``.
        ArgumentTypeError: A number is not a number, or `jitter` is not a strategy.
    """

    initial_delay: float
    max_delay: float
    multiplier: float = 2.0
    jitter: JitterStrategy = FractionJitter(0.0)

    def __post_init__(self) -> None:
        initial = _validate.number("initial_delay", self.initial_delay, at_least=0)
        object.__setattr__(self, "initial_delay", initial)
        object.__setattr__(self, "max_delay", _validate.number("max_delay", self.max_delay, at_least=initial))
        object.__setattr__(self, "multiplier", _validate.number("multiplier", self.multiplier, at_least=1))
        if not isinstance(self.jitter, JitterStrategy):
            raise ArgumentTypeError(f"jitter must be a strategy such as FullJitter(), got {self.jitter!r}", "jitter")
        if isinstance(self.jitter, DecorrelatedJitter) and initial == 0:
            raise InvalidArgumentError(
                "DecorrelatedJitter needs initial_delay > 0: it draws waits of at least it", "initial_delay"
            )

    def backoff(self, step: int) -> float:
        """The unjittered delay of step `step` (0 for the first): the schedule, capped."""
        if self.initial_delay == 0:
            return 0.0
        try:
            grown = self.initial_delay * self.multiplier**step
        except OverflowError:  # a long run of steps: the cap was reached long ago
            return self.max_delay
        return min(self.max_delay, grown)

    def delay(self, step: int, rng: Random, previous: float | None = None) -> float:
        """The jittered delay of step `step`.

        Args:
            step: 0 for the first delay.
            rng: The random source the jitter draws from.
            previous: The previous delay, for strategies that grow from it; the initial
                delay if omitted.
        """
        wait = self.jitter.delay(
            self.backoff(step), previous=self.initial_delay if previous is None else previous,
            base=self.initial_delay, cap=self.max_delay, rng=rng,
        )  # fmt: skip
        return max(0.0, wait)

    def delays(self, rng: Random) -> Iterator[float]:
        """The endless schedule of jittered delays, each strategy seeing the previous one."""
        previous = self.initial_delay
        for step in itertools.count():
            previous = self.delay(step, rng, previous)
            yield previous
