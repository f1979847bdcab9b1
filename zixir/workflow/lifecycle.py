"""A run's beginning and end in the store: claiming it (fresh, resumed, taken over from a
dead owner, or already succeeded), rebuilding step states from its records, and finishing it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from zixir.errors import InvalidArgumentError, RunMismatchError, RunOwnedError
from zixir.workflow import ownership
from zixir.workflow.dag import Plan
from zixir.workflow.fanout import MISSING
from zixir.workflow.outcomes import to_step_record
from zixir.workflow.records import RunResult, RunStatus, StepRecord
from zixir.workflow.store import OwnerRecord, WorkflowStore, pack
from zixir.workflow.tasks import DONE, StepState, load_output

__all__ = ["Claim", "abandoned", "claim", "finish", "result", "states_from_records"]

# Runs being executed in this process: (store path, workflow, run id) -> the generation
# executing it. A run recorded as owned by this process but absent here was left by an
# earlier call that died, or abandoned (`abandon`): it may be taken over.
_active: dict[tuple[str, str, str], int] = {}
_active_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Claim:
    """What claiming a run found: "fresh" (created now), "resume", or "done" (succeeded)."""

    kind: str
    generation: int
    record: dict[str, Any]


def claim(
    store: WorkflowStore,
    workflow: str,
    run_id: str,
    inputs: bytes | None,
    inputs_fp: str | None,
    shape: str,
    *,
    rerun: bool,
    reopen: bool = False,
) -> Claim:
    """Takes ownership of a run in one write transaction (see `Workflow.run`).

    Args:
        inputs: The run's serialized inputs, None when omitted (a resume uses its own).
        inputs_fp: Their fingerprint, None when omitted.
        shape: The plan's shape fingerprint.
        rerun: Start a run over, whatever its state.
        reopen: Resume even a succeeded run (a replay).

    Raises:
        RunMismatchError: other inputs or another DAG shape than the run's.
        RunOwnedError: a live owner runs it.
    """
    key = store.run_key(workflow, run_id)
    me = ownership.me()
    mark = (store.path, workflow, run_id)
    taken: list[int] = []

    def fill(txn: Any) -> Claim:
        run = store.run(txn, key)
        owner = store.owner(txn, key)
        now = time.time()
        if run is None:
            first = inputs if inputs is not None else _no_inputs(workflow, run_id)
            run = {
                "run_id": run_id, "status": "running", "inputs": first,
                "inputs_fp": inputs_fp, "shape": shape, "created": now, "started": now, "ended": None, "error": None,
            }  # fmt: skip
            return _take(txn, run, 1, "fresh")
        if run["shape"] != shape:
            raise RunMismatchError(
                f"run {run_id!r} of workflow {workflow!r} was started with other steps or edges: resume it with "
                "the workflow it started with, or start a new run (another run_id, or rerun=True)",
                run_id,
            )
        if inputs_fp is not None and run["inputs_fp"] != inputs_fp and not rerun:
            raise RunMismatchError(
                f"run {run_id!r} of workflow {workflow!r} was started with other inputs: resume it with the same "
                "inputs (or omit inputs=), or start a new run",
                run_id,
            )
        if run["status"] == "succeeded" and not rerun and not reopen:
            return Claim("done", owner.generation if owner else 0, run)
        if owner is not None and owner.owner is not None:
            if owner.owner == me:
                with _active_lock:
                    busy = mark in _active
            else:
                busy = ownership.alive(owner.owner)
            if busy:
                raise RunOwnedError(
                    f"run {run_id!r} of workflow {workflow!r} is being run by {owner.owner} (alive): wait for it, "
                    "or cancel it with Workflow.cancel",
                    run_id,
                )
        if rerun:
            store.delete_prefix(txn, store.steps, key + b"\x00")
            if inputs is not None:
                run.update(inputs=inputs, inputs_fp=inputs_fp)
        run.update(status="running", started=now, ended=None, error=None)
        return _take(txn, run, (owner.generation if owner else 0) + 1, "resume")

    def _take(txn: Any, run: dict[str, Any], generation: int, kind: str) -> Claim:
        txn.put(key, pack(dict(run)), db=store.runs)
        txn.put(key, OwnerRecord(generation, me, False).pack(), db=store.owners)
        with _active_lock:
            _active[mark] = generation
        taken.append(generation)
        return Claim(kind, generation, run)

    try:
        return store.write(fill)
    except BaseException:
        if taken:  # marked, then the transaction failed to commit
            release(store, workflow, run_id, taken[-1])
        raise


def _no_inputs(workflow: str, run_id: str) -> bytes:
    raise InvalidArgumentError(
        f"run {run_id!r} of workflow {workflow!r} is new and needs its inputs: pass inputs={{...}}", "inputs"
    )


def release(store: WorkflowStore, workflow: str, run_id: str, generation: int) -> None:
    """This process no longer executes the run's `generation` (a newer one, after a
    takeover in this process, stays marked)."""
    mark = (store.path, workflow, run_id)
    with _active_lock:
        if _active.get(mark) == generation:
            del _active[mark]


def abandoned(store: WorkflowStore, workflow: str, run_id: str) -> bool:
    """Whether the run is recorded as owned by this process and no call executes it (an
    earlier call died, or its host abandoned it): it may be taken over."""
    key = store.run_key(workflow, run_id)
    owner = store.read(lambda txn: store.owner(txn, key))
    if owner is None or owner.owner is None:
        return False
    if owner.owner != ownership.me():
        return not ownership.alive(owner.owner)
    with _active_lock:
        return (store.path, workflow, run_id) not in _active


def finish(store: WorkflowStore, workflow: str, run_id: str, generation: int, status: str, error: str | None) -> bool:
    """Records a run's end and clears its owner; False if the run has a newer owner."""
    key = store.run_key(workflow, run_id)

    def fill(txn: Any) -> bool:
        owner = store.owner(txn, key)
        run = store.run(txn, key)
        if owner is None or run is None or owner.generation != generation:
            return False
        run.update(status=status, ended=time.time(), error=error)
        txn.put(key, pack(run), db=store.runs)
        txn.put(key, OwnerRecord(generation, None, False).pack(), db=store.owners)
        return True

    return store.write(fill)


