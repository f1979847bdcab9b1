"""Tables of records in a Cache's LMDB environment: ascending ids, where-queries, indexes.

`zixir.Cache` delegates its table methods (insert, query, create_index...) here; see docs/cache.md.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import lmdb

from zixir import serialization
from zixir.cache.index_keys import (
    CATCH_ALL,
    RANGED,
    Range,
    equal_ids,
    index_part,
    index_part_of,
    index_ranges,
)
from zixir.cache.where import Condition, conditions, field_name, matches, ordered, record_fields
from zixir.errors import CacheError, CorruptRecordError, RecordNotFoundError, SerializationError

if TYPE_CHECKING:
    from zixir.cache.cache import Cache

__all__ = ["Tables"]

T = TypeVar("T")
_ROWS, _META = b"t:rows", b"t:meta"  # records of every table; table metadata
_ID = struct.Struct(">Q")  # big-endian, so a table's records sort by id
_MAX_TABLE = 400  # UTF-8 bytes of a table name


class _Retry(Exception):
    """The snapshot a write was computed from changed, or index databases must be opened."""

    def __init__(self, names: tuple[bytes, ...] = ()) -> None:
        super().__init__(names)
        self.names = names


class Tables:
    """The table operations of one `Cache`, sharing its environment and write path.

    Records of every table live in one named database keyed by table name and id; each
    index is a named database of keys (type tag, sortable value, id); a meta database holds
    each table's next id and indexed fields.
    """

    def __init__(self, cache: Cache) -> None:
        self._cache = cache
        self._dbs: dict[bytes, Any] = {}  # named database -> handle
        self.last_query_decoded = 0
        """Records the last `query` decoded (the measure that an index avoided a scan)."""
        self.last_query_plan = ""
        """How the last `query` found its records: "scan", "ids" or "index <field>"."""

    # ---- the operations (documented on Cache) ----------------------------------------

    def insert(self, table: str, record: Mapping[str, Any]) -> int:
        prefix, fields = _table(table), record_fields(record, "the record")
        payload = serialization.dumps(fields)
        new_id: list[int] = []

        def write(txn: Any) -> None:
            meta = self._meta(txn, table)
            rid = meta["next"]
            meta["next"] = rid + 1
            txn.put(prefix + _ID.pack(rid), payload, db=self._db(_ROWS))
            for field in meta["indexes"]:
                if field in fields:
                    db = self._db(_index_db(table, field))
                    txn.put(index_part(fields[field]) + _ID.pack(rid), b"", db=db)
            txn.put(_meta_key(table), serialization.dumps(meta), db=self._db(_META))
            new_id[:] = [rid]

        self._run(lambda: self._cache._write(write))
        return new_id[0]

    def get_record(self, table: str, id: int) -> dict[str, Any] | None:
        key = _row_key(_table(table), id)
        if key is None:
            return None
        with self._reading() as txn:
            data = txn.get(key, db=self._db(_ROWS))
        return None if data is None else self._decode(table, key, data)

    def update(self, table: str, id: int, changes: Mapping[str, Any]) -> dict[str, Any]:
        key = _row_key(_table(table), id)
        changes = record_fields(changes, "the changes", id)
        if key is None:
            raise _not_found(table, id)

        def step() -> dict[str, Any]:
            with self._reading() as txn:
                old, indexes = txn.get(key, db=self._db(_ROWS)), self._meta(txn, table)["indexes"]
            if old is None:
                raise _not_found(table, id)
            record = self._decode(table, key, old)
            del record["_id"]
            merged = {**record, **changes}
            payload = serialization.dumps(merged)
            moves = [
                (_index_db(table, f), index_part_of(record, f), index_part_of(merged, f))
                for f in indexes
            ]

            def write(txn: Any) -> None:
                self._unchanged(txn, table, key, old, indexes)
                for name, before, after in moves:
                    if before != after:
                        if before is not None:
                            txn.delete(before + key[-8:], db=self._db(name))
                        if after is not None:
                            txn.put(after + key[-8:], b"", db=self._db(name))
                txn.put(key, payload, db=self._db(_ROWS))

            self._cache._write(write)
            return {**merged, "_id": id}

        return self._run(step)

    def delete_record(self, table: str, id: int) -> bool:
        key = _row_key(_table(table), id)
        if key is None:
            return False

        def step() -> bool:
            with self._reading() as txn:
                old, indexes = txn.get(key, db=self._db(_ROWS)), self._meta(txn, table)["indexes"]
            if old is None:
                return False
            record = self._decode(table, key, old) if indexes else {}
            parts = [(_index_db(table, f), index_part_of(record, f)) for f in indexes]

            def write(txn: Any) -> None:
                self._unchanged(txn, table, key, old, indexes)
                for name, part in parts:
                    if part is not None:
                        txn.delete(part + key[-8:], db=self._db(name))
                txn.delete(key, db=self._db(_ROWS))

            self._cache._write(write)
            return True

        return self._run(step)

    def create_index(self, table: str, field: str) -> None:
        if field == "_id":
            raise ValueError("'_id' needs no index: query(where={'_id': ...}) reads records by id")
        prefix, name = _table(table), _index_db(table, field_name(field, "create_index"))
        self._open((name,))

        def step() -> None:
            with self._reading() as txn:
                snapshot = txn.id()
                if field in self._meta(txn, table)["indexes"]:
                    return
                rows = list(_rows(txn, self._db(_ROWS), prefix))
            parts = []
            for key, data in rows:
                record = self._decode(table, key, data)
                if field in record:
                    parts.append(index_part(record[field]) + key[-8:])
            parts.sort()

            def write(txn: Any) -> None:
                meta = self._meta(txn, table)
                if field in meta["indexes"]:
                    return  # another writer built it
                if txn.id() != snapshot + 1 and list(_rows(txn, self._db(_ROWS), prefix)) != rows:
                    raise _Retry()  # records changed since they were read
                db = self._db(name)
                txn.drop(db, delete=False)
                for part in parts:
                    txn.put(part, b"", db=db, append=True)
                meta["indexes"].append(field)
                txn.put(_meta_key(table), serialization.dumps(meta), db=self._db(_META))

            self._cache._write(write)

        self._run(step)

    def query(
        self,
        table: str,
        where: Mapping[str, Any] | None = None,
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        prefix, conds = _table(table), conditions(where)
        if order_by is not None:
            field_name(order_by, "order_by", allow_id=True)
        if limit is not None and (type(limit) is not int or limit < 0):
            raise ValueError(f"limit must be None or an int >= 0, got {limit!r}")
        if type(offset) is not int or offset < 0:
            raise ValueError(f"offset must be an int >= 0, got {offset!r}")
        enough = offset + limit if limit is not None and order_by is None else None
        found = self._run(lambda: self._select(table, prefix, conds, enough))
        if order_by is not None:
            found = ordered(found, order_by, descending)
        return found[offset : None if limit is None else offset + limit]

    # ---- internals -------------------------------------------------------------------

    def _select(
        self, table: str, prefix: bytes, conds: list[Condition], enough: int | None
    ) -> list[dict[str, Any]]:
        """The records matching every condition, in id order (the first `enough` if given)."""
        found: list[dict[str, Any]] = []
        decoded = 0
        with self._reading() as txn:
            rows = self._db(_ROWS)
            plan, ids = self._plan(txn, table, conds)
            if ids is None:
                candidates: Iterator[tuple[bytes, bytes | None]] = _rows(txn, rows, prefix)
            else:
                keys = [prefix + _ID.pack(i) for i in sorted(set(ids)) if 0 <= i < 1 << 64]
                candidates = ((k, txn.get(k, db=rows)) for k in keys)
            for key, data in candidates:
                if enough is not None and len(found) >= enough:
                    break
                if data is None:
                    continue  # an "_id" no record has
                decoded += 1
                record = self._decode(table, key, data)
                if all(matches(record, *cond) for cond in conds):
                    found.append(record)
        self.last_query_decoded, self.last_query_plan = decoded, plan
        return found

    def _plan(self, txn: Any, table: str, conds: list[Condition]) -> tuple[str, list[int] | None]:
        """Ids that hold every match, read from the best usable index; None: scan the table."""
        indexes = self._meta(txn, table)["indexes"]
        best: tuple[int, str, list[Range]] | None = None
        for field, op, value in conds:
            if field == "_id" and op in ("==", "in"):
                ids = equal_ids(value if op == "in" else [value])
                if ids is not None:
                    return "ids", ids
            elif field in indexes and op in RANGED:
                ranges = index_ranges(op, value)
                rank = ("==", "in").index(op) if op in ("==", "in") else 2
                if ranges is not None and (best is None or rank < best[0]):
                    best = (rank, field, ranges)
        if best is None:
            return "scan", None
        _, field, ranges = best
        db = self._db(_index_db(table, field))
        cursor = txn.cursor(db=db)
        ids = []
        for start, stop, skip in [*ranges, CATCH_ALL]:  # catch-all: re-checked
            if not cursor.set_range(start):
                continue
            for key in cursor.iternext(values=False):
                part = key[:-8]
                if (part > stop) if stop is not None else (part[:1] != start[:1]):
                    break
                if part != skip:
                    ids.append(_ID.unpack(key[-8:])[0])
        return f"index {field}", ids

    def _meta(self, txn: Any, table: str) -> dict[str, Any]:
        data = txn.get(_meta_key(table), db=self._db(_META))
        meta: dict[str, Any] = (
            {"next": 1, "indexes": []} if data is None else serialization.loads(data)
        )
        missing = tuple(n for f in meta["indexes"] if (n := _index_db(table, f)) not in self._dbs)
        if missing:
            raise _Retry(missing)  # indexes made by another Cache: open them, then retry
        return meta

    def _unchanged(self, txn: Any, table: str, key: bytes, old: bytes, indexes: list[str]) -> None:
        """Raises `_Retry` unless the record and the indexes are as a snapshot saw them."""
        if txn.get(key, db=self._db(_ROWS)) != old or self._meta(txn, table)["indexes"] != indexes:
            raise _Retry()

    def _db(self, name: bytes) -> Any:
        db = self._dbs.get(name)
        if db is None:
            raise _Retry((name,))
        return db

    def _open(self, names: tuple[bytes, ...]) -> None:
        """Opens (creating if missing) named databases; never inside a transaction."""
        shared = self._cache._shared
        with shared.write_lock:
            for name in (n for n in (_ROWS, _META, *names) if n not in self._dbs):
                try:
                    self._dbs[name] = shared.growing(functools.partial(shared.env.open_db, name))
                except lmdb.DbsFullError as exc:
                    raise CacheError(
                        f"cannot open another index in the cache at {self._cache.path!r}: "
                        "its environment's named databases (one per index, max_dbs in "
                        "zixir/cache/env.py) are all taken; index fewer fields"
                    ) from exc
                except lmdb.Error as exc:
                    raise CacheError(f"cannot open tables at {self._cache.path!r}: {exc}") from exc

    def _run(self, step: Callable[[], T]) -> T:
        """Runs `step`, retrying it while its snapshot goes stale or databases must be opened."""
        if self._cache._closed:
            raise CacheError(f"{self._cache!r} is closed")
        if _META not in self._dbs:
            self._open(())
        error: Exception | None = None
        for _ in range(100):
            try:
                return step()
            except _Retry as retry:
                self._open(retry.names)
            except lmdb.Error as exc:  # a read cut short by another thread remapping the map
                error = exc
        raise CacheError(
            f"tables at {self._cache.path!r} kept changing under this operation; retry it"
        ) from error

    def _reading(self) -> Any:
        if self._cache._closed:
            raise CacheError(f"{self._cache!r} is closed")
        if _META not in self._dbs:
            self._open(())
        return self._cache._reader()

    def _decode(self, table: str, key: bytes, data: bytes) -> dict[str, Any]:
        rid = _ID.unpack(key[-8:])[0]
        try:
            record = serialization.loads(data)
            if not isinstance(record, dict):
                raise SerializationError(f"a record is a dict, found {type(record).__name__}")
        except SerializationError as exc:
            raise CorruptRecordError(
                f"record {rid} of table {table!r} in the cache at {self._cache.path!r} is "
                f"corrupt ({exc}); delete_record({table!r}, {rid}) to store it again",
                key,
            ) from exc
        record["_id"] = rid
        return record


# ---- validation -----------------------------------------------------------------------


def _table(table: str) -> bytes:
    """The key prefix of `table`'s records."""
    if not isinstance(table, str):
        raise TypeError(f"table names are str, got {type(table).__name__} {table!r:.40}")
    raw = table.encode("utf-8", "surrogatepass")
    if not raw or b"\x00" in raw or len(raw) > _MAX_TABLE:
        raise ValueError(
            f"table names are 1 to {_MAX_TABLE} UTF-8 bytes without NUL characters, "
            f"got {table!r:.60}"
        )
    return raw + b"\x00"


def _row_key(prefix: bytes, id: int) -> bytes | None:
    """The key of record `id` (None: an id no record can have)."""
    if not isinstance(id, int) or isinstance(id, bool):
        raise TypeError(f"record ids are int, got {type(id).__name__} {id!r:.40}")
    return prefix + _ID.pack(id) if 0 < id < 1 << 64 else None


def _not_found(table: str, id: int) -> RecordNotFoundError:
    return RecordNotFoundError(
        f"table {table!r} has no record {id!r}; update needs an id that insert returned "
        f"and that was not deleted (query({table!r}) lists the records)",
        table,
        id,
    )


def _meta_key(table: str) -> bytes:
    return b"T" + table.encode("utf-8", "surrogatepass")


def _index_db(table: str, field: str) -> bytes:
    name = f"{table}\x00{field}".encode("utf-8", "surrogatepass")
    return b"t:ix:" + hashlib.sha256(name).hexdigest()[:32].encode()


def _rows(txn: Any, db: Any, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The (key, record) pairs of one table, in id order."""
    cursor = txn.cursor(db=db)
    if cursor.set_range(prefix):
        for key, data in cursor:
            if not key.startswith(prefix):
                break
            yield key, data
