"""The writing side: packs values, with msgpack ext types for what msgpack has no type for."""

from __future__ import annotations

import array
import dataclasses
import datetime as dt
import decimal
import enum
import pickle
import struct
import uuid
import zoneinfo
from collections.abc import Callable
from typing import Any, cast

import msgpack

from zixir.errors import SerializationError
from zixir.serialization import _arrays
from zixir.serialization._classes import by_class
from zixir.serialization._format import (
    ARRAY,
    BIGINT,
    COMPLEX,
    DATACLASS,
    DATE,
    DATETIME,
    DECIMAL,
    ENUM,
    FROZENSET,
    MAX_DEPTH,
    PICKLE,
    SET,
    TIME,
    TIMEDELTA,
    TOO_DEEP,
    TUPLE,
    UUID,
    qualified,
)

__all__ = ["COMPLEX_STRUCT", "Encoder"]

_REUSED_DEPTH = 4  # levels whose packers a thread keeps; deeper ones build their own
_KEEP_BUFFER_BYTES = 256 * 1024  # a packer's buffer never shrinks: drop it once it grows

# msgpack packs bytearray and memoryview natively, even with strict_types, so they never
# reach `default` and come back as bytes. Checking every list and dict for them made dumps
# 4-5x slower on nested data; the guide documents the conversion instead.

# ExtType's constructor re-checks its arguments in Python; ours are valid, so skip that.
_ext = msgpack.ExtType._make
_PICKLE_PROTOCOL = 5  # pinned, so a newer Python's default cannot make bytes unreadable
_MICROSECOND = dt.timedelta(microseconds=1)
COMPLEX_STRUCT = struct.Struct(">dd")


class Encoder:
    """Packs values for one thread, reusing a stack of packers for nested ext payloads."""

    def __init__(self, allow_pickle: bool) -> None:
        self.allow_pickle = allow_pickle
        self._packers: list[msgpack.Packer] = []
        self._depth = 0

    def pack(self, obj: object) -> bytes:
        depth = self._depth
        packer = self._packers[depth] if depth < len(self._packers) else self._new_packer()
        self._depth = depth + 1
        try:
            data: bytes = packer.pack(obj)
        except BaseException:
            del self._packers[depth:]  # its buffer may have grown before the failure
            raise
        finally:
            self._depth = depth
        if len(data) > _KEEP_BUFFER_BYTES:
            del self._packers[depth:]  # frees the grown buffers; deeper levels are done
        return data

    def _new_packer(self) -> msgpack.Packer:
        if self._depth >= MAX_DEPTH:
            raise SerializationError(TOO_DEEP)
        packer = msgpack.Packer(default=self._default, use_bin_type=True, strict_types=True, buf_size=1024)
        if self._depth < _REUSED_DEPTH:
            self._packers.append(packer)
        return packer

    def _default(self, obj: object) -> msgpack.ExtType:
        # strict_types sends every inexact type here: tuples, int subclasses, big ints...
        cls = type(obj)
        entry = _ENCODERS.get(cls)
        if entry is not None:
            return _ext((entry[0], entry[1](self, obj)))
        if isinstance(obj, enum.Enum):
            return _ext((ENUM, _encode_enum(self, obj)))
        numpy_entry = _arrays.numpy_encoder(cls)
        if numpy_entry is not None:
            try:
                return _ext((numpy_entry[0], numpy_entry[1](obj)))
            except _arrays.Unstorable as exc:  # an object or structured dtype...
                if not self.allow_pickle:
                    raise SerializationError(str(exc)) from None
        registration = by_class.get(cls)
        if registration is not None:
            values = {name: getattr(obj, name) for name in registration.fields}
            return _ext((DATACLASS, self.pack([registration.name, values])))
        if self.allow_pickle:
            return _ext((PICKLE, _encode_pickle(self, obj)))
        if dataclasses.is_dataclass(obj):
            raise SerializationError(
                f"cannot serialize {qualified(cls)}: the dataclass is not registered; call "
                f"zixir.serialization.register({cls.__qualname__}) (or decorate the class "
                "with @zixir.serialization.register) before dumps()"
            )
        raise SerializationError(
            f"cannot serialize {qualified(cls)}: it is not a type Zixir stores; convert it "
            "to a supported type, register it with zixir.serialization.register() if it is "
            "a dataclass, or pass allow_pickle=True to pickle it"
        )


