"""The checks of a sandbox's options, shared by `Sandbox` and `SandboxActor`.

Every option is checked before anything starts; a bad one raises the typed error of
`zixir._validate` that names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from zixir import _validate
from zixir.errors import ArgumentTypeError
from zixir.resilience.breaker import CircuitBreaker
from zixir.sandbox.units import parse_memory

__all__ = ["Options", "check"]


@dataclass(frozen=True, slots=True)
class Options:
    """A sandbox's options, checked, sizes in bytes (see `Sandbox` for their meaning).

    `max_worker_memory` is resolved: `memory` when it was not given.
    """

    timeout: float | None
    cpu_time: float | None
    memory: int | None
    max_depth: int
    max_recursion: int
    max_output: int
    workers: int
    env: dict[str, str] | None
    max_tasks_per_worker: int | None
    max_worker_memory: int | None
    breaker: CircuitBreaker | None
    start_timeout: float
    allow_pickle: bool


def check(
    *,
    timeout: object,
    cpu_time: object,
    memory: object,
    max_depth: object,
    max_recursion: object,
    max_output: object,
    workers: object,
    env: object,
    max_tasks_per_worker: object,
    max_worker_memory: object,
    breaker: object,
    start_timeout: object,
    allow_pickle: object = False,
) -> Options:
    """Checks every option of a sandbox.

    Returns:
        The options, numbers as floats and sizes in bytes.

    Raises:
        ArgumentTypeError: An option has the wrong type (a TypeError).
        InvalidArgumentError: An option is out of range, NaN or infinite, or a size string
            is malformed (a ValueError).
    """
    wall = _validate.optional_number("timeout", timeout, above=0)
    cpu = _validate.optional_number("cpu_time", cpu_time, above=0)
    grown = None if memory is None else _size("memory", memory)
    output = _size("max_output", max_output)
    depth = _validate.whole("max_depth", max_depth)
    recursion = _validate.whole("max_recursion", max_recursion)
    size = _validate.whole("workers", workers)
    tasks = None if max_tasks_per_worker is None else _validate.whole("max_tasks_per_worker", max_tasks_per_worker)
    high_water = grown if max_worker_memory is None else _size("max_worker_memory", max_worker_memory)
    if breaker is not None and not isinstance(breaker, CircuitBreaker):
        raise ArgumentTypeError(f"breaker must be a CircuitBreaker, got {breaker!r}", "breaker")
    if env is not None and not (
        isinstance(env, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
    ):
        raise ArgumentTypeError("env must map str to str", "env")
    if not isinstance(allow_pickle, bool):
        raise ArgumentTypeError(f"allow_pickle must be True or False, got {allow_pickle!r}", "allow_pickle")
    return Options(
        wall,
        cpu,
        grown,
        depth,
        recursion,
        output,
        size,
        None if env is None else dict(env),
        tasks,
        high_water,
        breaker,
        _validate.number("start_timeout", start_timeout, above=0),
        allow_pickle,
    )


def _size(name: str, value: object) -> int:
    # parse_memory checks the type itself, raising ArgumentTypeError for anything else.
    return parse_memory(cast("int | str", value), name)
