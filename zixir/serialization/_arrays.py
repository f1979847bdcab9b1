"""Numeric arrays as ext payloads: numpy arrays and scalars (only where numpy is installed; it is
never imported for data without them) and `array.array`. The element bytes are stored raw.

Payloads are flat, not nested msgpack, so loading copies the elements once, into the result:

- numpy array: dtype length (u8), dtype string (``dtype.str``: byte order, kind, size, unit),
  dimensions (u8), each dimension (u64), then the elements in C order.
- numpy scalar: dtype length (u8), dtype string, then its bytes.
- array.array: typecode (one ASCII byte), item size (u8), then the items little-endian.

Every length is checked against the payload before anything is allocated, so a forged shape
cannot make `loads` allocate more than the payload holds.
"""

from __future__ import annotations

import array
import struct
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from zixir.errors import SerializationError
from zixir.serialization._format import NDARRAY, NPSCALAR, corrupt, qualified, shown

__all__ = [
    "MAX_DIMS",
    "Unstorable",
    "decode_array",
    "decode_ndarray",
    "decode_scalar",
    "encode_array",
    "numpy_encoder",
]

MAX_DIMS = 64  # numpy's own limit (32 before numpy 2); more in a payload means it is damaged
_MAX_DTYPE = 64  # longer than any dtype string numpy writes ("<m8[100000000as]" is 16)
_DIM = struct.Struct(">Q")
_LITTLE = sys.byteorder == "little"
_numpy: ModuleType | None = None


def _np() -> ModuleType:
    global _numpy
    if _numpy is None:
        try:
            import numpy
        except ImportError as exc:
            raise SerializationError(
                "the data holds a numpy array or scalar, but numpy cannot be imported here; "
                "pip install numpy to load it"
            ) from exc
        _numpy = numpy
    return _numpy


class Unstorable(Exception):
    """A numpy value Zixir does not store natively: pickled if pickle is allowed, else refused."""


def _refusal(what: str, why: str) -> Unstorable:
    return Unstorable(f"cannot serialize {what}: {why}; or pass allow_pickle=True to pickle it")


def _dtype_head(dtype: Any, what: str, sized: bool = True) -> bytes:
    """The dtype's part of a payload; `Unstorable` for a dtype Zixir does not store (object,
    structured, or with zero-size items where `sized`: arrays, whose element count the payload
    could not then bound)."""
    if dtype.hasobject:
        raise _refusal(what, "its items are Python objects, not data in the array's memory; convert it to a list")
    if dtype.fields is not None:
        raise _refusal(what, "a structured dtype; store each field as its own array (a dict of arrays)")
    if sized and dtype.itemsize == 0:
        raise _refusal(what, "its items have no size; store a dtype with sized items")
    text: str = dtype.str
    return bytes((len(text),)) + text.encode("ascii")


def numpy_encoder(cls: type) -> tuple[int, Callable[[Any], bytes]] | None:
    """For ``numpy.ndarray`` or a numpy scalar type: its ext code and a function packing one
    into its payload (raising `Unstorable` for values of an unsupported dtype); None for any
    other class. Imports nothing: numpy is imported already if ``cls`` is one of its."""
    np = sys.modules.get("numpy")
    if np is None or cls.__module__ != "numpy":
        return None
    if cls is np.ndarray:
        return NDARRAY, _encode_ndarray
    if issubclass(cls, np.generic):
        return NPSCALAR, _encode_scalar
    return None


def _encode_ndarray(value: Any) -> bytes:
    head = _dtype_head(value.dtype, f"a numpy array of dtype {value.dtype}")
    dims = b"".join(_DIM.pack(n) for n in value.shape)
    return b"".join((head, bytes((value.ndim,)), dims, value.tobytes(order="C")))


def _encode_scalar(value: Any) -> bytes:
    head = _dtype_head(value.dtype, f"a numpy scalar of type {qualified(type(value))}", sized=False)
    data: bytes = value.tobytes() if value.dtype.itemsize else b""  # numpy.bytes_(b"") gives b"\x00"
    return head + data


