"""A workflow's plan: each parameter mapped to its source, the dependency graph checked for
unknown names and cycles, and the graph's shape fingerprinted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from zixir import serialization
from zixir.errors import CycleError, WorkflowDefinitionError
from zixir.workflow.spec import Step

__all__ = ["CTX", "DEFAULT", "INPUT", "STEP", "Plan", "PlannedStep", "plan"]

# Where a parameter's value comes from.
STEP, INPUT, CTX, DEFAULT = "step", "input", "ctx", "default"


@dataclass(frozen=True, slots=True, eq=False)
class PlannedStep:
    """A step with its parameters resolved and its place in the graph.

    Attributes:
        spec: The step as added.
        index: Its position in definition order.
        arguments: (parameter, source kind, source name) for each parameter that gets a
            value (a parameter left to its default is absent).
        deps: Indices of the steps it waits for (data and ordering).
        data_deps: Names of the steps whose outputs it reads.
        dependents: Indices of the steps that wait for it.
        condition_names: The arguments its condition receives (all of them if None).
        wants_ctx: Whether it has a ``ctx`` parameter.
    """

    spec: Step
    index: int
    arguments: tuple[tuple[str, str, str], ...]
    deps: tuple[int, ...]
    data_deps: tuple[str, ...]
    dependents: tuple[int, ...]
    condition_names: tuple[str, ...] | None
    wants_ctx: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class Plan:
    """The checked graph of a workflow: steps in definition order, and its shape's hash."""

    steps: tuple[PlannedStep, ...]
    by_name: Mapping[str, PlannedStep]
    shape: str


def plan(steps: Sequence[Step], inputs: Sequence[str]) -> Plan:
    """Resolves every parameter and checks the graph.

    Raises:
        WorkflowDefinitionError: An unknown dependency, a parameter that maps to nothing, a
            condition parameter the step does not receive.
        CycleError: The steps depend on each other in a cycle (named in order).
    """
    names = {step.name: index for index, step in enumerate(steps)}
    declared = set(inputs)
    resolved: list[tuple[tuple[tuple[str, str, str], ...], list[int], tuple[str, ...]]] = []
    for step in steps:
        arguments: list[tuple[str, str, str]] = []
        data: list[str] = []
        for parameter in step.parameters:
            if parameter.name == "ctx":
                arguments.append((parameter.name, CTX, ""))
            elif parameter.name in names:
                arguments.append((parameter.name, STEP, parameter.name))
                data.append(parameter.name)
            elif parameter.name in declared:
                arguments.append((parameter.name, INPUT, parameter.name))
            elif parameter.default is parameter.empty:
                raise WorkflowDefinitionError(
                    f"step {step.name!r}: parameter {parameter.name!r} maps to nothing: name a step, a declared "
                    f"input (inputs={tuple(inputs)!r}) or ctx, or give it a default",
                    step.name,
                )
        if step.map_over is not None and step.map_over not in data:
            raise WorkflowDefinitionError(
                f"step {step.name!r}: map_over={step.map_over!r} must name a step whose output it reads", step.name
            )
        for dep in step.depends_on:
            if dep not in names:
                raise WorkflowDefinitionError(
                    f"step {step.name!r}: depends_on names {dep!r}, which is no step of this workflow", step.name
                )
        deps = sorted({names[name] for name in (*data, *step.depends_on)})
        if names[step.name] in deps:
            raise CycleError(f"step {step.name!r} depends on itself", (step.name, step.name))
        resolved.append((tuple(arguments), deps, tuple(data)))
    _check_acyclic(steps, [deps for _, deps, _ in resolved])
    dependents: list[list[int]] = [[] for _ in steps]
    for position, resolved_step in enumerate(resolved):
        for before in resolved_step[1]:
            dependents[before].append(position)
    planned = tuple(
        PlannedStep(
            spec=step,
            index=index,
            arguments=arguments,
            deps=tuple(deps),
            data_deps=data,
            dependents=tuple(dependents[index]),
            condition_names=_condition_names(step, arguments),
            wants_ctx=any(kind == CTX for _, kind, _ in arguments),
        )
        for index, (step, (arguments, deps, data)) in enumerate(zip(steps, resolved))
    )
    return Plan(planned, {p.spec.name: p for p in planned}, _shape(planned))


def _condition_names(step: Step, arguments: tuple[tuple[str, str, str], ...]) -> tuple[str, ...] | None:
    if step.condition is None or step.condition_parameters is None:
        return None
    given = {name for name, _, _ in arguments}
    names = []
    for parameter in step.condition_parameters:
        if parameter.name in given:
            names.append(parameter.name)
        elif parameter.default is parameter.empty:
            raise WorkflowDefinitionError(
                f"step {step.name!r}: its condition's parameter {parameter.name!r} is none of the step's "
                f"arguments {sorted(given)}",
                step.name,
            )
    return tuple(names)


def _check_acyclic(steps: Sequence[Step], deps: list[list[int]]) -> None:
    """Depth-first search; the first back edge found is reported as the cycle it closes."""
    state = [0] * len(steps)  # 0 unseen, 1 on the current path, 2 done
    for root in range(len(steps)):
        if state[root]:
            continue
        path = [root]
        iterators = [iter(deps[root])]
        state[root] = 1
        while iterators:
            following = next(iterators[-1], None)
            if following is None:
                state[path.pop()] = 2
                iterators.pop()
            elif state[following] == 1:
                cycle = [*path[path.index(following) :], following]
                named = tuple(steps[i].name for i in cycle)
                raise CycleError(
                    f"the steps depend on each other in a cycle: {' -> '.join(named)} (each needs the next); "
                    "remove one of these dependencies",
                    named,
                )
            elif state[following] == 0:
                state[following] = 1
                path.append(following)
                iterators.append(iter(deps[following]))


def _shape(steps: tuple[PlannedStep, ...]) -> str:
    """A hash of the steps' names, edges and fan-outs (not of their code or options)."""
    shape = sorted((p.spec.name, sorted(steps[d].spec.name for d in p.deps), p.spec.map_over or "") for p in steps)
    return hashlib.blake2b(serialization.dumps(shape), digest_size=16).hexdigest()
