"""The stored format's constants (header, ext codes, limits) and the messages both sides share.

Ext codes are part of the stored format: never renumber or reuse one.
"""

from __future__ import annotations

import reprlib

__all__ = [
    "ARRAY",
    "BIGINT",
    "COMPLEX",
    "DATACLASS",
    "DATE",
    "DATETIME",
    "DECIMAL",
    "ENUM",
    "FORMAT_VERSION",
    "FROZENSET",
    "HEADER",
    "MAGIC",
    "MAX_DEPTH",
    "NDARRAY",
    "NPSCALAR",
    "PICKLE",
    "SET",
    "TIME",
    "TIMEDELTA",
    "TOO_DEEP",
    "TUPLE",
    "UUID",
    "clip",
    "corrupt",
    "not_zixir",
    "qualified",
    "shown",
]

FORMAT_VERSION = 2
"""The format `dumps` writes. `loads` reads it and every older one.

1: the first. 2: adds numpy arrays (NDARRAY), array.array (ARRAY) and numpy scalars (NPSCALAR).
"""

# 0xC1 is the one byte msgpack never uses, so plain msgpack is never taken for Zixir data.
MAGIC = 0xC1
HEADER = bytes((MAGIC, FORMAT_VERSION))

BIGINT, TUPLE, SET, FROZENSET = 1, 2, 3, 4  # 5 is reserved (never written)
DATETIME, DATE, TIME, TIMEDELTA, DECIMAL = 6, 7, 8, 9, 10
UUID, COMPLEX, ENUM, DATACLASS, PICKLE = 11, 12, 13, 14, 15
NDARRAY, ARRAY, NPSCALAR = 16, 17, 18  # format 2

# Tuples, sets, dataclasses... are ext payloads holding nested msgpack.
MAX_DEPTH = 100  # enforced by dumps too, so whatever dumps writes, loads can read
TOO_DEEP = f"tuples, sets, dataclasses and other Zixir types nest over {MAX_DEPTH} deep"

_short = reprlib.Repr()
_short.maxstring = _short.maxother = 80


def qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def shown(value: object) -> str:
    """A repr short enough for a message, whatever the bytes held."""
    return _short.repr(value)


def clip(text: str) -> str:
    """``text`` cut to a length fit for a message (names in the data can be any length)."""
    return text if len(text) <= 80 else f"{text[:77]}..."


def corrupt(detail: str) -> str:
    return f"cannot deserialize: the bytes are corrupt or truncated ({detail})"


def not_zixir(detail: str) -> str:
    return f"the bytes are not Zixir-serialized data ({detail})"
