"""Fields of table records and where-clauses over them: checked names, parsing, matching, order.

`zixir.cache.tables` checks records and parses ``query(where=..., order_by=...)`` here.
"""

from __future__ import annotations

import decimal
import functools
import math
from collections.abc import Mapping
from typing import Any

__all__ = [
    "OPERATORS",
    "Condition",
    "conditions",
    "field_name",
    "matches",
    "ordered",
    "record_fields",
]

OPERATORS = ("==", "!=", "<", "<=", ">", ">=", "in")
"""The where-clause operators, as in ``{"age": (">", 30)}``."""

Condition = tuple[str, str, Any]
"""One parsed condition: field, operator, value (for ``"in"``, a list of values)."""


def field_name(field: str, what: str, allow_id: bool = False) -> str:
    """Checks that `field` can name a field of a record.

    Args:
        field: The field name.
        what: Where it was given, for the message ("the record", "where"...).
        allow_id: Whether ``"_id"`` (the record id, never a stored field) is allowed.

    Returns:
        `field`, unchanged.

    Raises:
        TypeError: `field` is not a str.
        ValueError: `field` is ``"_id"`` and `allow_id` is false.
    """
    if not isinstance(field, str):
        raise TypeError(f"field names are str, got {type(field).__name__} {field!r:.40} in {what}")
    if field == "_id" and not allow_id:
        raise ValueError(
            f"'_id' cannot be a field of {what}: it is the record id, which insert assigns "
            "and get_record and query add to each record; remove it"
        )
    return field


def record_fields(record: Mapping[str, Any], what: str, own_id: int | None = None) -> dict[str, Any]:
    """A copy of `record` checked to hold str field names and no ``"_id"`` (but `own_id`).

    Args:
        record: The fields of a record, or the changes to one.
        what: What `record` is, for the messages ("the record", "the changes").
        own_id: The id of the record being changed: an ``"_id"`` equal to it is dropped
            (a record read back, changed and passed whole).

    Returns:
        A new dict of the fields.

    Raises:
        TypeError: `record` is not a mapping, or a field name is not a str.
        ValueError: `record` has another ``"_id"``.
    """
    if not isinstance(record, Mapping):
        raise TypeError(f"{what} must be a dict of fields, got {type(record).__name__}")
    fields = dict(record)
    if own_id is not None and "_id" in fields and fields["_id"] == own_id:
        del fields["_id"]  # a record read back, changed and passed whole
    for field in fields:
        field_name(field, what)
    return fields


def conditions(where: Mapping[str, Any] | None) -> list[Condition]:
    """Parses a where-clause: ``{field: value}`` means equality, ``{field: (op, value)}`` not.

    Args:
        where: The clause, or None for no conditions.

    Returns:
        One condition per field, in the clause's order.

    Raises:
        TypeError: `where` is not a mapping, or a field name is not a str.
        ValueError: an unknown operator, or ``"in"`` without a list, tuple or set.
    """
    if where is None:
        return []
    if not isinstance(where, Mapping):
        raise TypeError(f"where must be a dict of field: condition, got {type(where).__name__}")
    conds: list[Condition] = []
    for field, cond in where.items():
        field_name(field, "where", allow_id=True)
        if type(cond) is not tuple or len(cond) != 2 or not isinstance(cond[0], str):
            conds.append((field, "==", cond))
            continue
        op, value = cond
        if op not in OPERATORS:
            raise ValueError(
                f"unknown operator {op!r} for field {field!r}; use one of "
                f"{', '.join(OPERATORS)} (to match a stored tuple, write ('==', {cond!r}))"
            )
        if op == "in":
            if not isinstance(value, (list, tuple, set, frozenset)):
                raise ValueError(
                    f"'in' for field {field!r} takes a list, tuple or set of values, "
                    f"got {type(value).__name__} {value!r:.40}"
                )
            value = list(value)
        conds.append((field, op, value))
    return conds


def matches(record: dict[str, Any], field: str, op: str, value: Any) -> bool:
    """Whether `record` meets one condition: Python's comparison, False if incomparable.

    A record without `field` equals nothing, so it matches only ``"!="``.
    """
    if field not in record:
        return op == "!="  # a missing field equals nothing, so it is "!=" everything
    have = record[field]
    try:
        if op == "==":
            return bool(have == value)
        if op == "!=":
            return not have == value  # noqa: SIM201 - exactly the records "==" leaves out
        if op == "in":
            return any(matches(record, field, "==", v) for v in value)
        if op == "<":
            return bool(have < value)
        if op == "<=":
            return bool(have <= value)
        if op == ">":
            return bool(have > value)
        return bool(have >= value)
    except TypeError:
        return op == "!="


def ordered(records: list[dict[str, Any]], field: str, descending: bool) -> list[dict[str, Any]]:
    """`records` sorted by `field`, those without it last; ties keep their order.

    Values sort by kind first (None, numbers, NaN, str, bytes, then other types by type
    name), then by Python's ``<`` within a kind; values that cannot be compared tie.
    """
    present = [r for r in records if field in r]
    present.sort(key=functools.cmp_to_key(lambda a, b: _compare(a[field], b[field])), reverse=descending)
    return present + [r for r in records if field not in r]


def _rank(value: Any) -> tuple[int, str]:
    if value is None:
        return (0, "")
    if isinstance(value, (int, float, decimal.Decimal)):
        nan = value.is_nan() if isinstance(value, decimal.Decimal) else math.isnan(value)
        return (2, "") if nan else (1, "")  # NaN after every number
    if isinstance(value, (str, bytes)):
        return (3 if isinstance(value, str) else 4, "")
    return (5, type(value).__qualname__)


def _compare(a: Any, b: Any) -> int:
    rank_a, rank_b = _rank(a), _rank(b)
    if rank_a != rank_b:
        return -1 if rank_a < rank_b else 1
    try:
        return -1 if a < b else 1 if b < a else 0
    except TypeError:
        return 0
