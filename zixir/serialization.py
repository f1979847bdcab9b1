"""Versioned, type-preserving bytes for Zixir's caches and workflow checkpoints.

The format, its version promise and the supported types are described in docs/serialization.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import importlib
import pickle
import struct
import threading
import uuid
import zoneinfo
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar, cast, overload

import msgpack

from zixir.errors import FormatVersionError, SerializationError

__all__ = ["FORMAT_VERSION", "dumps", "ext_hook", "loads", "loads_body", "register"]

FORMAT_VERSION = 1
"""The format `dumps` writes. `loads` reads it and every older one."""

# 0xC1 is the one byte msgpack never uses, so plain msgpack is never taken for Zixir data.
_MAGIC = 0xC1
_HEADER = bytes((_MAGIC, FORMAT_VERSION))

# msgpack ext codes. They are part of the stored format: never renumber or reuse one.
_BIGINT, _TUPLE, _SET, _FROZENSET = 1, 2, 3, 4  # 5 is reserved (never written)
_DATETIME, _DATE, _TIME, _TIMEDELTA, _DECIMAL = 6, 7, 8, 9, 10
_UUID, _COMPLEX, _ENUM, _DATACLASS, _PICKLE = 11, 12, 13, 14, 15

# Tuples, sets, dataclasses... are ext payloads holding nested msgpack, so nesting costs C
# stack: msgpack's unpackb puts a ~45 KiB parse stack on it per level.
_MAX_DEPTH = 100  # enforced by dumps too, so whatever dumps writes, loads can read
_FAST_DEPTH = 3  # deeper levels use an Unpacker, whose parse stack lives on the heap
_REUSED_DEPTH = 4  # levels whose packers a thread keeps; deeper ones build their own
_KEEP_BUFFER_BYTES = 256 * 1024  # a packer's buffer never shrinks: drop it once it grows
_TOO_DEEP = f"tuples, sets, dataclasses and other Zixir types nest over {_MAX_DEPTH} deep"

# msgpack packs bytearray and memoryview natively, even with strict_types, so they never
# reach `default` and come back as bytes. Checking every list and dict for them made dumps
# 4-5x slower on nested data; the guide documents the conversion instead.

# ExtType's constructor re-checks its arguments in Python; ours are valid, so skip that.
_ext = msgpack.ExtType._make
_PICKLE_PROTOCOL = 5  # pinned, so a newer Python's default cannot make bytes unreadable
_MICROSECOND = dt.timedelta(microseconds=1)
_COMPLEX_STRUCT = struct.Struct(">dd")

_C = TypeVar("_C", bound=type)


class _Registration(NamedTuple):
    cls: type
    name: str
    fields: tuple[str, ...]  # in definition order, so the bytes are deterministic
    init_fields: frozenset[str]
    other_fields: tuple[str, ...]  # init=False: set after __init__ runs


_registry_lock = threading.Lock()
_by_name: dict[str, _Registration] = {}
_by_class: dict[type, _Registration] = {}


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


@overload
def register(cls: _C, name: str | None = None) -> _C: ...
@overload
def register(cls: None = None, name: str | None = None) -> Callable[[_C], _C]: ...
def register(cls: _C | None = None, name: str | None = None) -> _C | Callable[[_C], _C]:
    """Lets `dumps` store instances of a dataclass; also usable as a class decorator.

    ``register(Point)``, ``@register`` and ``@register(name="point")`` all work. The name
    is stored in the bytes, so keep it stable. Registering a redefinition of the same class
    (same module and qualname, e.g. after a module reload) replaces the old registration.

    Args:
        cls: The dataclass. Omit it to get a decorator that registers under ``name``.
        name: Name stored in the bytes; defaults to ``"module:QualName"``.

    Returns:
        ``cls`` unchanged, or, if ``cls`` was omitted, a decorator.

    Raises:
        SerializationError: ``cls`` is not a dataclass, ``name`` is taken by another
            class, or ``cls`` is already registered under another name.
    """
    if cls is None:
        return lambda c: register(c, name)
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise SerializationError(
            f"register() takes a dataclass, got {cls!r}; store other classes by converting "
            "them to supported types, or with allow_pickle=True"
        )
    name = f"{cls.__module__}:{cls.__qualname__}" if name is None else name
    if not isinstance(name, str) or not name:
        raise SerializationError(f"a registration name must be a non-empty str, not {name!r}")
    fields = dataclasses.fields(cls)
    registration = _Registration(
        cls,
        name,
        tuple(f.name for f in fields),
        frozenset(f.name for f in fields if f.init),
        tuple(f.name for f in fields if not f.init),
    )
    with _registry_lock:
        taken = _by_name.get(name)
        if taken is not None and taken.cls is not cls:
            if _qualified(taken.cls) != _qualified(cls):
                raise SerializationError(
                    f"cannot register {_qualified(cls)} as {name!r}: the name is taken by "
                    f"{_qualified(taken.cls)}; pass another name="
                )
            del _by_class[taken.cls]  # a redefinition, e.g. after a module reload
        current = _by_class.get(cls)
        if current is not None and current.name != name:
            raise SerializationError(
                f"{_qualified(cls)} is already registered as {current.name!r}; a class has one name"
            )
        _by_name[name] = _by_class[cls] = registration
    return cls


# --- encoding -------------------------------------------------------------------------


class _Encoder:
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
        if self._depth >= _MAX_DEPTH:
            raise SerializationError(_TOO_DEEP)
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
            return _ext((_ENUM, _encode_enum(self, obj)))
        registration = _by_class.get(cls)
        if registration is not None:
            values = {name: getattr(obj, name) for name in registration.fields}
            return _ext((_DATACLASS, self.pack([registration.name, values])))
        if self.allow_pickle:
            return _ext((_PICKLE, _encode_pickle(self, obj)))
        if dataclasses.is_dataclass(obj):
            raise SerializationError(
                f"cannot serialize {_qualified(cls)}: the dataclass is not registered; call "
                f"zixir.serialization.register({cls.__qualname__}) (or decorate the class "
                "with @zixir.serialization.register) before dumps()"
            )
        raise SerializationError(
            f"cannot serialize {_qualified(cls)}: it is not a type Zixir stores; convert it "
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
        f"cannot serialize a time zone of type {_qualified(type(tz))}: Zixir stores "
        'datetime.timezone and zoneinfo.ZoneInfo; use zoneinfo.ZoneInfo("Area/City") instead'
    )


def _encode_enum(encoder: _Encoder, member: enum.Enum) -> bytes:
    cls = type(member)
    if "<locals>" in cls.__qualname__:
        raise SerializationError(
            f"cannot serialize {_qualified(cls)}: loads() imports enums by path, and an enum "
            "defined inside a function has none; define it at module level"
        )
    # A combination of Flag members has no single member name, so store its value.
    key = member.name if member.name in cls.__members__ else member.value
    return encoder.pack([f"{cls.__module__}:{cls.__qualname__}", key])


def _encode_pickle(encoder: _Encoder, obj: object) -> bytes:
    try:
        pickled = pickle.dumps(obj, protocol=_PICKLE_PROTOCOL)
    except Exception as exc:
        raise SerializationError(f"cannot pickle {_qualified(type(obj))}: {exc}") from exc
    return encoder.pack([_qualified(type(obj)), pickled])


def _encode_datetime(encoder: _Encoder, d: dt.datetime) -> bytes:
    tz = _encode_tz(d.tzinfo)
    return encoder.pack([d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond, d.fold, tz])


def _encode_time(encoder: _Encoder, t: dt.time) -> bytes:
    return encoder.pack([t.hour, t.minute, t.second, t.microsecond, t.fold, _encode_tz(t.tzinfo)])


_ENCODERS: dict[type, tuple[int, Callable[[_Encoder, Any], bytes]]] = {
    # msgpack packs ints in [-2**63, 2**64) itself; only the others arrive here.
    int: (_BIGINT, lambda e, o: o.to_bytes((o.bit_length() + 8) // 8, "big", signed=True)),
    tuple: (_TUPLE, lambda e, o: e.pack(list(o))),
    set: (_SET, lambda e, o: e.pack(list(o))),
    frozenset: (_FROZENSET, lambda e, o: e.pack(list(o))),
    dt.datetime: (_DATETIME, _encode_datetime),
    dt.date: (_DATE, lambda e, o: e.pack([o.year, o.month, o.day])),
    dt.time: (_TIME, _encode_time),
    dt.timedelta: (_TIMEDELTA, lambda e, o: e.pack([o.days, o.seconds, o.microseconds])),
    # str() of a Decimal is exact: sign, digits, exponent and NaN payload all survive.
    decimal.Decimal: (_DECIMAL, lambda e, o: str(o).encode("ascii")),
    uuid.UUID: (_UUID, lambda e, o: o.bytes),
    complex: (_COMPLEX, lambda e, o: _COMPLEX_STRUCT.pack(o.real, o.imag)),
}


# --- decoding -------------------------------------------------------------------------


class _Decoder:
    """Unpacks values for one thread, counting how deeply ext payloads nest."""

    def __init__(self, allow_pickle: bool) -> None:
        self.allow_pickle = allow_pickle
        self._depth = 0
        self.ext_hook = self._ext_hook  # bound once, as loads() passes it on every call

    def unpack(self, data: bytes) -> Any:
        """Unpacks an ext payload; loads() unpacks the top level itself."""
        depth = self._depth
        if depth >= _MAX_DEPTH:
            raise SerializationError(_TOO_DEEP)
        self._depth = depth + 1
        try:
            if depth < _FAST_DEPTH:
                return msgpack.unpackb(data, ext_hook=self.ext_hook, strict_map_key=False)
            unpacker = msgpack.Unpacker(ext_hook=self.ext_hook, strict_map_key=False, max_buffer_size=len(data) or 1)
            unpacker.feed(data)
            obj = unpacker.unpack()
            if unpacker.tell() != len(data):
                raise SerializationError(_corrupt("extra bytes after a nested value"))
            return obj
        finally:
            self._depth = depth

    def _ext_hook(self, code: int, data: bytes) -> Any:
        decode = _DECODERS.get(code)
        if decode is None:
            raise SerializationError(_corrupt(f"unknown type code {code}"))
        return decode(self, data)


def _decode_tz(state: str | list[Any] | None) -> dt.tzinfo | None:
    if state is None:
        return None
    if isinstance(state, str):
        try:
            return zoneinfo.ZoneInfo(state)
        except zoneinfo.ZoneInfoNotFoundError as exc:
            raise SerializationError(
                f"time zone {state!r} is not in this system's time zone database; install the tzdata package"
            ) from exc
    offset, *name = state
    return dt.timezone(offset * _MICROSECOND, *name)


def _decode_datetime(decoder: _Decoder, data: bytes) -> dt.datetime:
    year, month, day, hour, minute, second, microsecond, fold, tz = decoder.unpack(data)
    tzinfo = _decode_tz(tz)
    return dt.datetime(year, month, day, hour, minute, second, microsecond, tzinfo, fold=fold)


def _decode_time(decoder: _Decoder, data: bytes) -> dt.time:
    hour, minute, second, microsecond, fold, tz = decoder.unpack(data)
    return dt.time(hour, minute, second, microsecond, _decode_tz(tz), fold=fold)


def _decode_enum(decoder: _Decoder, data: bytes) -> enum.Enum:
    path, key = decoder.unpack(data)
    module_name, _, qualname = path.partition(":")
    try:
        cls: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            cls = getattr(cls, part)
    except Exception as exc:
        raise SerializationError(f"cannot import the enum class {path!r}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, enum.Enum)):
        raise SerializationError(f"data names {path!r} as an enum class, but it is not one")
    if not isinstance(key, str):
        return cls(key)  # a combination of Flag members, stored by value
    try:
        return cls.__members__[key]
    except KeyError:
        raise SerializationError(f"enum {path} has no member {key!r}") from None


def _decode_dataclass(decoder: _Decoder, data: bytes) -> object:
    name, values = decoder.unpack(data)
    registration = _by_name.get(name)
    if registration is None:
        hint = name.rpartition(":")[2] if ":" in name else f"TheClass, name={name!r}"
        raise SerializationError(
            f"data contains the dataclass registered as {name!r}, which is not registered "
            f"in this process; call zixir.serialization.register({hint}) before loading"
        )
    unknown = values.keys() - registration.fields
    if unknown:
        raise SerializationError(
            f"stored {name!r} has fields {sorted(map(str, unknown))} that {_qualified(registration.cls)} lacks"
        )
    init = {key: value for key, value in values.items() if key in registration.init_fields}
    obj = registration.cls(**init)
    for key in registration.other_fields:
        if key in values:
            object.__setattr__(obj, key, values[key])  # also works on frozen dataclasses
    return obj


def _decode_pickle(decoder: _Decoder, data: bytes) -> object:
    type_name, pickled = decoder.unpack(data)
    if not decoder.allow_pickle:
        raise SerializationError(
            f"data contains a pickled {type_name}, and unpickling can run arbitrary code; "
            "pass allow_pickle=True only if you trust where the bytes came from"
        )
    return pickle.loads(pickled)


_DECODERS: dict[int, Callable[[_Decoder, bytes], Any]] = {
    _BIGINT: lambda d, b: int.from_bytes(b, "big", signed=True),
    _TUPLE: lambda d, b: tuple(d.unpack(b)),
    _SET: lambda d, b: set(d.unpack(b)),
    _FROZENSET: lambda d, b: frozenset(d.unpack(b)),
    _DATETIME: _decode_datetime,
    _DATE: lambda d, b: dt.date(*d.unpack(b)),
    _TIME: _decode_time,
    _TIMEDELTA: lambda d, b: dt.timedelta(*d.unpack(b)),
    _DECIMAL: lambda d, b: decimal.Decimal(b.decode("ascii")),
    _UUID: lambda d, b: uuid.UUID(bytes=b),
    _COMPLEX: lambda d, b: complex(*_COMPLEX_STRUCT.unpack(b)),
    _ENUM: _decode_enum,
    _DATACLASS: _decode_dataclass,
    _PICKLE: _decode_pickle,
}


def _corrupt(detail: str) -> str:
    return f"cannot deserialize: the bytes are corrupt or truncated ({detail})"


def _not_zixir(detail: str) -> str:
    return f"the bytes are not Zixir-serialized data ({detail})"


def _checked(data: object) -> bytes | bytearray | memoryview:
    """Returns ``data`` as a byte buffer whose header ``loads`` can read, else raises."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SerializationError(f"loads() takes bytes, bytearray or memoryview, not {_qualified(type(data))}")
    try:
        if isinstance(data, memoryview) and (data.ndim != 1 or data.format != "B"):
            data = data.cast("B")
    except Exception as exc:
        raise SerializationError(_not_zixir(f"unusable memoryview: {exc}")) from exc
    if len(data) < 2:
        raise SerializationError(_not_zixir(f"{len(data)} bytes is shorter than the header"))
    if data[0] != _MAGIC:
        raise SerializationError(_not_zixir(f"first byte {data[0]:#04x} is not {_MAGIC:#04x}"))
    version = data[1]
    if version > FORMAT_VERSION:
        raise FormatVersionError(
            f"data was written in Zixir serialization format {version}, but this version "
            f"of Zixir reads formats up to {FORMAT_VERSION}; upgrade zixir to read it",
            version,
        )
    if version == 0:
        raise SerializationError(_not_zixir("format version 0 does not exist"))
    return data


