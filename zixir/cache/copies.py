"""How the cache's memory tier keeps values and hands out copies callers own.

Immutable values are shared; small plain dicts, lists and tuples are copied (cheaper
than decoding them); everything else is decoded afresh from its stored record.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["DEEP", "IMMUTABLE", "Entry", "copy_value", "entry_of", "is_plain"]

#: Types whose values the memory tier hands out shared: nothing can mutate them.
IMMUTABLE = frozenset({str, bytes, int, float, bool, type(None), complex})
#: The `how` of an entry whose value hits copy with `copy_value`.
DEEP = True
# Values of at most this many items (containers and scalars) are copied rather than
# decoded on a hit: copying a small value beats msgpack; a big one does not.
_COPY_LIMIT = 64

Entry = tuple[float, Any, bytes | None, Any]
"""A memory-tier entry: (expiry, value, record, how). With a record: the value's offset in
it as `how`, decoded afresh on every hit. Without: the value itself, and how to hand it
out: None: shared (immutable); a tuple of members: a shallow copy with those members
(flat lists and dicts) copied too; `DEEP`: `copy_value`."""


def entry_of(expires: float, value: Any) -> Entry | None:
    """The memory-tier entry holding `value` itself (a private copy when mutable), or
    None when hits must decode it from its record instead (see `is_plain`)."""
    if type(value) in IMMUTABLE:
        return (expires, value, None, None)
    if not is_plain(value):
        return None
    if type(value) is tuple:
        how: Any = None if _flat(value) else DEEP
    else:
        members = []
        for member, item in value.items() if type(value) is dict else enumerate(value):
            kind = type(item)
            if kind in IMMUTABLE or (kind is tuple and _flat(item)):
                continue
            if (kind is list and _flat(item)) or (kind is dict and _flat(item.values())):
                members.append(member)
            else:
                how = DEEP
                break
        else:
            how = tuple(members)
    return (expires, value if how is None else copy_value(value), None, how)


def _flat(items: Iterable[Any]) -> bool:
    """Whether every item is of an `IMMUTABLE` type."""
    for item in items:
        if type(item) not in IMMUTABLE:
            return False
    return True


def is_plain(value: Any) -> bool:
    """Whether `copy_value` copies `value` exactly: at most `_COPY_LIMIT` items, all
    dicts, lists, tuples or `IMMUTABLE` scalars of exactly those types."""
    return _count_plain(value, _COPY_LIMIT) >= 0


def _count_plain(value: Any, budget: int) -> int:
    """`budget` less the items of `value`; negative if over budget or not plain."""
    kind = type(value)
    budget -= 1
    if kind in IMMUTABLE or budget < 0:
        return budget
    if kind is dict:
        for key, item in value.items():
            budget = _count_plain(item, _count_plain(key, budget))
            if budget < 0:
                return budget
        return budget
    if kind is list or kind is tuple:
        for item in value:
            budget = _count_plain(item, budget)
            if budget < 0:
                return budget
        return budget
    return -1


def copy_value(value: Any) -> Any:
    """A copy of a plain value (see `is_plain`) sharing only its immutable parts."""
    kind = type(value)
    if kind is dict:
        return {key: copy_value(item) for key, item in value.items()}
    if kind is list:
        return [copy_value(item) for item in value]
    if kind is tuple:
        return tuple([copy_value(item) for item in value])
    return value