def states_from_records(
    plan: Plan, records: dict[tuple[str, int | None], dict[str, Any]], allow_pickle: bool
) -> list[StepState]:
    """Each step's state from its stored records: committed steps done (outputs loaded),
    a step interrupted mid-retries keeps its attempt count, the rest start anew."""
    states = [StepState() for _ in plan.steps]
    for (name, item), record in records.items():
        planned = plan.by_name.get(name)
        if planned is None:
            continue
        state = states[planned.index]
        status = record["status"]
        if item is None:
            state.record = record
            if status == "skipped" or (status in DONE and planned.spec.checkpoint):
                state.status, state.output = status, load_output(record, allow_pickle)
            elif status == "running":
                state.attempts = record.get("attempts", 0)
            continue
        state.item_records[item] = record
        if status in ("succeeded", "failed_continued") and record.get("output") is not None:
            if state.items is None:
                state.items = []
            state.items.extend([MISSING] * (item + 1 - len(state.items)))
            state.items[item] = load_output(record, allow_pickle)
        elif status == "running":
            state.item_attempts[item] = record.get("attempts", 0)
    return states


def result(
    workflow: str, plan: Plan, run: dict[str, Any], states: list[StepState], status: RunStatus, error: str | None
) -> RunResult:
    """The `RunResult` of a run from its steps' states."""
    outputs: dict[str, Any] = {}
    steps: dict[str, StepRecord] = {}
    for planned in plan.steps:
        name = planned.spec.name
        state = states[planned.index]
        if state.status in ("succeeded", "failed_continued"):
            outputs[name] = state.output
        record = state.record
        step = StepRecord(name, "pending") if record is None else to_step_record(name, record)
        if state.status not in DONE and step.status in DONE:
            step = to_step_record(name, dict(record or {}, status="pending"))  # kept no checkpoint: runs again
        if state.item_records:
            items = tuple(to_step_record(name, r, i) for i, r in sorted(state.item_records.items()))
            step = StepRecord(
                name, step.status, step.attempts, step.start, step.end, step.error, step.traceback, None,
                step.cached, items,
            )  # fmt: skip
        steps[name] = step
    return RunResult(
        workflow,
        run["run_id"],
        status,
        outputs,
        steps,
        run.get("created", 0.0),
        run.get("ended"),
        error,
    )
