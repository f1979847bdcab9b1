"""A workflow step's definition: its function and options, checked when the step is added.

How its parameters map to steps, inputs and ``ctx`` is decided later, by `zixir.workflow.dag`,
once every step is known.
"""

from __future__ import annotations

import hashlib
import inspect
import marshal
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

from zixir import _validate
from zixir.errors import ArgumentTypeError, InvalidArgumentError, WorkflowDefinitionError
from zixir.resilience.retry import RetryPolicy

if TYPE_CHECKING:
    from zixir.ray.placement import RayPlacement

__all__ = ["EXECUTORS", "Executor", "Step", "check_name", "make_step"]

Executor = Literal["thread", "async", "process", "ray"]
EXECUTORS: tuple[str, ...] = ("thread", "async", "process", "ray")
#: How the executors are listed in error messages.
EXECUTOR_CHOICES = '"thread", "async", "process" or "ray"'
_LIMITS = ("memory", "cpu_time", "max_output", "max_recursion")


@dataclass(frozen=True, slots=True, eq=False)
class Step:
    """One step of a workflow, as added (see `Workflow.add_step` for each option)."""

    name: str
    fn: Callable[..., Any]
    parameters: tuple[inspect.Parameter, ...]
    depends_on: tuple[str, ...]
    retry: RetryPolicy | None
    timeout: float | None
    condition: Callable[..., Any] | None
    condition_parameters: tuple[inspect.Parameter, ...] | None  # None: takes **kwargs
    allow_skipped: bool
    on_error: Literal["fail", "continue"]
    fallback: Any
    checkpoint: bool
    executor: Executor
    limits: Mapping[str, Any]
    cache_ttl: float | None
    map_over: str | None
    code_hash: str = field(default="")
    placement: RayPlacement | None = None

    @property
    def span_name(self) -> str:
        """The name of its attempts' spans."""
        return f"workflow.step {self.name}"


def check_name(what: str, name: object) -> str:
    """`name` if it can name a workflow, step or input: a non-empty str without NUL.

    Raises:
        ArgumentTypeError: not a str.
        InvalidArgumentError: empty, or containing NUL.
    """
    if not isinstance(name, str):
        raise ArgumentTypeError(f"{what} must be a str, got {type(name).__name__} {name!r}", what)
    if not name or "\x00" in name or len(name) > 200:
        raise InvalidArgumentError(f"{what} must be 1 to 200 characters without NUL, got {name!r}", what)
    return name


def _code_hash(fn: Callable[..., Any]) -> str:
    """A hash of the function's code (bytecode, constants, names), for `cache_ttl` keys."""
    code = getattr(fn, "__code__", None)
    blob = marshal.dumps(code) if code is not None else repr(fn).encode()
    return hashlib.blake2b(blob, digest_size=16).hexdigest()


_ANY_ARGS = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS
_EMPTY = inspect.Parameter.empty


def _plain_parameters(fn: Callable[..., Any]) -> tuple[inspect.Parameter, ...] | None:
    """A plain function's parameters read from its code, as `inspect.signature` gives them
    (which takes twice as long); None for anything else (wrapped, partial, builtin, with
    ``*args``, ``**kwargs`` or positional-only parameters), which takes the general path."""
    if type(fn) is not types.FunctionType or hasattr(fn, "__wrapped__") or hasattr(fn, "__signature__"):
        return None
    code = fn.__code__
    if code.co_flags & _ANY_ARGS or code.co_posonlyargcount:
        return None
    count = code.co_argcount
    names = code.co_varnames[: count + code.co_kwonlyargcount]
    defaults = fn.__defaults__ or ()
    first_default = count - len(defaults)
    keyword_defaults = fn.__kwdefaults__ or {}
    made = []
    for index, parameter in enumerate(names):
        if index < count:
            default = defaults[index - first_default] if index >= first_default else _EMPTY
            made.append(inspect.Parameter(parameter, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default))
        else:
            default = keyword_defaults.get(parameter, _EMPTY)
            made.append(inspect.Parameter(parameter, inspect.Parameter.KEYWORD_ONLY, default=default))
    return tuple(made)


