"""numpy arrays, numpy scalars and array.array: exact round trips, refusals, and format 2."""

from __future__ import annotations

import array
import re
import struct
import subprocess
import sys
import textwrap
from typing import Any

import hypothesis.extra.numpy as hnp
import msgpack
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zixir.errors import FormatVersionError, SerializationError
from zixir.serialization import FORMAT_VERSION, dumps, loads, loads_body

HEADER = bytes((0xC1, FORMAT_VERSION))
NDARRAY, ARRAY, NPSCALAR = 16, 17, 18  # pinned: part of the stored format

plain_dtypes = st.one_of(
    hnp.boolean_dtypes(),
    hnp.integer_dtypes(endianness="?"),
    hnp.unsigned_integer_dtypes(endianness="?"),
    hnp.floating_dtypes(endianness="?", sizes=(16, 32, 64)),
    hnp.complex_number_dtypes(endianness="?"),
    hnp.datetime64_dtypes(endianness="?"),
    hnp.timedelta64_dtypes(endianness="?"),
    hnp.byte_string_dtypes(min_len=1, max_len=6),
    hnp.unicode_string_dtypes(endianness="?", min_len=1, max_len=6),
)
shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)
arrays = hnp.arrays(plain_dtypes, shapes)


def views(value: np.ndarray) -> st.SearchStrategy[np.ndarray]:
    """The array, and views of it that are not C-contiguous."""
    if value.ndim == 0:
        return st.just(value)
    return st.sampled_from([value, value.T, value[::-1], value[..., ::2]])


def same_array(result: Any, value: np.ndarray) -> bool:
    """Equal down to the bytes (NaN payloads too), the dtype with its byte order, and the shape."""
    return (
        type(result) is np.ndarray
        and result.dtype == value.dtype
        and result.dtype.str == value.dtype.str
        and result.shape == value.shape
        and result.tobytes() == value.tobytes()
    )


def ndarray_payload(dtype: bytes, shape: tuple[int, ...], body: bytes, ndim: int | None = None) -> bytes:
    dims = b"".join(struct.pack(">Q", n) for n in shape)
    return bytes((len(dtype),)) + dtype + bytes((len(shape) if ndim is None else ndim,)) + dims + body


def forged(code: int, payload: bytes) -> bytes:
    return HEADER + msgpack.packb(msgpack.ExtType(code, payload))


# -- round trips ----------------------------------------------------------------------------


@given(arrays.flatmap(views))
def test_numpy_arrays_round_trip_exactly_as_writable_c_contiguous_arrays(value: np.ndarray) -> None:
    result = loads(dumps(value))
    assert same_array(result, value)
    assert result.flags.c_contiguous and result.flags.writeable and result.flags.owndata


@given(hnp.arrays(plain_dtypes, st.just(())).map(lambda zero_d: zero_d[()]))
def test_numpy_scalars_come_back_as_the_same_numpy_type(value: Any) -> None:
    result = loads(dumps(value))
    assert type(result) is type(value)
    assert result.dtype.str == value.dtype.str
    assert result.tobytes() == value.tobytes()


TYPECODES = [code for code in array.typecodes if code != "u"]  # "u" is deprecated


@given(st.sampled_from(TYPECODES), st.data())
def test_array_array_round_trips_exactly(typecode: str, data: st.DataObject) -> None:
    itemsize = array.array(typecode).itemsize
    value = array.array(typecode)
    value.frombytes(data.draw(st.binary(max_size=40).map(lambda b: b[: len(b) - len(b) % itemsize])))
    result = loads(dumps(value))
    assert type(result) is array.array and result.typecode == typecode
    assert result.tobytes() == value.tobytes()


def test_arrays_nest_anywhere_and_big_ones_too() -> None:
    big = np.arange(100_000, dtype=np.float64)  # a payload big enough to be decoded after its tuple
    value = {
        "pair": (np.arange(3), array.array("d", [0.5])),
        "big": (big, [big[::7]]),
        np.int64(7): {np.float32(1.5)},
        "empty": np.zeros((0, 3), dtype=np.int16),
    }
    result = loads(dumps(value))
    assert same_array(result["pair"][0], value["pair"][0])
    assert result["pair"][1] == array.array("d", [0.5])
    assert same_array(result["big"][0], big) and same_array(result["big"][1][0], big[::7])
    assert type(next(iter(result[np.int64(7)]))) is np.float32
    assert same_array(result["empty"], value["empty"])
    assert loads_body(dumps(value), 2)["pair"][1] == array.array("d", [0.5])


