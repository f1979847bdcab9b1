"""`StepContext`: what a step that takes a ``ctx`` parameter learns about its attempt."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

__all__ = ["StepContext"]


@dataclass(frozen=True, slots=True)
class StepContext:
    """The attempt a step runs in.

    ``(workflow, run_id, step, item)`` names one execution of a step uniquely and stays
    the same across its retries and resumes: use it as an idempotency key for side
    effects, since a step interrupted before its commit runs again.

    Attributes:
        workflow: The workflow's name.
        run_id: The run's id.
        step: The step's name.
        attempt: This attempt's number, 1 for the first (counted across resumes for steps
            with a retry policy).
        item: The item's index in a fan-out step, else None.
        cancelled: Set when the run is cancelled (from any process) or this attempt passed
            its timeout: a long step should check it and return early.
        logger: A loguru logger bound to the workflow, run, step and attempt.
    """

    workflow: str
    run_id: str
    step: str
    attempt: int
    item: int | None
    cancelled: threading.Event
    logger: Any

    def __repr__(self) -> str:
        where = self.step if self.item is None else f"{self.step}[{self.item}]"
        return f"StepContext({self.workflow}/{self.run_id}: {where}, attempt {self.attempt})"
