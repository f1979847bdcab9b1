"""Keys of cache tables: record keys by table and id, meta keys, index database names.

Also the checks of table names and ids; `zixir.cache.tables` builds every key here.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from typing import Any

from zixir.errors import RecordNotFoundError

__all__ = [
    "ID", "META", "ROWS", "candidate_keys", "index_db", "meta_key", "not_found", "row_key",
    "row_keys", "table_prefix", "table_rows",
]  # fmt: skip

ROWS, META = b"t:rows", b"t:meta"  # records of every table; table metadata
ID = struct.Struct(">Q")  # big-endian, so a table's records sort by id
_MAX_TABLE = 400  # UTF-8 bytes of a table name


def table_prefix(table: str) -> bytes:
    """The key prefix of `table`'s records."""
    if not isinstance(table, str):
        raise TypeError(f"table names are str, got {type(table).__name__} {table!r:.40}")
    raw = table.encode("utf-8", "surrogatepass")
    if not raw or b"\x00" in raw or len(raw) > _MAX_TABLE:
        raise ValueError(f"table names are 1 to {_MAX_TABLE} UTF-8 bytes without NUL characters, got {table!r:.60}")
    return raw + b"\x00"


def row_key(prefix: bytes, id: int) -> bytes | None:
    """The key of record `id` (None: an id no record can have)."""
    if not isinstance(id, int) or isinstance(id, bool):
        raise TypeError(f"record ids are int, got {type(id).__name__} {id!r:.40}")
    return prefix + ID.pack(id) if 0 < id < 1 << 64 else None


def not_found(table: str, id: int) -> RecordNotFoundError:
    return RecordNotFoundError(
        f"table {table!r} has no record {id!r}; update needs an id that insert returned "
        f"and that was not deleted (query({table!r}) lists the records)",
        table,
        id,
    )


def meta_key(table: str) -> bytes:
    return b"T" + table.encode("utf-8", "surrogatepass")


def index_db(table: str, field: str) -> bytes:
    name = f"{table}\x00{field}".encode("utf-8", "surrogatepass")
    return b"t:ix:" + hashlib.sha256(name).hexdigest()[:32].encode()


def candidate_keys(prefix: bytes, ids: list[int]) -> list[bytes]:
    """The keys of the records with `ids` (each once, in id order), of ids a record can have."""
    return [prefix + ID.pack(i) for i in sorted(set(ids)) if 0 <= i < 1 << 64]


def row_keys(cursor: Any, prefix: bytes) -> Iterator[bytes]:
    """The keys of one table's records, in id order, read without copying the records."""
    if cursor.set_range(prefix):
        for key in cursor.iternext(values=False):
            if not key.startswith(prefix):
                break
            yield key


def table_rows(txn: Any, db: Any, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The (key, record) pairs of one table, in id order."""
    cursor = txn.cursor(db=db)
    if cursor.set_range(prefix):
        for key, data in cursor:
            if not key.startswith(prefix):
                break
            yield key, data