def test_an_array_and_its_loaded_copy_share_no_memory() -> None:
    value = np.arange(4)
    result = loads(dumps(value))
    result[0] = 99
    assert value[0] == 0 and loads(dumps(value))[0] == 0


# -- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            np.array([1, "one"], dtype=object),
            "cannot serialize a numpy array of dtype object: its items are Python objects, not data in "
            "the array's memory; convert it to a list; or pass allow_pickle=True to pickle it",
        ),
        (
            np.zeros(2, dtype=[("x", "f8"), ("y", "i4")]),
            "cannot serialize a numpy array of dtype [('x', '<f8'), ('y', '<i4')]: a structured dtype; "
            "store each field as its own array (a dict of arrays); or pass allow_pickle=True to pickle it",
        ),
        (
            np.zeros(2, dtype=[("x", "f8")])[0],
            "cannot serialize a numpy scalar of type numpy.void: a structured dtype; store each field as "
            "its own array (a dict of arrays); or pass allow_pickle=True to pickle it",
        ),
        (
            np.zeros(2, dtype="V0"),
            "cannot serialize a numpy array of dtype |V0: its items have no size; store a dtype with sized "
            "items; or pass allow_pickle=True to pickle it",
        ),
    ],
)
def test_object_structured_and_empty_dtypes_are_refused_unless_pickled(value: Any, message: str) -> None:
    with pytest.raises(SerializationError, match=f"^{re.escape(message)}$") as caught:
        dumps({"step output": value})
    assert type(caught.value) is SerializationError
    restored = loads(dumps(value, allow_pickle=True), allow_pickle=True)
    assert type(restored) is type(value) and restored.dtype == value.dtype and restored.tolist() == value.tolist()


class Tagged(np.ndarray):
    pass


def test_array_subclasses_are_refused_like_other_unsupported_types() -> None:
    for value, name in (
        (np.arange(2).view(Tagged), f"{__name__}.Tagged"),
        (np.ma.masked_array([1, 2]), "numpy.ma.MaskedArray"),
    ):
        with pytest.raises(SerializationError, match=f"^cannot serialize {re.escape(name)}: it is not a type Zixir"):
            dumps(value)


# -- the format version ---------------------------------------------------------------------


def test_format_1_bytes_still_load_and_newer_formats_are_refused() -> None:
    body = dumps({"a": (1, 2)})[2:]
    assert FORMAT_VERSION == 2
    assert loads(bytes((0xC1, 1)) + body) == {"a": (1, 2)}
    with pytest.raises(FormatVersionError, match="format 3, but this version of Zixir reads formats up to 2"):
        loads(bytes((0xC1, 3)) + body)


def test_array_payloads_keep_their_pinned_layout() -> None:
    assert dumps(np.array([1, 2], dtype="<i2")) == forged(NDARRAY, ndarray_payload(b"<i2", (2,), b"\x01\x00\x02\x00"))
    assert dumps(np.float32(1)) == forged(NPSCALAR, b"\x03<f4" + struct.pack("<f", 1.0))
    assert dumps(array.array("h", [1, 2])) == forged(ARRAY, b"h\x02\x01\x00\x02\x00")


# -- damaged and forged payloads ------------------------------------------------------------

