"""The table operations of `zixir.Cache` (insert, query, indexes...), as a base class.

Each method hands over to the cache's `Tables` (zixir/cache/tables.py); table records
share the cache's environment and never expire. See docs/cache.md, "Tables".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zixir.cache.tables import Tables

__all__ = ["TableMethods"]


class TableMethods:
    """Table operations; the class using it sets ``self._tables``."""

    _tables: Tables

    def insert(self, table: str, record: Mapping[str, Any]) -> int:
        """Stores `record` (a dict of str fields) as a new record of `table`.

        Returns:
            Its id: ascending per table, never reused, kept across restarts.

        Raises:
            ValueError: the record has an ``"_id"`` field.
            SerializationError: a value cannot be stored (nothing is written).
        """
        return self._tables.insert(table, record)

    def get_record(self, table: str, id: int) -> dict[str, Any] | None:
        """Record `id` of `table` with its id under ``"_id"``, or None if there is none."""
        return self._tables.get_record(table, id)

    def update(self, table: str, id: int, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Sets the fields in `changes` on record `id` of `table`; returns the updated record.

        Raises:
            RecordNotFoundError: `table` has no record `id` (also a KeyError).
        """
        return self._tables.update(table, id, changes)

    def delete_record(self, table: str, id: int) -> bool:
        """Removes record `id` of `table`; returns whether it was there."""
        return self._tables.delete_record(table, id)

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
        return self._tables.query(table, where, order_by, descending, limit, offset)

    def create_index(self, table: str, field: str) -> None:
        """Indexes `field` of `table`, so ==, in and range queries on it read no other records.

        Builds it from the existing records; kept up to date by every write after.
        """
        self._tables.create_index(table, field)
