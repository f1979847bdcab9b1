"""Where on a Ray cluster a child or a workflow step runs: the resources it asks for.

`RayPlacement` is plain data (it imports no Ray); `ray_options` turns it into the keyword
arguments of Ray's ``.options()`` when the work is placed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from zixir import _validate
from zixir.errors import ArgumentTypeError, InvalidArgumentError

__all__ = ["RayPlacement"]

_NODE_ID = re.compile(r"[0-9a-f]{56}")


@dataclass(frozen=True, slots=True, init=False)
class RayPlacement:
    """Resources and a node for work placed on Ray (a child, or a workflow step).

    Ray schedules by these requests; it does not enforce them on the running code, except
    for GPUs (it sets ``CUDA_VISIBLE_DEVICES``). In particular `memory` only keeps Ray from
    placing more work on a node than the node's memory: a process that grows past it is
    not stopped (Ray's own OOM killer acts on the node as a whole). Limits that are
    enforced come from a zixir `Sandbox` (a step's ``limits=``); see docs/scaling.md.

    Args:
        num_cpus: CPUs reserved (Ray's default when None: 1 to place an actor, 0 while it
            runs; 1 for a task).
        num_gpus: GPUs reserved; fractions share a GPU.
        memory: Bytes reserved for scheduling, an int or a size such as ``"2GB"``.
        resources: Custom resources reserved, such as ``{"accelerator_type:A100": 1}``.
        node: Run only on this node: its Ray node id (56 hex digits) or its IP address.
            The placement fails if the node is not alive.
        runtime_env: Ray's runtime environment for the worker (``pip``, ``env_vars``,
            ``working_dir``...).

    Raises:
        InvalidArgumentError: a negative or non-finite amount, an empty node, or a
            resource name that is not a non-empty str (a ValueError).
        ArgumentTypeError: an argument of the wrong type (a TypeError).
    """

    num_cpus: float | None
    num_gpus: float | None
    memory: int | None
    resources: Mapping[str, float]
    node: str | None
    runtime_env: Mapping[str, Any] | None

    def __init__(
        self,
        num_cpus: float | None = None,
        num_gpus: float | None = None,
        memory: int | str | None = None,
        resources: Mapping[str, float] | None = None,
        node: str | None = None,
        runtime_env: Mapping[str, Any] | None = None,
    ) -> None:
        from zixir.sandbox.units import parse_memory

        amounts = {"num_cpus": num_cpus, "num_gpus": num_gpus}
        for name, value in amounts.items():
            if value is not None:
                amounts[name] = _named(name, _validate.number, f"RayPlacement {name}", value, at_least=0.0)
        if resources is not None and not isinstance(resources, Mapping):
            raise ArgumentTypeError(
                f"RayPlacement resources must be a mapping of name to amount, got {resources!r}", "resources"
            )
        checked: dict[str, float] = {}
        for key, amount in (resources or {}).items():
            if not isinstance(key, str) or not key:
                raise InvalidArgumentError(
                    f"RayPlacement resources: names must be non-empty str, got {key!r}", "resources"
                )
            if key in ("CPU", "GPU", "memory"):
                raise InvalidArgumentError(
                    f"RayPlacement resources: {key!r} is not a custom resource; use num_cpus, num_gpus or memory",
                    "resources",
                )
            checked[key] = _named(
                "resources", _validate.number, f"RayPlacement resources[{key!r}]", amount, at_least=0.0
            )
        if node is not None and (not isinstance(node, str) or not node.strip()):
            raise InvalidArgumentError(
                f"RayPlacement node must be a Ray node id or an IP address, got {node!r}", "node"
            )
        if runtime_env is not None and not isinstance(runtime_env, Mapping):
            raise ArgumentTypeError(f"RayPlacement runtime_env must be a mapping, got {runtime_env!r}", "runtime_env")
        object.__setattr__(self, "num_cpus", amounts["num_cpus"])
        object.__setattr__(self, "num_gpus", amounts["num_gpus"])
        if memory is not None:
            memory = _named("memory", parse_memory, memory, "RayPlacement memory")
        object.__setattr__(self, "memory", memory)
        object.__setattr__(self, "resources", MappingProxyType(checked))
        object.__setattr__(self, "node", None if node is None else node.strip())
        object.__setattr__(self, "runtime_env", None if runtime_env is None else MappingProxyType(dict(runtime_env)))

    def __repr__(self) -> str:
        shown = [
            f"{name}={value!r}"
            for name in ("num_cpus", "num_gpus", "memory", "node")
            if (value := getattr(self, name)) is not None
        ]
        if self.resources:
            shown.append(f"resources={dict(self.resources)!r}")
        if self.runtime_env is not None:
            shown.append(f"runtime_env={dict(self.runtime_env)!r}")
        return f"RayPlacement({', '.join(shown)})"

    def ray_options(self) -> dict[str, Any]:
        """The keyword arguments of Ray's ``.options()`` for this placement.

        Needs a connection when `node` is set (the node is looked up among the alive ones).

        Raises:
            InvalidArgumentError: `node` names no alive node of the cluster.
        """
        options: dict[str, Any] = {}
        if self.num_cpus is not None:
            options["num_cpus"] = self.num_cpus
        if self.num_gpus is not None:
            options["num_gpus"] = self.num_gpus
        if self.memory is not None:
            options["memory"] = self.memory
        if self.resources:
            options["resources"] = dict(self.resources)
        if self.runtime_env is not None:
            options["runtime_env"] = dict(self.runtime_env)
        if self.node is not None:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node_id=self._node_id(), soft=False)
        return options

    def _node_id(self) -> str:
        import ray

        alive = [node for node in ray.nodes() if node.get("Alive")]
        for node in alive:
            if self.node in (node.get("NodeID"), node.get("NodeManagerAddress")):
                return str(node["NodeID"])
        known = ", ".join(f"{n.get('NodeManagerAddress')} ({n.get('NodeID')})" for n in alive) or "none"
        kind = "node id" if _NODE_ID.fullmatch(self.node or "") else "address"
        raise InvalidArgumentError(
            f"RayPlacement node: no alive node has the {kind} {self.node!r}; alive nodes: {known}", "node"
        )


def _named(argument: str, check: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`check(*args, **kwargs)`, its error re-raised with `argument` as the argument's name
    (the message keeps saying "RayPlacement ...")."""
    try:
        return check(*args, **kwargs)
    except (InvalidArgumentError, ArgumentTypeError) as exc:
        raise type(exc)(str(exc), argument) from None
