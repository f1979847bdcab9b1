"""Defining workflows: parameters by name, validation, and errors that name the fix."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from zixir.errors import ArgumentTypeError, CycleError, InvalidArgumentError, WorkflowDefinitionError
from zixir.workflow import StepContext, Workflow


def test_parameters_receive_step_outputs_inputs_ctx_and_defaults(make: Callable[..., Workflow]) -> None:
    wf = make(inputs=("day",))
    seen: dict[str, object] = {}

    @wf.step()
    def load(day: str) -> list[int]:
        return [len(day), 2]

    @wf.step()
    def report(load: list[int], ctx: StepContext, scale: int = 10) -> int:
        seen["ctx"] = (ctx.workflow, ctx.run_id, ctx.step, ctx.attempt, ctx.item)
        return sum(load) * scale

    result = wf.run(run_id="r", inputs={"day": "monday"})
    assert result.status == "succeeded"
    assert result.outputs == {"load": [6, 2], "report": 80}
    assert seen["ctx"] == ("wf", "r", "report", 1, None)


def test_the_decorator_returns_the_function_unchanged(make: Callable[..., Workflow]) -> None:
    wf = make()

    def one() -> int:
        return 1

    def two(one: int) -> int:
        return one + 1

    assert wf.step()(one) is one
    assert wf.step(two) is two
    assert wf.steps == ("one", "two")
    assert wf.run().outputs == {"one": 1, "two": 2}


def test_a_cycle_is_named_in_order(make: Callable[..., Workflow]) -> None:
    wf = make()
    wf.add_step("a", lambda c: c)
    wf.add_step("b", lambda a: a)
    wf.add_step("c", lambda b: b)
    with pytest.raises(CycleError, match=r"^the steps depend on each other in a cycle: a -> c -> b -> a") as info:
        wf.validate()
    assert info.value.cycle == ("a", "c", "b", "a")


def test_a_step_depending_on_itself_is_a_cycle(make: Callable[..., Workflow]) -> None:
    wf = make()
    wf.add_step("a", lambda: 1, depends_on="a")
    with pytest.raises(CycleError, match=r"^step 'a' depends on itself$"):
        wf.validate()


def test_an_unknown_dependency_is_an_error(make: Callable[..., Workflow]) -> None:
    wf = make()
    wf.add_step("a", lambda: 1, depends_on=("missing",))
    with pytest.raises(WorkflowDefinitionError, match=r"^step 'a': depends_on names 'missing', which is no step"):
        wf.run()


def test_a_parameter_that_maps_to_nothing_is_an_error(make: Callable[..., Workflow]) -> None:
    wf = make(inputs=("day",))
    wf.add_step("a", lambda dya: 1)
    with pytest.raises(
        WorkflowDefinitionError, match=r"^step 'a': parameter 'dya' maps to nothing: name a step, a declared input"
    ):
        wf.validate()


def test_duplicate_names_and_input_clashes_fail_when_added(make: Callable[..., Workflow]) -> None:
    wf = make(inputs=("day",))
    wf.add_step("a", lambda: 1)
    with pytest.raises(WorkflowDefinitionError, match=r"^workflow 'wf' already has a step named 'a'$"):
        wf.add_step("a", lambda: 2)
    with pytest.raises(WorkflowDefinitionError, match=r"^step 'day' has the name of an input"):
        wf.add_step("day", lambda: 2)


def test_options_are_checked_when_the_step_is_added(make: Callable[..., Workflow]) -> None:
    wf = make()
    with pytest.raises(InvalidArgumentError, match=r'^step \'a\': on_error must be "fail" or "continue"'):
        wf.add_step("a", lambda: 1, on_error="ignore")
    with pytest.raises(InvalidArgumentError, match=r"timeout"):
        wf.add_step("a", lambda: 1, timeout=-1)
    with pytest.raises(ArgumentTypeError, match=r"^step 'a': retry must be a RetryPolicy"):
        wf.add_step("a", lambda: 1, retry=3)
    with pytest.raises(
        InvalidArgumentError, match=r"^step 'a': limits apply to executor=\"process\" or \"ray\" steps only"
    ):
        wf.add_step("a", lambda: 1, limits={"memory": "1GB"})
    with pytest.raises(WorkflowDefinitionError, match=r"define it at module level$"):
        wf.add_step("a", lambda: 1, executor="process")
    with pytest.raises(InvalidArgumentError, match=r"does not fit a sync function"):
        wf.add_step("a", lambda: 1, executor="async")
    with pytest.raises(WorkflowDefinitionError, match=r"takes \*\*kwargs"):
        wf.add_step("a", lambda **kw: 1)
    with pytest.raises(WorkflowDefinitionError, match=r"map_over='x' names no parameter"):
        wf.add_step("a", lambda y: 1, map_over="x")
    assert wf.steps == ()


def test_ray_step_options_are_checked_when_the_step_is_added(make: Callable[..., Workflow]) -> None:
    from zixir.ray import RayPlacement  # plain data: checking a Ray step's options needs no Ray

    wf = make()
    with pytest.raises(
        InvalidArgumentError,
        match=r"^step 'a': placement= applies to executor=\"ray\" steps only, and this step's executor is "
        r"'thread': add executor=\"ray\" to the step \(or to the Workflow\)$",
    ):
        wf.add_step("a", lambda: 1, placement=RayPlacement(num_cpus=1))
    with pytest.raises(ArgumentTypeError, match=r"^step 'a': placement must be a zixir\.ray\.RayPlacement"):
        wf.add_step("a", lambda: 1, executor="ray", placement={"num_cpus": 1})
    with pytest.raises(WorkflowDefinitionError, match=r"^step 'a': an executor=\"ray\" step cannot take ctx"):
        wf.add_step("a", lambda ctx: 1, executor="ray")
    with pytest.raises(WorkflowDefinitionError, match=r"runs in a sandbox on its Ray worker .* define it at module"):
        wf.add_step("a", lambda: 1, executor="ray", limits={"memory": "1GB"})
    with pytest.raises(InvalidArgumentError, match=r"^step 'a': executor='ray' does not fit an async function"):

        async def coroutine() -> int:
            return 1

        wf.add_step("a", coroutine, executor="ray")
    with pytest.raises(InvalidArgumentError, match=r'^executor must be "thread", "async", "process" or "ray", got'):
        make("other", executor="cluster")
    assert wf.steps == ()
    wf.add_step("a", lambda: 1, executor="ray", placement=RayPlacement(num_cpus=0.5), timeout=5.0)
    assert wf.steps == ("a",)


def test_missing_and_unknown_inputs_are_named(make: Callable[..., Workflow]) -> None:
    wf = make(inputs=("day", "region"))
    wf.add_step("a", lambda day, region: 1)
    with pytest.raises(
        InvalidArgumentError,
        match=r"^workflow 'wf' takes the inputs \['day', 'region'\]: missing \['region'\]; "
        r"unknown \['dya'\]$",
    ):
        wf.run(inputs={"day": 1, "dya": 2})
    with pytest.raises(InvalidArgumentError, match=r"is new and needs its inputs"):
        wf.run(run_id="new")


def _shapes(params: tuple[inspect.Parameter, ...]) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in params]


@pytest.mark.parametrize(
    "fn",
    [
        lambda: 0,
        lambda a, b=2: 0,
        lambda a, *, k, m=3: 0,
        lambda a=1, b=None, *, c=(), d: 0,
    ],
)
def test_a_plain_functions_parameters_are_read_from_its_code_as_inspect_reads_them(fn: Any) -> None:
    from zixir.workflow.spec import _plain_parameters

    fast = _plain_parameters(fn)
    assert fast is not None
    assert _shapes(fast) == _shapes(tuple(inspect.signature(fn).parameters.values()))


def test_functions_the_code_cannot_describe_take_inspects_path() -> None:
    import functools

    from zixir.workflow.spec import _plain_parameters

    def varargs(*a: int) -> None: ...
    def posonly(a: int, /) -> None: ...
    def kwargs(**k: int) -> None: ...
    @functools.wraps(posonly)
    def wrapped(b: int) -> None: ...

    for fn in (varargs, posonly, kwargs, wrapped, functools.partial(lambda a, b: 0, 1), len):
        assert _plain_parameters(fn) is None
