"""Whatever the bytes, `loads` returns a value or raises `SerializationError`, nothing else."""

from __future__ import annotations

import array
import datetime as dt
import decimal
import struct
import subprocess
import sys
import textwrap
import uuid
from typing import Any

import hypothesis.extra.numpy as hnp
import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zixir.errors import SerializationError
from zixir.serialization import FORMAT_VERSION, dumps, loads, loads_body

HEADER = bytes((0xC1, FORMAT_VERSION))
# Ext codes (pinned: part of the stored format) and the shape of each one's payload.
BIGINT, TUPLE, SET, DATETIME, DATE, TIME, TIMEDELTA, DECIMAL, UUID, COMPLEX, ENUM, DATACLASS, PICKLE = (
    1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
)  # fmt: skip
NDARRAY, ARRAY, NPSCALAR = 16, 17, 18


def only_serialization_error(data: Any, **options: bool) -> None:
    """Loads ``data``; any exception but SerializationError (or a subclass) fails the test."""
    try:
        loads(data, **options)
    except SerializationError:
        pass


def ext(code: int, payload: bytes) -> bytes:
    """An ext of any code (msgpack.ExtType refuses the negative, reserved ones)."""
    return b"\xc7" + bytes((len(payload) % 256,)) + struct.pack("b", code) + payload


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(),
    st.text(max_size=12),
    st.binary(max_size=12),
)
ints = st.one_of(st.integers(-(2**63), 2**64 - 1), st.sampled_from([0, -1, 2**31, 10**12, -(10**18), 2**64 - 1]))
junk = st.one_of(scalars, ints, st.lists(scalars, max_size=3))
field_lists = st.lists(st.one_of(ints, junk), max_size=11)  # date/time fields, of any count and type


def nested(code: int, inner: Any) -> msgpack.ExtType:
    return msgpack.ExtType(code, msgpack.packb(inner))


# Payloads shaped like each Zixir type's, with values out of range, of the wrong type or count.
shaped_exts = st.one_of(
    st.builds(nested, st.sampled_from([DATETIME, DATE, TIME, TIMEDELTA]), field_lists),
    st.builds(
        lambda fields, tz: nested(DATETIME, [*fields, tz]),
        st.lists(st.integers(-5, 3000), min_size=8, max_size=8),
        st.one_of(st.none(), st.text(max_size=30), st.lists(junk, max_size=3), junk),
    ),
    st.builds(
        msgpack.ExtType, st.just(DECIMAL), st.one_of(st.binary(max_size=30), st.text(max_size=30).map(str.encode))
    ),
    st.builds(
        msgpack.ExtType,
        st.just(DECIMAL),
        st.sampled_from([b"1e999999999999999999", b"NaN" + b"9" * 50, b"-sNaN", b"1" * 5000, b"\xff", b""]),
    ),
    st.builds(msgpack.ExtType, st.sampled_from([UUID, COMPLEX, BIGINT]), st.binary(max_size=40)),
    st.builds(
        lambda path, key: nested(ENUM, [path, key]),
        st.one_of(st.text(max_size=30), st.sampled_from(["builtins:int", "sys:exit", "os:system", ":", ""]), junk),
        junk,
    ),
    st.builds(
        lambda name, fields: nested(DATACLASS, [name, fields]),
        junk,
        st.one_of(junk, st.dictionaries(st.text(max_size=5), junk)),
    ),
    st.builds(lambda name, data: nested(PICKLE, [name, data]), junk, st.binary(max_size=30)),
    st.builds(nested, st.sampled_from([TUPLE, SET, 4]), junk),
    # Arrays: dtypes numpy reads but Zixir never writes, shapes that disagree with the bytes.
    st.builds(
        lambda dtype, ndim, dims, body: msgpack.ExtType(
            NDARRAY, bytes((len(dtype),)) + dtype + bytes((ndim,)) + b"".join(struct.pack(">Q", d) for d in dims) + body
        ),
        st.sampled_from(
            [
                b"<f8",
                b"|u1",
                b"|b1",
                b">i2",
                b"<U3",
                b"|S2",
                b"<M8[s]",
                b"|O",
                b"O",
                b"i4,i4",
                b"(2,)f4",
                b"|V0",
                b"<U0",
                b"f8",
                b"<q9",
                b"\xff",
                b"",
            ]
        ),
        st.integers(0, 70),
        st.lists(st.one_of(st.integers(0, 4), st.sampled_from([2**32, 2**63 - 1, 2**64 - 1])), max_size=5),
        st.binary(max_size=24),
    ),
    st.builds(
        lambda dtype, body: msgpack.ExtType(NPSCALAR, bytes((len(dtype),)) + dtype + body),
        st.sampled_from([b"<f8", b"|b1", b"<U0", b"|S0", b"|V0", b"|O", b"<M8[D]"]),
        st.binary(max_size=10),
    ),
    st.builds(msgpack.ExtType, st.sampled_from([NDARRAY, NPSCALAR, ARRAY]), st.binary(max_size=40)),
    st.builds(
        lambda code, size, body: msgpack.ExtType(ARRAY, code + bytes((size,)) + body),
        st.sampled_from([b"d", b"l", b"b", b"u", b"z", b"\x00"]),
        st.integers(0, 9),
        st.binary(max_size=20),
    ),
)


