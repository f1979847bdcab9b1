"""`Workflow`: a DAG of steps whose runs checkpoint every step in LMDB, resume after a
crash, retry, time out, fan out, and leave dead letters for what failed for good.

The guide is docs/workflow.md.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar, overload

from zixir import _validate, serialization
from zixir.errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    SerializationError,
    WorkflowDefinitionError,
)
from zixir.workflow import admin, ids, lifecycle, scheduling
from zixir.workflow.attempts import Attempts
from zixir.workflow.dag import Plan, plan
from zixir.workflow.execution import Execution
from zixir.workflow.executors import Executors
from zixir.workflow.records import DeadLetter, RunInfo, RunResult
from zixir.workflow.runner import DONE, Runner
from zixir.workflow.spec import EXECUTORS, Step, check_name, make_step
from zixir.workflow.store import WorkflowStore

if TYPE_CHECKING:
    from zixir.workflow.schedule import Schedule, ScheduleState, Tick

__all__ = ["Workflow"]

F = TypeVar("F", bound=Callable[..., Any])
_fingerprint = serialization.dumps  # inputs are fingerprinted by their canonical bytes


class Workflow:
    """A named DAG of steps, with its runs' records in an LMDB store.

    Args:
        name: The workflow's name (keys its records: workflows can share a store).
        store: The store's directory, created if missing.
        inputs: The names of the run's inputs, which steps receive by parameter name.
        max_workers: Steps (and fan-out items) that may run at once; also the bound on
            thread steps abandoned at their timeouts.
        executor: Where steps run unless they say: "thread", "async" or "process".
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
        self.name = check_name("name", name)
        if not isinstance(store, (str, os.PathLike)):
            raise ArgumentTypeError(f"store must be a directory path, got {store!r}", "store")
        if isinstance(inputs, str):
            inputs = (inputs,)
        self.inputs = tuple(check_name("inputs", i) for i in inputs)
        if len(set(self.inputs)) != len(self.inputs):
            raise WorkflowDefinitionError(f"workflow {name!r}: inputs {self.inputs} name an input twice", name)
        self.max_workers = _validate.whole("max_workers", max_workers)
        if executor not in EXECUTORS:
            raise InvalidArgumentError(f'executor must be "thread", "async" or "process", got {executor!r}', "executor")
        self.executor = executor
        for flag, value in (("durable", durable), ("allow_pickle", allow_pickle)):
            if not isinstance(value, bool):
                raise ArgumentTypeError(f"{flag} must be True or False, got {value!r}", flag)
        self.durable, self.allow_pickle = durable, allow_pickle
        self.map_size = _validate.whole("map_size", map_size, at_least=1 << 20)
        self.path = os.fspath(store)
        self._steps: dict[str, Step] = {}
        self._plan: Plan | None = None
        self._store: WorkflowStore | None = None
        self._lock = threading.Lock()
        self._runners: dict[str, Runner] = {}
        self._schedules: list[Schedule] = []
        self._executors = Executors(self.name, self.max_workers, allow_pickle)
        self._attempts = Attempts(self.name, self._executors, allow_pickle)

    # -- definition -------------------------------------------------------------------------------

    @overload
    def step(self, fn: F, /) -> F: ...
    @overload
    def step(self, fn: None = None, /, **options: Any) -> Callable[[F], F]: ...
    def step(self, fn: F | None = None, /, **options: Any) -> F | Callable[[F], F]:
        """Adds the decorated function as a step (``@wf.step()`` or ``@wf.step(retry=...)``)
        and returns it unchanged. Options as in `add_step`; ``name=`` defaults to the
        function's name."""
        if fn is not None:
            self.add_step(getattr(fn, "__name__", repr(fn)), fn, **options)
            return fn

        def decorate(function: F) -> F:
            opts = dict(options)
            self.add_step(opts.pop("name", None) or function.__name__, function, **opts)
            return function

        return decorate

    def add_step(
        self,
        name: str,
        fn: Callable[..., Any],
        *,
        depends_on: str | Iterable[str] = (),
        retry: Any = None,
        timeout: float | None = None,
        condition: Callable[..., Any] | None = None,
        allow_skipped: bool = False,
        on_error: str = "fail",
        fallback: Any = None,
        checkpoint: bool = True,
        executor: str | None = None,
        limits: Mapping[str, Any] | None = None,
        cache_ttl: float | None = None,
        map_over: str | None = None,
    ) -> None:
        """Adds a step. Its parameters receive, by name: a step's output, a declared input,
        ``ctx`` (a `StepContext`), or their defaults.

        Args:
            name: The step's name, unique in the workflow.
            fn: The function (``async def`` for executor "async").
            depends_on: Steps that must finish first, beyond those it reads.
            retry: A `RetryPolicy` for its attempts.
            timeout: Seconds an attempt may take (see docs/workflow.md for what a thread
                step's timeout can and cannot do).
            condition: Called with the step's arguments (those its parameters name); false
                skips the step, and its dependents unless they set `allow_skipped`.
            allow_skipped: Run even when a dependency was skipped (receiving None for it).
            on_error: "fail" the run when the step fails for good, or "continue" with
                `fallback` as its output (recorded as "failed_continued").
            fallback: The output of a failed step under ``on_error="continue"``.
            checkpoint: WorkflowStore the output (on by default); off, it is recomputed on resume.
            executor: "thread", "async" or "process"; the workflow's default if omitted
                ("async" for an ``async def``).
            limits: For a "process" step: ``memory``, ``cpu_time``, ``max_output``,
                ``max_recursion``, as `Sandbox` takes them.
            cache_ttl: Reuse the output of an earlier call with the same arguments and code
                for this many seconds (across runs; kept in the store).
            map_over: The name of a step (and parameter) whose output's items this step
                runs on one by one; its output is the list of their results, in order.

        Raises:
            DuplicateNameError-like WorkflowDefinitionError: the name is taken by a step or
                an input, or the function cannot be a step with these options.
            ArgumentTypeError, InvalidArgumentError: an option is wrong.
        """
        if name in self._steps:
            raise WorkflowDefinitionError(f"workflow {self.name!r} already has a step named {name!r}", name)
        if name in self.inputs:
            raise WorkflowDefinitionError(
                f"step {name!r} has the name of an input of workflow {self.name!r}: a parameter named {name!r} "
                "would be ambiguous; rename the step",
                name,
            )
        if name == "ctx":
            raise WorkflowDefinitionError("a step cannot be named 'ctx': that parameter receives the StepContext", name)
        if condition is not None and map_over is not None:
            raise WorkflowDefinitionError(
                f"step {name!r}: a fan-out step takes no condition; filter the items in the step {map_over!r}",
                name,
            )
        step = make_step(
            name, fn, default_executor=self.executor, depends_on=depends_on, retry=retry, timeout=timeout,
            condition=condition, allow_skipped=allow_skipped, on_error=on_error, fallback=fallback,
            checkpoint=checkpoint, executor=executor, limits=limits, cache_ttl=cache_ttl, map_over=map_over,
        )  # fmt: skip
        with self._lock:
            self._steps[name] = step
            self._plan = None

    def validate(self) -> Plan:
        """Checks the workflow (also done by the first run) and returns its plan.

        Raises:
            WorkflowDefinitionError: an unknown dependency, a parameter that maps to nothing.
            CycleError: steps that depend on each other in a cycle (named in ``.cycle``).
        """
        with self._lock:
            if self._plan is None:
                self._plan = plan(list(self._steps.values()), self.inputs)
            return self._plan

    def schedule(
        self,
        *,
        every: float | dt.timedelta | None = None,
        cron: str | None = None,
        tz: str | dt.tzinfo | None = None,
        inputs: Mapping[str, Any] | Callable[[Tick], Mapping[str, Any]] | None = None,
        missed: Literal["skip", "catch_up"] = "skip",
        max_catch_up: int = 10,
        overlap: Literal["skip", "queue"] = "skip",
        name: str | None = None,
    ) -> Schedule:
        """Runs the workflow by itself, every `every` seconds or on a `cron` expression, once
        a `WorkflowActor` hosts it. Options as in `zixir.workflow.schedule.Schedule`.

        Args:
            name: Names the ticks' run ids (``sched-<name>-20261202T101500Z``); by default
                the workflow's name with whitespace replaced by ``_``. Unique per workflow.

        Returns:
            The validated `Schedule`.

        Raises:
            ArgumentTypeError, InvalidArgumentError: an option is wrong (also inputs that
                are not the workflow's).
            WorkflowDefinitionError: the workflow already has a schedule of that name.
        """
        from zixir.workflow.schedule import Schedule  # on first use: cron support stays unloaded

        made = Schedule(
            scheduling.schedule_name(self.name) if name is None else name, every=every, cron=cron, tz=tz,
            inputs=inputs, missed=missed, max_catch_up=max_catch_up, overlap=overlap,
        )  # fmt: skip
        if len(made.name) > scheduling.MAX_NAME:
            raise InvalidArgumentError(f"name must be at most {scheduling.MAX_NAME} characters, got {name!r}", "name")
        if isinstance(inputs, Mapping):
            self._pack_inputs(inputs)
        with self._lock:
            if any(s.name == made.name for s in self._schedules):
                raise WorkflowDefinitionError(
                    f"workflow {self.name!r} already has a schedule named {made.name!r}; pass another name=", made.name
                )
            self._schedules.append(made)
        return made

    @property
    def schedules(self) -> tuple[Schedule, ...]:
        """The workflow's schedules, in the order they were added."""
        with self._lock:
            return tuple(self._schedules)

    @property
    def steps(self) -> tuple[str, ...]:
        """The step names, in the order they were added."""
        return tuple(self._steps)

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
        """
        rid = ids.new_id() if run_id is None else ids.check_id("run_id", run_id)
        return self._run(rid, inputs, rerun=rerun, reopen=False, progress=progress)

    def begin(
        self, run_id: str | None = None, inputs: Mapping[str, Any] | None = None, *, rerun: bool = False
    ) -> Execution:
        """Claims a run as `run` does, without executing it: for a host that executes it on
        another thread (``execution.execute()``) and may abandon it (``execution.abandon()``).

        Raises:
            As `run`, for everything found when claiming.
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
        store = self._open()
        packed, fingerprint = self._pack_inputs(inputs)
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

    def _pack_inputs(self, inputs: Mapping[str, Any] | None) -> tuple[bytes | None, str | None]:
        if inputs is None:
            if self.inputs:
                return None, None  # a fresh run without them fails in claim's check below
            inputs = {}
        if not isinstance(inputs, Mapping):
            raise ArgumentTypeError(f"inputs must be a dict of input name -> value, got {inputs!r}", "inputs")
        missing = sorted(set(self.inputs) - set(inputs))
        unknown = sorted(set(inputs) - set(self.inputs))
        if missing or unknown:
            problems = [f"missing {missing}"] * bool(missing) + [f"unknown {unknown}"] * bool(unknown)
            raise InvalidArgumentError(
                f"workflow {self.name!r} takes the inputs {list(self.inputs)}: {'; '.join(problems)}", "inputs"
            )
        values = dict(inputs)
        for name, value in values.items():
            try:
                serialization.dumps(value, allow_pickle=self.allow_pickle)
            except SerializationError as exc:
                raise SerializationError(
                    f"input {name!r} of workflow {self.name!r} cannot be stored ({exc}); pass values "
                    "zixir.serialization supports, or allow_pickle=True to the Workflow"
                ) from exc
        packed = serialization.dumps(values, allow_pickle=self.allow_pickle)
        import hashlib

        canonical = _fingerprint(sorted(values.items()), allow_pickle=self.allow_pickle)
        return packed, hashlib.blake2b(canonical, digest_size=16).hexdigest()

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
