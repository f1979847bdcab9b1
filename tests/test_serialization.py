"""Tests for zixir.serialization: exact round trips, the header promise and hostile bytes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import math
import re
import threading
import uuid
import zoneinfo
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zixir.errors import FormatVersionError, SerializationError
from zixir.serialization import FORMAT_VERSION, dumps, loads, loads_body, register

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
HEADER = bytes((0xC1, FORMAT_VERSION))
# Ext codes are part of the stored format; tests that forge bytes pin the ones they use.
TUPLE_CODE, ENUM_CODE, DATACLASS_CODE = 2, 13, 14

# --- module-level types, so enums import by path and pickle finds classes -------------


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"
    CRIMSON = "red"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Mode(enum.StrEnum):
    READ = "r"
    WRITE = "w"


class Perm(enum.Flag):
    R = 4
    W = 2
    X = 1


class Bits(enum.IntFlag):
    A = 1
    B = 2


@register
@dataclasses.dataclass(frozen=True)
class FrozenPoint:
    x: int
    y: Any


@register(name="tests.Box")
@dataclasses.dataclass
class Box:
    content: Any
    label: str = "box"
    computed: int = dataclasses.field(init=False, default=0)


@register
@dataclasses.dataclass(frozen=True)
class Stamped:
    value: int
    doubled: int = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "doubled", self.value * 2)


@dataclasses.dataclass
class Unregistered:
    x: int


@dataclasses.dataclass
class Redefined:
    x: int


class Unsupported:
    def __init__(self, value: int) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unsupported) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)


class DumpsWhilePickled:
    """Calls dumps from inside pickling, i.e. re-enters the serializer on the same thread."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getstate__(self) -> dict[str, Any]:
        return {"inner": dumps(self.inner)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.inner = loads(state["inner"])


class HomemadeTz(dt.tzinfo):
    def utcoffset(self, when: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(hours=1)

    def dst(self, when: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(0)

    def tzname(self, when: dt.datetime | None) -> str:
        return "HOME"


class MyInt(int):
    pass


# --- an exact, type-strict comparison --------------------------------------------------


def assert_same(a: Any, b: Any) -> None:
    """Asserts a and b are equal with identical types all the way down (nan equals nan)."""
    assert type(a) is type(b), f"{type(a)} is not {type(b)}: {a!r} vs {b!r}"
    if isinstance(a, float):
        assert (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b)), (
            f"{a!r} != {b!r}"
        )
    elif isinstance(a, complex):
        assert_same(a.real, b.real)
        assert_same(a.imag, b.imag)
    elif isinstance(a, decimal.Decimal):
        assert str(a) == str(b) and a.as_tuple() == b.as_tuple()
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    elif isinstance(a, dict):
        assert len(a) == len(b)
        for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True):
            assert_same(ka, kb)
            assert_same(va, vb)
    elif isinstance(a, (set, frozenset)):
        assert len(a) == len(b)
        b_members = {y: y for y in b}
        for x in a:
            assert_same(x, b_members[x])
    elif isinstance(a, (dt.datetime, dt.time)):
        assert a.replace(tzinfo=None) == b.replace(tzinfo=None) and a.fold == b.fold
        assert_same_tz(a.tzinfo, b.tzinfo)
    elif isinstance(a, enum.Enum):
        assert a is b
    elif dataclasses.is_dataclass(a):
        for field in dataclasses.fields(a):
            assert_same(getattr(a, field.name), getattr(b, field.name))
    else:
        assert a == b


def assert_same_tz(a: dt.tzinfo | None, b: dt.tzinfo | None) -> None:
    assert type(a) is type(b)
    if isinstance(a, zoneinfo.ZoneInfo):
        assert isinstance(b, zoneinfo.ZoneInfo) and a.key == b.key
    else:
        assert a == b and repr(a) == repr(b)  # repr shows whether a name was given


def round_trip(value: Any, **kwargs: bool) -> Any:
    return loads(dumps(value, **kwargs), **kwargs)


# --- strategies ------------------------------------------------------------------------

offsets = st.timedeltas(min_value=-dt.timedelta(hours=23, minutes=59), max_value=dt.timedelta(hours=23, minutes=59))
tzinfos = st.one_of(
    st.none(),
    st.just(dt.UTC),
    st.timezones(),
    st.builds(dt.timezone, offsets),
    st.builds(dt.timezone, offsets, st.text(max_size=6)),
)
datetimes = st.builds(lambda d, fold: d.replace(fold=fold), st.datetimes(timezones=tzinfos), st.integers(0, 1))
times = st.builds(lambda t, fold: t.replace(fold=fold), st.times(timezones=tzinfos), st.integers(0, 1))
enum_members = st.sampled_from([*Colour, *Level, *Mode, *Perm, Perm.R | Perm.W, Perm(0), Bits.A | Bits.B, Bits(0)])
big_ints = st.integers(min_value=2**64, max_value=2**300).flatmap(lambda n: st.sampled_from([n, -n]))
special_decimals = st.sampled_from(
    ["NaN", "-NaN", "sNaN", "-sNaN", "NaN123", "Infinity", "-Infinity", "-0", "1.10", "-0E-7"]
).map(decimal.Decimal)

# Hashable leaves leave out nan: nan != nan, so a set holding one cannot be compared.
hashable_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    big_ints,
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.binary(max_size=8),
    datetimes,
    st.dates(),
    times,
    st.timedeltas(),
    st.decimals(allow_nan=False),
    st.uuids(),
    st.complex_numbers(allow_nan=False),
    enum_members,
)
hashables = st.recursive(
    hashable_leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(tuple),
        st.frozensets(inner, max_size=3),
        st.builds(FrozenPoint, st.integers(), inner),
    ),
    max_leaves=6,
)
leaves = st.one_of(
    hashables,
    st.floats(),
    st.decimals(allow_nan=True),
    special_decimals,
    st.complex_numbers(),
)