def _encode_tz(tz: dt.tzinfo | None) -> str | list[Any] | None:
    # naive: None; ZoneInfo: its key; timezone: [offset in microseconds, name if given]
    if tz is None:
        return None
    if type(tz) is dt.timezone:
        # The constructor arguments tell an explicit name from a generated one.
        offset, *name = cast("tuple[Any, ...]", tz.__reduce__()[1])
        return [offset // _MICROSECOND, *name]
    if type(tz) is zoneinfo.ZoneInfo:
        if tz.key is None:
            raise SerializationError(
                'cannot serialize a ZoneInfo read from a file, as it has no key; use zoneinfo.ZoneInfo("Area/City")'
            )
        return tz.key
    raise SerializationError(
        f"cannot serialize a time zone of type {qualified(type(tz))}: Zixir stores "
        'datetime.timezone and zoneinfo.ZoneInfo; use zoneinfo.ZoneInfo("Area/City") instead'
    )


def _encode_enum(encoder: Encoder, member: enum.Enum) -> bytes:
    cls = type(member)
    if "<locals>" in cls.__qualname__:
        raise SerializationError(
            f"cannot serialize {qualified(cls)}: loads() finds enums by import path, and an "
            "enum defined inside a function has none; define it at module level"
        )
    # A combination of Flag members has no single member name, so store its value.
    key = member.name if member.name in cls.__members__ else member.value
    return encoder.pack([f"{cls.__module__}:{cls.__qualname__}", key])


def _encode_pickle(encoder: Encoder, obj: object) -> bytes:
    try:
        pickled = pickle.dumps(obj, protocol=_PICKLE_PROTOCOL)
    except Exception as exc:
        raise SerializationError(f"cannot pickle {qualified(type(obj))}: {exc}") from exc
    return encoder.pack([qualified(type(obj)), pickled])


def _encode_datetime(encoder: Encoder, d: dt.datetime) -> bytes:
    tz = _encode_tz(d.tzinfo)
    return encoder.pack([d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond, d.fold, tz])


def _encode_time(encoder: Encoder, t: dt.time) -> bytes:
    return encoder.pack([t.hour, t.minute, t.second, t.microsecond, t.fold, _encode_tz(t.tzinfo)])


_ENCODERS: dict[type, tuple[int, Callable[[Encoder, Any], bytes]]] = {
    # msgpack packs ints in [-2**63, 2**64) itself; only the others arrive here.
    int: (BIGINT, lambda e, o: o.to_bytes((o.bit_length() + 8) // 8, "big", signed=True)),
    tuple: (TUPLE, lambda e, o: e.pack(list(o))),
    set: (SET, lambda e, o: e.pack(list(o))),
    frozenset: (FROZENSET, lambda e, o: e.pack(list(o))),
    dt.datetime: (DATETIME, _encode_datetime),
    dt.date: (DATE, lambda e, o: e.pack([o.year, o.month, o.day])),
    dt.time: (TIME, _encode_time),
    dt.timedelta: (TIMEDELTA, lambda e, o: e.pack([o.days, o.seconds, o.microseconds])),
    # str() of a Decimal is exact: sign, digits, exponent and NaN payload all survive.
    decimal.Decimal: (DECIMAL, lambda e, o: str(o).encode("ascii")),
    uuid.UUID: (UUID, lambda e, o: o.bytes),
    complex: (COMPLEX, lambda e, o: COMPLEX_STRUCT.pack(o.real, o.imag)),
    array.array: (ARRAY, lambda e, o: _arrays.encode_array(o)),
}
