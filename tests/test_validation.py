"""Every public constructor refuses bad arguments when it is built, with an error naming them.

A value of the right type that cannot work (NaN, an infinity where a finite number is
meant, a negative delay, a count of zero) raises InvalidArgumentError (a ValueError); a
value of the wrong type ("5" for a number, a float for a count) raises ArgumentTypeError
(a TypeError). Either way ``.argument`` is the argument's name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zixir import (
    Actor,
    Cache,
    CacheActor,
    ChildSpec,
    CircuitBreaker,
    RestartBackoff,
    RetryPolicy,
    Sandbox,
    Supervisor,
)
from zixir.errors import ArgumentTypeError, InvalidArgumentError
from zixir.resilience import DecorrelatedJitter, ExponentialBackoff, FractionJitter

NAN, INF = float("nan"), float("inf")

# -- bad values, by what the argument is; each paired with the error it must raise --------

NOT_NUMBERS = st.sampled_from(["5", "nan", b"5", [5], (5.0,), {"seconds": 5}, object()])


def invalid(values: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[Any, type[Exception]]]:
    return values.map(lambda value: (value, InvalidArgumentError))


def wrong_type(values: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[Any, type[Exception]]]:
    return values.map(lambda value: (value, ArgumentTypeError))


NOT_FINITE = st.sampled_from([NAN, INF, -INF])
NEGATIVE = st.one_of(st.floats(max_value=-1e-9), st.integers(max_value=-1))
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
NOT_INTS = st.one_of(FLOATS, NOT_NUMBERS)
NOT_STRINGS = st.one_of(st.integers(), st.sampled_from([b"n", ["n"]]))

KINDS: dict[str, st.SearchStrategy[tuple[Any, type[Exception]]]] = {
    # seconds that must be > 0 (a timeout, an interval)
    "positive": st.one_of(
        invalid(st.one_of(NOT_FINITE, NEGATIVE, st.sampled_from([0, 0.0, -0.0]))),
        wrong_type(NOT_NUMBERS),
    ),
    # seconds that may be 0 (a delay)
    "non_negative": st.one_of(invalid(st.one_of(NOT_FINITE, NEGATIVE)), wrong_type(NOT_NUMBERS)),
    # a growth factor, >= 1
    "factor": st.one_of(
        invalid(st.one_of(NOT_FINITE, st.floats(max_value=0.999), st.integers(max_value=0))), wrong_type(NOT_NUMBERS)
    ),
    # a fraction in [0, 1]
    "fraction": st.one_of(
        invalid(st.one_of(NOT_FINITE, NEGATIVE, st.floats(min_value=1.001), st.integers(min_value=2))),
        wrong_type(NOT_NUMBERS),
    ),
    # a rate in (0, 1]
    "rate": st.one_of(
        invalid(st.one_of(NOT_FINITE, NEGATIVE, st.just(0.0), st.floats(min_value=1.001))), wrong_type(NOT_NUMBERS)
    ),
    # a whole count >= 1 (attempts, workers)
    "count": st.one_of(invalid(st.integers(max_value=0)), wrong_type(NOT_INTS)),
    # a whole count >= 0 (restarts, items)
    "count0": st.one_of(invalid(st.integers(max_value=-1)), wrong_type(NOT_INTS)),
    # a memory size: bytes as an int, or a string such as "256MB"
    "memory": st.one_of(
        invalid(st.one_of(st.integers(max_value=0), st.sampled_from(["lots", "-5MB", "5 pc"]))),
        wrong_type(st.one_of(FLOATS, st.sampled_from([b"5MB", [5], object()]))),
    ),
    # a name: a non-empty str
    "name": st.one_of(invalid(st.just("")), wrong_type(NOT_STRINGS)),
    # a name that may be any str, or None
    "any_name": wrong_type(NOT_STRINGS),
}


#: Builds the object under test with a value for one argument (and a tmp dir if it needs one).
Builder: TypeAlias = Callable[[Path, Any], object]


class Child(Actor):
    """A child class for the ChildSpec cases."""


@dataclass(frozen=True)
class Case:
    """One argument of one public constructor, and how to build with a value for it."""

    owner: str
    argument: str
    kind: str
    build: Builder

    def __str__(self) -> str:
        return f"{self.owner}-{self.argument}"


def keyword(factory: Callable[..., object], **fixed: Any) -> Callable[[str], Builder]:
    """Builds ``factory(**fixed, argument=value)``."""
    return lambda argument: lambda _where, value: factory(**fixed, **{argument: value})


def cases(owner: str, build: Callable[[str], Builder], **kinds: str) -> list[Case]:
    return [Case(owner, argument, kind, build(argument)) for argument, kind in kinds.items()]


def cache(where: Path, **options: Any) -> Cache:
    return Cache(where / "cache", **options)


RESILIENCE = [
    *cases(
        "CircuitBreaker",
        keyword(CircuitBreaker),
        failure_threshold="count",
        reset_timeout="positive",
        backoff_multiplier="factor",
        max_reset_timeout="positive",
        failure_rate="rate",
        name="any_name",
    ),
    *cases("CircuitBreaker", keyword(CircuitBreaker, failure_rate=0.5), window="count", minimum_calls="count"),
    *cases(
        "RetryPolicy",
        keyword(RetryPolicy),
        max_attempts="count",
        initial_delay="non_negative",
        multiplier="factor",
        max_delay="non_negative",
        jitter="fraction",
        max_total_time="positive",
        attempt_timeout="positive",
    ),
    *cases(
        "RestartBackoff",
        keyword(RestartBackoff),
        initial_delay="non_negative",
        max_delay="non_negative",
        multiplier="factor",
        jitter="fraction",
        reset_after="non_negative",
    ),
    *cases("ExponentialBackoff", keyword(ExponentialBackoff, initial_delay=1.0, max_delay=5.0), multiplier="factor"),
    *cases("ExponentialBackoff", keyword(ExponentialBackoff, max_delay=5.0), initial_delay="non_negative"),
    *cases("ExponentialBackoff", keyword(ExponentialBackoff, initial_delay=1.0), max_delay="non_negative"),
    Case("FractionJitter", "jitter", "fraction", lambda _where, value: FractionJitter(value)),
    Case("DecorrelatedJitter", "growth", "factor", lambda _where, value: DecorrelatedJitter(value)),
]

# The constructors of the other components (supervision, cache, sandbox).
COMPONENTS = [
    *cases(
        "Supervisor",
        keyword(Supervisor),
        max_restarts="count0",
        max_seconds="positive",
        health_check_interval="positive",
    ),
    *cases("Supervisor", keyword(Supervisor, health_check_interval=1.0), health_check_timeout="positive"),
    *cases("ChildSpec", keyword(ChildSpec, name="child", actor_class=Child), shutdown="non_negative"),
    *cases("ChildSpec", keyword(ChildSpec, actor_class=Child), name="name"),
    *cases(
        "Cache",
        lambda argument: lambda where, value: cache(where, **{argument: value}),
        default_ttl="positive",
        memory_items="count0",
    ),
    *cases(
        "CacheActor",
        lambda argument: lambda where, value: CacheActor(where / "cache", **{argument: value}),
        sweep_interval="positive",
    ),
    *cases(
        "Sandbox",
        keyword(Sandbox),
        timeout="positive",
        cpu_time="positive",
        memory="memory",
        max_output="memory",
        max_worker_memory="memory",
        max_depth="count",
        max_recursion="count",
        workers="count",
        max_tasks_per_worker="count",
        start_timeout="positive",
    ),
]


@pytest.fixture(scope="module")
def where(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("validation")


def check(case: Case, where: Path, value: Any, expected: type[Exception]) -> None:
    try:
        built = case.build(where, value)
    except (InvalidArgumentError, ArgumentTypeError) as error:
        assert isinstance(error, expected), (
            f"{case}: {value!r} raised {type(error).__name__}, expected {expected.__name__}"
        )
        assert error.argument == case.argument, f"{case}: {value!r} blamed {error.argument!r}"
        assert case.argument in str(error), f"{case}: the message does not name it: {error}"
        return
    for closer in ("close", "stop"):
        getattr(built, closer, lambda: None)()
    pytest.fail(f"{case.owner}({case.argument}={value!r}) was accepted")


@pytest.mark.parametrize("case", RESILIENCE, ids=str)
@settings(max_examples=40)
@given(data=st.data())
def test_resilience_constructors_refuse_bad_values_naming_the_argument(
    case: Case, where: Path, data: st.DataObject
) -> None:
    value, expected = data.draw(KINDS[case.kind], label="value")
    check(case, where, value, expected)


@pytest.mark.parametrize("case", COMPONENTS, ids=str)
@settings(max_examples=40)
@given(data=st.data())
def test_component_constructors_refuse_bad_values_naming_the_argument(
    case: Case, where: Path, data: st.DataObject
) -> None:
    value, expected = data.draw(KINDS[case.kind], label="value")
    check(case, where, value, expected)
