"""One claimed run between its claim and its end: `Execution.execute` runs it to its end in
one span, records the end and returns the `RunResult`; `abandon` hands it to a later owner.

`Workflow.run` claims and executes in one call; a host (the WorkflowActor) claims in its
own thread, so that a bad call fails at once, and executes on another.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from loguru import logger

from zixir._counters import counter
from zixir.errors import RunOwnedError
from zixir.observability import events
from zixir.tracing._context import CURRENT, SpanContext
from zixir.workflow import lifecycle
from zixir.workflow.dag import Plan
from zixir.workflow.records import RunResult, RunStatus
from zixir.workflow.runner import Runner
from zixir.workflow.store import WorkflowStore
from zixir.workflow.tasks import DONE

__all__ = ["Execution"]

_ENDED = {
    "succeeded": events.WORKFLOW_RUN_SUCCEEDED,
    "failed": events.WORKFLOW_RUN_FAILED,
    "cancelled": events.WORKFLOW_RUN_CANCELLED,
}
_RUNS = counter("zixir_workflow_runs", "Workflow runs ended, by status", ("status",))


class Execution:
    """A claimed run, ready to execute (see the module docstring).

    Attributes:
        workflow: The workflow's name.
        run_id: The run's id.
        generation: The claim's generation.
        kind: "fresh", "resume" or "done" (a succeeded run: `execute` returns its result).
    """

    def __init__(
        self,
        workflow: str,
        plan: Plan,
        store: WorkflowStore,
        claim: lifecycle.Claim,
        run_id: str,
        runner: Runner | None,
        result: RunResult | None,
        bar: Any,
        forget: Callable[[Execution], None],
    ) -> None:
        self.workflow, self.plan, self.store = workflow, plan, store
        self.run_id, self.generation, self.kind = run_id, claim.generation, claim.kind
        self.runner = runner
        self._claim = claim
        self._result = result
        self._bar = bar
        self._forget = forget
        self._parent: SpanContext | None = CURRENT.get()  # the claimer's span: the run's parent
        self._lock = threading.Lock()
        self._released = False

    def execute(self) -> RunResult:
        """Runs the run to its end (in this thread, its steps on its own) and records its end.

        Raises:
            RunOwnedError: another owner took it over meanwhile, or its host abandoned it.
        """
        if self._result is not None:
            return self._result
        runner = self.runner
        assert runner is not None
        from zixir.tracing.spans import start_span  # loaded with the first run

        span = start_span(f"workflow.run {self.workflow}", self._parent, {"run_id": self.run_id})
        runner.trace = span.context()
        token = CURRENT.set(span)
        try:
            logger.info(
                "workflow {workflow} run {run_id} {how} (generation {generation})",
                event=events.WORKFLOW_RUN_STARTED, workflow=self.workflow, run_id=self.run_id, how=self.kind,
                generation=self.generation,
            )  # fmt: skip
            try:
                runner.execute()
            finally:
                self._forget(self)
                if self._bar is not None:
                    self._bar.close()
            status, error = self._finish(runner)
        except BaseException as exc:
            span.record_error(exc)
            raise
        finally:
            self.release()
            CURRENT.reset(token)
            span.set_attribute("status", runner.stopping or "succeeded")
            span.finish()
        _RUNS.labels(status=status).inc()
        logger.log(
            "INFO" if status == "succeeded" else "WARNING",
            "workflow {workflow} run {run_id} {status}{}",
            "" if error is None else f": {error}", event=_ENDED[status], workflow=self.workflow, run_id=self.run_id,
            status=status,
        )  # fmt: skip
        record = dict(self._claim.record, ended=None)
        return lifecycle.result(self.workflow, self.plan, record, runner.states, status, error)

    def _finish(self, runner: Runner) -> tuple[RunStatus, str | None]:
        if runner.stopping in ("stale", "abandoned"):
            raise RunOwnedError(runner.error or f"run {self.run_id!r} was taken over", self.run_id)
        status: RunStatus
        error: str | None
        done = all(s.status in DONE for s in runner.states)
        if runner.stopping == "draining" and not done:
            raise RunOwnedError(
                f"run {self.run_id!r} of workflow {self.workflow!r} was drained: its host stopped after its running "
                "steps committed; it resumes where it stopped when the host (or any owner) runs it again",
                self.run_id,
            )
        if done:
            status, error = "succeeded", None
        else:
            status = "cancelled" if runner.stopping == "cancelled" else "failed"
            error = runner.error or ("cancelled" if status == "cancelled" else None)
        if not lifecycle.finish(self.store, self.workflow, self.run_id, self.generation, status, error):
            raise RunOwnedError(
                f"run {self.run_id!r} of workflow {self.workflow!r} was taken over while it ran", self.run_id
            )
        return status, error

    def drain(self) -> None:
        """Starts no new step; the running ones finish and commit, then `execute` ends (with
        RunOwnedError if steps were left): the run stays unfinished, to be resumed."""
        if self.runner is not None:
            self.runner.drain()

    def abandon(self, why: str) -> None:
        """Gives the run up at once, as if this process had died: no new step starts,
        running steps see ``ctx.cancelled`` and their commits stop once another owner takes
        the run over (which may happen from now on, in this process too). `execute` then
        raises RunOwnedError."""
        if self.runner is not None:
            self.runner.abandon(why)
        self.release()

    def release(self) -> None:
        """This process no longer executes the run (idempotent)."""
        with self._lock:
            if self._released:
                return
            self._released = True
        lifecycle.release(self.store, self.workflow, self.run_id, self.generation)

    def __repr__(self) -> str:
        return f"<Execution {self.workflow}/{self.run_id} ({self.kind}, generation {self.generation})>"