# --- public API -----------------------------------------------------------------------


class _ThreadCodecs(threading.local):
    # Packers are stateful, so each thread gets its own; __init__ runs once per thread.
    def __init__(self) -> None:
        self.encoder, self.pickling_encoder = _Encoder(False), _Encoder(True)
        self.decoder, self.unpickling_decoder = _Decoder(False), _Decoder(True)


_codecs = _ThreadCodecs()


def dumps(obj: object, *, allow_pickle: bool = False) -> bytes:
    """Serializes ``obj`` to bytes that `loads` turns back into an equal value.

    Args:
        obj: A value made of the supported types (see docs/serialization.md).
        allow_pickle: Pickle values of any other type instead of refusing them.

    Returns:
        A 2-byte header (magic byte, `FORMAT_VERSION`) followed by the msgpack payload.

    Raises:
        SerializationError: ``obj`` contains an unsupported type, an unregistered
            dataclass, an unsupported time zone or a cycle, or nests too deeply.
    """
    encoder = _codecs.pickling_encoder if allow_pickle else _codecs.encoder
    try:
        return _HEADER + encoder.pack(obj)
    except SerializationError:
        raise
    except Exception as exc:  # e.g. msgpack's ValueError for a cycle, RecursionError
        raise SerializationError(f"cannot serialize the value: {exc}") from exc


