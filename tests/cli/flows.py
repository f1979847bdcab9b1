"""The application code that tests/cli inspects: a workflow with a step that fails until
told not to, and one whose outputs need pickle."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zixir import Workflow, serialization

#: While true, the step "flaky" fails (and leaves a dead letter).
FAILING = {"flaky": True}


@serialization.register
@dataclass(frozen=True)
class Point:
    """A registered dataclass stored as a step's output."""

    x: int
    y: int


class Opaque:
    """A value only pickle stores."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Opaque({self.value})"


def etl(store: Any) -> Workflow:
    """load -> double and square (a fan-out over load's items) -> flaky."""
    wf = Workflow("etl", store=store, inputs=("n",))

    @wf.step()
    def load(n: int) -> list[int]:
        return list(range(n))

    @wf.step()
    def double(load: list[int]) -> Point:
        return Point(sum(load), 2 * sum(load))

    @wf.step(map_over="load")
    def square(load: int) -> int:
        return load * load

    @wf.step()
    def flaky(double: Point, square: list[int]) -> int:  # after square: every run records it whole
        if FAILING["flaky"]:
            raise RuntimeError("the API is down")
        return double.x + double.y

    return wf


def pickled(store: Any) -> Workflow:
    """One step whose output only pickle stores."""
    wf = Workflow("pickled", store=store, allow_pickle=True)

    @wf.step()
    def make() -> Opaque:
        return Opaque(7)

    return wf


def workflows(app: Any) -> list[Workflow]:
    """The application's workflows, with their stores where `zixir workflow` looks."""
    return [etl(app.path("workflows", "etl")), pickled(app.path("workflows", "pickled"))]
