"""One run's execution: its steps on a `Pool` of threads, each finished step committed in
an LMDB write transaction before its dependents start.

Steps finishing together share a commit. A thread that finishes a step whose commit
would make nothing ready (a leaf, or one more of many dependencies) and that can take
another ready step at once leaves the outcome for a shared commit and runs that step: a
run of trivial independent steps then pays one write transaction per `GROUP_MAX` steps,
not one per step, and no thread hand-off. The wait is bounded: the outcomes are
committed once they are `GROUP_MAX`, once the first began `GROUP_WINDOW` ago, when a
thread is about to wait for work, or by the run's watcher after `CANCEL_POLL`. A step
whose commit makes a dependent ready is committed at once, with everything waiting, and
its thread runs that dependent.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from loguru import logger

from zixir._counters import counter
from zixir.observability import events
from zixir.workflow import fanout
from zixir.workflow.dag import CTX, INPUT, Plan, PlannedStep
from zixir.workflow.outcomes import StepOutcome
from zixir.workflow.pool import Pool
from zixir.workflow.store import OwnerRecord, WorkflowStore, pack
from zixir.workflow.tasks import DONE, StepState, Task

if TYPE_CHECKING:
    from zixir.workflow.attempts import Attempts

__all__ = ["CANCEL_POLL", "GROUP_MAX", "GROUP_WINDOW", "Runner"]

#: How often a run reads its cancel request from the store while steps run (seconds); also
#: the longest an outcome left for a shared commit waits while its thread runs a long step.
CANCEL_POLL = 0.1
#: Outcomes wait for a shared commit only while the first of them began less than this
#: many seconds ago (trivial steps share a commit; a step that takes longer commits alone).
GROUP_WINDOW = 0.001
#: At most this many outcomes wait for a shared commit.
GROUP_MAX = 128
_STALE = counter("zixir_workflow_stale_commits", "Commits discarded because their run had a newer owner")


class Runner(Pool):
    """Executes one claimed run to its end (see the module docstring)."""

    def __init__(
        self,
        workflow: str,
        plan: Plan,
        store: WorkflowStore,
        attempts: Attempts,
        run_id: str,
        generation: int,
        inputs: dict[str, Any],
        states: list[StepState],
        max_workers: int,
        progress: Any,
    ) -> None:
        super().__init__(workflow, max_workers)
        self.plan, self.store, self.attempts = plan, store, attempts
        self.run_id, self.generation, self.inputs = run_id, generation, inputs
        self.states = states
        self.progress = progress
        self.owner_key = store.run_key(workflow, run_id)
        self._owned_raw: bytes | None = None  # the owner record's bytes while it is ours, uncancelled
        self.trace: Any = None  # the run span's SpanContext, parent of the steps' spans
        self.pending_since = 0.0  # when the first outcome waiting for a commit began (monotonic)
        self.commit_lock = threading.Lock()

    # -- driving --------------------------------------------------------------------------------

    def execute(self) -> None:
        """Runs every step that is not done; returns when nothing runs any more."""
        for planned in self.plan.steps:
            state = self.states[planned.index]
            if state.status not in DONE:
                state.remaining = sum(self.states[d].status not in DONE for d in planned.deps)
                if state.remaining == 0:
                    self.ready.append(Task(planned, attempts=state.attempts))
        with self.cond:
            self.check_over()
            for _ in range(min(len(self.ready), self.max_workers)):
                self.spawn(None)
        watcher = threading.Thread(target=self._watch, name=f"zixir-wf-{self.workflow}-watch", daemon=True)
        watcher.start()
        self.finished.wait()
        for thread in self.threads:
            thread.join()
        watcher.join()

    def _watch(self) -> None:
        """Reads the run's cancel request from the store while the run lasts (any process may
        write it), and commits outcomes left for a shared commit by a thread whose next step
        runs long."""
        while not self.finished.wait(CANCEL_POLL):
            with self.cond:
                overdue = bool(self.pending) and time.monotonic() - self.pending_since >= CANCEL_POLL
            if overdue:
                self.commit([], keep=False)
            try:
                record = self.store.read(lambda txn: self.store.owner(txn, self.owner_key))
            except Exception as exc:  # a storage failure here must not end the run; commits see it
                logger.debug("workflow {}: reading the cancel request failed: {!r}", self.workflow, exc)
                continue
            if record is not None and record.cancel:
                self.request_cancel()

    # -- one task ---------------------------------------------------------------------------------

    def process(self, task: Task) -> Task | None:
        planned = task.planned
        if planned.spec.map_over is not None and task.item is None:
            return fanout.fan_out(self, task)
        began = time.monotonic()
        outcomes = self.attempts.run(self, task)
        if outcomes is None:
            return None  # waiting for a retry, or the run was taken over
        return self.finish(outcomes, began)

    def finish(self, outcomes: list[StepOutcome], began: float) -> Task | None:
        """A task's outcomes, begun at `began` (monotonic): left for a shared commit while
        that delays no dependent's start and this thread can take another ready step now
        (the step it returns), committed otherwise."""
        with self.cond:
            if not self.pending:
                self.pending_since = began
            self.pending.extend(outcomes)
            if (
                self.ready
                and self.stopping is None
                and len(self.pending) < GROUP_MAX
                and time.monotonic() - self.pending_since < GROUP_WINDOW
                and self._starts_nothing(outcomes)
            ):
                self.running += 1
                return self.ready.popleft()
            self._arrive(outcomes)
            if self.commit_lock.acquire(blocking=False):  # free: take the batch without a second round trip
                batch, self.pending = self.pending, []
            else:
                batch = None
        if batch is None:
            return self.commit([])
        try:
            return self._commit_batch(batch)
        finally:
            self.commit_lock.release()

    def _starts_nothing(self, outcomes: list[StepOutcome]) -> bool:
        # with cond held: whether committing these (and the others waiting) now would make
        # no step ready; if so, they are counted as arriving at their dependents
        states = self.states
        for outcome in outcomes:
            if outcome.item is not None:
                continue  # an item's outcome makes nothing ready; its step's own outcome may
            if outcome.status not in DONE:
                return False
            for index in outcome.planned.dependents:
                dependent = states[index]
                if dependent.remaining - dependent.arriving <= 1:
                    return False
        self._arrive(outcomes)
        return True

    def _arrive(self, outcomes: list[StepOutcome]) -> None:
        states = self.states
        for outcome in outcomes:
            if outcome.item is None:
                for index in outcome.planned.dependents:
                    states[index].arriving += 1

    def item_done(self, outcome: StepOutcome) -> list[StepOutcome]:
        """A fan-out item's outcome, plus its step's own when it was the last (`fanout`)."""
        return fanout.item_done(self, outcome)

    # -- commits ------------------------------------------------------------------------------------

    def commit(self, outcomes: list[StepOutcome], keep: bool = True) -> Task | None:
        """Commits `outcomes` (with any other thread's waiting) and applies them; returns a
        step they made ready for this thread to run next, if any (none unless `keep`)."""
        with self.cond:
            if not self.pending:
                self.pending_since = time.monotonic()
            self.pending.extend(outcomes)
            self._arrive(outcomes)
        with self.commit_lock:
            with self.cond:
                batch, self.pending = self.pending, []
            return self._commit_batch(batch, keep)

    def _commit_batch(self, batch: list[StepOutcome], keep: bool = True) -> Task | None:
        # with commit_lock held: writes and applies `batch`
        if not batch:
            return None  # another thread committed ours with its own
        if self.stopping == "abandoned":  # as if the process had died: nothing more is committed
            with self.cond:
                self.running -= sum(o.counted for o in batch)
                self.check_over()
            return None
        try:
            applied, cancel = self.store.write(lambda txn: self._fill(txn, batch))
        except Exception as exc:
            with self.cond:
                self.running -= sum(o.counted for o in batch)
                self._stop("failed", f"storing the steps' results failed: {exc!r}")
            return None
        with self.cond:
            self.running -= sum(o.counted for o in batch)
            if not applied:
                _STALE.inc(len(batch))
                logger.warning(
                    "workflow {workflow} run {run_id}: {count} commits discarded, the run has a newer owner",
                    event=events.WORKFLOW_COMMIT_STALE, workflow=self.workflow, run_id=self.run_id, count=len(batch),
                )  # fmt: skip
                self._stop("stale", f"run {self.run_id!r} was taken over by another owner while it ran")
                return None
            ready = self._apply(batch)
            if cancel:
                self._stop("cancelled", None)
            mine = None
            if ready and self.stopping is None:
                if keep:
                    mine = ready.pop(0)
                    self.running += 1
                self.enqueue(ready, mine)
            self.check_over()
            return mine

    def _owner_check(self, txn: Any) -> tuple[bool, bool]:
        """Whether this run's generation still owns it, and whether a cancel was asked, read
        in the commit's own transaction (the owner record's bytes, unchanged, are not
        decoded again)."""
        raw = txn.get(self.owner_key, db=self.store.owners)
        if raw is not None and raw == self._owned_raw:
            return True, False
        owner = None if raw is None else OwnerRecord.unpack(raw)
        if owner is None or owner.generation != self.generation:
            return False, False
        if not owner.cancel:
            self._owned_raw = bytes(raw)
        return True, owner.cancel

    def _fill(self, txn: Any, batch: list[StepOutcome]) -> tuple[bool, bool]:
        owned, cancel = self._owner_check(txn)
        if not owned:
            return False, False
        steps, dead, cache = self.store.steps, self.store.dead, self.store.cache
        for outcome in batch:
            txn.put(outcome.key, pack(outcome.record), db=steps)
            if outcome.dead is not None:
                txn.put(*outcome.dead, db=dead)
            if outcome.cache is not None:
                txn.put(*outcome.cache, db=cache)
        return True, cancel

    def record_attempt(self, key: bytes, record: dict[str, Any]) -> bool:
        """Commits a "running" record before an attempt. False, with the task given up, if
        the run has a newer owner or was abandoned."""
        applied = False
        cancel = False
        if self.stopping != "abandoned":
            applied, cancel = self.store.write(lambda txn: self._fill_one(txn, key, record))
            if not applied:
                _STALE.inc()
        if not applied:
            with self.cond:
                self.running -= 1
                if self.stopping != "abandoned":
                    self._stop("stale", f"run {self.run_id!r} was taken over by another owner while it ran")
                self.check_over()
            return False
        if cancel:
            self.request_cancel()
        return True

    def _fill_one(self, txn: Any, key: bytes, record: dict[str, Any]) -> tuple[bool, bool]:
        owned, cancel = self._owner_check(txn)
        if owned:
            txn.put(key, pack(record), db=self.store.steps)
        return owned, cancel

    def _apply(self, batch: list[StepOutcome]) -> list[Task]:
        # with cond held: the committed outcomes become the steps' states
        ready: list[Task] = []
        for outcome in batch:
            state = self.states[outcome.planned.index]
            if outcome.item is not None:
                state.item_records[outcome.item] = outcome.record
                continue
            state.status, state.output, state.record = outcome.status, outcome.value, outcome.record
            state.ref = outcome.ref
            if self.progress is not None:
                self.progress.update()
            failed = outcome.status == "failed"
            if failed:
                self._stop("failed", f"step {outcome.planned.spec.name!r} failed: {outcome.record.get('error')}")
            for index in outcome.planned.dependents:
                dependent = self.states[index]
                dependent.arriving -= 1
                if failed:
                    continue
                dependent.remaining -= 1
                if dependent.remaining == 0 and dependent.status not in DONE:
                    ready.append(Task(self.plan.steps[index], attempts=dependent.attempts))
        return ready

    def kwargs(self, planned: PlannedStep, task: Task, ctx: Any) -> dict[str, Any]:
        """The arguments of a step's call, by parameter name."""
        out: dict[str, Any] = {}
        states, by_name = self.states, self.plan.by_name
        for name, kind, source in planned.arguments:
            if kind == CTX:
                out[name] = ctx
            elif kind == INPUT:
                out[name] = self.inputs[source]
            elif name == planned.spec.map_over:
                out[name] = task.value
            else:
                out[name] = states[by_name[source].index].output
        return out