EIGHT = b"\x00" * 8


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "an empty numpy payload"),
        (b"\x09<f8", "a numpy payload with a damaged dtype"),
        (b"\xc8" + b"f" * 200, "a numpy payload with a damaged dtype"),
        (ndarray_payload(b"<f8", (2,), EIGHT), "a numpy array of shape (2,) and dtype float64 needs 16 bytes"),
        (ndarray_payload(b"<f8", (1,), EIGHT + b"\x00"), "needs 8 bytes, the payload holds 9"),
        (ndarray_payload(b"<f8", (2**63,), EIGHT), "needs 73786976294838206464 bytes, the payload holds 8"),
        (ndarray_payload(b"<f8", (2**32, 2**32), EIGHT), "needs 147573952589676412928 bytes"),
        (ndarray_payload(b"<f8", (0, 2**63 - 1, 2**63 - 1), b""), "numpy refused the array of shape"),
        (ndarray_payload(b"<f8", (1,) * 65, EIGHT), "a numpy array payload with a damaged shape"),
        (ndarray_payload(b"<f8", (1, 1), EIGHT, ndim=9), "a numpy array payload cut short in its shape"),
        (ndarray_payload(b"<f8", (), b"")[:4], "a numpy array payload with a damaged shape"),
        (ndarray_payload(b"|O", (1,), EIGHT), "numpy dtype b'|O' is not one Zixir writes"),
        (ndarray_payload(b"O", (1,), EIGHT), "numpy dtype b'O' is not one Zixir writes"),
        (ndarray_payload(b"i4,i4", (1,), EIGHT), "numpy dtype b'i4,i4' is not one Zixir writes"),
        (ndarray_payload(b"(2,)f4", (1,), EIGHT), "numpy dtype b'(2,)f4' is not one Zixir writes"),
        (ndarray_payload(b"|V0", (2**40,), b""), "numpy dtype b'|V0' is not one Zixir writes"),
        (ndarray_payload(b"<U0", (2**40,), b""), "numpy dtype b'<U0' is not one Zixir writes"),
        (ndarray_payload(b"f8", (1,), EIGHT), "numpy dtype b'f8' is not one Zixir writes"),
        (ndarray_payload(b"<q9", (1,), EIGHT), "unknown numpy dtype b'<q9'"),
        (ndarray_payload(b"<M8[zz]", (1,), EIGHT), "unknown numpy dtype b'<M8[zz]'"),
        (ndarray_payload(b"\xff\xfe", (1,), EIGHT), "unknown numpy dtype b'\\xff\\xfe'"),
    ],
)
def test_damaged_array_payloads_raise_serialization_error_naming_the_damage(payload: bytes, message: str) -> None:
    with pytest.raises(SerializationError, match=re.escape(message)):
        loads(forged(NDARRAY, payload))


@pytest.mark.parametrize(
    ("code", "payload", "message"),
    [
        (NPSCALAR, b"\x03<f8" + b"\x00" * 4, "a numpy float64 scalar of 4 bytes"),
        (NPSCALAR, b"\x03<f4", "a numpy float32 scalar of 0 bytes"),
        (NPSCALAR, b"\x02|O" + EIGHT, "numpy dtype b'|O' is not one Zixir writes"),
        (ARRAY, b"", "an array.array payload with an unknown typecode"),
        (ARRAY, b"z\x01\x00", "an array.array payload with an unknown typecode"),
        (ARRAY, b"d", "an array.array payload with an unknown typecode"),
        (ARRAY, b"d\x08\x00\x00", "an array.array('d') payload of a partial item"),
        (
            ARRAY,
            b"l\x04\x00\x00\x00\x00",
            "cannot deserialize an array.array('l') of 4-byte items: its items have 8 bytes on this platform; "
            "store such arrays with a typecode of fixed size (such as 'q')",
        ),
    ],
)
def test_damaged_scalar_and_array_array_payloads_raise_serialization_error(
    code: int, payload: bytes, message: str
) -> None:
    with pytest.raises(SerializationError, match=re.escape(message)):
        loads(forged(code, payload))


# -- numpy imported only when needed ---------------------------------------------------------


def run_child(code: str, stdin: bytes = b"") -> str:
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], input=stdin, capture_output=True, timeout=120)
    assert child.returncode == 0, child.stderr.decode()[-2000:]
    return child.stdout.decode().strip()


def test_data_without_numpy_values_never_imports_numpy() -> None:
    out = run_child(
        """
        import array, sys
        from zixir.serialization import dumps, loads
        value = {"t": (1, 2.5), "a": array.array("d", [1.0]), "s": {b"x"}}
        assert loads(dumps(value)) == value
        print("numpy" in sys.modules)
        """
    )
    assert out == "False"


def test_loading_an_array_where_numpy_is_missing_names_the_fix() -> None:
    out = run_child(
        """
        import sys
        sys.modules["numpy"] = None  # as if numpy were not installed
        from zixir.errors import SerializationError
        from zixir.serialization import loads
        data = sys.stdin.buffer.read()
        for _ in range(2):  # and again: the failed import is not cached as a success
            try:
                loads(data)
            except SerializationError as error:
                print(error)
        """,
        stdin=dumps([np.arange(3)]),
    )
    assert (
        out.splitlines()
        == ["the data holds a numpy array or scalar, but numpy cannot be imported here; pip install numpy to load it"]
        * 2
    )
