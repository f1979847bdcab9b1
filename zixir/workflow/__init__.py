"""Durable workflows: DAGs of steps checkpointed in LMDB, resumed after a crash, with
retries, timeouts, fan-out, cached outputs and dead letters (docs/workflow.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zixir._lazy import attributes

if TYPE_CHECKING:
    from zixir.workflow.actor import WorkflowActor
    from zixir.workflow.context import StepContext
    from zixir.workflow.handles import RunHandle, ScheduleInfo
    from zixir.workflow.records import DeadLetter, RunInfo, RunResult, StepRecord
    from zixir.workflow.workflow import Workflow

__all__ = [
    "DeadLetter",
    "RunHandle",
    "RunInfo",
    "RunResult",
    "ScheduleInfo",
    "StepContext",
    "StepRecord",
    "Workflow",
    "WorkflowActor",
]

__getattr__, __dir__ = attributes(
    globals(),
    {
        "DeadLetter": "records",
        "RunHandle": "handles",
        "RunInfo": "records",
        "RunResult": "records",
        "ScheduleInfo": "handles",
        "StepContext": "context",
        "StepRecord": "records",
        "Workflow": "workflow",
        "WorkflowActor": "actor",
    },
)
