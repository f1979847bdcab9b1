"""A workflow's records in LMDB: runs, their owners, step checkpoints, dead letters and
cached outputs, on the cache's shared environment write path (`zixir.cache.env`).

Records are `zixir.serialization` maps carrying `LAYOUT` (this module's record layout,
separate from the value format's version); a step's output is nested as its own
serialized bytes. Keys start with the workflow's name, so workflows can share a store.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from zixir import serialization
from zixir.cache import env as envs
from zixir.errors import CorruptRecordError, FormatVersionError
from zixir.workflow.ownership import Owner

__all__ = ["LAYOUT", "OwnerRecord", "WorkflowStore", "pack", "unpack"]

#: The layout of the records this version writes; older layouts stay readable.
LAYOUT = 1
T = TypeVar("T")

_RUNS, _OWNERS, _STEPS, _DEAD, _CACHE = b"wf.runs", b"wf.owners", b"wf.steps", b"wf.dead", b"wf.cache"
_TICKS = b"wf.ticks"  # workflow NUL schedule -> the run id of the last tick started


def pack(record: dict[str, Any]) -> bytes:
    """A record's bytes, stamped with `LAYOUT`."""
    record["v"] = LAYOUT
    return serialization.dumps(record)


def unpack(raw: bytes | memoryview, key: bytes) -> dict[str, Any]:
    """A record from its bytes.

    Raises:
        CorruptRecordError: the bytes are not a record.
        FormatVersionError: the record was written by a newer layout.
    """
    try:
        record = serialization.loads(raw)
    except FormatVersionError:
        raise
    except Exception as exc:
        raise CorruptRecordError(f"the workflow record {key!r} is unreadable: {exc}", bytes(key)) from exc
    if not isinstance(record, dict) or not isinstance(record.get("v"), int):
        raise CorruptRecordError(f"the workflow record {key!r} is not a record", bytes(key))
    if record["v"] > LAYOUT:
        raise FormatVersionError(
            f"the workflow record {key!r} has layout {record['v']}, newer than this version reads ({LAYOUT}): "
            "upgrade zixir",
            record["v"],
        )
    return record


class OwnerRecord:
    """A run's owner, generation and cancel request: the small record every commit checks."""

    __slots__ = ("cancel", "generation", "owner")

    def __init__(self, generation: int, owner: Owner | None, cancel: bool) -> None:
        self.generation = generation
        self.owner = owner
        self.cancel = cancel

    def pack(self) -> bytes:
        owner = self.owner
        fields: list[Any] = [LAYOUT, self.generation, self.cancel]
        if owner is not None:
            fields += [owner.host, owner.pid, owner.started]
        return serialization.dumps(fields)

    @classmethod
    def unpack(cls, raw: bytes | memoryview) -> OwnerRecord:
        fields = serialization.loads(raw)
        owner = Owner(fields[3], fields[4], fields[5]) if len(fields) > 3 else None
        return cls(fields[1], owner, fields[2])


class WorkflowStore:
    """The named databases of one store directory, and the operations on them.

    Args:
        path: The store's directory (created if missing).
        durable: fsync every commit (survives power loss); otherwise commits survive a
            crash of the process but not of the machine.
        map_size: The initial map size in bytes; it grows as needed.
    """

    def __init__(self, path: str | os.PathLike[str], durable: bool, map_size: int = 64 << 20) -> None:
        self.shared = envs.acquire(path, map_size, durable)
        try:
            self.runs = self.shared.open_db(_RUNS)
            self.owners = self.shared.open_db(_OWNERS)
            self.steps = self.shared.open_db(_STEPS)
            self.dead = self.shared.open_db(_DEAD)
            self.cache = self.shared.open_db(_CACHE)
            self.ticks = self.shared.open_db(_TICKS)
        except BaseException:
            envs.release(self.shared)
            raise
        self.path = self.shared.path
        self.durable = durable
        self.closed = False

    def close(self) -> None:
        """Releases the environment (once)."""
        if not self.closed:
            self.closed = True
            envs.release(self.shared)

    # -- keys -------------------------------------------------------------------------------

    @staticmethod
    def run_key(workflow: str, run_id: str) -> bytes:
        return f"{workflow}\x00{run_id}".encode()

    @staticmethod
    def step_key(workflow: str, run_id: str, step: str, item: int | None = None) -> bytes:
        tail = "" if item is None else f"\x00{item:09d}"
        return f"{workflow}\x00{run_id}\x00{step}{tail}".encode()

    @staticmethod
    def split_step_key(key: bytes) -> tuple[str, int | None]:
        parts = bytes(key).decode().split("\x00")
        return parts[2], (int(parts[3]) if len(parts) > 3 else None)

    # -- transactions -----------------------------------------------------------------------

    def write(self, fill: Callable[[Any], T]) -> T:
        """``fill(txn)`` in one write transaction (re-run whole if the map must grow)."""
        return self.shared.write(fill, sync=self.durable)

    def read(self, fn: Callable[[Any], T]) -> T:
        return self.shared.read(fn)

    def scan(self, txn: Any, db: Any, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) of every entry of `db` whose key starts with `prefix`, in key order."""
        cursor = txn.cursor(db=db)
        if not cursor.set_range(prefix):
            return
        for key, value in cursor:
            if not key.startswith(prefix):
                return
            yield key, value

    def owner(self, txn: Any, key: bytes) -> OwnerRecord | None:
        raw = txn.get(key, db=self.owners)
        return None if raw is None else OwnerRecord.unpack(raw)

    def run(self, txn: Any, key: bytes) -> dict[str, Any] | None:
        raw = txn.get(key, db=self.runs)
        return None if raw is None else unpack(raw, key)

    def step_records(self, workflow: str, run_id: str) -> dict[tuple[str, int | None], dict[str, Any]]:
        """Every step (and fan-out item) record of a run."""
        prefix = self.run_key(workflow, run_id) + b"\x00"

        def collect(txn: Any) -> dict[tuple[str, int | None], dict[str, Any]]:
            return {self.split_step_key(k): unpack(v, k) for k, v in self.scan(txn, self.steps, prefix)}

        return self.read(collect)

    def delete_prefix(self, txn: Any, db: Any, prefix: bytes) -> int:
        """Deletes every entry of `db` under `prefix`; how many."""
        keys = [key for key, _ in self.scan(txn, db, prefix)]
        for key in keys:
            txn.delete(key, db=db)
        return len(keys)
