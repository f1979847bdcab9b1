"""What a workflow run reports: per-step records, the run's result, its summary, dead letters.

All are frozen dataclasses built from the store's records; none holds a live object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["DeadLetter", "RunInfo", "RunResult", "RunStatus", "StepRecord", "StepStatus"]

#: A step's state in a run. "running" means an attempt started and none has ended since.
StepStatus = Literal["pending", "running", "succeeded", "failed", "failed_continued", "skipped"]
#: A run's state. "running" only while an owner executes it (or crashed while it did).
RunStatus = Literal["running", "succeeded", "failed", "cancelled"]


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One step of a run (or one item of a fan-out step).

    Attributes:
        step: The step's name.
        status: Its state (see `StepStatus`).
        attempts: Attempts made, across resumes; 0 if its output came from the cache.
        start: Wall-clock time (``time.time()``) its last attempt started, or None.
        end: Wall-clock time it ended, or None.
        error: ``"TypeName: message"`` of its last failure, or None.
        traceback: That failure's traceback text, or None.
        item: The item's index for one item of a fan-out step, else None.
        cached: Its output was reused from an earlier run (``cache_ttl``).
        items: The records of a fan-out step's items, in order.
    """

    step: str
    status: StepStatus
    attempts: int = 0
    start: float | None = None
    end: float | None = None
    error: str | None = None
    traceback: str | None = None
    item: int | None = None
    cached: bool = False
    items: tuple[StepRecord, ...] = ()

    def __repr__(self) -> str:
        where = self.step if self.item is None else f"{self.step}[{self.item}]"
        tail = f", error={self.error!r}" if self.error else ""
        return f"StepRecord({where}: {self.status}, attempts={self.attempts}{tail})"


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of a run.

    Attributes:
        workflow: The workflow's name.
        run_id: The run's id.
        status: "succeeded", "failed" or "cancelled" once it ended ("running" from
            `Workflow.status` while it runs, or if its owner died).
        outputs: Each step that produced an output (succeeded, or failed and continued with
            its fallback) -> that output. Skipped steps have none.
        steps: Each step's record, in the order the steps were defined.
        created: Wall-clock time the run was first started.
        ended: Wall-clock time it last ended, or None.
        error: Why it failed or stopped (the failing step and its error), or None.
    """

    workflow: str
    run_id: str
    status: RunStatus
    outputs: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, StepRecord] = field(default_factory=dict)
    created: float = 0.0
    ended: float | None = None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        """Whether the run succeeded."""
        return self.status == "succeeded"

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for record in self.steps.values():
            counts[record.status] = counts.get(record.status, 0) + 1
        shown = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        tail = f", error={self.error!r}" if self.error else ""
        return f"RunResult({self.workflow}/{self.run_id}: {self.status}; steps: {shown}{tail})"


@dataclass(frozen=True, slots=True)
class RunInfo:
    """A run's summary, as `Workflow.runs` lists it.

    Attributes:
        run_id: The run's id.
        status: Its state (see `RunStatus`).
        created: Wall-clock time it was first started.
        ended: Wall-clock time it last ended, or None.
        owner: ``"host:pid"`` of the process running it, or None.
        generation: How many times it was started or resumed.
        error: Why it failed or stopped, or None.
    """

    run_id: str
    status: RunStatus
    created: float
    ended: float | None
    owner: str | None
    generation: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A step (or fan-out item) that failed for good.

    Attributes:
        entry_id: The entry's id (sortable by time).
        workflow: The workflow's name.
        run_id: The run it failed in.
        step: The step's name.
        item: The fan-out item's index, or None.
        inputs: The checkpoints its arguments came from: the names of the steps it reads.
        error_type: The qualified type name of the last error.
        message: The last error's message.
        traceback: The last error's traceback text.
        attempts: Attempts made.
        time: Wall-clock time of the failure.
        replayed: Wall-clock time it was replayed, or None.
    """

    entry_id: str
    workflow: str
    run_id: str
    step: str
    item: int | None
    inputs: tuple[str, ...]
    error_type: str
    message: str
    traceback: str
    attempts: int
    time: float
    replayed: float | None = None
