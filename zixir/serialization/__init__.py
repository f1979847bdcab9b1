"""Versioned, type-preserving bytes for Zixir's caches and workflow checkpoints.

The format, its version promise, the supported types and what `loads` promises on hostile
bytes are described in docs/serialization.md.
"""

from __future__ import annotations

import threading
from typing import Any

import msgpack

from zixir.errors import FormatVersionError, SerializationError
from zixir.serialization._classes import allow_modules, allowed_modules, register
from zixir.serialization._decode import Decoder
from zixir.serialization._encode import Encoder
from zixir.serialization._format import FORMAT_VERSION, HEADER, MAGIC, corrupt, not_zixir, qualified

__all__ = [
    "FORMAT_VERSION",
    "allow_modules",
    "allowed_modules",
    "dumps",
    "ext_hook",
    "loads",
    "loads_body",
    "register",
]


class _ThreadCodecs(threading.local):
    # Packers are stateful, so each thread gets its own; __init__ runs once per thread.
    def __init__(self) -> None:
        self.encoder, self.pickling_encoder = Encoder(False), Encoder(True)
        self.decoder, self.unpickling_decoder = Decoder(False), Decoder(True)


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
        return HEADER + encoder.pack(obj)
    except SerializationError:
        raise
    except Exception as exc:  # e.g. msgpack's ValueError for a cycle, RecursionError
        raise SerializationError(f"cannot serialize the value: {exc}") from exc


def loads(data: bytes | bytearray | memoryview, *, allow_pickle: bool = False) -> Any:
    """Turns bytes written by `dumps`, in this or any older format, back into the value.

    Safe on any bytes unless ``allow_pickle`` is passed: it runs no code and imports no module
    the bytes choose, needs at most about three times the input's size in memory plus the
    result, and raises nothing but `SerializationError` (see `allow_modules`).

    Args:
        data: Bytes from `dumps`.
        allow_pickle: Unpickle pickled values. Unpickling can run arbitrary code, so pass
            True only for bytes from a source you trust.

    Returns:
        The value, with every type preserved.

    Raises:
        FormatVersionError: ``data`` was written in a newer format than this Zixir reads.
        SerializationError: ``data`` is not Zixir data, is corrupt or truncated, contains
            a pickle without ``allow_pickle``, names a dataclass not registered here, or
            names an enum whose module is neither imported nor allowed (`allow_modules`).
    """
    try:
        if type(data) is not bytes or data[:2] != HEADER:  # current-format bytes skip this
            data = _checked(data)
        decoder = _codecs.unpickling_decoder if allow_pickle else _codecs.decoder
        # Slicing copies; a memoryview does not, which matters once payloads get big.
        return decoder.decode(data[2:] if len(data) <= 4096 else memoryview(data)[2:])
    except SerializationError:
        raise
    except Exception as exc:  # msgpack's errors, bad values reaching constructors, no stack left...
        raise SerializationError(_failure(exc)) from exc


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
        raise SerializationError(_failure(exc)) from exc


def ext_hook(code: int, data: bytes) -> Any:
    """msgpack's ``ext_hook`` for Zixir's types, for hot paths that call
    ``msgpack.unpackb(body, ext_hook=ext_hook, strict_map_key=False)`` on a body whose
    header they checked (as `loads_body` does); pickles are refused. It raises
    `SerializationError` for what it cannot decode; msgpack's own errors are the caller's."""
    # Only values holding Zixir types pay for finding this thread's decoder.
    return _codecs.decoder.now(code, data)


def _failure(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return f"cannot deserialize: Python's stack ran out ({exc}); call loads() from a shallower stack"
    if isinstance(exc, MemoryError):
        return "cannot deserialize: out of memory (MemoryError)"
    detail = str(exc)
    return corrupt(f"{type(exc).__name__}: {detail if len(detail) <= 300 else detail[:297] + '...'}")


def _checked(data: object) -> bytes | bytearray | memoryview:
    """Returns ``data`` as a byte buffer whose header ``loads`` can read, else raises."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SerializationError(f"loads() takes bytes, bytearray or memoryview, not {qualified(type(data))}")
    try:
        if isinstance(data, memoryview) and (data.ndim != 1 or data.format != "B"):
            data = data.cast("B")
        header = bytes(data[:2])
    except Exception as exc:  # e.g. a released or non-contiguous memoryview
        raise SerializationError(not_zixir(f"unusable {type(data).__name__}: {exc}")) from exc
    if len(header) < 2:
        raise SerializationError(not_zixir(f"{len(header)} bytes is shorter than the header"))
    magic, version = header
    if magic != MAGIC:
        raise SerializationError(not_zixir(f"first byte {magic:#04x} is not {MAGIC:#04x}"))
    if version > FORMAT_VERSION:
        raise FormatVersionError(
            f"data was written in Zixir serialization format {version}, but this version "
            f"of Zixir reads formats up to {FORMAT_VERSION}; upgrade zixir to read it",
            version,
        )
    if version == 0:
        raise SerializationError(not_zixir("format version 0 does not exist"))
    return data
