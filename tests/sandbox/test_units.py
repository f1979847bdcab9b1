"""parse_memory: the accepted forms, their units, and the errors for everything else."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zixir.errors import ArgumentTypeError, InvalidArgumentError
from zixir.sandbox import format_memory, parse_memory

DECIMAL = {"kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
BINARY = {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
UNITS = {"": 1, "b": 1, **DECIMAL, **BINARY}
ACCEPTED = re.compile(r"\s*(\d+(\.\d*)?|\.\d+)\s*(b|[kmgt](i?b)?)?\s*", re.IGNORECASE)


def mixed_case(text: str, flips: list[bool]) -> str:
    return "".join(c.upper() if flip else c for c, flip in zip(text, flips + [False] * len(text)))


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512MB", 512_000_000),
        ("2GB", 2_000_000_000),
        ("1.5G", 1_610_612_736),
        ("256MiB", 268_435_456),
        ("10KB", 10_000),
        ("10kb", 10_000),
        ("64M", 67_108_864),
        (" 3 k ", 3072),
        (".5m", 524_288),
        ("7", 7),
        ("7B", 7),
        ("1.5 GiB", 1_610_612_736),
    ],
)
def test_the_documented_examples_parse_to_bytes(text: str, size: int) -> None:
    assert parse_memory(text) == size


def test_ints_are_bytes() -> None:
    assert parse_memory(123) == 123


@given(
    st.integers(min_value=1, max_value=10**6),
    st.sampled_from(sorted(UNITS)),
    st.lists(st.booleans(), max_size=3),
    st.text(" ", max_size=2),
)
def test_whole_numbers_in_every_unit_and_case_parse_exactly(
    number: int, unit: str, flips: list[bool], space: str
) -> None:
    assert parse_memory(f"{space}{number}{space}{mixed_case(unit, flips)}") == number * UNITS[unit]


@given(st.decimals(min_value=1, max_value=10**6, places=3), st.sampled_from(sorted(UNITS)))
def test_fractions_round_down_to_whole_bytes(number: Decimal, unit: str) -> None:
    assert parse_memory(f"{number}{unit}") == int(number * UNITS[unit])


@given(st.text(max_size=12).filter(lambda text: not ACCEPTED.fullmatch(text)))
def test_anything_else_is_a_value_error_listing_the_accepted_forms(text: str) -> None:
    with pytest.raises(
        ValueError,
        match=r"^memory must be an int \(bytes\) or a str such as "
        r'"512MB", "2GB", "1\.5G", "256MiB" or "10KB": KB/MB',
    ):
        parse_memory(text)


@pytest.mark.parametrize("bad", ["12XB", "MB", "1.2.3M", "-5MB", "5 M B", ""])
def test_malformed_strings_name_the_argument_and_the_value(bad: str) -> None:
    with pytest.raises(ValueError, match=rf"^max_output must be .*; got {bad!r}$"):
        parse_memory(bad, "max_output")


@pytest.mark.parametrize("small", [0, -1, "0MB", "0.0001KB"])
def test_sizes_below_one_byte_are_refused(small: int | str) -> None:
    with pytest.raises(ValueError, match=r"^memory must be at least 1 byte; got "):
        parse_memory(small)


@pytest.mark.parametrize("wrong", [True, 1.5, None, [1]])
def test_other_types_are_a_type_error(wrong: object) -> None:
    with pytest.raises(TypeError, match=r"^memory must be an int \(bytes\) or a str"):
        parse_memory(wrong)  # type: ignore[arg-type]


def test_format_memory_picks_a_readable_unit() -> None:
    assert [format_memory(n) for n in (12, 2048, 64 << 20, 3 << 30)] == ["12 B", "2.0 KiB", "64.0 MiB", "3.0 GiB"]


def test_the_errors_are_typed_and_name_the_argument() -> None:
    with pytest.raises(InvalidArgumentError) as malformed:
        parse_memory("lots", "max_worker_memory")
    with pytest.raises(InvalidArgumentError) as small:
        parse_memory(0, "max_output")
    with pytest.raises(ArgumentTypeError) as wrong:
        parse_memory(float("nan"))  # type: ignore[arg-type]
    assert [e.value.argument for e in (malformed, small, wrong)] == ["max_worker_memory", "max_output", "memory"]
