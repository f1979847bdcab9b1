"""One run's execution: ready steps on up to `max_workers` threads, each finished step
committed (with any others finishing at the same time) before its dependents start.

A thread that commits a step takes one of the steps it made ready for itself, so a chain
runs on one thread without hand-offs. Retry waits hold no thread: a failed attempt's
task waits in a heap until it is due.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loguru import logger

from zixir import serialization
from zixir._counters import counter
from zixir.workflow import fanout
from zixir.workflow.dag import CTX, INPUT, Plan, PlannedStep
from zixir.workflow.outcomes import StepOutcome
from zixir.workflow.store import OwnerRecord, WorkflowStore, pack

if TYPE_CHECKING:
    from zixir.workflow.attempts import Attempts

__all__ = ["DONE", "Runner", "StepState", "Task"]

DONE = frozenset(("succeeded", "failed_continued", "skipped"))
#: How often a run reads its cancel request from the store while steps run (seconds).
CANCEL_POLL = 0.1
_STALE = counter("zixir_workflow_stale_commits", "Commits discarded because their run had a newer owner")


@dataclass(slots=True, eq=False)
class StepState:
    """A step's progress in this run."""

    status: str = "pending"
    output: Any = None
    record: dict[str, Any] | None = None
    remaining: int = 0
    attempts: int = 0  # attempts already made (a resumed "running" step continues from them)
    # fan-out steps only:
    items: list[Any] | None = None  # outputs by item, fanout.MISSING until done
    item_records: dict[int, dict[str, Any]] = field(default_factory=dict)
    item_attempts: dict[int, int] = field(default_factory=dict)
    left: int = 0
    resolved: bool = False


@dataclass(slots=True, eq=False)
class Task:
    """A step (or item) to run: its attempts so far and, after a failure, its wait schedule."""

    planned: PlannedStep
    item: int | None = None
    value: Any = None  # the item, for a fan-out item
    attempts: int = 0
    first_start: float | None = None
    schedule: Any = None


