"""Durable workflows: DAGs of steps checkpointed in LMDB, resumed after a crash, with
retries, timeouts, fan-out, cached outputs and dead letters (docs/workflow.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zixir._lazy import attributes

if TYPE_CHECKING:
    from zixir.workflow.context import StepContext
    from zixir.workflow.records import DeadLetter, RunInfo, RunResult, StepRecord
    from zixir.workflow.workflow import Workflow

__all__ = ["DeadLetter", "RunInfo", "RunResult", "StepContext", "StepRecord", "Workflow"]

__getattr__, __dir__ = attributes(
    globals(),
    {
        "DeadLetter": "records",
        "RunInfo": "records",
        "RunResult": "records",
        "StepContext": "context",
        "StepRecord": "records",
        "Workflow": "workflow",
    },
)
