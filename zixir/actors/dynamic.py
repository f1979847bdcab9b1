"""`zixir.DynamicSupervisor`: many children of one template, started on demand (Elixir's).

Children are named after the template (``"<name>-<n>"``) and restarted one for one.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from zixir._validate import whole
from zixir.actors.ref import ActorRef
from zixir.actors.spec import ChildSpec
from zixir.actors.supervisor import Supervisor
from zixir.errors import ArgumentTypeError, InvalidArgumentError

__all__ = ["DynamicSupervisor"]


class DynamicSupervisor(Supervisor):
    """Starts children from one `template` spec, each with extra arguments.

    Args:
        template: The spec each child is made from; its name prefixes the children's.
        max_children: How many children may run at once (None: no limit).
        **options: As for `Supervisor` (`max_restarts`, `max_seconds`, `backoff`,
            health checks); the strategy is always one_for_one.

    Raises:
        InvalidArgumentError: `max_children` below 1, `children`, or a `strategy` other
            than one_for_one (a ValueError); and as `Supervisor`.
        ArgumentTypeError: `template` is not a ChildSpec, or `max_children` not an int.
    """

    def __init__(self, template: ChildSpec, max_children: int | None = None, **options: Any) -> None:
        if options.setdefault("strategy", "one_for_one") != "one_for_one":
            raise InvalidArgumentError(
                "a DynamicSupervisor restarts its children one_for_one; drop strategy=", "strategy"
            )
        if "children" in options:
            raise InvalidArgumentError(
                "a DynamicSupervisor starts with no children; use start_child(...) to add them", "children"
            )
        if not isinstance(template, ChildSpec):
            raise ArgumentTypeError(f"template must be a ChildSpec, got {template!r}", "template")
        if max_children is not None:
            max_children = whole("max_children", max_children, at_least=1)
        super().__init__(children=(), **options)
        self._template = template
        self._max_children = max_children
        self._numbers = itertools.count(1)

    def start_child(self, *args: Any, **kwargs: Any) -> ActorRef[Any]:
        """Starts a child of the template with `args` appended and `kwargs` merged in.

        Returns:
            The new child's ref; its name is ``f"{template.name}-{n}"``.

        Raises:
            RuntimeError: `max_children` children are already running.
            ChildStartError: its ``on_start`` failed.
        """
        if self._max_children is not None and self._occupied() >= self._max_children:
            raise RuntimeError(
                f"{self} already runs max_children={self._max_children} children; "
                "terminate one first, or raise max_children"
            )
        template = self._template
        spec = ChildSpec(
            f"{template.name}-{next(self._numbers)}",
            template.actor_class,
            args=template.args + args,
            kwargs=_merged(template.kwargs, kwargs),
            restart=template.restart,
            shutdown=template.shutdown,
            start_timeout=template.start_timeout,
            placement=template.placement,
        )
        return super().start_child(spec)

    def _child_label(self, spec: ChildSpec) -> str:
        # Children come and go by the thousand: their metrics are the template's.
        return self._template.name


def _merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    return {**base, **extra}
