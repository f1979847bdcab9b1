"""Sortable index keys: a field's value as a type tag and bytes that sort as the value does.

`zixir.cache.tables` stores these keys and reads the key ranges a condition can match.
"""

from __future__ import annotations

import datetime as dt
import math
import struct
import uuid
from typing import Any

__all__ = [
    "CATCH_ALL",
    "RANGED",
    "Range",
    "equal_ids",
    "index_part",
    "index_part_of",
    "index_ranges",
]

Range = tuple[bytes, bytes | None, bytes | None]
"""Index key parts from, to (inclusive; None: to the end of the tag), and one to leave out."""

RANGED = frozenset({"==", "in", "<", "<=", ">", ">="})
"""The operators an index can answer."""

_FLOAT = struct.Struct(">d")
_NONE, _NUMBER, _STR, _BYTES, _OTHER = b"\x10", b"\x20", b"\x30", b"\x40", b"\xf0"
_MAX_PART = 480  # index key parts are cut here, under LMDB's 511-byte key limit
_NAN = b"\xff\xf8" + bytes(6)  # sorts after +inf
# Values of these types only ever equal or order against values of the catch-all tag.
_ONLY_OTHER = frozenset({tuple, list, dict, set, frozenset, dt.date, dt.datetime, dt.time, dt.timedelta, uuid.UUID})

CATCH_ALL: Range = (_OTHER, _OTHER, None)
"""The range of every value of the catch-all tag: an indexed query reads and re-checks it."""


def index_part(value: Any) -> bytes:
    """The index key of `value` before the record id: a type tag, then bytes sorting as it does.

    bool, int and float share a tag and sort by their value as a float (ints past 2**53 round,
    so every fetched record is re-checked). str (UTF-8) and bytes sort by their bytes, with
    0x00 escaped as 0x00 0xFF, ended by 0x00 0x00 and cut at 480 bytes. None has its own tag;
    every other type shares the catch-all tag and is found by re-checking.

    Args:
        value: A field's value.

    Returns:
        At most 481 bytes.
    """
    kind = type(value)
    if value is None:
        return _NONE
    if kind is int or kind is float or kind is bool:
        try:
            number = float(value)
        except OverflowError:
            number = math.inf if value > 0 else -math.inf
        if math.isnan(number):
            return _NUMBER + _NAN
        bits = int.from_bytes(_FLOAT.pack(number + 0.0), "big")  # + 0.0: -0.0 is 0.0
        bits = bits ^ ((1 << 64) - 1) if bits >> 63 else bits | 1 << 63
        return _NUMBER + bits.to_bytes(8, "big")
    if kind is str or kind is bytes:
        raw: bytes = value.encode("utf-8", "surrogatepass") if kind is str else value
        body = raw.replace(b"\x00", b"\x00\xff") + b"\x00\x00"
        return (_STR if kind is str else _BYTES) + body[:_MAX_PART]
    return _OTHER


def index_part_of(record: dict[str, Any], field: str) -> bytes | None:
    """The `index_part` of `record`'s `field`; None if the record has no such field."""
    return index_part(record[field]) if field in record else None


def index_ranges(op: str, value: Any) -> list[Range] | None:
    """Index key ranges holding every value `op value` matches, besides the catch-all tag.

    Args:
        op: One of `RANGED`.
        value: The condition's value (for ``"in"``, a list of values).

    Returns:
        The ranges to read; None: values of `value`'s type may match anywhere, so the
        query scans the table instead.
    """
    if op == "in":
        ranges: list[Range] = []
        for item in value:
            more = index_ranges("==", item)
            if more is None:
                return None
            ranges += more
        return ranges
    part = index_part(value)
    if part == _OTHER:
        return [] if type(value) in _ONLY_OTHER else None
    if op == "==":
        return [(part, part, None)]
    if part == _NONE:
        return []  # None orders against nothing
    # A strict bound leaves out its own part, unless rounding or the cut shares that part.
    if part[:1] == _NUMBER:
        exact = -(2**53) < value < 2**53
    else:
        exact = part.endswith(b"\x00\x00")  # not cut: only the terminator has two 0x00
    skip = part if exact and op in ("<", ">") else None
    return [(part[:1], part, skip)] if op in ("<", "<=") else [(part, None, skip)]


def equal_ids(values: list[Any]) -> list[int] | None:
    """The record ids equal to `values`, for ``{"_id": value}`` and ``{"_id": ("in", ...)}``.

    Args:
        values: The values an ``"_id"`` condition compares with.

    Returns:
        The ids (values that equal no id are left out); None: some value could equal ids
        in other ways, so the query scans the table instead.
    """
    ids = []
    for value in values:
        if type(value) is int or type(value) is bool:
            ids.append(int(value))
        elif type(value) is float:
            if value.is_integer():
                ids.append(int(value))
        elif not (value is None or type(value) in (str, bytes) or type(value) in _ONLY_OTHER):
            return None
    return ids
