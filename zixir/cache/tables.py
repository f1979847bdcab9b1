"""Tables of records in a Cache's LMDB environment: ascending ids, where-queries, indexes.

`Tables` is a base of `zixir.Cache`, which hands it the cache's store; see docs/cache.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import lmdb

from zixir import serialization
from zixir.cache import plan, table_keys
from zixir.cache.index_keys import index_part, index_part_of
from zixir.cache.plan import QueryPlan
from zixir.cache.table_keys import (
    candidate_keys,
    index_db,
    meta_key,
    not_found,
    row_key,
    row_keys,
    table_prefix,
    table_rows,
)
from zixir.cache.where import Condition, conditions, field_name, matches, ordered, record_fields
from zixir.errors import CacheError, CorruptRecordError, SerializationError

if TYPE_CHECKING:
    from zixir.cache.lookup import Store

__all__ = ["Tables"]

T = TypeVar("T")
_ROWS, _META, _ID = table_keys.ROWS, table_keys.META, table_keys.ID


class _Retry(Exception):
    """The snapshot a write was computed from changed, or index databases must be opened."""

    def __init__(self, names: tuple[bytes, ...] = ()) -> None:
        super().__init__(names)
        self.names = names


class Tables:
    """The table operations of a `Cache`, on its store's environment and write path.

    Records of every table live in one named database keyed by table name and id; each
    index is a named database of keys (type tag, sortable value, id); a meta database holds
    each table's next id and indexed fields. Table records never expire.

    Args:
        store: The cache's store.
    """

    _store: Store

    def __init__(self, store: Store) -> None:
        self._store = store
        self._dbs: dict[bytes, Any] = {}  # named database -> handle

    # ---- the operations ------------------------------------------------------------------

    def insert(self, table: str, record: Mapping[str, Any]) -> int:
        """Stores `record` (a dict of str fields) as a new record of `table`.

        Returns:
            Its id: ascending per table, never reused, kept across restarts.

        Raises:
            ValueError: the record has an ``"_id"`` field.
            SerializationError: a value cannot be stored (nothing is written).
        """
        prefix, fields = table_prefix(table), record_fields(record, "the record")
        payload = serialization.dumps(fields)
        new_id: list[int] = []

        def write(txn: Any) -> None:
            meta = self._meta(txn, table)
            rid = meta["next"]
            meta["next"] = rid + 1
            txn.put(prefix + _ID.pack(rid), payload, db=self._db(_ROWS))
            for field in meta["indexes"]:
                if field in fields:
                    db = self._db(index_db(table, field))
                    txn.put(index_part(fields[field]) + _ID.pack(rid), b"", db=db)
            txn.put(meta_key(table), serialization.dumps(meta), db=self._db(_META))
            new_id[:] = [rid]

        self._run(lambda: self._store.write(write))
        return new_id[0]

    def get_record(self, table: str, id: int) -> dict[str, Any] | None:
        """Record `id` of `table` with its id under ``"_id"``, or None if there is none."""
        key = row_key(table_prefix(table), id)
        if key is None:
            return None
        with self._reading() as txn:
            data = txn.get(key, db=self._db(_ROWS))
        return None if data is None else self._decode(table, key, data)

    def update(self, table: str, id: int, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Sets the fields in `changes` on record `id` of `table`; returns the updated record.

        Raises:
            RecordNotFoundError: `table` has no record `id` (also a KeyError).
        """
        key = row_key(table_prefix(table), id)
        changes = record_fields(changes, "the changes", id)
        if key is None:
            raise not_found(table, id)

        def step() -> dict[str, Any]:
            with self._reading() as txn:
                old, indexes = txn.get(key, db=self._db(_ROWS)), self._meta(txn, table)["indexes"]
            if old is None:
                raise not_found(table, id)
            record = self._decode(table, key, old)
            del record["_id"]
            merged = {**record, **changes}
            payload = serialization.dumps(merged)
            moves = [(index_db(table, f), index_part_of(record, f), index_part_of(merged, f)) for f in indexes]

            def write(txn: Any) -> None:
                self._unchanged(txn, table, key, old, indexes)
                for name, before, after in moves:
                    if before != after:
                        if before is not None:
                            txn.delete(before + key[-8:], db=self._db(name))
                        if after is not None:
                            txn.put(after + key[-8:], b"", db=self._db(name))
                txn.put(key, payload, db=self._db(_ROWS))

            self._store.write(write)
            return {**merged, "_id": id}

        return self._run(step)

    def delete_record(self, table: str, id: int) -> bool:
        """Removes record `id` of `table`; returns whether it was there."""
        key = row_key(table_prefix(table), id)
        if key is None:
            return False

        def step() -> bool:
            with self._reading() as txn:
                old, indexes = txn.get(key, db=self._db(_ROWS)), self._meta(txn, table)["indexes"]
            if old is None:
                return False
            record = self._decode(table, key, old) if indexes else {}
            parts = [(index_db(table, f), index_part_of(record, f)) for f in indexes]

            def write(txn: Any) -> None:
                self._unchanged(txn, table, key, old, indexes)
                for name, part in parts:
                    if part is not None:
                        txn.delete(part + key[-8:], db=self._db(name))
                txn.delete(key, db=self._db(_ROWS))

            self._store.write(write)
            return True

        return self._run(step)

    def create_index(self, table: str, field: str) -> None:
        """Indexes `field` of `table`, so ==, in and range queries on it read no other records.

        Builds it from the existing records; kept up to date by every write after.
        """
        if field == "_id":
            raise ValueError("'_id' needs no index: query(where={'_id': ...}) reads records by id")
        prefix, name = table_prefix(table), index_db(table, field_name(field, "create_index"))
        self._open((name,))

        def step() -> None:
            with self._reading() as txn:
                snapshot = txn.id()
                if field in self._meta(txn, table)["indexes"]:
                    return
                rows = list(table_rows(txn, self._db(_ROWS), prefix))
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
                if txn.id() != snapshot + 1 and list(table_rows(txn, self._db(_ROWS), prefix)) != rows:
                    raise _Retry()  # records changed since they were read
                db = self._db(name)
                txn.drop(db, delete=False)
                for part in parts:
                    txn.put(part, b"", db=db, append=True)
                meta["indexes"].append(field)
                txn.put(meta_key(table), serialization.dumps(meta), db=self._db(_META))

            self._store.write(write)

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
        """The records of `table` matching every condition of `where`, each with its ``"_id"``.

        Args:
            table: The table's name.
            where: ``{field: value}`` (equality) or ``{field: (op, value)}`` with op one of
                ``==, !=, <, <=, >, >=, in``; a missing field matches only ``!=``.
            order_by: Field to sort by (records missing it last); default: id order.
            descending: Sort from the largest value down.
            limit: At most this many records (None: all).
            offset: Matches to skip first (after sorting).

        Raises:
            ValueError: an unknown operator, or a bad `limit` or `offset`.
        """
        prefix, conds = self._checked(table, where, order_by, limit, offset)
        enough = offset + limit if limit is not None and order_by is None else None
        found = self._run(lambda: self._select(table, prefix, conds, enough))
        if order_by is not None:
            found = ordered(found, order_by, descending)
        return found[offset : None if limit is None else offset + limit]

    def explain(
        self,
        table: str,
        where: Mapping[str, Any] | None = None,
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> QueryPlan:
        """How `query` with these arguments would find its records, without decoding any.

        Returns:
            The plan: the index used (or the ids, or a scan) and how many records the
            query reads and decodes.

        Raises:
            ValueError: as `query`.
        """
        prefix, conds = self._checked(table, where, order_by, limit, offset)

        def look() -> QueryPlan:
            with self._reading() as txn:
                access, field, ids = self._choose(txn, table, conds)
                rows = txn.cursor(db=self._db(_ROWS))
                if ids is None:
                    reads = sum(1 for _ in row_keys(rows, prefix))
                else:
                    reads = sum(rows.set_key(k) for k in candidate_keys(prefix, ids))
            return QueryPlan(table, access, field, reads)

        return self._run(look)

    # ---- internals -------------------------------------------------------------------

    def _checked(
        self,
        table: str,
        where: Mapping[str, Any] | None,
        order_by: str | None,
        limit: int | None,
        offset: int,
    ) -> tuple[bytes, list[Condition]]:
        """The key prefix of `table` and the conditions of `where`, once the arguments of a
        query are checked."""
        prefix, conds = table_prefix(table), conditions(where)
        if order_by is not None:
            field_name(order_by, "order_by", allow_id=True)
        if limit is not None and (type(limit) is not int or limit < 0):
            raise ValueError(f"limit must be None or an int >= 0, got {limit!r}")
        if type(offset) is not int or offset < 0:
            raise ValueError(f"offset must be an int >= 0, got {offset!r}")
        return prefix, conds

    def _select(self, table: str, prefix: bytes, conds: list[Condition], enough: int | None) -> list[dict[str, Any]]:
        """The records matching every condition, in id order (the first `enough` if given)."""
        found: list[dict[str, Any]] = []
        with self._reading() as txn:
            rows = self._db(_ROWS)
            _, _, ids = self._choose(txn, table, conds)
            if ids is None:
                candidates: Iterator[tuple[bytes, bytes | None]] = table_rows(txn, rows, prefix)
            else:
                keys = candidate_keys(prefix, ids)
                candidates = ((k, txn.get(k, db=rows)) for k in keys)
            for key, data in candidates:
                if enough is not None and len(found) >= enough:
                    break
                if data is None:
                    continue  # an "_id" no record has
                record = self._decode(table, key, data)
                if all(matches(record, *cond) for cond in conds):
                    found.append(record)
        return found

    def _choose(self, txn: Any, table: str, conds: list[Condition]) -> tuple[plan.Access, str | None, list[int] | None]:
        """The plan for `conds` on `table` (see `plan.choose`)."""
        indexes = self._meta(txn, table)["indexes"]
        return plan.choose(txn, indexes, conds, lambda field: self._db(index_db(table, field)))

    def _meta(self, txn: Any, table: str) -> dict[str, Any]:
        data = txn.get(meta_key(table), db=self._db(_META))
        meta: dict[str, Any] = {"next": 1, "indexes": []} if data is None else serialization.loads(data)
        missing = tuple(n for f in meta["indexes"] if (n := index_db(table, f)) not in self._dbs)
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
        shared = self._store.shared
        for name in (n for n in (_ROWS, _META, *names) if n not in self._dbs):
            try:
                self._dbs[name] = shared.open_db(name)
            except lmdb.DbsFullError as exc:
                raise CacheError(
                    f"cannot open another index in the cache at {shared.path!r}: "
                    "its environment's named databases (one per index, max_dbs in "
                    "zixir/cache/env.py) are all taken; index fewer fields"
                ) from exc

    def _run(self, step: Callable[[], T]) -> T:
        """Runs `step`, retrying it while its snapshot goes stale or databases must be opened."""
        if self._store.closed:
            raise CacheError(f"the cache at {self._store.path!r} is closed")
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
        raise CacheError(f"tables at {self._store.path!r} kept changing under this operation; retry it") from error

    def _reading(self) -> Any:
        if self._store.closed:
            raise CacheError(f"the cache at {self._store.path!r} is closed")
        if _META not in self._dbs:
            self._open(())
        return self._store.reading()

    def _decode(self, table: str, key: bytes, data: bytes) -> dict[str, Any]:
        rid = _ID.unpack(key[-8:])[0]
        try:
            record = serialization.loads(data)
            if not isinstance(record, dict):
                raise SerializationError(f"a record is a dict, found {type(record).__name__}")
        except SerializationError as exc:
            raise CorruptRecordError(
                f"record {rid} of table {table!r} in the cache at {self._store.path!r} is "
                f"corrupt ({exc}); delete_record({table!r}, {rid}) to store it again",
                key,
            ) from exc
        record["_id"] = rid
        return record
