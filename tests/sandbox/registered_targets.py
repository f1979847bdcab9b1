"""Functions whose results need zixir.serialization: a registered dataclass, zixir errors."""

from __future__ import annotations

from dataclasses import dataclass

from zixir.errors import CircuitOpenError
from zixir.serialization import register

__all__ = ["Point", "make_point", "raise_circuit_open"]


@register(name="tests.sandbox.point")
@dataclass(frozen=True)
class Point:
    x: int
    y: int


def make_point(x: int, y: int) -> Point:
    return Point(x, y)


def raise_circuit_open() -> None:
    error = CircuitOpenError("the llm breaker is open", "llm", 12.5)
    error.add_note("while scoring")
    raise error