class Runner:
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
        self.workflow, self.plan, self.store, self.attempts = workflow, plan, store, attempts
        self.run_id, self.generation, self.inputs = run_id, generation, inputs
        self.states = states
        self.max_workers = max_workers
        self.progress = progress
        self.owner_key = store.run_key(workflow, run_id)
        self._owned_raw: bytes | None = None  # the owner record's bytes while it is ours, uncancelled
        self.cond = threading.Condition()
        self.ready: deque[Task] = deque()
        self.delayed: list[tuple[float, int, Task]] = []
        self.sequence = itertools.count()
        self.running = 0
        self.threads: list[threading.Thread] = []
        self.idle = 0
        self.stopping: str | None = None  # "failed", "cancelled", "abandoned" or "stale"
        self.trace: Any = None  # the run span's SpanContext, parent of the steps' spans
        self.error: str | None = None
        self.finished = threading.Event()
        self.pending: list[StepOutcome] = []
        self.pending_lock = threading.Lock()
        self.commit_lock = threading.Lock()
        self.live: set[threading.Event] = set()  # the running attempts' cancelled events

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
                self._spawn(None)
        watcher = threading.Thread(target=self._watch, name=f"zixir-wf-{self.workflow}-watch", daemon=True)
        watcher.start()
        self.finished.wait()
        for thread in self.threads:
            thread.join()
        watcher.join()

    def request_cancel(self) -> None:
        """No new step starts; running ones see ``ctx.cancelled``."""
        with self.cond:
            self._stop("cancelled", None)

    def drain(self) -> None:
        """Its host is stopping: no new step starts, running steps finish and commit; the
        run stays "running" for the next owner (the host's restart) to resume."""
        with self.cond:
            self._stop("draining", None)

    def abandon(self, why: str) -> None:
        """Its host gave the run up (as if its process died): no new step starts, running
        steps see ``ctx.cancelled``, the run stays "running" for another owner to take over."""
        with self.cond:
            self._stop("abandoned", why)

    def _stop(self, why: str, error: str | None) -> None:
        # with cond held; "stale" outranks the others, a failure outranks a cancel
        rank = {None: 0, "draining": 1, "cancelled": 2, "failed": 3, "abandoned": 4, "stale": 5}
        if rank[why] > rank[self.stopping]:
            self.stopping = why
            if error is not None and (self.error is None or why in ("stale", "abandoned")):
                self.error = error
        for event in self.live:
            if why not in ("failed", "draining"):  # a drain lets running steps finish
                event.set()
        self.delayed.clear()
        self.cond.notify_all()
        self.check_over()

    def check_over(self) -> None:
        """With `cond` held: ends the run's execution once nothing runs and nothing is left to."""
        if self.running == 0 and (self.stopping is not None or (not self.ready and not self.delayed)):
            self.ready.clear()
            self.finished.set()
            self.cond.notify_all()

    def _spawn(self, task: Task | None) -> None:
        thread = threading.Thread(
            target=self._worker, args=(task,), name=f"zixir-wf-{self.workflow}-{len(self.threads)}", daemon=True
        )
        self.threads.append(thread)
        thread.start()

    def _watch(self) -> None:
        """Reads the run's cancel request from the store while the run lasts (any process may write it)."""
        while not self.finished.wait(CANCEL_POLL):
            try:
                record = self.store.read(lambda txn: self.store.owner(txn, self.owner_key))
            except Exception as exc:  # a storage failure here must not end the run; commits see it
                logger.debug("workflow {}: reading the cancel request failed: {!r}", self.workflow, exc)
                continue
            if record is not None and record.cancel:
                self.request_cancel()

    def _worker(self, task: Task | None) -> None:
        while True:
            if task is None:
                task = self._take()
                if task is None:
                    return
            task = self._process(task)

    def _take(self) -> Task | None:
        with self.cond:
            while True:
                if self.finished.is_set():
                    return None
                if self.stopping is None:
                    if self.ready:
                        self.running += 1
                        return self.ready.popleft()
                    if self.delayed and self.delayed[0][0] <= time.monotonic():
                        self.running += 1
                        return heapq.heappop(self.delayed)[2]
                wait = max(0.0, self.delayed[0][0] - time.monotonic()) if self.delayed else None
                self.idle += 1
                self.cond.wait(wait)
                self.idle -= 1

    def enqueue(self, tasks: list[Task]) -> None:
        """With `cond` held: more ready work, for idle threads or new ones up to `max_workers`."""
        self.ready.extend(tasks)
        self.cond.notify(len(tasks))
        spare = len(tasks) - self.idle
        while spare > 0 and len(self.threads) < self.max_workers:
            self._spawn(None)
            spare -= 1

    def retry_later(self, task: Task, wait: float) -> None:
        """Parks a task whose attempt failed until its retry is due; its thread moves on."""
        with self.cond:
            self.running -= 1
            if self.stopping is None:
                heapq.heappush(self.delayed, (time.monotonic() + wait, next(self.sequence), task))
                self.cond.notify()
            self.check_over()

    def attempt_event(self) -> threading.Event:
        """A running attempt's ``ctx.cancelled``: set at once if the run is being cancelled."""
        event = threading.Event()
        with self.cond:
            if self.stopping in ("cancelled", "stale", "abandoned"):
                event.set()
            self.live.add(event)
        return event

    def attempt_over(self, event: threading.Event) -> None:
        with self.cond:
            self.live.discard(event)

    # -- one task ---------------------------------------------------------------------------------

    def _process(self, task: Task) -> Task | None:
        planned = task.planned
        if planned.spec.map_over is not None and task.item is None:
            return fanout.fan_out(self, task)
        outcomes = self.attempts.run(self, task)
        if outcomes is None:
            return None  # waiting for a retry, or the run was taken over
        return self.commit(outcomes)

    def item_done(self, outcome: StepOutcome) -> list[StepOutcome]:
        """A fan-out item's outcome, plus its step's own when it was the last (`fanout`)."""
        return fanout.item_done(self, outcome)

    # -- commits ------------------------------------------------------------------------------------

    def commit(self, outcomes: list[StepOutcome]) -> Task | None:
        """Commits `outcomes` (with any other thread's waiting) and applies them; returns a
        step they made ready for this thread to run next, if any."""
        with self.pending_lock:
            self.pending.extend(outcomes)
        with self.commit_lock:
            with self.pending_lock:
                batch, self.pending = self.pending, []
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
                        event="workflow.commit.stale", workflow=self.workflow, run_id=self.run_id, count=len(batch),
                    )  # fmt: skip
                    self._stop("stale", f"run {self.run_id!r} was taken over by another owner while it ran")
                    return None
                ready = self._apply(batch)
                if cancel:
                    self._stop("cancelled", None)
                mine = None
                if ready and self.stopping is None:
                    mine = ready.pop(0)
                    self.running += 1
                    self.enqueue(ready)
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
            if self.progress is not None:
                self.progress.update()
            if outcome.status == "failed":
                self._stop("failed", f"step {outcome.planned.spec.name!r} failed: {outcome.record.get('error')}")
                continue
            for index in outcome.planned.dependents:
                dependent = self.states[index]
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


def load_output(record: dict[str, Any], allow_pickle: bool) -> Any:
    """A stored record's output (None if it kept none)."""
    raw = record.get("output")
    return None if raw is None else serialization.loads(raw, allow_pickle=allow_pickle)
