"""The reading side: unpacks msgpack and rebuilds Zixir's types from their ext payloads.

msgpack hands each ext payload to the hook as a fresh copy of its bytes, and a payload holds
the payloads nested in it. Decoding a nested payload inside the hook would keep one copy per
level alive, so a payload that is big or deep is returned as a `_Deferred` holding its
copy, and decoded once the unpack that met it has returned and dropped the enclosing copy.
That keeps at most two copies of any byte alive (loads needs about 2x the input, plus the
result, at any depth) and at most a few msgpack parse stacks (~45 KiB each) on the C stack.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import pickle
import uuid
import zoneinfo
from collections.abc import Callable
from typing import Any

import msgpack

from zixir.errors import SerializationError
from zixir.serialization import _arrays
from zixir.serialization._classes import by_name, find_enum
from zixir.serialization._encode import COMPLEX_STRUCT
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
    NDARRAY,
    NPSCALAR,
    PICKLE,
    SET,
    TIME,
    TIMEDELTA,
    TOO_DEEP,
    TUPLE,
    UUID,
    clip,
    corrupt,
    qualified,
    shown,
)

__all__ = ["Decoder"]

_EAGER_BYTES = 4096  # nested payloads up to this size are decoded inside the hook...
_EAGER_DEPTH = 3  # ...when fewer levels than this are open (each holds a msgpack parse stack)
_MICROSECOND = dt.timedelta(microseconds=1)
_unpackb = msgpack.unpackb


class _Deferred:
    """A nested payload met inside an unpack, decoded after it (see the module docstring)."""

    __slots__ = ("build", "data", "depth")

    def __init__(self, build: Callable[[Decoder, Any], Any], data: bytes, depth: int) -> None:
        self.build = build
        self.data = data
        self.depth = depth  # the levels open where it was met


class Decoder:
    """Unpacks values for one thread, counting how deeply ext payloads nest."""

    def __init__(self, allow_pickle: bool) -> None:
        self.allow_pickle = allow_pickle
        self._depth = 0
        self._deferred = 0  # _Deferred made so far; each unpack compares before and after
        self.hook = self._hook  # bound once, as every unpack passes it
        self.now = self._now

    def decode(self, data: bytes | bytearray | memoryview) -> Any:
        """Unpacks a whole msgpack value at the current depth (`loads` calls it for the body)."""
        made = self._deferred
        try:
            value = _unpackb(data, ext_hook=self.hook, strict_map_key=False)
        except BaseException:
            self._deferred = made  # what it made is dropped; a caller may go on decoding
            raise
        if self._deferred != made:
            count, self._deferred = self._deferred - made, made
            value = self._fill(value, count)
        return value

    def unpack(self, data: bytes) -> Any:
        """Unpacks an ext payload, one level deeper."""
        depth = self._depth
        if depth >= MAX_DEPTH:
            raise SerializationError(TOO_DEEP)
        self._depth = depth + 1
        made = self._deferred
        try:  # decode(), inlined: this runs for every tuple
            value = _unpackb(data, ext_hook=self.hook, strict_map_key=False)
            if self._deferred != made:
                count, self._deferred = self._deferred - made, made
                value = self._fill(value, count)
            return value
        except BaseException:
            self._deferred = made
            raise
        finally:
            self._depth = depth

    def _hook(self, code: int, data: bytes) -> Any:
        build = _NESTED.get(code)
        if build is None:
            return _flat(code, data)
        depth = self._depth
        if depth >= _EAGER_DEPTH or len(data) > _EAGER_BYTES:
            self._deferred += 1
            return _Deferred(build, data, depth)
        # unpack(), inlined (this runs for every tuple); a level this shallow is never too deep
        self._depth = depth + 1
        made = self._deferred
        try:
            value = _unpackb(data, ext_hook=self.hook, strict_map_key=False)
        finally:
            self._depth = depth
        if self._deferred != made:
            count, self._deferred = self._deferred - made, made
            value = self._fill(value, count)
        return build(self, value)

    def _now(self, code: int, data: bytes) -> Any:
        """The hook for unpacks Zixir did not start, whose results it cannot fill in later."""
        build = _NESTED.get(code)
        if build is None:
            return _flat(code, data)
        return build(self, self.unpack(data))

    def _resolve(self, deferred: _Deferred) -> Any:
        depth = self._depth
        if deferred.depth >= MAX_DEPTH:
            raise SerializationError(TOO_DEEP)
        self._depth = deferred.depth + 1
        made = self._deferred
        try:
            value = self._take_and_unpack(deferred)  # the payload's copy is gone once it returns
            if self._deferred != made:
                count, self._deferred = self._deferred - made, made
                value = self._fill(value, count)
            return deferred.build(self, value)
        finally:
            self._depth = depth
            self._deferred = made

    def _take_and_unpack(self, deferred: _Deferred) -> Any:
        data, deferred.data = deferred.data, b""
        return _unpackb(data, ext_hook=self.hook, strict_map_key=False)

    def _fill(self, value: Any, count: int) -> Any:
        """Replaces the ``count`` `_Deferred` in ``value``'s lists and dicts by their values."""
        if type(value) is _Deferred:
            return self._resolve(value)
        stack = [value]
        while stack:
            node = stack.pop()
            if type(node) is list:
                for index, item in enumerate(node):
                    kind = type(item)
                    if kind is _Deferred:
                        node[index] = self._resolve(item)
                        count -= 1
                        if not count:
                            return value
                    elif kind is list or kind is dict:
                        stack.append(item)
                continue
            keyed = False
            for key, item in node.items():
                kind = type(item)
                if kind is _Deferred:
                    node[key] = self._resolve(item)  # same keys: the dict's size never changes
                    count -= 1
                elif kind is list or kind is dict:
                    stack.append(item)
                keyed = keyed or type(key) is _Deferred
            if keyed:  # rebuilt in place, in order; equal keys collapse as msgpack's would
                pairs = list(node.items())
                node.clear()
                for key, item in pairs:
                    if type(key) is _Deferred:
                        key = self._resolve(key)
                        count -= 1
                    node[key] = item
            if not count:
                return value
        raise SerializationError(corrupt("a nested value in a place where none can be"))


