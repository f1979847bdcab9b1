"""Health and readiness of supervision trees, read from what supervisors publish.

The answers behind ``/healthz`` and ``/readyz``: never an ask to a supervisor, which may be
busy restarting a child (see `zixir.actors.tree`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zixir.actors import tree

if TYPE_CHECKING:
    import pykka

__all__ = ["HealthReport", "health"]


@dataclass(frozen=True, slots=True)
class HealthReport:
    """What ``/healthz`` and ``/readyz`` answer.

    Attributes:
        healthy: Every root supervisor is starting or running (none gave up or stopped);
            also true when there is no root at all and none was asked for.
        ready: There is a root, and every root has started its children.
        supervisors: The trees as JSON-ready dicts: each supervisor's name, urn, phase,
            restarts, the reason it gave up, and its children (name, state, restarts, and
            a child supervisor's own children), through the whole tree.
    """

    healthy: bool
    ready: bool
    supervisors: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        """The report as the HTTP endpoints serve it."""
        return {"status": "ok" if self.healthy else "unhealthy", "ready": self.ready, "supervisors": self.supervisors}


def health(root: pykka.ActorRef[Any] | None = None) -> HealthReport:
    """Reports on `root`'s tree, or on every root supervisor of the process.

    Args:
        root: A root supervisor's ref; None for every supervisor that is nobody's child.
    """
    listed = tree.supervisors()
    by_urn = {supervisor.urn: supervisor for supervisor in listed}
    if root is None:
        tops = tree.roots(listed)
    else:
        found = by_urn.get(root.actor_urn)
        tops = [found if found is not None else _not_listed(root)]
    return HealthReport(
        healthy=all(top.phase in ("starting", "running") for top in tops),
        ready=bool(tops) and all(top.phase == "running" for top in tops),
        supervisors=[_node(top, by_urn, set()) for top in tops],
    )


def _not_listed(root: pykka.ActorRef[Any]) -> tree.PublishedSupervisor:
    """A root with no view: not yet in its on_start, or exited (and did not give up)."""
    phase: tree.SupervisorPhase = "starting" if root.is_alive() else "stopped"
    return tree.PublishedSupervisor(root.actor_urn, str(root), phase, 0, (), None, 0.0)


def _node(
    supervisor: tree.PublishedSupervisor, by_urn: dict[str, tree.PublishedSupervisor], seen: set[str]
) -> dict[str, Any]:
    seen.add(supervisor.urn)
    children = []
    for child in supervisor.children:
        entry: dict[str, Any] = {"name": child.name, "state": child.state, "restarts": child.restarts}
        nested = by_urn.get(child.urn) if child.urn is not None else None
        if child.is_supervisor and nested is not None and nested.urn not in seen:
            entry["supervisor"] = _node(nested, by_urn, seen)
        children.append(entry)
    return {
        "name": supervisor.name,
        "urn": supervisor.urn,
        "phase": supervisor.phase,
        "restarts": supervisor.restarts,
        "reason": supervisor.reason,
        "children": children,
    }
