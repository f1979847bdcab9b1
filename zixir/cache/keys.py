"""How cache keys become LMDB keys: str and bytes kept apart, long keys hashed.

``"k"`` and ``b"k"`` are two different keys. Keys longer than LMDB's 511-byte limit are
stored under their SHA-256, with the full key kept in the record and checked on read.
"""

from __future__ import annotations

import hashlib

from zixir.errors import EmptyKeyError, KeyTypeError

__all__ = ["MAX_DIRECT", "Key", "decode_key", "encode_key", "memory_key"]

Key = str | bytes

MAX_DIRECT = 500  # leaves room for the kind byte under LMDB's 511-byte key limit
_STR, _BYTES, _HASHED = b"s", b"b", b"h"


def encode_key(key: str | bytes) -> tuple[bytes, bytes | None]:
    """Returns (LMDB key, full key to check in the record, or None for short keys).

    Raises:
        KeyTypeError: `key` is not str or bytes.
        EmptyKeyError: `key` is empty.
    """
    if isinstance(key, str):
        raw = _STR + key.encode("utf-8", "surrogatepass")
    elif isinstance(key, (bytes, bytearray, memoryview)):
        raw = _BYTES + bytes(key)
    else:
        raise KeyTypeError(f"cache keys are str or bytes, got {type(key).__name__} {key!r:.40}")
    if len(raw) == 1:
        raise EmptyKeyError("cache keys cannot be empty")
    if len(raw) <= MAX_DIRECT:
        return raw, None
    return _HASHED + hashlib.sha256(raw).digest(), raw


def decode_key(raw: bytes) -> str | bytes:
    """The user's key from its full encoded form (not the hashed one)."""
    kind, body = raw[:1], raw[1:]
    return body.decode("utf-8", "surrogatepass") if kind == _STR else body


def memory_key(key: Key) -> Key:
    """The memory tier's dict key: the key itself, bytes for other byte buffers."""
    return key if isinstance(key, str) or type(key) is bytes else bytes(key)
