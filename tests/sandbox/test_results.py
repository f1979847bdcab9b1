"""How results and errors cross back: zixir.serialization data, pickle only when allowed."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from collections import OrderedDict
from collections.abc import Iterator

import hostile_targets as hostile
import pytest
import registered_targets as registered
import sandbox_targets as targets

from zixir.errors import CircuitOpenError, RemoteError, SerializationError
from zixir.sandbox import Sandbox, SandboxActor

GENEROUS = 30.0


class Colour(enum.Enum):
    RED = 1


VALUES = [
    None,
    True,
    -7,
    2**70,
    1.5,
    "text",
    b"bytes",
    [1, [2, {"k": None}]],
    {"a": 1, 2: "b"},
    (1, (2, 3)),
    {1, 2},
    frozenset({"x"}),
    dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC),
    dt.date(2026, 12, 2),
    decimal.Decimal("1.10"),
    uuid.UUID(int=7),
    1 + 2j,
    Colour.RED,
]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(timeout=GENEROUS) as sandbox:
        yield sandbox


def test_every_type_zixir_serializes_comes_back_equal_and_of_its_type(sandbox: Sandbox) -> None:
    for value in VALUES:
        back = sandbox.run(targets.identity, value).unwrap()
        assert (back, type(back)) == (value, type(value))


def test_a_registered_dataclass_comes_back_as_the_hosts_class(sandbox: Sandbox) -> None:
    assert sandbox.run(registered.make_point, 1, 2).unwrap() == registered.Point(1, 2)


def test_a_zixir_error_comes_back_rebuilt_with_its_attributes_and_notes(sandbox: Sandbox) -> None:
    error = sandbox.run(registered.raise_circuit_open).error
    assert type(error) is CircuitOpenError
    assert (str(error), error.breaker, error.retry_after) == ("the llm breaker is open", "llm", 12.5)
    assert error.__notes__ == ["while scoring"]


def test_a_type_zixir_does_not_serialize_is_an_exception_that_names_it_unless_pickle_is_allowed(
    sandbox: Sandbox,
) -> None:
    refused = sandbox.run(targets.identity, OrderedDict(a=1))
    assert refused.reason == "exception" and isinstance(refused.error, SerializationError)
    assert str(refused.error).startswith(
        "the call's result cannot be sent back: cannot serialize collections.OrderedDict"
    )
    with Sandbox(timeout=GENEROUS, allow_pickle=True) as trusting:
        assert trusting.run(targets.identity, OrderedDict(a=1)).unwrap() == OrderedDict(a=1)


def test_the_sandbox_actor_takes_allow_pickle_too() -> None:
    ref = SandboxActor.start(timeout=GENEROUS, allow_pickle=True)
    try:
        error = ref.proxy().run(hostile.raise_refused, "no").get().error
        assert type(error) is hostile.Refused
    finally:
        ref.stop()
    default = SandboxActor.start(timeout=GENEROUS)
    try:
        assert isinstance(default.proxy().run(hostile.raise_refused, "no").get().error, RemoteError)
    finally:
        default.stop()