def _box(content: Any, label: str, computed: int) -> Box:
    box = Box(content, label)
    box.computed = computed
    return box


values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(hashables, inner, max_size=4),
        st.sets(hashables, max_size=4),
        st.frozensets(hashables, max_size=4),
        st.builds(_box, inner, st.text(max_size=4), st.integers()),
    ),
    max_leaves=16,
)

# --- round trips -----------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_every_supported_value_round_trips_with_exact_types(value: Any) -> None:
    assert_same(value, round_trip(value))


@settings(max_examples=100, deadline=None)
@given(values)
def test_dumps_output_starts_with_the_header(value: Any) -> None:
    assert dumps(value)[:2] == HEADER


def test_tuple_nested_in_dict_key_and_set_round_trips_as_tuple() -> None:
    value = {(1, ("a", (2.5,))): {(3, (4,))}, frozenset({(5,)}): [(6,)]}
    assert_same(value, round_trip(value))


def test_bytearray_and_memoryview_are_stored_as_bytes() -> None:
    value = [bytearray(b"a"), {"k": memoryview(b"b")}, (bytearray(b"c"),)]
    assert_same([b"a", {"k": b"b"}, (b"c",)], round_trip(value))


def test_special_floats_keep_their_sign_and_nan() -> None:
    result = round_trip([math.nan, math.inf, -math.inf, -0.0, complex(-0.0, math.nan)])
    assert math.isnan(result[0]) and result[1:3] == [math.inf, -math.inf]
    assert math.copysign(1, result[3]) == -1
    assert math.copysign(1, result[4].real) == -1 and math.isnan(result[4].imag)


def test_decimals_keep_exponent_sign_and_nan_payload() -> None:
    texts = ["1.10", "-0", "-0E-7", "1E+3", "NaN", "-NaN123", "sNaN", "-Infinity", "1" * 60]
    assert [str(d) for d in round_trip([decimal.Decimal(t) for t in texts])] == texts


@pytest.mark.parametrize("number", [2**200, -(2**200), 2**64, 2**64 - 1, -(2**63), -(2**63) - 1, 0, -1])
def test_ints_of_any_size_round_trip(number: int) -> None:
    assert_same(number, round_trip(number))


def test_bool_stays_bool_and_int_enum_stays_its_member() -> None:
    result = round_trip([True, False, Level.HIGH, Mode.READ, 1])
    assert_same([True, False, Level.HIGH, Mode.READ, 1], result)


def test_ambiguous_paris_time_keeps_fold_and_offset() -> None:
    second = dt.datetime(2023, 10, 29, 2, 30, tzinfo=PARIS, fold=1)
    first = second.replace(fold=0)
    for when in (first, second):
        result = round_trip(when)
        assert_same(when, result)
        assert result.utcoffset() == when.utcoffset()
    assert round_trip(second).utcoffset() == dt.timedelta(hours=1)


