"""Query plans of cache tables: which index (or the ids, or a scan) answers a where-clause.

`Tables.query` follows the plan chosen here; `Tables.explain` returns it as a `QueryPlan`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from zixir.cache.index_keys import CATCH_ALL, RANGED, Range, equal_ids, index_ranges
from zixir.cache.table_keys import ID
from zixir.cache.where import Condition

__all__ = ["Access", "QueryPlan", "choose"]

Access = Literal["scan", "ids", "index"]


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """How `query` finds the records of a query, as `Cache.explain` reports it.

    Attributes:
        table: The table queried.
        access: ``"index"`` (reads the index on `index`, then the records it points at),
            ``"ids"`` (reads the records an ``"_id"`` condition names) or ``"scan"``
            (reads every record of the table).
        index: The indexed field read, or None.
        reads: How many records the query reads and decodes (a `limit` without
            `order_by` stops it once enough matched, so it may read fewer).
    """

    table: str
    access: Access
    index: str | None
    reads: int

    def __str__(self) -> str:
        return f"index {self.index}" if self.access == "index" else self.access


def choose(
    txn: Any, indexes: list[str], conds: list[Condition], index_db: Callable[[str], Any]
) -> tuple[Access, str | None, list[int] | None]:
    """The access path for `conds`, and ids that hold every match (None: scan).

    Args:
        txn: A read transaction.
        indexes: The table's indexed fields.
        conds: The where-clause's conditions.
        index_db: The database handle of an indexed field.

    Returns:
        The access, the index field used (or None), and the candidate ids in index order
        (possibly repeated, possibly of no record); None for a scan.
    """
    best: tuple[int, str, list[Range]] | None = None
    for field, op, value in conds:
        if field == "_id" and op in ("==", "in"):
            ids = equal_ids(value if op == "in" else [value])
            if ids is not None:
                return "ids", None, ids
        elif field in indexes and op in RANGED:
            ranges = index_ranges(op, value)
            rank = ("==", "in").index(op) if op in ("==", "in") else 2
            if ranges is not None and (best is None or rank < best[0]):
                best = (rank, field, ranges)
    if best is None:
        return "scan", None, None
    _, field, ranges = best
    cursor = txn.cursor(db=index_db(field))
    ids = []
    for start, stop, skip in [*ranges, CATCH_ALL]:  # catch-all: re-checked
        if not cursor.set_range(start):
            continue
        for key in cursor.iternext(values=False):
            part = key[:-8]
            if (part > stop) if stop is not None else (part[:1] != start[:1]):
                break
            if part != skip:
                ids.append(ID.unpack(key[-8:])[0])
    return "index", field, ids
