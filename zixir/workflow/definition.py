"""A workflow's definition: its steps (``@wf.step``, `add_step`), its inputs, its checked
plan (`validate`) and its schedules (`schedule`). `Workflow` adds the runs.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from zixir.errors import InvalidArgumentError, WorkflowDefinitionError
from zixir.workflow import inputs as inputs_of
from zixir.workflow import scheduling
from zixir.workflow.dag import Plan, plan
from zixir.workflow.spec import EXECUTOR_CHOICES, EXECUTORS, Step, check_name, make_step

if TYPE_CHECKING:
    from zixir.ray.placement import RayPlacement
    from zixir.workflow.schedule import Schedule, Tick

__all__ = ["Definition"]

F = TypeVar("F", bound=Callable[..., Any])


class Definition:
    """The steps, inputs, plan and schedules of a workflow (see `Workflow`, which takes
    these arguments among its own).

    Raises:
        ArgumentTypeError, InvalidArgumentError: an argument is wrong.
        WorkflowDefinitionError: an input is named twice.
    """

    def __init__(self, name: str, inputs: Iterable[str], executor: str, allow_pickle: bool) -> None:
        self.name = check_name("name", name)
        if isinstance(inputs, str):
            inputs = (inputs,)
        self.inputs = tuple(check_name("inputs", i) for i in inputs)
        if len(set(self.inputs)) != len(self.inputs):
            raise WorkflowDefinitionError(f"workflow {name!r}: inputs {self.inputs} name an input twice", name)
        if executor not in EXECUTORS:
            raise InvalidArgumentError(f"executor must be {EXECUTOR_CHOICES}, got {executor!r}", "executor")
        self.executor = executor
        self.allow_pickle = allow_pickle
        self._steps: dict[str, Step] = {}
        self._plan: Plan | None = None
        self._lock = threading.Lock()
        self._schedules: list[Schedule] = []

    # -- definition -------------------------------------------------------------------------------

    @overload
    def step(self, fn: F, /) -> F: ...
    @overload
    def step(self, fn: None = None, /, **options: Any) -> Callable[[F], F]: ...
    def step(self, fn: F | None = None, /, **options: Any) -> F | Callable[[F], F]:
        """Adds the decorated function as a step (``@wf.step()`` or ``@wf.step(retry=...)``)
        and returns it unchanged. Options as in `add_step`; ``name=`` defaults to the
        function's name."""
        if fn is not None:
            self.add_step(getattr(fn, "__name__", repr(fn)), fn, **options)
            return fn

        def decorate(function: F) -> F:
            opts = dict(options)
            self.add_step(opts.pop("name", None) or function.__name__, function, **opts)
            return function

        return decorate

    def add_step(
        self,
        name: str,
        fn: Callable[..., Any],
        *,
        depends_on: str | Iterable[str] = (),
        retry: Any = None,
        timeout: float | None = None,
        condition: Callable[..., Any] | None = None,
        allow_skipped: bool = False,
        on_error: str = "fail",
        fallback: Any = None,
        checkpoint: bool = True,
        executor: str | None = None,
        limits: Mapping[str, Any] | None = None,
        cache_ttl: float | None = None,
        map_over: str | None = None,
        placement: RayPlacement | None = None,
    ) -> None:
        """Adds a step. Its parameters receive, by name: a step's output, a declared input,
        ``ctx`` (a `StepContext`), or their defaults.

        Args:
            name: The step's name, unique in the workflow.
            fn: The function (``async def`` for executor "async").
            depends_on: Steps that must finish first, beyond those it reads.
            retry: A `RetryPolicy` for its attempts.
            timeout: Seconds an attempt may take (see docs/workflow.md for what a thread
                step's timeout can and cannot do).
            condition: Called with the step's arguments (those its parameters name); false
                skips the step, and its dependents unless they set `allow_skipped`.
            allow_skipped: Run even when a dependency was skipped (receiving None for it).
            on_error: "fail" the run when the step fails for good, or "continue" with
                `fallback` as its output (recorded as "failed_continued").
            fallback: The output of a failed step under ``on_error="continue"``.
            checkpoint: WorkflowStore the output (on by default); off, it is recomputed on resume.
            executor: "thread", "async", "process" or "ray" (a Ray task; see
                docs/scaling.md); the workflow's default if omitted ("async" for an
                ``async def``).
            limits: For a "process" or "ray" step: ``memory``, ``cpu_time``, ``max_output``,
                ``max_recursion``, as `Sandbox` takes them (a "ray" step runs in a sandbox
                on its Ray worker).
            cache_ttl: Reuse the output of an earlier call with the same arguments and code
                for this many seconds (across runs; kept in the store).
            map_over: The name of a step (and parameter) whose output's items this step
                runs on one by one; its output is the list of their results, in order.
            placement: For a "ray" step: the `zixir.ray.RayPlacement` its tasks ask Ray
                for (CPUs, GPUs, memory, custom resources, a node, a runtime env).

        Raises:
            DuplicateNameError-like WorkflowDefinitionError: the name is taken by a step or
                an input, or the function cannot be a step with these options.
            ArgumentTypeError, InvalidArgumentError: an option is wrong.
        """
        if name in self._steps:
            raise WorkflowDefinitionError(f"workflow {self.name!r} already has a step named {name!r}", name)
        if name in self.inputs:
            raise WorkflowDefinitionError(
                f"step {name!r} has the name of an input of workflow {self.name!r}: a parameter named {name!r} "
                "would be ambiguous; rename the step",
                name,
            )
        if name == "ctx":
            raise WorkflowDefinitionError("a step cannot be named 'ctx': that parameter receives the StepContext", name)
        if condition is not None and map_over is not None:
            raise WorkflowDefinitionError(
                f"step {name!r}: a fan-out step takes no condition; filter the items in the step {map_over!r}",
                name,
            )
        step = make_step(
            name, fn, default_executor=self.executor, depends_on=depends_on, retry=retry, timeout=timeout,
            condition=condition, allow_skipped=allow_skipped, on_error=on_error, fallback=fallback,
            checkpoint=checkpoint, executor=executor, limits=limits, cache_ttl=cache_ttl, map_over=map_over,
            placement=placement,
        )  # fmt: skip
        with self._lock:
            self._steps[name] = step
            self._plan = None

    def validate(self) -> Plan:
        """Checks the workflow (also done by the first run) and returns its plan.

        Raises:
            WorkflowDefinitionError: an unknown dependency, a parameter that maps to nothing.
            CycleError: steps that depend on each other in a cycle (named in ``.cycle``).
        """
        with self._lock:
            if self._plan is None:
                self._plan = plan(list(self._steps.values()), self.inputs)
            return self._plan

    def schedule(
        self,
        *,
        every: float | dt.timedelta | None = None,
        cron: str | None = None,
        tz: str | dt.tzinfo | None = None,
        inputs: Mapping[str, Any] | Callable[[Tick], Mapping[str, Any]] | None = None,
        missed: Literal["skip", "catch_up"] = "skip",
        max_catch_up: int = 10,
        overlap: Literal["skip", "queue"] = "skip",
        name: str | None = None,
    ) -> Schedule:
        """Runs the workflow by itself, every `every` seconds or on a `cron` expression, once
        a `WorkflowActor` hosts it. Options as in `zixir.workflow.schedule.Schedule`.

        Args:
            name: Names the ticks' run ids (``sched-<name>-20261202T101500Z``); by default
                the workflow's name with whitespace replaced by ``_``. Unique per workflow.

        Returns:
            The validated `Schedule`.

        Raises:
            ArgumentTypeError, InvalidArgumentError: an option is wrong (also inputs that
                are not the workflow's).
            WorkflowDefinitionError: the workflow already has a schedule of that name.
        """
        from zixir.workflow.schedule import Schedule  # on first use: cron support stays unloaded

        made = Schedule(
            scheduling.schedule_name(self.name) if name is None else name, every=every, cron=cron, tz=tz,
            inputs=inputs, missed=missed, max_catch_up=max_catch_up, overlap=overlap,
        )  # fmt: skip
        if len(made.name) > scheduling.MAX_NAME:
            raise InvalidArgumentError(f"name must be at most {scheduling.MAX_NAME} characters, got {name!r}", "name")
        if isinstance(inputs, Mapping):
            inputs_of.pack_inputs(self.name, self.inputs, inputs, self.allow_pickle)
        with self._lock:
            if any(s.name == made.name for s in self._schedules):
                raise WorkflowDefinitionError(
                    f"workflow {self.name!r} already has a schedule named {made.name!r}; pass another name=", made.name
                )
            self._schedules.append(made)
        return made

    @property
    def schedules(self) -> tuple[Schedule, ...]:
        """The workflow's schedules, in the order they were added."""
        with self._lock:
            return tuple(self._schedules)

    @property
    def steps(self) -> tuple[str, ...]:
        """The step names, in the order they were added."""
        return tuple(self._steps)