def test_fixed_offset_zones_keep_their_names_and_utc_stays_the_singleton() -> None:
    named = dt.timezone(dt.timedelta(hours=-5, microseconds=7), "EST-ish")
    result = round_trip([dt.time(1, tzinfo=named), dt.datetime(2024, 1, 1, tzinfo=dt.UTC)])
    assert result[0].tzinfo.tzname(None) == "EST-ish"
    assert result[0].tzinfo.utcoffset(None) == dt.timedelta(hours=-5, microseconds=7)
    assert result[1].tzinfo is dt.UTC


def test_enum_members_come_back_as_the_same_objects() -> None:
    members = [Colour.RED, Colour.CRIMSON, Level.LOW, Mode.WRITE, Perm.R | Perm.X, Perm(0), Bits(3)]
    result = round_trip(members)
    assert all(a is b for a, b in zip(members, result, strict=True))


def test_stdlib_enum_round_trips_by_import_path() -> None:
    import http

    assert round_trip(http.HTTPStatus.NOT_FOUND) is http.HTTPStatus.NOT_FOUND


def test_enum_defined_in_a_function_is_refused_at_dumps() -> None:
    class Local(enum.Enum):
        A = 1

    with pytest.raises(SerializationError, match="define it at module level"):
        dumps(Local.A)


def test_enum_path_naming_a_non_enum_is_refused() -> None:
    payload = msgpack.packb(["builtins:int", "x"])
    with pytest.raises(SerializationError, match=r"'builtins:int' as an enum class"):
        loads(HEADER + msgpack.packb(msgpack.ExtType(ENUM_CODE, payload)))


def test_enum_path_that_cannot_be_imported_is_refused() -> None:
    payload = msgpack.packb(["zixir_no_such_module:Colour", "RED"])
    with pytest.raises(SerializationError, match="cannot import the enum class"):
        loads(HEADER + msgpack.packb(msgpack.ExtType(ENUM_CODE, payload)))


def test_large_values_round_trip_and_later_small_ones_still_work() -> None:
    big = [b"x" * 400_000, ("y" * 400_000,)]
    assert_same(big, round_trip(big))
    assert_same((1, (2,)), round_trip((1, (2,))))


def test_loads_accepts_bytearray_and_memoryview() -> None:
    data = dumps({"a": (1, 2)})
    assert loads(bytearray(data)) == {"a": (1, 2)}
    assert loads(memoryview(data)) == {"a": (1, 2)}
    assert loads(memoryview(b"pad" + data)[3:]) == {"a": (1, 2)}


def test_format_1_bytes_are_pinned_so_stored_data_stays_readable() -> None:
    value = {
        "n": 1,
        "t": (1, "a"),
        "big": 2**70,
        "when": dt.date(2024, 2, 29),
        "d": decimal.Decimal("1.10"),
        "u": uuid.UUID(int=1),
        "at": dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=PARIS),
        "box": Box(("x",), "l"),
    }
    stored = bytes.fromhex(
        "c10188a16e01a174d6029201a161a3626967c70901400000000000000000a47768656ec7060793cd07e8"
        "021da164d60a312e3130a175d80b00000000000000000000000000000001a26174c7180699cd07e80102"
        "0304050600ac4575726f70652f5061726973a3626f78c72c0e92a974657374732e426f7883a7636f6e74"
        "656e74c7030291a178a56c6162656ca16ca8636f6d707574656400"
    )
    assert_same(value, loads(stored))
    assert dumps(value) == stored[:1] + bytes((2,)) + stored[2:]  # format 2 only added types


# --- dataclasses -----------------------------------------------------------------------


def test_frozen_dataclass_round_trips_and_stays_hashable() -> None:
    point = FrozenPoint(1, ("a", 2))
    result = round_trip({point: point})
    assert_same({point: point}, result)
    assert hash(next(iter(result))) == hash(point)


def test_init_false_fields_are_restored_after_init() -> None:
    box = Box([1, 2], "crate")
    box.computed = 42
    result = round_trip(box)
    assert_same(box, result)
    assert result.computed == 42


def test_init_false_field_set_by_post_init_of_frozen_dataclass_round_trips() -> None:
    assert_same(Stamped(5), round_trip(Stamped(5)))


def test_unregistered_dataclass_is_refused_at_dumps_with_how_to_register() -> None:
    with pytest.raises(SerializationError, match=r"register\(Unregistered\)"):
        dumps(Unregistered(1))


def test_dataclass_not_registered_in_this_process_is_refused_at_loads() -> None:
    data = dumps(Box(1)).replace(b"tests.Box", b"tests.Nox")
    with pytest.raises(SerializationError, match=r"'tests.Nox'.*not registered") as info:
        loads(data)
    assert "zixir.serialization.register(" in str(info.value)