def _read_dtype(data: bytes | memoryview, sized: bool = True) -> tuple[Any, int]:
    """The dtype a payload starts with, and where the rest begins; `sized` as in `_dtype_head`."""
    if not data:
        raise SerializationError(corrupt("an empty numpy payload"))
    end = 1 + data[0]
    text = bytes(data[1:end])
    if len(text) != data[0] or data[0] > _MAX_DTYPE:
        raise SerializationError(corrupt("a numpy payload with a damaged dtype"))
    np = _np()
    try:
        dtype = np.dtype(text.decode("ascii"))
    except Exception as exc:  # UnicodeDecodeError, TypeError: data type not understood...
        raise SerializationError(corrupt(f"unknown numpy dtype {shown(text)}")) from exc
    # Only what dumps writes: a plain dtype that reads back as the same string (no object,
    # structured, sub-array or zero-size dtypes, however numpy would parse the text).
    if (
        dtype.str != text.decode("ascii")
        or dtype.hasobject
        or dtype.fields is not None
        or (sized and not dtype.itemsize)
    ):
        raise SerializationError(corrupt(f"numpy dtype {shown(text)} is not one Zixir writes"))
    return dtype, end


def decode_ndarray(data: bytes) -> Any:
    """Rebuilds a numpy array (C-contiguous, writable) from its payload."""
    dtype, at = _read_dtype(data)
    if at >= len(data) or data[at] > MAX_DIMS:
        raise SerializationError(corrupt("a numpy array payload with a damaged shape"))
    ndim = data[at]
    body = at + 1 + ndim * _DIM.size
    if body > len(data):
        raise SerializationError(corrupt("a numpy array payload cut short in its shape"))
    shape = tuple(_DIM.unpack_from(data, at + 1 + i * _DIM.size)[0] for i in range(ndim))
    count = 1
    for n in shape:
        count *= n  # Python ints: a forged shape cannot overflow
    if count * dtype.itemsize != len(data) - body:
        raise SerializationError(
            corrupt(f"a numpy array of shape {shape} and dtype {dtype} needs {count * dtype.itemsize} bytes, "
                    f"the payload holds {len(data) - body}")
        )  # fmt: skip
    np = _np()
    try:
        return np.frombuffer(data, dtype, count, body).reshape(shape).copy()  # copy: writable
    except (ValueError, MemoryError) as exc:  # e.g. (0, 2**63): no bytes, yet too big for numpy
        raise SerializationError(corrupt(f"numpy refused the array of shape {shape}: {exc}")) from exc


def decode_scalar(data: bytes) -> Any:
    """Rebuilds a numpy scalar (numpy.float32, numpy.datetime64...) from its payload."""
    dtype, at = _read_dtype(data, sized=False)
    if len(data) - at != dtype.itemsize:
        raise SerializationError(corrupt(f"a numpy {dtype} scalar of {len(data) - at} bytes"))
    if not dtype.itemsize:  # numpy.str_(""), numpy.bytes_(b""): frombuffer refuses zero-size items
        return _np().zeros((), dtype)[()]
    return _np().frombuffer(data, dtype, 1, at)[0]


def encode_array(value: array.array[Any]) -> bytes:
    items = value
    if not _LITTLE:
        items = array.array(value.typecode, value)
        items.byteswap()
    return bytes((ord(value.typecode), value.itemsize)) + items.tobytes()


def decode_array(data: bytes) -> array.array[Any]:
    """Rebuilds an array.array from its payload."""
    if len(data) < 2 or chr(data[0]) not in array.typecodes:
        raise SerializationError(corrupt("an array.array payload with an unknown typecode"))
    typecode, itemsize = chr(data[0]), data[1]
    value = array.array(typecode)
    if itemsize != value.itemsize:
        raise SerializationError(
            f"cannot deserialize an array.array('{typecode}') of {itemsize}-byte items: its items have "
            f"{value.itemsize} bytes on this platform; store such arrays with a typecode of fixed size (such as 'q')"
        )
    if (len(data) - 2) % itemsize:
        raise SerializationError(corrupt(f"an array.array('{typecode}') payload of a partial item"))
    value.frombytes(memoryview(data)[2:])
    if not _LITTLE:
        value.byteswap()
    return value
