"""Argument checks and metric helpers shared by the circuit breaker and the retry policy.

Private to `zixir.resilience`: each check returns the value it accepts, or raises.
"""

from __future__ import annotations


import math
from collections.abc import Callable
from typing import cast


__all__ = ["_error_filter", "_number", "_whole"]


def _number(name: str, value: object, *, above: float | None = None,
            at_least: float | None = None, at_most: float | None = None) -> float:
    """Checks that `value` is a finite number within the given bounds.

    Args:
        name: The argument's name, for error messages.
        value: The value to check; bools are refused.
        above: A strict lower bound, if any.
        at_least: An inclusive lower bound, if any.
        at_most: An inclusive upper bound, if any.

    Returns:
        `value` as a float.

    Raises:
        TypeError: `value` is not an int or a float.
        ValueError: `value` is not finite, or is out of bounds.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    checks = [(above, "> ", value > (above or 0)), (at_least, ">= ", value >= (at_least or 0)),
              (at_most, "<= ", value <= (at_most or 0))]
    if not math.isfinite(value) or not all(ok for bound, _, ok in checks if bound is not None):
        bounds = " and ".join(f"{op}{bound}" for bound, op, _ in checks if bound is not None)
        raise ValueError(f"{name} must be a finite number {bounds}, got {value!r}")
    return float(value)


def _whole(name: str, value: object, *, at_least: int = 1) -> int:
    """Checks that `value` is an int of at least `at_least`.

    Args:
        name: The argument's name, for error messages.
        value: The value to check; bools are refused.
        at_least: The inclusive lower bound.

    Returns:
        `value`, unchanged.

    Raises:
        TypeError: `value` is not an int.
        ValueError: `value` is below `at_least`.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < at_least:
        raise ValueError(f"{name} must be an int >= {at_least}, got {value!r}")
    return value


def _error_filter(name: str, value: object) -> Callable[[Exception], bool]:
    """Builds a predicate on exceptions from exception types or from a predicate.

    Args:
        name: The argument's name, for error messages.
        value: An Exception subclass, a tuple or list of them, or a predicate on the exception.

    Returns:
        A predicate that is True for the exceptions `value` selects.

    Raises:
        TypeError: `value` holds something other than an Exception subclass (interrupts such as
            KeyboardInterrupt included), or is neither types nor callable.
    """
    if isinstance(value, type):
        value = (value,)
    if isinstance(value, (tuple, list)):
        for kind in value:
            if not (isinstance(kind, type) and issubclass(kind, Exception)):
                raise TypeError(
                    f"{name} must hold Exception subclasses, got {kind!r}; interrupts such as "
                    "KeyboardInterrupt are never counted or retried"
                )
        kinds = tuple(value)
        return lambda error: isinstance(error, kinds)
    if callable(value):
        return cast(Callable[[Exception], bool], value)
    raise TypeError(f"{name} must be exception types or a predicate on the exception, "
                    f"got {value!r}")