def test_default_name_hint_names_the_class_to_register() -> None:
    name = f"{FrozenPoint.__module__}:FrozenPoint".encode()
    data = dumps(FrozenPoint(1, 2)).replace(name, name[:-1] + b"X")
    with pytest.raises(SerializationError, match=r"register\(FrozenPoinX\) before loading"):
        loads(data)


def test_stored_field_the_class_no_longer_has_is_refused() -> None:
    data = dumps(Box(1, "a")).replace(b"label", b"lapel")
    with pytest.raises(SerializationError, match="'lapel'"):
        loads(data)


def test_register_refuses_a_non_dataclass_with_a_type_error() -> None:
    with pytest.raises(SerializationError, match="takes a dataclass") as info:
        register(Unsupported)
    assert isinstance(info.value, TypeError)


def test_register_refuses_a_name_taken_by_another_class() -> None:
    with pytest.raises(SerializationError, match="taken by"):
        register(Unregistered, name="tests.Box")


def test_register_refuses_a_second_name_for_a_class_and_allows_the_same_one() -> None:
    assert register(Box, name="tests.Box") is Box
    with pytest.raises(SerializationError, match="already registered as 'tests.Box'"):
        register(Box, name="tests.Crate")


def test_registering_a_redefinition_of_a_class_replaces_it() -> None:
    register(Redefined)
    again = dataclasses.make_dataclass("Redefined", [("x", int)])
    again.__module__ = Redefined.__module__
    register(again)
    assert type(round_trip(again(3))) is again
    with pytest.raises(SerializationError, match="not registered"):
        dumps(Redefined(3))


# --- refusals --------------------------------------------------------------------------


def test_unknown_type_message_names_it_and_says_how_to_fix() -> None:
    name = re.escape(f"{Unsupported.__module__}.Unsupported")
    message = (
        rf"^cannot serialize {name}: it is not a type Zixir stores; convert it to a "
        r"supported type, register it with zixir.serialization.register\(\) if it is a "
        r"dataclass, or pass allow_pickle=True to pickle it$"
    )
    with pytest.raises(SerializationError, match=message):
        dumps({"nested": [Unsupported(1)]})


@pytest.mark.parametrize(
    "value",
    [MyInt(1), [MyInt(2)], {"k": object()}],
    ids=["int-subclass", "nested-int-subclass", "object"],
)
def test_values_msgpack_would_silently_change_are_refused(value: Any) -> None:
    with pytest.raises(SerializationError, match="cannot serialize"):
        dumps(value)


def test_unknown_tzinfo_is_refused_with_a_zoneinfo_hint() -> None:
    with pytest.raises(SerializationError, match=r"HomemadeTz.*zoneinfo.ZoneInfo"):
        dumps(dt.datetime(2024, 1, 1, tzinfo=HomemadeTz()))


def test_cycles_and_deep_nesting_are_refused_at_dumps() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    deep: Any = ()
    for _ in range(150):
        deep = (deep,)
    for value in (cycle, deep):
        with pytest.raises(SerializationError):
            dumps(value)


def test_moderately_deep_tuples_round_trip() -> None:
    deep: Any = ("bottom",)
    for _ in range(90):
        deep = (deep, [1])
    assert_same(deep, round_trip(deep))


# --- pickle opt-in ---------------------------------------------------------------------


def test_pickle_is_used_only_when_allowed_at_dumps() -> None:
    with pytest.raises(SerializationError, match="allow_pickle=True"):
        dumps(Unsupported(1))
    assert round_trip([Unsupported(1)], allow_pickle=True) == [Unsupported(1)]


def test_loads_refuses_pickled_data_unless_allowed() -> None:
    data = dumps({"x": Unsupported(2)}, allow_pickle=True)
    name = re.escape(f"{Unsupported.__module__}.Unsupported")
    with pytest.raises(SerializationError, match=rf"contains a pickled {name}.*trust"):
        loads(data)
    assert loads(data, allow_pickle=True) == {"x": Unsupported(2)}


def test_serializer_can_be_reentered_from_pickling() -> None:
    inner = {"t": (1, (2, frozenset({3})))}
    result = round_trip(DumpsWhilePickled(inner), allow_pickle=True)
    assert_same(inner, result.inner)


# --- the header ------------------------------------------------------------------------


def test_future_format_version_is_refused_not_misread() -> None:
    message = (
        r"^data was written in Zixir serialization format 7, but this version of Zixir "
        r"reads formats up to 2; upgrade zixir to read it$"
    )
    with pytest.raises(FormatVersionError, match=message) as info:
        loads(bytes((0xC1, 7)) + dumps([1, 2])[2:])
    assert info.value.version == 7