def _flat(code: int, data: bytes) -> Any:
    convert = _FLAT.get(code)
    if convert is None:
        raise SerializationError(corrupt(f"unknown type code {code}"))
    return convert(data)


def _array(value: Any) -> list[Any]:
    if type(value) is not list:
        raise SerializationError(corrupt(f"an ext payload holds {type(value).__name__}, not an array"))
    return value


def _decode_tz(state: Any) -> dt.tzinfo | None:
    if state is None:
        return None
    if type(state) is str:
        try:
            return zoneinfo.ZoneInfo(state)
        except zoneinfo.ZoneInfoNotFoundError as exc:
            raise SerializationError(
                f"time zone {shown(state)} is not in this system's time zone database; install the tzdata package"
            ) from exc
    offset, *name = _array(state)
    return dt.timezone(offset * _MICROSECOND, *name)


def _build_datetime(decoder: Decoder, value: Any) -> dt.datetime:
    year, month, day, hour, minute, second, microsecond, fold, tz = value if type(value) is list else _array(value)
    return dt.datetime(year, month, day, hour, minute, second, microsecond, _decode_tz(tz), fold=fold)


def _build_time(decoder: Decoder, value: Any) -> dt.time:
    hour, minute, second, microsecond, fold, tz = value if type(value) is list else _array(value)
    return dt.time(hour, minute, second, microsecond, _decode_tz(tz), fold=fold)


def _build_enum(decoder: Decoder, value: Any) -> enum.Enum:
    path, key = _array(value)
    cls = find_enum(path)
    if type(key) is not str:
        return cls(key)  # a combination of Flag members, stored by value
    try:
        return cls.__members__[key]
    except KeyError:
        raise SerializationError(f"enum {clip(path)} has no member {shown(key)}") from None


def _build_dataclass(decoder: Decoder, value: Any) -> object:
    name, values = _array(value)
    registration = by_name.get(name) if type(name) is str else None
    if registration is None:
        hint = name.rpartition(":")[2] if type(name) is str and ":" in name else f"TheClass, name={shown(name)}"
        raise SerializationError(
            f"data contains the dataclass registered as {shown(name)}, which is not registered "
            f"in this process; call zixir.serialization.register({clip(hint)}) before loading"
        )
    if type(values) is not dict:
        raise SerializationError(corrupt(f"the fields of {shown(name)} are a {type(values).__name__}, not a map"))
    unknown = values.keys() - registration.fields
    if unknown:
        fields = sorted(shown(field) for field in unknown)
        raise SerializationError(
            f"stored {shown(name)} has fields [{clip(', '.join(fields))}] that {qualified(registration.cls)} lacks"
        )
    init = {key: item for key, item in values.items() if key in registration.init_fields}
    obj = registration.cls(**init)
    for key in registration.other_fields:
        if key in values:
            object.__setattr__(obj, key, values[key])  # also works on frozen dataclasses
    return obj


def _build_pickle(decoder: Decoder, value: Any) -> object:
    type_name, pickled = _array(value)
    if not decoder.allow_pickle:
        raise SerializationError(
            f"data contains a pickled {clip(str(type_name))}, and unpickling can run arbitrary code; "
            "pass allow_pickle=True only if you trust where the bytes came from"
        )
    return pickle.loads(pickled)


# Ext payloads holding nested msgpack: built from the unpacked payload.
_NESTED: dict[int, Callable[[Decoder, Any], Any]] = {
    TUPLE: lambda d, v: tuple(v) if type(v) is list else _array(v),
    SET: lambda d, v: set(v) if type(v) is list else _array(v),
    FROZENSET: lambda d, v: frozenset(v) if type(v) is list else _array(v),
    DATETIME: _build_datetime,
    DATE: lambda d, v: dt.date(*(v if type(v) is list else _array(v))),
    TIME: _build_time,
    TIMEDELTA: lambda d, v: dt.timedelta(*(v if type(v) is list else _array(v))),
    ENUM: _build_enum,
    DATACLASS: _build_dataclass,
    PICKLE: _build_pickle,
}
# Ext payloads of plain bytes.
_FLAT: dict[int, Callable[[bytes], Any]] = {
    BIGINT: lambda b: int.from_bytes(b, "big", signed=True),
    DECIMAL: lambda b: decimal.Decimal(b.decode("ascii")),
    UUID: lambda b: uuid.UUID(bytes=b),
    COMPLEX: lambda b: complex(*COMPLEX_STRUCT.unpack(b)),
    NDARRAY: _arrays.decode_ndarray,
    ARRAY: _arrays.decode_array,
    NPSCALAR: _arrays.decode_scalar,
}