def forged_children(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(scalars.filter(lambda v: v == v), inner, max_size=3),
        st.builds(nested, st.integers(0, 127), inner),
        st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=16)),
    )


forged_values = st.recursive(st.one_of(scalars, ints, shaped_exts), forged_children, max_leaves=12)

# Raw fragments msgpack would never write: huge declared lengths, bad UTF-8, reserved codes.
fragments = st.one_of(
    st.sampled_from(
        [
            b"\xdd\xff\xff\xff\xff",  # array32 of 4 billion
            b"\xdf\xff\xff\xff\xff",  # map32 of 4 billion
            b"\xc6\xff\xff\xff\xff",  # bin32 of 4 GiB
            b"\xdb\xff\xff\xff\xff",  # str32 of 4 GiB
            b"\xc9\xff\xff\xff\xff\x02",  # ext32 of 4 GiB
            b"\xa2\xff\xfe",  # str of invalid UTF-8
            b"\xa3\xed\xa0\x80",  # a UTF-8 encoded surrogate
            b"\xc1",  # the unused byte
            b"\xd6\xff\x00\x00\x00\x00",  # msgpack's timestamp ext
            b"\xd4\xff\x00",  # a timestamp of a wrong length
        ]
    ),
    st.builds(ext, st.integers(-128, 127), st.binary(max_size=20)),
    st.builds(lambda value: msgpack.packb(value), forged_values),
    st.binary(max_size=8),
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(forged_values)
def test_well_formed_msgpack_with_forged_zixir_types_raises_only_serialization_error(value: Any) -> None:
    only_serialization_error(HEADER + msgpack.packb(value))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(fragments, min_size=1, max_size=6), st.integers(0, 3))
def test_spliced_fragments_raise_only_serialization_error(parts: list[bytes], prefix: int) -> None:
    body = b"".join(parts)
    # As a whole, and as the tail of arrays or maps that claim more members than follow.
    for data in (body, b"\x9f" * prefix + body, b"\xdc\x00\x10" + body, b"\x81\xa1k" + body):
        only_serialization_error(HEADER + data)
        try:
            loads_body(HEADER + data, 2)
        except SerializationError:
            pass


