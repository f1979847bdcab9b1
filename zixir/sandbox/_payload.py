"""A call's value or error, as it crosses back from a worker to its host: `zixir.serialization`.

The worker encodes; the host decodes and trusts nothing: a value is msgpack with Zixir's
ext types (pickle only when the sandbox allows it), and an error is rebuilt only for a
builtin or a `zixir.errors` type, from plain data, so no bytes from a worker can name code
for the host to run. Any other error becomes a `RemoteError` from the report's type name,
message and traceback text.

A payload's first byte says how the rest is encoded: `PLAIN`, bare msgpack of plain data
(None, bool, int, float, str, bytes, list, dict), which is most results and costs one
msgpack call; or `ZIXIR`, `zixir.serialization.dumps` output. The worker loads this
module without the zixir package (as the fork server's sibling) and imports
`zixir.serialization` only for a result that is not plain data, after fn ran, so a worker
whose results are plain never loads zixir. (The fork server preloads msgpack and loguru,
which that import needs, so it costs a few milliseconds.)
"""

from __future__ import annotations

import builtins
import pickle
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import ModuleType

__all__ = ["PLAIN", "PRELOAD", "ZIXIR", "decode_error", "decode_value", "encode_error", "encode_value"]

PLAIN = b"\x00"
"""First byte of a payload of bare msgpack (plain data only: no ext types)."""
ZIXIR = b"\x01"
"""First byte of a payload of `zixir.serialization.dumps` output."""
PRELOAD = ("msgpack", "loguru")
"""Modules outside the standard library that encoding a result needs; the fork server
imports them (none starts a thread) so its workers do not pay for them on a call."""

_BUILTIN, _ZIXIR, _PICKLED = "builtin", "zixir", "pickle"
_KEEP_BUFFER_BYTES = 256 * 1024  # a packer's buffer never shrinks: drop it once it grows
_packer: Any = None  # the worker's msgpack.Packer for plain data (one thread runs calls)


def _serialization() -> ModuleType:
    import zixir.serialization  # deferred: see the module's docstring

    return zixir.serialization


def encode_value(value: Any, allow_pickle: bool) -> bytes:
    """A call's value as bytes for the host.

    Raises:
        SerializationError: The value holds a type Zixir does not serialize (and pickle is
            not allowed, or it failed too). Its message names the type.
    """
    global _packer
    if _packer is None:
        import msgpack

        _packer = msgpack.Packer(use_bin_type=True, strict_types=True)
    try:
        data: bytes = _packer.pack(value)
    except (TypeError, ValueError, OverflowError):  # not plain data (or a cycle): Zixir's turn
        _packer = None  # its buffer may hold a partial value
        encoded: bytes = _serialization().dumps(value, allow_pickle=allow_pickle)
        return ZIXIR + encoded
    if len(data) > _KEEP_BUFFER_BYTES:
        _packer = None
    return PLAIN + data


def _refuse_ext(code: int, data: bytes) -> Any:
    raise ValueError(f"a plain payload holds ext type {code}")


class _Host:
    """What decoding needs in the host, imported once (the worker never decodes)."""

    def __init__(self) -> None:
        import msgpack

        from zixir.errors import SerializationError
        from zixir.serialization import loads

        self.unpackb = msgpack.unpackb
        self.loads = loads
        self.error = SerializationError


_host: _Host | None = None
_PLAIN_CODE, _ZIXIR_CODE = PLAIN[0], ZIXIR[0]


def decode_value(payload: bytes | memoryview, allow_pickle: bool) -> Any:
    """A call's value from a worker's bytes.

    Raises:
        SerializationError: The bytes are malformed, name a type this process does not
            have, or hold a pickle the sandbox does not allow.
    """
    global _host
    host = _host or (_host := _Host())
    how = payload[0] if payload else None
    if how == _PLAIN_CODE:
        try:
            return host.unpackb(payload[1:], strict_map_key=False, ext_hook=_refuse_ext)
        except Exception as exc:
            raise host.error(f"a sandbox result is not valid msgpack: {type(exc).__name__}: {exc}") from exc
    if how == _ZIXIR_CODE:
        return host.loads(payload[1:], allow_pickle=allow_pickle)
    raise host.error(f"a sandbox result starts with {how!r}, which is not a payload kind")


