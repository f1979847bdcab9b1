"""`Workflow`: a DAG of steps whose runs checkpoint every step in LMDB, resume after a
crash, retry, time out, fan out, and leave dead letters for what failed for good.

The guide is docs/workflow.md.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from zixir import _validate, serialization
from zixir.errors import ArgumentTypeError, InvalidArgumentError
from zixir.workflow import admin, ids, lifecycle, scheduling
from zixir.workflow import inputs as inputs_of
from zixir.workflow.attempts import Attempts
from zixir.workflow.definition import Definition
from zixir.workflow.execution import Execution
from zixir.workflow.executors import Executors
from zixir.workflow.records import DeadLetter, RunInfo, RunResult
from zixir.workflow.runner import Runner
from zixir.workflow.store import WorkflowStore
from zixir.workflow.tasks import DONE

if TYPE_CHECKING:
    from zixir.workflow.schedule import Schedule, Tick
    from zixir.workflow.schedule_state import ScheduleState

__all__ = ["Workflow"]


class Workflow(Definition):
    """A named DAG of steps, with its runs' records in an LMDB store.

    Args:
        name: The workflow's name (keys its records: workflows can share a store).
        store: The store's directory, created if missing.
        inputs: The names of the run's inputs, which steps receive by parameter name.
        max_workers: Steps (and fan-out items) that may run at once; also the bound on
            thread steps abandoned at their timeouts.
        executor: Where steps run unless they say: "thread", "async", "process" or "ray"
            (Ray tasks, on the cluster this process is connected to: docs/scaling.md).
        durable: fsync every commit, so committed steps survive power loss; by default
            they survive a crash of the process (kill -9), not of the machine.
        allow_pickle: WorkflowStore outputs zixir.serialization does not support by pickle
            (unpickling runs code: only for a store you trust).
        map_size: The store's initial map size in bytes; it grows as needed.

    Raises:
        ArgumentTypeError, InvalidArgumentError: an argument is wrong (``.argument``
            names it).
        WorkflowDefinitionError: an input is named twice.
    """

    def __init__(
        self,
        name: str,
        *,
        store: str | os.PathLike[str],
        inputs: Iterable[str] = (),
        max_workers: int = 8,
        executor: str = "thread",
        durable: bool = False,
        allow_pickle: bool = False,
        map_size: int = 64 << 20,
    ) -> None:
        if not isinstance(store, (str, os.PathLike)):
            raise ArgumentTypeError(f"store must be a directory path, got {store!r}", "store")
        for flag, value in (("durable", durable), ("allow_pickle", allow_pickle)):
            if not isinstance(value, bool):
                raise ArgumentTypeError(f"{flag} must be True or False, got {value!r}", flag)
        super().__init__(name, inputs, executor, allow_pickle)
        self.max_workers = _validate.whole("max_workers", max_workers)
        self.durable = durable
        self.map_size = _validate.whole("map_size", map_size, at_least=1 << 20)
        self.path = os.fspath(store)
        self._store: WorkflowStore | None = None
        self._runners: dict[str, Runner] = {}
        self._executors = Executors(self.name, self.max_workers, allow_pickle)
        self._attempts = Attempts(self.name, self._executors, allow_pickle)

    # -- running ------------------------------------------------------------------------------------

    def run(
        self,
        run_id: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        *,
        rerun: bool = False,
        progress: bool = False,
    ) -> RunResult:
        """Runs the workflow, or resumes a run, and returns its result.

        A new id starts a run (an id sortable by time is made when omitted). The id of an
        unfinished, failed or cancelled run resumes it: committed steps are loaded, not run
        again. A succeeded run's recorded result is returned without running anything,
        unless `rerun` starts it over under the same id.

        Args:
            run_id: The run's id.
            inputs: Each declared input's value; omitted on a resume, the run's own.
            rerun: Start the run over (its step records are dropped).
            progress: Show a progress bar on stderr.

        Raises:
            InvalidArgumentError: an input is missing or unknown.
            SerializationError: an input cannot be stored.
            RunMismatchError: resuming with other inputs, or after the steps or edges changed.
            RunOwnedError: another live process (or call) runs it, or took it over meanwhile.
            WorkflowDefinitionError, CycleError: the workflow is not valid.
            RayNotConnectedError: a step has ``executor="ray"`` and this process is not
                connected to a Ray cluster (``zixir.ray.connect()``).
        """
        rid = ids.new_id() if run_id is None else ids.check_id("run_id", run_id)
        return self._run(rid, inputs, rerun=rerun, reopen=False, progress=progress)

    def begin(
        self, run_id: str | None = None, inputs: Mapping[str, Any] | None = None, *, rerun: bool = False
    ) -> Execution:
        """Claims a run as `run` does, without executing it: for a host that executes it on
        another thread (``execution.execute()``) and may abandon it (``execution.abandon()``).

        Raises:
            ZixirError: as `run` raises for what claiming finds (RunOwnedError,
                RunMismatchError, bad inputs).
        """
        rid = ids.new_id() if run_id is None else ids.check_id("run_id", run_id)
        return self._begin(rid, inputs, rerun=rerun, reopen=False, progress=False)

    def _run(
        self, run_id: str, inputs: Mapping[str, Any] | None, *, rerun: bool, reopen: bool, progress: bool
    ) -> RunResult:
        return self._begin(run_id, inputs, rerun=rerun, reopen=reopen, progress=progress).execute()

    def _begin(
        self, run_id: str, inputs: Mapping[str, Any] | None, *, rerun: bool, reopen: bool, progress: bool
    ) -> Execution:
        plan = self.validate()
        on_ray = next((p.spec.name for p in plan.steps if p.spec.executor == "ray"), None)
        if on_ray is not None:
            from zixir.ray.connection import require_connection  # only for a workflow with Ray steps

            require_connection(f"step {on_ray!r} of workflow {self.name!r}")
        store = self._open()
        packed, fingerprint = inputs_of.pack_inputs(self.name, self.inputs, inputs, self.allow_pickle)
        claim = lifecycle.claim(store, self.name, run_id, packed, fingerprint, plan.shape, rerun=rerun, reopen=reopen)
        if claim.kind == "done":
            records = store.step_records(self.name, run_id)
            states = lifecycle.states_from_records(plan, records, self.allow_pickle)
            done = lifecycle.result(self.name, plan, claim.record, states, "succeeded", None)
            return Execution(self.name, plan, store, claim, run_id, None, done, None, self._forget)
        try:
            records = {} if claim.kind == "fresh" else store.step_records(self.name, run_id)
            states = lifecycle.states_from_records(plan, records, self.allow_pickle)
            run_inputs = serialization.loads(claim.record["inputs"], allow_pickle=self.allow_pickle)
            bar = self._bar(run_id, len(plan.steps), sum(s.status in DONE for s in states)) if progress else None
            runner = Runner(
                self.name, plan, store, self._attempts, run_id, claim.generation, run_inputs, states,
                self.max_workers, bar,
            )  # fmt: skip
            execution = Execution(self.name, plan, store, claim, run_id, runner, None, bar, self._forget)
        except BaseException:
            lifecycle.release(store, self.name, run_id, claim.generation)
            raise
        with self._lock:
            self._runners[run_id] = runner
        return execution

    def _forget(self, execution: Execution) -> None:
        with self._lock:
            if self._runners.get(execution.run_id) is execution.runner:
                del self._runners[execution.run_id]

    def _bar(self, run_id: str, total: int, done: int) -> Any:
        from tqdm import tqdm  # on first use: importing the workflow stays cheap

        return tqdm(total=total, initial=done, desc=f"{self.name} {run_id}", unit="step", file=sys.stderr)

    def _open(self) -> WorkflowStore:
        with self._lock:
            if self._store is None:
                self._store = WorkflowStore(self.path, self.durable, self.map_size)
            return self._store

    # -- runs -------------------------------------------------------------------------------------

    def status(self, run_id: str) -> RunResult:
        """A run's result as recorded (status "running" while it runs, or if its owner died).

        Raises:
            UnknownRunError: no such run.
        """
        plan, store = self.validate(), self._open()
        run = admin.run_record(store, self.name, ids.check_id("run_id", run_id))
        states = lifecycle.states_from_records(plan, store.step_records(self.name, run_id), self.allow_pickle)
        return lifecycle.result(self.name, plan, run, states, run["status"], run.get("error"))

    def runs(self, status: str | None = None, limit: int = 100) -> list[RunInfo]:
        """The workflow's runs, newest first, optionally only those with `status`."""
        if status not in (None, "running", "succeeded", "failed", "cancelled"):
            raise InvalidArgumentError(
                f'status must be "running", "succeeded", "failed", "cancelled" or None, got {status!r}', "status"
            )
        return admin.runs(self._open(), self.name, status, _validate.whole("limit", limit))

    def schedule_state(self, schedule: Schedule, clock: Callable[[], float]) -> tuple[ScheduleState, Tick | None]:
        """For a host: `schedule`'s state restored from the store, and the tick whose run
        was left unfinished (to resume), if any."""
        return scheduling.restore(self._open(), self.name, schedule, clock)

    def tick_started(self, schedule: Schedule, tick: Tick) -> None:
        """For a host: records `tick` as `schedule`'s last started tick."""
        scheduling.record_tick(self._open(), self.name, schedule, tick)

    def orphaned_runs(self, limit: int = 100) -> list[str]:
        """Runs left "running" that nothing executes: their owner died, or exited without
        finishing them (a `WorkflowActor` resumes them). Oldest first."""
        store = self._open()
        found = admin.runs(store, self.name, "running", 1 << 62)
        left = [info.run_id for info in reversed(found) if lifecycle.abandoned(store, self.name, info.run_id)]
        return left[: _validate.whole("limit", limit)]

    def cancel(self, run_id: str) -> bool:
        """Asks a running run to stop, through the store (any process may ask): no new step
        starts, running steps see ``ctx.cancelled``, the run ends "cancelled".

        Returns:
            False if the run is not running.

        Raises:
            UnknownRunError: no such run.
        """
        asked = admin.cancel(self._open(), self.name, ids.check_id("run_id", run_id))
        with self._lock:
            runner = self._runners.get(run_id)
        if asked and runner is not None:
            runner.request_cancel()
        return asked

    def prune(self, keep_last: int) -> int:
        """Deletes all but the newest `keep_last` runs with their checkpoints and dead letters
        (never a run a live owner runs), and expired cached outputs; returns how many runs."""
        return admin.prune(self._open(), self.name, _validate.whole("keep_last", keep_last, at_least=0))

    # -- dead letters -------------------------------------------------------------------------------

    def dead_letters(
        self, limit: int = 100, since: float | dt.datetime | None = None, *, include_replayed: bool = False
    ) -> list[DeadLetter]:
        """Steps that failed for good, newest first.

        Args:
            limit: At most this many.
            since: Only those that failed at or after this time (``time.time()`` seconds or
                an aware datetime).
            include_replayed: Also those already replayed (kept for audit).
        """
        if since is not None and not isinstance(since, (int, float, dt.datetime)):
            raise ArgumentTypeError(f"since must be a time.time() value or a datetime, got {since!r}", "since")
        store = self._open()
        return admin.dead_letters(store, self.name, _validate.whole("limit", limit), since, include_replayed)

    def replay(self, entry_id: str, *, progress: bool = False) -> RunResult:
        """Runs a dead letter's step again with its checkpointed inputs, in its run, then the
        run's remaining steps; the entry is marked replayed.

        Raises:
            UnknownDeadLetterError: no such entry.
            CheckpointMissingError: its run or an input's checkpoint was pruned.
        """
        plan, store = self.validate(), self._open()
        run_id = admin.prepare_replay(store, self.name, plan, ids.check_id("entry_id", entry_id))
        return self._run(run_id, None, rerun=False, reopen=True, progress=progress)

    def discard(self, entry_id: str) -> None:
        """Deletes a dead letter.

        Raises:
            UnknownDeadLetterError: no such entry.
        """
        admin.discard(self._open(), self.name, ids.check_id("entry_id", entry_id))

    # -- lifetime -------------------------------------------------------------------------------------

    def close(self) -> None:
        """Releases the store and stops the workflow's event loop and sandboxes."""
        self._executors.close()
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workflow({self.name!r}, {len(self._steps)} steps, store={self.path!r})"
