"""Reading and tending a workflow's store: runs, their status, cancel requests, pruning,
dead letters (list, discard, prepare a replay)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from zixir.errors import CheckpointMissingError, UnknownDeadLetterError, UnknownRunError
from zixir.workflow import ownership
from zixir.workflow.dag import Plan
from zixir.workflow.records import DeadLetter, RunInfo
from zixir.workflow.store import OwnerRecord, WorkflowStore, pack, unpack

__all__ = ["cancel", "dead_letters", "discard", "prepare_replay", "prune", "run_record", "runs"]


def _prefix(workflow: str) -> bytes:
    return f"{workflow}\x00".encode()


def run_record(store: WorkflowStore, workflow: str, run_id: str) -> dict[str, Any]:
    """A run's record.

    Raises:
        UnknownRunError: no such run.
    """
    key = store.run_key(workflow, run_id)
    run = store.read(lambda txn: store.run(txn, key))
    if run is None:
        raise UnknownRunError(f"workflow {workflow!r} has no run {run_id!r} (never started, or pruned)", run_id)
    return run


def runs(store: WorkflowStore, workflow: str, status: str | None, limit: int) -> list[RunInfo]:
    """The workflow's runs, newest first."""

    def collect(txn: Any) -> list[RunInfo]:
        found = []
        for key, raw in store.scan(txn, store.runs, _prefix(workflow)):
            run = unpack(raw, key)
            owner = store.owner(txn, key)
            found.append(
                RunInfo(
                    run["run_id"],
                    run["status"],
                    run["created"],
                    run.get("ended"),
                    None if owner is None or owner.owner is None else str(owner.owner),
                    0 if owner is None else owner.generation,
                    run.get("error"),
                )
            )
        return found

    found = [info for info in store.read(collect) if status is None or info.status == status]
    found.sort(key=lambda info: (info.created, info.run_id), reverse=True)
    return found[:limit]


def cancel(store: WorkflowStore, workflow: str, run_id: str) -> bool:
    """Writes a cancel request for a running run; False if it is not running.

    Raises:
        UnknownRunError: no such run.
    """
    key = store.run_key(workflow, run_id)

    def fill(txn: Any) -> bool | None:
        run = store.run(txn, key)
        if run is None:
            return None
        owner = store.owner(txn, key)
        if run["status"] != "running" or owner is None or owner.owner is None:
            return False
        txn.put(key, OwnerRecord(owner.generation, owner.owner, True).pack(), db=store.owners)
        return True

    done = store.write(fill)
    if done is None:
        raise UnknownRunError(f"workflow {workflow!r} has no run {run_id!r} to cancel", run_id)
    return done


def prune(store: WorkflowStore, workflow: str, keep_last: int) -> int:
    """Deletes all but the newest `keep_last` runs (never one a live owner runs), their
    checkpoints and dead letters, and the workflow's expired cache entries; how many runs."""
    prefix = _prefix(workflow)

    def fill(txn: Any) -> int:
        found = []
        for key, raw in store.scan(txn, store.runs, prefix):
            run = unpack(raw, key)
            found.append((run["created"], run["run_id"], key, run))
        found.sort(reverse=True)
        pruned: set[str] = set()
        for _, run_id, key, run in found[keep_last:]:
            owner = store.owner(txn, key)
            live = owner is not None and owner.owner is not None and ownership.alive(owner.owner)
            if run["status"] == "running" and live:
                continue
            txn.delete(key, db=store.runs)
            txn.delete(key, db=store.owners)
            store.delete_prefix(txn, store.steps, key + b"\x00")
            pruned.add(run_id)
        if pruned:
            doomed = [k for k, raw in store.scan(txn, store.dead, prefix) if unpack(raw, k)["run_id"] in pruned]
            for key in doomed:
                txn.delete(key, db=store.dead)
        now = time.time()
        expired = [k for k, raw in store.scan(txn, store.cache, prefix) if unpack(raw, k)["expires"] <= now]
        for key in expired:
            txn.delete(key, db=store.cache)
        return len(pruned)

    return store.write(fill)


def _letter(record: dict[str, Any]) -> DeadLetter:
    return DeadLetter(
        record["entry_id"], record["workflow"], record["run_id"], record["step"], record.get("item"),
        tuple(record.get("inputs", ())), record["error_type"], record["message"], record["traceback"],
        record["attempts"], record["time"], record.get("replayed"),
    )  # fmt: skip


def dead_letters(
    store: WorkflowStore, workflow: str, limit: int, since: float | dt.datetime | None, include_replayed: bool
) -> list[DeadLetter]:
    """The workflow's dead letters, newest first."""
    after = since.timestamp() if isinstance(since, dt.datetime) else since

    def collect(txn: Any) -> list[DeadLetter]:
        return [_letter(unpack(raw, key)) for key, raw in store.scan(txn, store.dead, _prefix(workflow))]

    found = [
        letter
        for letter in reversed(store.read(collect))
        if (include_replayed or letter.replayed is None) and (after is None or letter.time >= after)
    ]
    return found[:limit]


def discard(store: WorkflowStore, workflow: str, entry_id: str) -> None:
    """Deletes a dead letter.

    Raises:
        UnknownDeadLetterError: no such entry.
    """
    key = store.run_key(workflow, entry_id)
    if not store.write(lambda txn: txn.delete(key, db=store.dead)):
        raise UnknownDeadLetterError(
            f"workflow {workflow!r} has no dead letter {entry_id!r} (discarded, or its run was pruned)", entry_id
        )


def prepare_replay(store: WorkflowStore, workflow: str, plan: Plan, entry_id: str) -> str:
    """Checks a dead letter's checkpoints, forgets its step's failed record and marks the
    entry replayed, in one transaction; returns the run to resume.

    Raises:
        UnknownDeadLetterError: no such entry.
        CheckpointMissingError: the run or a checkpoint its step reads is gone.
    """
    key = store.run_key(workflow, entry_id)

    def fill(txn: Any) -> str:
        raw = txn.get(key, db=store.dead)
        if raw is None:
            raise UnknownDeadLetterError(
                f"workflow {workflow!r} has no dead letter {entry_id!r} (discarded, or its run was pruned)", entry_id
            )
        entry = unpack(raw, key)
        run_id, step = entry["run_id"], entry["step"]
        if store.run(txn, store.run_key(workflow, run_id)) is None:
            raise CheckpointMissingError(
                f"dead letter {entry_id!r} cannot be replayed: its run {run_id!r} was pruned", run_id, step
            )
        planned = plan.by_name.get(step)
        for dep in entry.get("inputs", ()):
            source = plan.by_name.get(dep)
            if source is None or not source.spec.checkpoint:
                continue  # recomputed on resume
            record = txn.get(store.step_key(workflow, run_id, dep), db=store.steps)
            if record is None or unpack(record, key)["status"] not in ("succeeded", "failed_continued", "skipped"):
                raise CheckpointMissingError(
                    f"dead letter {entry_id!r} cannot be replayed: the checkpoint of step {dep!r} in run "
                    f"{run_id!r} is gone",
                    run_id,
                    dep,
                )
        if planned is not None:
            txn.delete(store.step_key(workflow, run_id, step, entry.get("item")), db=store.steps)
            if entry.get("item") is not None:
                txn.delete(store.step_key(workflow, run_id, step), db=store.steps)
        entry["replayed"] = time.time()
        txn.put(key, pack(entry), db=store.dead)
        return str(run_id)

    return store.write(fill)