def _own_parameters(name: str, fn: Callable[..., Any], what: str) -> tuple[inspect.Parameter, ...] | None:
    """`fn`'s parameters (None if it takes ``**kwargs``); refuses ones a call by name cannot fill."""
    plain = _plain_parameters(fn)
    if plain is not None:
        return plain
    try:
        found = tuple(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError) as exc:
        raise WorkflowDefinitionError(f"step {name!r}: cannot read the {what}'s signature: {exc}", name) from exc
    takes_any = False
    for parameter in found:
        if parameter.kind is parameter.POSITIONAL_ONLY:
            raise WorkflowDefinitionError(
                f"step {name!r}: the {what}'s parameter {parameter.name!r} is positional-only; steps are "
                "called by parameter name: drop the '/'",
                name,
            )
        if parameter.kind is parameter.VAR_POSITIONAL:
            raise WorkflowDefinitionError(
                f"step {name!r}: the {what} takes *{parameter.name}; steps are called by parameter name: "
                "name each step or input it reads",
                name,
            )
        takes_any = takes_any or parameter.kind is parameter.VAR_KEYWORD
    return None if takes_any else found


def make_step(
    name: str,
    fn: Callable[..., Any],
    *,
    default_executor: str,
    depends_on: object = (),
    retry: object = None,
    timeout: object = None,
    condition: object = None,
    allow_skipped: object = False,
    on_error: object = "fail",
    fallback: Any = None,
    checkpoint: object = True,
    executor: object = None,
    limits: object = None,
    cache_ttl: object = None,
    map_over: object = None,
    placement: object = None,
) -> Step:
    """Checks a step's options and builds its `Step`.

    Raises:
        ArgumentTypeError: An option has the wrong type.
        InvalidArgumentError: An option has a value that cannot work.
        WorkflowDefinitionError: The function cannot be a step with these options.
    """
    check_name("name", name)
    if not callable(fn):
        raise ArgumentTypeError(f"step {name!r}: fn must be callable, got {fn!r}", "fn")
    if isinstance(depends_on, str):
        depends_on = (depends_on,)
    if not isinstance(depends_on, (tuple, list)):
        raise ArgumentTypeError(f"step {name!r}: depends_on must be step names, got {depends_on!r}", "depends_on")
    deps = tuple(check_name("depends_on", dep) for dep in depends_on)
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise ArgumentTypeError(f"step {name!r}: retry must be a RetryPolicy, got {retry!r}", "retry")
    timeout_s = _validate.optional_number("timeout", timeout, above=0)
    cache = _validate.optional_number("cache_ttl", cache_ttl, above=0)
    if condition is not None:
        _validate.function("condition", condition, "a predicate on the step's arguments")
    for flag, value in (("allow_skipped", allow_skipped), ("checkpoint", checkpoint)):
        if not isinstance(value, bool):
            raise ArgumentTypeError(f"step {name!r}: {flag} must be True or False, got {value!r}", flag)
    if on_error not in ("fail", "continue"):
        raise InvalidArgumentError(
            f'step {name!r}: on_error must be "fail" or "continue", got {on_error!r}', "on_error"
        )
    is_async = inspect.iscoroutinefunction(fn)
    chosen = executor if executor is not None else ("async" if is_async else default_executor)
    if chosen not in EXECUTORS:
        raise InvalidArgumentError(f"step {name!r}: executor must be {EXECUTOR_CHOICES}, got {chosen!r}", "executor")
    if is_async != (chosen == "async"):
        fix = 'define it with "async def"' if chosen == "async" else 'leave executor unset (it is "async")'
        raise InvalidArgumentError(
            f"step {name!r}: executor={chosen!r} does not fit {'an async' if is_async else 'a sync'} function: {fix}",
            "executor",
        )
    chosen_limits = _check_limits(name, limits, chosen)
    parameters = _own_parameters(name, fn, "function")
    if parameters is None:
        raise WorkflowDefinitionError(
            f"step {name!r}: the function takes **kwargs; steps are called by parameter name: name each step "
            "or input it reads",
            name,
        )
    chosen_placement = _check_placement(name, placement, chosen)
    if chosen == "process" or (chosen == "ray" and chosen_limits):
        _check_importable(name, fn, chosen)
    if chosen in ("process", "ray"):
        _check_no_ctx(name, parameters, chosen)
    if map_over is not None:
        check_name("map_over", map_over)
        if map_over not in {p.name for p in parameters}:
            raise WorkflowDefinitionError(
                f"step {name!r}: map_over={map_over!r} names no parameter of the function; it must name the "
                "parameter (and step) whose output's items the step runs on",
                name,
            )
    check = cast("Callable[..., Any] | None", condition)
    condition_parameters = None if check is None else _own_parameters(name, check, "condition")
    return Step(
        name=name, fn=fn, parameters=parameters, depends_on=deps, retry=retry, timeout=timeout_s,
        condition=check, condition_parameters=condition_parameters,
        allow_skipped=allow_skipped, on_error=on_error,  # type: ignore[arg-type]
        fallback=fallback, checkpoint=checkpoint, executor=chosen,  # type: ignore[arg-type]
        limits=chosen_limits, cache_ttl=cache, map_over=map_over,
        code_hash=_code_hash(fn) if cache is not None else "", placement=chosen_placement,
    )  # fmt: skip


