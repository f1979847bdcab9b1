"""A run's steps in memory: each step's progress (`StepState`) and the unit a worker runs
(`Task`: a step, or one item of a fan-out step).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zixir import serialization
from zixir.workflow.dag import PlannedStep

__all__ = ["DONE", "StepState", "Task", "load_output"]

#: The statuses a step ends in without failing its run.
DONE = frozenset(("succeeded", "failed_continued", "skipped"))


@dataclass(slots=True, eq=False)
class StepState:
    """A step's progress in this run."""

    status: str = "pending"
    output: Any = None
    record: dict[str, Any] | None = None
    remaining: int = 0  # dependencies whose outcomes are not applied yet
    attempts: int = 0  # attempts already made (a resumed "running" step continues from them)
    ref: Any = None  # a Ray step's output in Ray's object store, for the Ray steps that read it
    # fan-out steps only:
    items: list[Any] | None = None  # outputs by item, fanout.MISSING until done
    item_records: dict[int, dict[str, Any]] = field(default_factory=dict)
    item_attempts: dict[int, int] = field(default_factory=dict)
    left: int = 0
    resolved: bool = False
    arriving: int = 0  # of those, the ones finished and waiting for their commit


@dataclass(slots=True, eq=False)
class Task:
    """A step (or item) to run: its attempts so far and, after a failure, its wait schedule."""

    planned: PlannedStep
    item: int | None = None
    value: Any = None  # the item, for a fan-out item
    attempts: int = 0
    first_start: float | None = None
    schedule: Any = None


def load_output(record: dict[str, Any], allow_pickle: bool) -> Any:
    """A stored record's output (None if it kept none)."""
    raw = record.get("output")
    return None if raw is None else serialization.loads(raw, allow_pickle=allow_pickle)
