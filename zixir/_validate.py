"""Argument checks shared by every public constructor (supervision, resilience, cache, sandbox).

Each check returns the value it accepts, or raises the typed error that names the argument.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar, cast

from zixir.errors import ArgumentTypeError, InvalidArgumentError

__all__ = ["error_filter", "function", "number", "optional_number", "whole"]

T = TypeVar("T")


def number(
    name: str,
    value: object,
    *,
    above: float | None = None,
    at_least: float | None = None,
    at_most: float | None = None,
) -> float:
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
        ArgumentTypeError: `value` is not an int or a float.
        InvalidArgumentError: `value` is not finite, or is out of bounds.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentTypeError(f"{name} must be a number, got {value!r}", name)
    checks = [
        (above, "> ", value > (above or 0)),
        (at_least, ">= ", value >= (at_least or 0)),
        (at_most, "<= ", value <= (at_most or 0)),
    ]
    if not math.isfinite(value) or not all(ok for bound, _, ok in checks if bound is not None):
        bounds = " and ".join(f"{op}{bound}" for bound, op, _ in checks if bound is not None)
        raise InvalidArgumentError(f"{name} must be a finite number {bounds}, got {value!r}", name)
    return float(value)


def whole(name: str, value: object, *, at_least: int = 1) -> int:
    """Checks that `value` is an int of at least `at_least`.

    Args:
        name: The argument's name, for error messages.
        value: The value to check; bools are refused.
        at_least: The inclusive lower bound.

    Returns:
        `value`, unchanged.

    Raises:
        ArgumentTypeError: `value` is not an int.
        InvalidArgumentError: `value` is below `at_least`.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentTypeError(f"{name} must be an int, got {value!r}", name)
    if value < at_least:
        raise InvalidArgumentError(f"{name} must be an int >= {at_least}, got {value!r}", name)
    return value


def error_filter(name: str, value: object) -> Callable[[Exception], bool]:
    """Builds a predicate on exceptions from exception types or from a predicate.

    Args:
        name: The argument's name, for error messages.
        value: An Exception subclass, a tuple or list of them, or a predicate on the exception.

    Returns:
        A predicate that is True for the exceptions `value` selects.

    Raises:
        ArgumentTypeError: `value` holds something other than an Exception subclass (interrupts such as
            KeyboardInterrupt included), or is neither types nor callable.
    """
    if isinstance(value, type):
        value = (value,)
    if isinstance(value, (tuple, list)):
        for kind in value:
            if not (isinstance(kind, type) and issubclass(kind, Exception)):
                raise ArgumentTypeError(
                    f"{name} must hold Exception subclasses, got {kind!r}; interrupts such as "
                    "KeyboardInterrupt are never counted or retried",
                    name,
                )
        kinds = tuple(value)
        return lambda error: isinstance(error, kinds)
    if callable(value):
        return cast(Callable[[Exception], bool], value)
    raise ArgumentTypeError(f"{name} must be exception types or a predicate on the exception, got {value!r}", name)


def optional_number(
    name: str,
    value: object,
    *,
    above: float | None = None,
    at_least: float | None = None,
    at_most: float | None = None,
) -> float | None:
    """Like `number`, but None passes through (an optional limit left off).

    Raises:
        ArgumentTypeError: `value` is neither None nor a number.
        InvalidArgumentError: `value` is not finite, or is out of bounds.
    """
    if value is None:
        return None
    return number(name, value, above=above, at_least=at_least, at_most=at_most)


def function(name: str, value: T, expected: str = "callable") -> T:
    """Checks that `value` is callable (a clock, a sleep, a predicate...).

    Args:
        name: The argument's name, for error messages.
        value: The value to check.
        expected: What the argument must be, for the message: "clock must be <expected>".

    Returns:
        `value`, unchanged.

    Raises:
        ArgumentTypeError: `value` is not callable.
    """
    if not callable(value):
        raise ArgumentTypeError(f"{name} must be {expected}, got {value!r}", name)
    return value