@pytest.mark.parametrize("data", [b"", b"\xc1", b"\x92\x01\x02", msgpack.packb("hi"), b"\xc1\x00\xc0"])
def test_bytes_without_the_zixir_header_are_refused(data: bytes) -> None:
    with pytest.raises(SerializationError, match="not Zixir-serialized data"):
        loads(data)


def test_loads_refuses_non_bytes() -> None:
    with pytest.raises(SerializationError, match="takes bytes"):
        loads("not bytes")  # type: ignore[arg-type]


# --- hostile bytes ---------------------------------------------------------------------


def loads_or_serialization_error(data: bytes) -> None:
    try:
        loads(data)
    except SerializationError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.booleans())
def test_random_bytes_load_or_raise_serialization_error(data: bytes, with_header: bool) -> None:
    loads_or_serialization_error(HEADER + data if with_header else data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values, st.data())
def test_corrupted_payloads_load_or_raise_serialization_error(value: Any, data: st.DataObject) -> None:
    stored = bytearray(dumps(value))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(2, len(stored) - 1))
        stored[position] = data.draw(st.integers(0, 255))
    loads_or_serialization_error(bytes(stored))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_every_truncation_of_a_payload_raises_serialization_error(value: Any) -> None:
    stored = dumps(value)
    for end in range(len(stored)):
        with pytest.raises(SerializationError):
            loads(stored[:end])


def test_unknown_ext_code_is_refused() -> None:
    with pytest.raises(SerializationError, match="unknown type code 99"):
        loads(HEADER + msgpack.packb([1, msgpack.ExtType(99, b"")]))


@pytest.mark.parametrize("depth", [50, 150, 5000])
def test_deeply_nested_forged_ext_payloads_fail_cleanly(depth: int) -> None:
    payload = msgpack.packb([])
    for _ in range(depth):
        payload = msgpack.packb([msgpack.ExtType(TUPLE_CODE, payload)])
    data = HEADER + payload
    if depth < 100:
        assert loads(data) == [_nested_empty_tuple(depth)]
    else:
        with pytest.raises(SerializationError, match="nest over"):
            loads(data)


def _nested_empty_tuple(depth: int) -> Any:
    value: Any = ()
    for _ in range(depth - 1):
        value = (value,)
    return value


def test_deeply_nested_forged_arrays_fail_cleanly() -> None:
    with pytest.raises(SerializationError):
        loads(HEADER + b"\x91" * 100_000 + b"\xc0")


def test_forged_huge_lengths_do_not_allocate() -> None:
    for header in (b"\xdd\xff\xff\xff\xff", b"\xdf\xff\xff\xff\xff", b"\xc6\xff\xff\xff\xff"):
        with pytest.raises(SerializationError):
            loads(HEADER + header)


def test_bad_values_inside_valid_ext_payloads_raise_serialization_error() -> None:
    forged = [
        msgpack.ExtType(6, msgpack.packb([2024, 13, 1, 0, 0, 0, 0, 0, None])),  # month 13
        msgpack.ExtType(6, msgpack.packb([2024, 1, 1, 0, 0, 0, 0, 0, "No/Such_Zone"])),
        msgpack.ExtType(11, b"short"),  # a UUID needs 16 bytes
        msgpack.ExtType(DATACLASS_CODE, msgpack.packb([["unhashable"], {}])),
        msgpack.ExtType(3, msgpack.packb([[1]])),  # a set of a list
    ]
    for ext in forged:
        with pytest.raises(SerializationError):
            loads(HEADER + msgpack.packb(ext))


# --- threads ---------------------------------------------------------------------------


def test_concurrent_dumps_and_loads_do_not_interfere() -> None:
    barrier = threading.Barrier(8)

    def work(n: int) -> bool:
        barrier.wait()
        value = {"n": n, "t": tuple(range(n)), "s": frozenset({(n,)}), "b": bytes(n)}
        return all(loads(dumps(value)) == value for _ in range(200))

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(work, range(8)))


def test_loads_body_decodes_what_follows_a_checked_header_and_refuses_corrupt_bodies() -> None:
    value = {"when": dt.date(2026, 11, 28), "pair": (1, {2, 3})}
    record = b"own framing" + dumps(value)
    assert loads_body(record, len(b"own framing") + 2) == value
    with pytest.raises(SerializationError, match="corrupt"):
        loads_body(record[:-3], len(b"own framing") + 2)
