"""What a finished attempt leaves: the step's record, its dead letter and its cache entry,
encoded outside any transaction so that a commit only writes bytes.
"""

from __future__ import annotations

import hashlib
import time
import traceback
from dataclasses import dataclass
from typing import Any

from zixir import serialization
from zixir.errors import SerializationError
from zixir.workflow import ids
from zixir.workflow.dag import PlannedStep
from zixir.workflow.records import StepRecord
from zixir.workflow.store import WorkflowStore, pack

__all__ = ["StepOutcome", "cache_digest", "dead_letter", "describe", "encode_output", "step_record"]


@dataclass(slots=True, eq=False)
class StepOutcome:
    """A step's (or item's) end, ready to commit.

    Attributes:
        planned: The step.
        item: The fan-out item, or None.
        status: The step's new status.
        value: Its output in memory (None if it has none).
        record: The record to store, as a map (its "output" already bytes).
        key: The record's key.
        counted: Produced by a running task (a fan-out step's own end is not).
        dead: A dead letter's (key, bytes), or None.
        cache: A cache entry's (key, bytes), or None.
        ref: A Ray step's output's ObjectRef (never stored: only this run's later Ray
            steps receive it), or None.
    """

    planned: PlannedStep
    item: int | None
    status: str
    value: Any
    record: dict[str, Any]
    key: bytes
    counted: bool = True
    dead: tuple[bytes, bytes] | None = None
    cache: tuple[bytes, bytes] | None = None
    ref: Any = None


def describe(error: BaseException) -> str:
    """``"TypeName: message"``."""
    return f"{type(error).__name__}: {error}"


def encode_output(step: str, value: Any, allow_pickle: bool) -> bytes:
    """A step's output as stored bytes.

    Raises:
        SerializationError: it cannot be stored; names the step, the type and the fix.
    """
    try:
        return serialization.dumps(value, allow_pickle=allow_pickle)
    except SerializationError as exc:
        hint = "" if allow_pickle else ", or pass allow_pickle=True to the Workflow"
        raise SerializationError(
            f"step {step!r} returned a {type(value).__qualname__} that cannot be stored ({exc}): return "
            f"values zixir.serialization supports{hint}"
        ) from exc


def step_record(
    status: str,
    attempts: int,
    start: float | None,
    output: bytes | None = None,
    error: str | None = None,
    text: str | None = None,
    cached: bool = False,
) -> dict[str, Any]:
    """A step record's fields (`store.pack` stamps the layout)."""
    return {
        "status": status, "attempts": attempts, "start": start, "end": time.time(), "output": output,
        "error": error, "traceback": text, "cached": cached,
    }  # fmt: skip


def to_step_record(name: str, record: dict[str, Any], item: int | None = None) -> StepRecord:
    """The public `StepRecord` of a stored record."""
    return StepRecord(
        step=name, status=record["status"], attempts=record.get("attempts", 0), start=record.get("start"),
        end=record.get("end"), error=record.get("error"), traceback=record.get("traceback"), item=item,
        cached=bool(record.get("cached")),
    )  # fmt: skip


def dead_letter(
    workflow: str, run_id: str, planned: PlannedStep, item: int | None, error: BaseException, text: str, attempts: int
) -> tuple[bytes, bytes]:
    """A dead letter's key and bytes. Never raises: a failure to describe the error is
    itself described, so writing a dead letter never breaks the failure path."""
    entry_id = ids.new_id()
    key = WorkflowStore.run_key(workflow, entry_id)
    fields = {
        "entry_id": entry_id, "workflow": workflow, "run_id": run_id, "step": planned.spec.name, "item": item,
        "inputs": list(planned.data_deps), "attempts": attempts, "time": time.time(), "replayed": None,
    }  # fmt: skip
    try:
        kind = type(error)
        fields.update(error_type=f"{kind.__module__}.{kind.__qualname__}", message=str(error), traceback=str(text))
        return key, pack(fields)
    except Exception as exc:  # e.g. an error whose __str__ raises
        fields.update(
            error_type="unknown",
            message=f"the error could not be described: {describe(exc)}",
            traceback="".join(traceback.format_exception(exc)),
        )
        return key, pack(fields)


def cache_digest(workflow: str, planned: PlannedStep, kwargs: dict[str, Any], allow_pickle: bool) -> bytes:
    """The cache key of a step's call: workflow, step, its code's hash and its arguments.

    Raises:
        SerializationError: an argument cannot be serialized (so cannot key the cache).
    """
    arguments = sorted((name, value) for name, value in kwargs.items() if name != "ctx")
    try:
        blob = serialization.dumps(arguments, allow_pickle=allow_pickle)
    except SerializationError as exc:
        raise SerializationError(
            f"step {planned.spec.name!r} has cache_ttl but its arguments cannot be serialized to key the cache: {exc}"
        ) from exc
    digest = hashlib.blake2b(blob, digest_size=20, key=planned.spec.code_hash.encode()[:64]).hexdigest()
    return f"{workflow}\x00{planned.spec.name}\x00{digest}".encode()
