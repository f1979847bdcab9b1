"""Opening a workflow's store from a data dir without its step functions, and reading a
run's status from the records alone (steps in the order they started).

Reads go through `zixir.workflow.admin` and `WorkflowStore`, as `Workflow` does; nothing
here writes except `admin.cancel`'s request, which any process may make.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zixir.cli._common import CommandError

if TYPE_CHECKING:
    from zixir.workflow.records import RunResult
    from zixir.workflow.store import WorkflowStore

__all__ = ["decode", "open_store", "run_status", "store_path"]


def store_path(data_dir: Path, workflow: str, store: str | None) -> Path:
    """Where workflow `workflow`'s store is; an error naming the stores there if it is not."""
    from zixir.daemon import layout

    path = layout.workflow_store(data_dir, workflow, store).resolve()
    if not (path / "data.mdb").is_file():
        names = layout.workflow_names(data_dir)
        there = f"; {data_dir / layout.WORKFLOWS} has: {', '.join(names)}" if names else ""
        raise CommandError(
            f"no workflow store at {path}: check the workflow's name and --data-dir, or give its --store{there}"
        )
    return path


@contextlib.contextmanager
def open_store(path: Path) -> Iterator[WorkflowStore]:
    """The store at `path`, closed on exit."""
    from zixir.workflow.store import WorkflowStore

    store = WorkflowStore(path, durable=False)
    try:
        yield store
    finally:
        store.close()


def decode(raw: bytes, what: str, allow_pickle: bool) -> Any:
    """Stored bytes as a value; an error naming ``--allow-pickle`` or ``--app`` when the
    bytes need them."""
    from zixir import serialization
    from zixir.errors import SerializationError

    try:
        return serialization.loads(raw, allow_pickle=allow_pickle)
    except SerializationError as exc:
        text = str(exc)
        if "pickle" in text and not allow_pickle:
            raise CommandError(f"{what} was stored by pickle: pass --allow-pickle if you trust the store") from exc
        raise CommandError(
            f"{what} cannot be read ({text}); pass --app with the module that registers its classes"
        ) from exc


def run_status(store: WorkflowStore, workflow: str, run_id: str, outputs: bool, allow_pickle: bool) -> RunResult:
    """A run's result from its records: steps in the order they started (those that never
    started last, by name), fan-out items under their step; outputs only if asked.

    Raises:
        UnknownRunError: no such run.
    """
    from zixir.workflow import admin
    from zixir.workflow.outcomes import to_step_record
    from zixir.workflow.records import RunResult, StepRecord

    run = admin.run_record(store, workflow, run_id)
    records = store.step_records(workflow, run_id)
    own = {name: record for (name, item), record in records.items() if item is None}
    items: dict[str, list[StepRecord]] = {}
    for (name, item), record in sorted(records.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        if item is not None:
            items.setdefault(name, []).append(to_step_record(name, record, item))
    steps: dict[str, StepRecord] = {}
    for name in sorted(own.keys() | items.keys(), key=lambda n: (_started(own.get(n), items.get(n)), n)):
        found = own.get(name)
        step = to_step_record(name, found) if found is not None else StepRecord(name, "running")
        if name in items:
            step = StepRecord(
                name, step.status, step.attempts, step.start, step.end, step.error, step.traceback, None,
                step.cached, tuple(items[name]),
            )  # fmt: skip
        steps[name] = step
    values: dict[str, Any] = {}
    if outputs:
        for name, record in own.items():
            raw = record.get("output")
            if raw is not None:
                values[name] = decode(raw, f"the output of step {name!r} in run {run_id!r}", allow_pickle)
    return RunResult(
        workflow, run["run_id"], run["status"], values, steps, run.get("created", 0.0), run.get("ended"),
        run.get("error"),
    )  # fmt: skip


def _started(record: dict[str, Any] | None, items: list[Any] | None) -> float:
    starts = [record.get("start")] if record is not None else []
    starts += [item.start for item in items or ()]
    known = [s for s in starts if s is not None]
    return min(known) if known else math.inf
