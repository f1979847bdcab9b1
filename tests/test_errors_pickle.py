"""Every error in zixir.errors survives pickling with its type, message and attributes."""

from __future__ import annotations

import inspect
import pickle
import threading
from typing import Any

import pytest

from zixir import errors
from zixir.errors import RemoteError, RetryError, ZixirError
from zixir.sandbox.result import SandboxResult

# A sample value for each annotation an error's __init__ uses; a new error whose
# annotation is not here fails below with a message saying to add one.
SAMPLES: dict[str, Any] = {
    "str": "sample",
    "int": 7,
    "float": 2.5,
    "int | None": 9,
    "str | bytes": b"key",
    "tuple[str, ...]": ("a", "b", "a"),
    "tuple[int, int]": (3, 4),
    "list[BaseException]": [ValueError("first"), TimeoutError("second")],
    "SandboxResult": SandboxResult(reason="exception", error=ValueError("inside"), traceback="tb"),
}

CLASSES = [
    getattr(errors, name) for name in errors.__all__
    if isinstance(getattr(errors, name), type) and issubclass(getattr(errors, name), BaseException)
]  # fmt: skip


def build(cls: type[BaseException]) -> tuple[BaseException, dict[str, Any]]:
    """An instance of `cls` with a sample for every constructor argument after the message."""
    parameters = list(inspect.signature(cls.__init__).parameters.values())[2:]
    if cls.__init__ is BaseException.__init__ or not parameters:
        return cls(f"{cls.__name__} happened"), {}
    values = {}
    for p in parameters:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        where = f"{cls.__name__}.{p.name}"
        assert p.annotation in SAMPLES, f"add a sample for {p.annotation!r} ({where})"
        values[p.name] = SAMPLES[p.annotation]
    return cls(f"{cls.__name__} happened", **values), values


def same(a: Any, b: Any) -> bool:
    """Equality that compares exceptions by type and text (they do not define __eq__)."""
    if isinstance(a, BaseException):
        return type(a) is type(b) and str(a) == str(b)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, SandboxResult):
        return (a.reason, a.traceback) == (b.reason, b.traceback) and same(a.error, b.error)
    return bool(a == b)


def test_every_exported_error_is_walked() -> None:
    assert ZixirError in CLASSES and RetryError in CLASSES
    assert len(CLASSES) == len(errors.__all__)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_error_round_trips_through_pickle_with_its_attributes(
    cls: type[BaseException],
) -> None:
    error, attributes = build(cls)
    error.add_note("a note")
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is cls
    assert str(back) == str(error) and back.args == error.args
    for name, value in attributes.items():
        assert same(getattr(back, name), value), name
        assert same(getattr(error, name), value), name
    assert back.__notes__ == ["a note"]


def test_a_retry_errors_unpicklable_attempts_become_remote_errors() -> None:
    class Local(Exception):  # a local class: pickle cannot find it by name
        pass

    class NeedsTwo(Exception):  # pickles, but its args do not fit its __init__
        def __init__(self, a: str, b: str) -> None:
            super().__init__(f"{a}/{b}")

    holds_a_lock = ValueError(threading.Lock())
    try:
        raise Local("local trouble")
    except Local as raised:
        local = raised
    error = RetryError("gave up", [local, NeedsTwo("x", "y"), holds_a_lock, KeyError("fine")])
    back = pickle.loads(pickle.dumps(error))
    first, second, third, fourth = back.errors
    assert isinstance(first, RemoteError)
    assert first.type_name == f"{__name__}.{Local.__qualname__}"
    assert str(first) == f"{__name__}.{Local.__qualname__}: local trouble"
    assert 'raise Local("local trouble")' in first.remote_traceback
    assert isinstance(second, RemoteError) and second.type_name.endswith("NeedsTwo")
    assert isinstance(third, RemoteError) and third.type_name == "builtins.ValueError"
    assert type(fourth) is KeyError and fourth.args == ("fine",)
    assert error.errors[0] is local  # the original keeps its attempts as they were


def test_an_error_that_does_not_store_its_arguments_says_how_to_fix_it() -> None:
    class Forgetful(ZixirError):
        def __init__(self, message: str, detail: int) -> None:
            super().__init__(message)

    with pytest.raises(TypeError, match=r"store its __init__ arguments \['detail'\] as attributes"):
        pickle.dumps(Forgetful("m", 3))


class Detailed(ZixirError):
    """A subclass whose message is built from its arguments, one of them keyword-only."""

    def __init__(self, result: str, *, attempts: int) -> None:
        super().__init__(f"{result} after {attempts} attempts")
        self.result = result
        self.attempts = attempts


def test_a_subclass_with_its_own_arguments_and_keyword_only_ones_round_trips() -> None:
    back = pickle.loads(pickle.dumps(Detailed("timeout", attempts=3)))
    assert type(back) is Detailed and str(back) == "timeout after 3 attempts"
    assert (back.result, back.attempts) == ("timeout", 3)
