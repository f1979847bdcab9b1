"""A step's attempts: skip rules, condition, cache, the call itself, and what a failure
leads to (a retry parked until due, or the step's end with its dead letter).
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loguru import logger

from zixir import serialization
from zixir._counters import HistogramChild, counter, histogram
from zixir.errors import CircuitOpenError, SerializationError
from zixir.observability import events
from zixir.tracing._context import CURRENT
from zixir.tracing.spans import start_span
from zixir.workflow.context import StepContext
from zixir.workflow.dag import STEP, PlannedStep
from zixir.workflow.executors import AttemptFailed, Executors
from zixir.workflow.outcomes import StepOutcome, cache_digest, dead_letter, describe, encode_output, step_record
from zixir.workflow.runner import Runner
from zixir.workflow.store import pack, unpack
from zixir.workflow.tasks import Task

if TYPE_CHECKING:
    from zixir.ray.steps import Finished
    from zixir.tracing.spans import Span

__all__ = ["Attempts"]

_STEPS = counter("zixir_workflow_steps", "Workflow step transitions, by status", ("status",))
_BY_STATUS = {
    status: _STEPS.labels(status=status)
    for status in ("succeeded", "failed", "failed_continued", "skipped", "retrying", "cached")
}
#: The step duration histogram's buckets (seconds): a trivial step takes microseconds, an
#: ETL step seconds to an hour.
DURATION_BUCKETS = (0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
_DURATION = histogram(
    "zixir_workflow_step_duration_seconds",
    "Seconds a workflow step's attempt took (its function ran), by workflow and step",
    ("workflow", "step"),
    DURATION_BUCKETS,
)
_GAVE_UP = {"failed": events.WORKFLOW_STEP_FAILED, "failed_continued": events.WORKFLOW_STEP_FAILED_CONTINUED}
_RAN = frozenset(("succeeded", "failed", "failed_continued"))
#: What `_attempt` returns for an attempt sent to Ray: its end comes later (`ray_finished`).
_SUBMITTED: list[StepOutcome] = []


@dataclass(slots=True, eq=False)
class _OnRay:
    """An attempt in flight on Ray: what its end needs."""

    runner: Runner
    task: Task
    span: Span
    ran: int  # the task's attempts before this one
    attempt: int
    start: float
    cache_key: bytes | None


class Attempts:
    """Runs steps' attempts for one workflow (shared by its runs).

    Args:
        workflow: The workflow's name.
        executors: Where attempts run.
        allow_pickle: Whether outputs may be pickled.
    """

    def __init__(self, workflow: str, executors: Executors, allow_pickle: bool) -> None:
        self.workflow = workflow
        self.executors = executors
        self.allow_pickle = allow_pickle
        self._durations: dict[str, HistogramChild] = {}  # by step: one label lookup per step

    def encode(self, planned: PlannedStep, value: Any) -> bytes:
        return encode_output(planned.spec.name, value, self.allow_pickle)

    def skipped(self, runner: Runner, planned: PlannedStep) -> StepOutcome | None:
        """The step's "skipped" outcome if a dependency was skipped and it does not opt in."""
        if not planned.deps or planned.spec.allow_skipped:
            return None
        states = runner.states
        if any(states[d].status == "skipped" for d in planned.deps):
            return self._skipped(runner, planned, "a dependency was skipped")
        return None

    def _skipped(self, runner: Runner, planned: PlannedStep, why: str) -> StepOutcome:
        _BY_STATUS["skipped"].inc()
        logger.info(
            "workflow {workflow} run {run_id}: step {step} skipped ({why})",
            event=events.WORKFLOW_STEP_SKIPPED, workflow=self.workflow, run_id=runner.run_id, step=planned.spec.name,
            why=why,
        )  # fmt: skip
        key = runner.store.step_key(self.workflow, runner.run_id, planned.spec.name)
        return StepOutcome(planned, None, "skipped", None, step_record("skipped", 0, None), key)

    def run(self, runner: Runner, task: Task) -> list[StepOutcome] | None:
        """One attempt of `task` in its span (``workflow.step <step>``, child of the run's):
        its outcomes to commit, or None when it waits for a retry, runs on Ray (its end is
        committed by `ray_finished`), or the run was taken over."""
        spec = task.planned.spec
        attributes: dict[str, object] = {"run_id": runner.run_id, "step": spec.name, "attempt": task.attempts + 1}
        if task.item is not None:
            attributes["item"] = task.item
        span = start_span(spec.span_name, runner.trace, attributes)
        token = CURRENT.set(span)
        ran = task.attempts
        try:
            outcomes = self._attempt(runner, task, span, ran)
        except BaseException as exc:
            span.record_error(exc)
            raise
        finally:
            CURRENT.reset(token)
        if outcomes is _SUBMITTED:
            return None
        self._end(span, task, ran, outcomes)
        return outcomes

    def _end(self, span: Span, task: Task, ran: int, outcomes: list[StepOutcome] | None) -> None:
        """Finishes an attempt's span with its status, and times the attempt."""
        spec = task.planned.spec
        if outcomes is None:
            status = "retrying" if task.attempts > ran else "interrupted"
            if status == "retrying":
                span.status = "error"
        else:
            record = outcomes[0].record
            status = "cached" if record.get("cached") else outcomes[0].status
            if status in ("failed", "failed_continued"):
                span.status, span.error_message = "error", record.get("error")
        span.attributes["status"] = status
        span.finish()
        if status in _RAN or status == "retrying":
            series = self._durations.get(spec.name)
            if series is None:
                series = self._durations[spec.name] = _DURATION.labels(self.workflow, spec.name)
            series.observe(span.duration or 0.0)

    def _attempt(self, runner: Runner, task: Task, span: Span, ran: int) -> list[StepOutcome] | None:
        planned = task.planned
        spec = planned.spec
        if task.item is None:
            skipped = self.skipped(runner, planned)
            if skipped is not None:
                return [skipped]
        attempt = task.attempts + 1
        wants_ctx = planned.wants_ctx
        event = runner.attempt_event() if wants_ctx else None  # ctx.cancelled, only for a step that reads it
        try:
            ctx = None
            if wants_ctx:
                assert event is not None
                ctx = StepContext(
                    self.workflow, runner.run_id, spec.name, attempt, task.item, event,
                    logger.bind(workflow=self.workflow, run_id=runner.run_id, step=spec.name, attempt=attempt),
                )  # fmt: skip
            kwargs = runner.kwargs(planned, task, ctx)
            start = time.time()
            if spec.condition is not None:
                try:
                    names = planned.condition_names
                    chosen = kwargs if names is None else {name: kwargs[name] for name in names}
                    if not spec.condition(**chosen):
                        return [self._skipped(runner, planned, "its condition is false")]
                except Exception as error:
                    return self.gave_up(runner, task, error, 0, start)
            cache_key = None
            if spec.cache_ttl is not None:
                try:
                    cache_key = cache_digest(self.workflow, planned, kwargs, self.allow_pickle)
                except SerializationError as error:
                    return self.gave_up(runner, task, error, 0, start)
                hit = self._cached(runner, cache_key)
                if hit is not None:
                    return self._succeeded(runner, task, hit[0], hit[1], 0, start, cached=True)
            if task.first_start is None:
                task.first_start = time.monotonic()
            if spec.retry is not None and not runner.record_attempt(
                runner.store.step_key(self.workflow, runner.run_id, spec.name, task.item),
                step_record("running", attempt, start, cached=False),
            ):
                return None
            logger.debug(
                "workflow {workflow} run {run_id}: step {step} attempt {attempt} started",
                event=events.WORKFLOW_STEP_STARTED, workflow=self.workflow, run_id=runner.run_id, step=spec.name,
                item=task.item, attempt=attempt,
            )  # fmt: skip
            if spec.executor == "ray":
                on = _OnRay(runner, task, span, ran, attempt, start, cache_key)
                try:  # its task is cancelled when the run halts (cancelled, taken over, abandoned)
                    sent, upstream = _by_reference(runner, planned, task, kwargs)
                    self.executors.ray_steps(self.ray_finished).submit(spec, sent, upstream, on, runner.halt)
                except Exception as error:
                    return self._failed(runner, task, error, "".join(traceback.format_exception(error)), attempt, start)
                return _SUBMITTED
            try:
                value = self.executors.call(spec, kwargs, event)
            except AttemptFailed as failure:
                return self._failed(runner, task, failure.error, failure.text, attempt, start)
        finally:
            if event is not None:
                runner.attempt_over(event)
        return self._returned(runner, task, value, attempt, start, cache_key)

    def _returned(
        self, runner: Runner, task: Task, value: Any, attempt: int, start: float, cache_key: bytes | None
    ) -> list[StepOutcome]:
        """The outcomes of an attempt that returned `value`: its output encoded (a step whose
        output cannot be stored fails), and its cache entry."""
        spec = task.planned.spec
        try:
            output = self.encode(task.planned, value) if spec.checkpoint or cache_key is not None else None
        except SerializationError as error:
            return self.gave_up(runner, task, error, attempt, start)
        outcomes = self._succeeded(runner, task, value, output, attempt, start)
        if cache_key is not None and output is not None and spec.cache_ttl is not None:
            outcomes[0].cache = (cache_key, pack({"expires": time.time() + spec.cache_ttl, "output": output}))
        return outcomes

    def ray_finished(self, batch: list[Finished]) -> None:
        """The sink of this workflow's Ray steps (called by their waiter thread): each
        finished attempt becomes its outcomes, as a local attempt's would, and each run's
        outcomes of the batch are committed together."""
        commits: dict[Runner, list[StepOutcome]] = {}
        for done in batch:
            on: _OnRay = done.context
            runner, task = on.runner, on.task
            token = CURRENT.set(on.span)
            try:
                if done.interrupted:
                    runner.drop_task()  # its run stopped: nothing to commit, the step runs on resume
                    outcomes = None
                elif done.error is not None:
                    outcomes = self._failed(runner, task, done.error, done.text, on.attempt, on.start)
                else:
                    outcomes = self._returned(runner, task, done.value, on.attempt, on.start, on.cache_key)
                    if task.item is None and outcomes[0].status == "succeeded":
                        outcomes[0].ref = done.ref  # for Ray steps that read it: handed over, not re-sent
            except Exception as exc:  # never lose an attempt: an error here is its failure
                outcomes = self.gave_up(runner, task, exc, on.attempt, on.start)
            finally:
                CURRENT.reset(token)
            self._end(on.span, task, on.ran, outcomes)
            if outcomes:
                commits.setdefault(runner, []).extend(outcomes)
        for runner, outcomes in commits.items():
            runner.commit(outcomes, keep=False)

    def _cached(self, runner: Runner, key: bytes) -> tuple[Any, bytes] | None:
        store = runner.store
        raw = store.read(lambda txn: txn.get(key, db=store.cache))
        if raw is None:
            return None
        entry = unpack(raw, key)
        if entry["expires"] <= time.time():
            return None
        output = entry["output"]
        return serialization.loads(output, allow_pickle=self.allow_pickle), output

    def _succeeded(
        self, runner: Runner, task: Task, value: Any, output: bytes | None, attempts: int, start: float,
        cached: bool = False,
    ) -> list[StepOutcome]:  # fmt: skip
        spec = task.planned.spec
        _BY_STATUS["cached" if cached else "succeeded"].inc()
        logger.info(
            "workflow {workflow} run {run_id}: step {step} succeeded",
            event=events.WORKFLOW_STEP_SUCCEEDED, workflow=self.workflow, run_id=runner.run_id, step=spec.name,
            item=task.item, attempt=attempts, duration=time.time() - start, cached=cached,
        )  # fmt: skip
        record = step_record("succeeded", attempts, start, output if spec.checkpoint else None, cached=cached)
        key = runner.store.step_key(self.workflow, runner.run_id, spec.name, task.item)
        outcome = StepOutcome(task.planned, task.item, "succeeded", value, record, key)
        return [outcome] if task.item is None else runner.item_done(outcome)

    def _failed(
        self, runner: Runner, task: Task, error: BaseException, text: str, attempt: int, start: float
    ) -> list[StepOutcome] | None:
        policy = task.planned.spec.retry
        if policy is not None and runner.stopping is None:
            if task.schedule is None:
                task.schedule = policy.schedule()
                for _ in range(attempt - 1):  # a resumed step continues its schedule
                    next(task.schedule)
            wait = next(task.schedule)
            if isinstance(error, CircuitOpenError):
                wait = max(wait, error.retry_after)  # no sooner than the breaker will listen
            elapsed = time.monotonic() - (task.first_start or time.monotonic())
            if policy.should_retry(error, attempt, elapsed=elapsed, wait=wait):
                task.attempts = attempt
                _BY_STATUS["retrying"].inc()
                logger.info(
                    "workflow {workflow} run {run_id}: step {step} attempt {attempt} failed ({}); retrying in "
                    "{wait:.3f}s",
                    describe(error), event=events.WORKFLOW_STEP_RETRYING, workflow=self.workflow,
                    run_id=runner.run_id, step=task.planned.spec.name, item=task.item, attempt=attempt,
                    error_type=type(error).__name__, wait=wait,
                )  # fmt: skip
                runner.retry_later(task, wait)
                return None
        return self.gave_up(runner, task, error, attempt, start, text)

    def gave_up(
        self, runner: Runner, task: Task, error: BaseException, attempts: int, start: float | None,
        text: str | None = None,
    ) -> list[StepOutcome]:  # fmt: skip
        """The step's end after its last failed attempt: "failed", or "failed_continued" with
        its fallback; a dead letter either way."""
        planned = task.planned
        spec = planned.spec
        if text is None:
            text = "".join(traceback.format_exception(error))
        status = "failed_continued" if spec.on_error == "continue" else "failed"
        value = spec.fallback if status == "failed_continued" else None
        output = None
        if status == "failed_continued" and spec.checkpoint:
            try:
                output = self.encode(planned, value)
            except SerializationError as exc:
                status, value, error, text = "failed", None, exc, "".join(traceback.format_exception(exc))
        _BY_STATUS[status].inc()
        logger.warning(
            "workflow {workflow} run {run_id}: step {step} failed after {attempts} attempts: {}",
            describe(error), event=_GAVE_UP[status], workflow=self.workflow, run_id=runner.run_id, step=spec.name,
            item=task.item, attempts=attempts, error_type=type(error).__name__,
        )  # fmt: skip
        record = step_record(status, attempts, start, output, describe(error), text)
        key = runner.store.step_key(self.workflow, runner.run_id, spec.name, task.item)
        dead = dead_letter(self.workflow, runner.run_id, planned, task.item, error, text, attempts)
        outcome = StepOutcome(planned, task.item, status, value, record, key, dead=dead)
        return [outcome] if task.item is None else runner.item_done(outcome)


def _by_reference(
    runner: Runner, planned: PlannedStep, task: Task, kwargs: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """A Ray step's arguments, each output of an upstream Ray step of this run replaced by
    its ObjectRef (Ray resolves it on the worker, from its object store); and their names.
    A retried attempt gets them by value: an output lost with its node cannot fail it twice."""
    sent = kwargs
    upstream: list[str] = []
    if task.attempts:
        return sent, upstream
    states, by_name = runner.states, runner.plan.by_name
    for name, kind, source in planned.arguments:
        if kind == STEP and name != planned.spec.map_over:
            ref = states[by_name[source].index].ref
            if ref is not None:
                if sent is kwargs:
                    sent = dict(kwargs)
                sent[name] = ref
                upstream.append(name)
    return sent, upstream