def _check_limits(name: str, limits: object, executor: object) -> dict[str, Any]:
    if limits is None:
        return {}
    if executor not in ("process", "ray"):
        raise InvalidArgumentError(
            f'step {name!r}: limits apply to executor="process" or "ray" steps only (a thread cannot be limited)',
            "limits",
        )
    if not isinstance(limits, Mapping):
        raise ArgumentTypeError(f"step {name!r}: limits must be a dict such as {{'memory': '256MB'}}", "limits")
    unknown = sorted(set(limits) - set(_LIMITS))
    if unknown:
        raise InvalidArgumentError(
            f"step {name!r}: unknown limits {unknown}; a {executor} step takes {list(_LIMITS)} (timeout= is its "
            "own option)",
            "limits",
        )
    return dict(limits)


def _check_placement(name: str, placement: object, executor: object) -> RayPlacement | None:
    if placement is None:
        return None
    if executor != "ray":
        raise InvalidArgumentError(
            f'step {name!r}: placement= applies to executor="ray" steps only, and this step\'s executor is '
            f'{executor!r}: add executor="ray" to the step (or to the Workflow)',
            "placement",
        )
    from zixir.ray.placement import RayPlacement  # plain data: no Ray import

    if not isinstance(placement, RayPlacement):
        raise ArgumentTypeError(
            f"step {name!r}: placement must be a zixir.ray.RayPlacement such as RayPlacement(num_cpus=1), "
            f"got {placement!r}",
            "placement",
        )
    return placement


def _check_importable(name: str, fn: Callable[..., Any], executor: object) -> None:
    if "<locals>" in getattr(fn, "__qualname__", "<locals>") or getattr(fn, "__name__", "") == "<lambda>":
        where = "a worker process" if executor == "process" else "a sandbox on its Ray worker (it has limits=)"
        raise WorkflowDefinitionError(
            f'step {name!r}: an executor="{executor}" step runs in {where}, which imports its function by name: '
            "define it at module level",
            name,
        )


def _check_no_ctx(name: str, parameters: tuple[inspect.Parameter, ...], executor: object) -> None:
    if any(p.name == "ctx" for p in parameters):
        where = "a worker process" if executor == "process" else "a Ray worker"
        raise WorkflowDefinitionError(
            f'step {name!r}: an executor="{executor}" step cannot take ctx (it runs in {where}; its cancelled '
            "event and logger live in this process); pass the ids it needs from a thread step",
            name,
        )