def _state(error: BaseException) -> dict[str, Any]:
    return {k: v for k, v in vars(error).items() if isinstance(k, str) and (not k.startswith("__") or k == "__notes__")}


def encode_error(error: BaseException, allow_pickle: bool, limit: int) -> bytes:
    """An error as bytes for the host, or b"" when it can only come back as a RemoteError.

    A builtin exception travels as its type name, args and attributes; a `zixir.errors`
    error as its type name and the constructor arguments its ``__reduce__`` gives; any
    other by pickle if `allow_pickle`. Nothing is sent that does not serialize, or that is
    over `limit` bytes.
    """
    cls = type(error)
    descriptor: list[Any]
    try:
        if cls.__module__ == "builtins":
            descriptor = [_BUILTIN, cls.__name__, list(error.args), _state(error)]
        elif cls.__module__ == "zixir.errors":
            reduced: tuple[Any, ...] = error.__reduce__()  # type: ignore[assignment]
            if reduced[0] is cls:  # (cls, args, state): the builtin's __init__
                arguments, keywords = reduced[1], {}
            else:  # (_rebuild, (cls, args, kwargs), state)
                _, arguments, keywords = reduced[1]
            state = reduced[2] if len(reduced) > 2 and reduced[2] else {}
            descriptor = [_ZIXIR, cls.__name__, list(arguments), dict(keywords), dict(state)]
        elif allow_pickle:
            descriptor = [_PICKLED, pickle.dumps(error, 5)]
        else:
            return b""
        encoded = encode_value(descriptor, allow_pickle)
    except BaseException:  # whatever fails here, the RemoteError stands in
        return b""
    return encoded if len(encoded) <= limit else b""


def _rebuild(descriptor: Any, allow_pickle: bool) -> BaseException | None:
    if not isinstance(descriptor, list) or not descriptor or not isinstance(descriptor[0], str):
        return None
    how = descriptor[0]
    if how == _PICKLED and allow_pickle and len(descriptor) == 2 and isinstance(descriptor[1], bytes):
        unpickled = pickle.loads(descriptor[1])
        return unpickled if isinstance(unpickled, BaseException) else None
    if how == _BUILTIN and len(descriptor) == 4:
        _, name, args, state = descriptor
        cls = getattr(builtins, name, None) if isinstance(name, str) else None
        if not (isinstance(cls, type) and issubclass(cls, BaseException) and isinstance(args, list)):
            return None
        error = cls(*args)
    elif how == _ZIXIR and len(descriptor) == 5:
        from zixir import errors

        _, name, args, keywords, state = descriptor
        cls = getattr(errors, name, None) if isinstance(name, str) and name in errors.__all__ else None
        if not (
            isinstance(cls, type)
            and issubclass(cls, errors.ZixirError)
            and isinstance(args, list)
            and isinstance(keywords, dict)
            and all(isinstance(k, str) for k in keywords)
        ):
            return None
        error = cls(*args, **keywords)
    else:
        return None
    if not isinstance(state, dict):
        return None
    for key, value in state.items():  # plain data only; never a dunder but __notes__
        if isinstance(key, str) and (not key.startswith("__") or key == "__notes__"):
            vars(error)[key] = value
    return error


def decode_error(
    payload: bytes | memoryview, name: str | None, message: str | None, text: str | None, allow_pickle: bool
) -> BaseException:
    """The error a worker reported: rebuilt from `payload` when it can be, else a RemoteError
    holding its type name, message and traceback text."""
    if payload:
        try:
            error = _rebuild(decode_value(payload, allow_pickle), allow_pickle)
        except Exception:  # malformed, or arguments its type refuses
            error = None
        if error is not None:
            return error
    from zixir.errors import RemoteError

    return RemoteError(f"{name}: {message or ''}", name or "", text or "")
