"""`loads` needs memory of a small multiple of its input, plus the result, at any depth."""

from __future__ import annotations

import array
import struct
import tracemalloc
from collections.abc import Callable
from typing import Any

import msgpack
import numpy as np
import pytest

from zixir.errors import SerializationError
from zixir.serialization import FORMAT_VERSION, dumps, ext_hook, loads, loads_body

HEADER = bytes((0xC1, FORMAT_VERSION))
TUPLE_CODE, NDARRAY_CODE = 2, 16  # pinned: part of the stored format
MIB = 1024 * 1024


def nested(bottom: Any, depth: int, level: Callable[[Any], Any] = lambda inner: (inner,)) -> Any:
    value = bottom
    for _ in range(depth):
        value = level(value)
    return value


def peak_and_kept(load: Callable[[bytes], Any], data: bytes) -> tuple[int, int, Any]:
    """The peak of memory allocated while ``load(data)`` runs, and what its result keeps."""
    tracemalloc.start()
    try:
        result = load(data)
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, kept, result


@pytest.mark.parametrize(
    "value",
    [
        nested(b"x" * (4 * MIB), 99),  # every level's payload is the whole input
        nested(b"", 99, lambda inner: (b"y" * 40_000, inner)),  # each level carries its share
        nested([b"z" * (4 * MIB)], 60, lambda inner: [{"k": (inner,)}]),  # lists and dicts between
        [(b"w" * 20_000, (i,)) for i in range(200)],  # wide: many big payloads side by side
        {(b"k" * 5000, i): frozenset({(b"v" * 5000, i)}) for i in range(400)},  # big keys
        np.arange(2 * MIB, dtype=np.float64).reshape(1024, -1),  # 16 MiB of elements
        nested((np.ones(MIB, dtype=np.int32), array.array("d", bytes(4 * MIB))), 40),  # arrays deep down
    ],
    ids=["deep", "deep-spread", "deep-mixed", "wide", "wide-keys", "array", "deep-arrays"],
)
def test_peak_memory_of_loads_is_at_most_three_times_the_input_plus_the_result(value: Any) -> None:
    data = dumps(value)
    peak, kept, result = peak_and_kept(loads, data)
    assert dumps(result) == data  # arrays compare elementwise, so compare what they store
    assert peak <= 3 * len(data) + kept, f"peak {peak / len(data):.1f}x the input"


def test_peak_memory_of_loads_body_and_ext_hook_is_bounded_at_depth_too() -> None:
    data = dumps(nested(b"x" * (4 * MIB), 99))
    for load in (
        lambda d: loads_body(d, 2),
        lambda d: msgpack.unpackb(d[2:], ext_hook=ext_hook, strict_map_key=False),
    ):
        peak, kept, _ = peak_and_kept(load, data)
        assert peak <= 4 * len(data) + kept, f"peak {peak / len(data):.1f}x the input"


def test_big_nested_values_round_trip_exactly_in_every_position() -> None:
    big = b"b" * 10_000
    value = [
        (big, [(big, 1)], {"inner": (big,)}),
        {(big, 2): (big, 3), (big, 4): [[(big, 5)]]},
        nested((big,), 30, lambda inner: [inner, (inner,)] if isinstance(inner, tuple) else (inner,)),
        frozenset({(big, 6)}),
    ]
    result = loads(dumps(value))
    assert result == value
    assert type(result[0]) is tuple and type(result[1]) is dict
    assert list(result[1]) == list(value[1])  # key order kept
    assert all(type(key) is tuple for key in result[1])


def test_equal_big_keys_collapse_as_small_ones_do() -> None:
    key = msgpack.ExtType(TUPLE_CODE, msgpack.packb([b"k" * 10_000]))
    small = msgpack.ExtType(TUPLE_CODE, msgpack.packb([b"k"]))
    forged = msgpack.packb({key: 1, 0: 2, small: 3})[1:]  # a map of three, written by hand below
    data = HEADER + b"\x84" + forged + msgpack.packb(key) + b"\x04"
    assert loads(data) == {(b"k" * 10_000,): 4, 0: 2, (b"k",): 3}
    assert list(loads(data)) == [(b"k" * 10_000,), 0, (b"k",)]


def test_a_big_payload_nested_too_deep_is_refused() -> None:
    payload = msgpack.packb([b"x" * 10_000])
    for _ in range(120):
        payload = msgpack.packb([msgpack.ExtType(TUPLE_CODE, payload)])
    with pytest.raises(SerializationError, match="nest over 100 deep"):
        loads(HEADER + payload)
    assert loads(dumps((1, (2,)))) == (1, (2,))  # the thread's decoder is left usable


@pytest.mark.parametrize(
    ("dtype", "shape", "body"),
    [
        (b"<f8", (2**40,), b"\x00" * 8),  # 8 TiB claimed
        (b"<f8", (2**32, 2**32, 2**32), b""),  # beyond any int64
        (b"<U100000000", (4096,), b"\x00" * 16),  # huge items
        (b"<f8", (0, 2**62, 2**62), b""),  # no bytes, yet too big for numpy
    ],
)
def test_a_forged_array_shape_allocates_nothing_near_what_it_claims(
    dtype: bytes, shape: tuple[int, ...], body: bytes
) -> None:
    payload = bytes((len(dtype),)) + dtype + bytes((len(shape),)) + b"".join(struct.pack(">Q", n) for n in shape)
    data = HEADER + msgpack.packb(msgpack.ExtType(NDARRAY_CODE, payload + body))
    loads(dumps(np.zeros(1)))  # numpy and the decoders are set up before measuring
    tracemalloc.start()
    try:
        with pytest.raises(SerializationError):
            loads(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024
