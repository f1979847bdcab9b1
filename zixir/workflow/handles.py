"""What a `WorkflowActor` hands out: a `RunHandle` per run it executes (the result when the
run ends) and a `ScheduleInfo` per schedule it hosts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from concurrent.futures import Future

from zixir.workflow.records import RunResult

__all__ = ["RunHandle", "ScheduleInfo"]


class RunHandle:
    """A run a `WorkflowActor` executes: its ids now, its result when it ends.

    Attributes:
        workflow: The workflow's name.
        run_id: The run's id.
    """

    __slots__ = ("_future", "run_id", "workflow")

    def __init__(self, workflow: str, run_id: str, future: Future[RunResult]) -> None:
        self.workflow = workflow
        self.run_id = run_id
        self._future = future

    def result(self, timeout: float | None = None) -> RunResult:
        """The run's result, waiting up to `timeout` seconds (None: without limit).

        Raises:
            TimeoutError: the run has not ended in time.
            RunOwnedError: its host exited first (its restart resumes it: ask the new
                actor's `handle`), or another owner took it over.
        """
        return self._future.result(timeout)

    def done(self) -> bool:
        """Whether the run has ended (or its host gave it up)."""
        return self._future.done()

    def __repr__(self) -> str:
        return f"<RunHandle {self.workflow}/{self.run_id} {'done' if self.done() else 'running'}>"


@dataclasses.dataclass(frozen=True, slots=True)
class ScheduleInfo:
    """A hosted schedule's state.

    Attributes:
        workflow: The workflow's name.
        schedule: The schedule's name.
        running: The run id of its tick running now, or None.
        pending: Ticks waiting for it (``overlap="queue"``).
        next_tick: When its next tick falls due (UTC), or None if its cron never matches again.
    """

    workflow: str
    schedule: str
    running: str | None
    pending: int
    next_tick: dt.datetime | None