values = st.recursive(
    st.one_of(
        scalars,
        st.datetimes(),
        st.dates(),
        st.decimals(allow_nan=True),
        st.uuids(),
        st.complex_numbers(),
        st.integers(),
        st.builds(lambda n: n * 2**70, st.integers()),
        hnp.arrays(st.sampled_from(["<f8", ">i2", "|b1", "<U2", "<M8[s]"]), hnp.array_shapes(min_dims=0, max_side=3)),
        st.builds(lambda items: array.array("d", items), st.lists(st.floats(), max_size=4)),
        st.builds(np.float32, st.floats(width=32)),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.frozensets(st.integers(), max_size=4),
        st.dictionaries(st.text(max_size=4), inner, max_size=4),
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values, st.data())
def test_mutated_valid_blobs_raise_only_serialization_error(value: Any, data: st.DataObject) -> None:
    blob = bytearray(dumps(value))
    for _ in range(data.draw(st.integers(1, 3))):
        start = data.draw(st.integers(2, len(blob)))
        end = data.draw(st.integers(start, min(len(blob), start + 8)))
        blob[start:end] = data.draw(st.one_of(st.binary(max_size=6), st.sampled_from([b"\xff" * 4, b"\x00" * 4])))
    only_serialization_error(bytes(blob))


@pytest.mark.parametrize("depth", [1000, 20_000])
@pytest.mark.parametrize("shape", ["ext-in-list", "ext-in-map", "ext-in-ext", "lists"])
def test_forged_nesting_of_any_depth_raises_only_serialization_error(shape: str, depth: int) -> None:
    payload = msgpack.packb(None)
    for level in range(depth):
        if shape == "lists" or (shape != "ext-in-ext" and level % 2):
            payload = b"\x91" + payload if shape != "ext-in-map" else b"\x81\x00" + payload
        else:
            payload = msgpack.packb(msgpack.ExtType(TUPLE, b"\x91" + payload if shape == "ext-in-ext" else payload))
    if shape == "lists":  # msgpack itself reads arrays up to about 1000 deep
        only_serialization_error(HEADER + payload)
    else:
        with pytest.raises(SerializationError, match="nest over 100 deep|corrupt"):
            loads(HEADER + payload)


def test_loads_called_with_little_stack_left_raises_only_serialization_error() -> None:
    deep = (b"x" * 10_000,)
    for _ in range(90):
        deep = (deep, [1])
    data = dumps(deep)

    def descend(levels: int) -> Any:
        return descend(levels - 1) if levels else loads(data)

    outcomes = set()
    for spare in range(5, 400, 7):
        try:
            descend(sys.getrecursionlimit() - spare)
            outcomes.add("value")
        except SerializationError:
            outcomes.add("refused")
        except RecursionError:
            outcomes.add("caller")  # the recursion ran out in descend() itself, before loads
    assert "refused" in outcomes and "value" in outcomes


@pytest.mark.parametrize(
    "payload",
    [
        [2024, 2, 30, 0, 0, 0, 0, 0, None],
        [2024, 1, 1, 0, 0, 0, 0, 7, None],
        [2024, 1, 1, 0, 0, 0, 0, 0, [2**63 - 1]],
        [2024, 1, 1, 0, 0, 0, 0, 0, ["1", "x"]],
        [2024, 1, 1, 0, 0, 0, 0, 0, "../../../../etc/passwd"],
        [2024, 1, 1, 0, 0, 0, 0, 0, "/etc/localtime"],
        [2024, 1, 1, 0, 0, 0, 0, 0, "a\x00b"],
        [2**63 - 1, 1, 1, 0, 0, 0, 0, 0, None],
    ],
)
def test_bad_datetime_fields_and_time_zones_raise_serialization_error(payload: list[Any]) -> None:
    with pytest.raises(SerializationError):
        loads(HEADER + msgpack.packb(msgpack.ExtType(DATETIME, msgpack.packb(payload))))


def test_bad_decimals_uuids_complex_and_utf8_raise_serialization_error() -> None:
    for data in (
        msgpack.packb(msgpack.ExtType(DECIMAL, b"\xff\xfe")),
        msgpack.packb(msgpack.ExtType(DECIMAL, b"1.2.3")),
        msgpack.packb(msgpack.ExtType(UUID, b"x" * 15)),
        msgpack.packb(msgpack.ExtType(COMPLEX, b"x" * 17)),
        b"\xa2\xff\xfe",
    ):
        with pytest.raises(SerializationError):
            loads(HEADER + data)


def test_a_released_or_strided_memoryview_raises_serialization_error() -> None:
    released = memoryview(dumps([1, 2]))
    released.release()
    with pytest.raises(SerializationError, match="not Zixir-serialized data.*released"):
        loads(released)
    with pytest.raises(SerializationError):
        loads(memoryview(bytes(10_000))[::2])  # not contiguous


def test_names_and_keys_from_the_data_are_cut_short_in_messages() -> None:
    path = "m" * 1_000_000 + ":E"
    with pytest.raises(SerializationError) as info:
        loads(HEADER + msgpack.packb(nested(ENUM, [path, "A"])))
    assert len(str(info.value)) < 1000


def test_the_decoders_survive_a_failure_and_keep_working() -> None:
    value = {"at": dt.date(2024, 1, 1), "n": decimal.Decimal("1.5"), "u": uuid.UUID(int=3), "t": ((1,),)}
    for _ in range(3):
        only_serialization_error(HEADER + msgpack.packb([nested(TUPLE, [nested(DATE, [2024, 13, 1])])]))
        assert loads(dumps(value)) == value


def test_forged_type_names_never_import_or_exit_in_a_fuzzed_child_process() -> None:
    # Run where a regression would end the process: the child, not the test runner, exits.
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import sys
                import msgpack
                from hypothesis import given, settings, strategies as st
                from zixir.errors import SerializationError
                from zixir.serialization import loads

                DANGEROUS = ["lib2to3.__main__", "this", "pydoc", "__main__", "sys", "os", "builtins", "subprocess"]
                paths = st.builds(
                    lambda module, sep, name: module + sep + name,
                    st.sampled_from(DANGEROUS) | st.text(max_size=12),
                    st.sampled_from([":", ".", ""]),
                    st.sampled_from(["exit", "system", "eval", "Popen", "X", "__loader__"]) | st.text(max_size=8),
                )
                before = set(sys.modules)

                keys = st.one_of(st.text(max_size=5), st.integers(-(2**63), 2**64 - 1), st.none())

                @settings(max_examples=400, deadline=None, database=None)
                @given(paths, st.integers(13, 15), keys)
                def fuzz(path, code, key):
                    data = bytes((0xC1, 1)) + msgpack.packb(msgpack.ExtType(code, msgpack.packb([path, key])))
                    try:
                        loads(data)
                    except SerializationError:
                        pass

                fuzz()
                print("imported:", [name for name in DANGEROUS if name in sys.modules and name not in before])
                """
            ),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.strip().endswith("imported: []"), child.stdout[-2000:]