def loads(data: bytes | bytearray | memoryview, *, allow_pickle: bool = False) -> Any:
    """Turns bytes written by `dumps`, in this or any older format, back into the value.

    Args:
        data: Bytes from `dumps`.
        allow_pickle: Unpickle pickled values. Unpickling can run arbitrary code, so pass
            True only for bytes from a source you trust.

    Returns:
        The value, with every type preserved.

    Raises:
        FormatVersionError: ``data`` was written in a newer format than this Zixir reads.
        SerializationError: ``data`` is not Zixir data, is corrupt or truncated, contains
            a pickle without ``allow_pickle``, or names a dataclass not registered here.
    """
    if type(data) is not bytes or data[:2] != _HEADER:  # current-format bytes skip this
        data = _checked(data)
    return _unpack(data, 2, allow_pickle)


def loads_body(data: bytes, start: int) -> Any:
    """Decodes the value whose msgpack body begins at ``data[start]``: the bytes after the
    2-byte header of current-format `dumps` output, which the caller has checked.

    For hot paths that keep such data inside records of their own (the cache's reads):
    it skips the header checks and the thread lookup of `loads` (pickles are refused).

    Raises:
        SerializationError: the body is corrupt or truncated.
    """
    try:
        body = data[start:] if len(data) <= 4096 else memoryview(data)[start:]
        return msgpack.unpackb(body, ext_hook=ext_hook, strict_map_key=False)
    except SerializationError:
        raise
    except Exception as exc:  # msgpack's errors, or bad values reaching constructors
        raise SerializationError(_corrupt(f"{type(exc).__name__}: {exc}")) from exc


def ext_hook(code: int, data: bytes) -> Any:
    """msgpack's ``ext_hook`` for Zixir's types, for hot paths that call
    ``msgpack.unpackb(body, ext_hook=ext_hook, strict_map_key=False)`` on a body whose
    header they checked (as `loads_body` does); pickles are refused."""
    # Only values holding Zixir types pay for finding this thread's decoder.
    return _codecs.decoder.ext_hook(code, data)


def _unpack(data: bytes | bytearray | memoryview, start: int, allow_pickle: bool) -> Any:
    decoder = _codecs.unpickling_decoder if allow_pickle else _codecs.decoder
    # Slicing copies; a memoryview does not, which matters once payloads get big.
    payload = data[start:] if len(data) <= 4096 else memoryview(data)[start:]
    try:
        return msgpack.unpackb(payload, ext_hook=decoder.ext_hook, strict_map_key=False)
    except SerializationError:
        raise
    except Exception as exc:  # msgpack's errors, or bad values reaching constructors
        raise SerializationError(_corrupt(f"{type(exc).__name__}: {exc}")) from exc
