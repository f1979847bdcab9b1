"""Proxies of a child placed on Ray: pykka's proxy API, from the attributes the Ray actor reported.

The user's actor lives in the Ray worker, so its attributes are introspected there (as
pykka does locally) and sent back when it starts; a name not among them is looked up
there once more before it is an AttributeError.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pykka
from pykka.messages import ProxyCall, ProxyGetAttr, ProxySetAttr

if TYPE_CHECKING:
    from zixir.ray.ref import RemoteRef

__all__ = ["RemoteMethod", "RemoteProxy"]


class RemoteProxy(pykka.ActorProxy[Any]):
    """A `pykka.ActorProxy` of an actor hosted by a Ray actor.

    Methods are `RemoteMethod` objects (a call returns a future, ``.defer()`` tells);
    other attributes read as futures of their value; traversable attributes (pykka's
    `traversable`) as proxies of their own; setting an attribute waits until it is set.

    Args:
        actor_ref: The actor's ref.
        attr_path: The path of a traversable attribute this proxy stands for; () for the actor.

    Raises:
        pykka.ActorDeadError: the actor is not running.
    """

    def __init__(self, *, actor_ref: RemoteRef, attr_path: tuple[str, ...] = ()) -> None:
        if not actor_ref.is_alive():
            raise pykka.ActorDeadError(f"{actor_ref} not found")
        object.__setattr__(self, "actor_ref", actor_ref)
        object.__setattr__(self, "_attr_path", attr_path)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RemoteProxy):
            return False
        return self.actor_ref is other.actor_ref and self._attr_path == other._attr_path

    def __hash__(self) -> int:
        return hash((self.actor_ref.actor_urn, self._attr_path))

    def __repr__(self) -> str:
        return f"<RemoteProxy for {self.actor_ref}, attr_path={self._attr_path!r}>"

    def __dir__(self) -> list[str]:
        depth = len(self._attr_path)
        names = {
            path[depth] for path in self._ref.attributes() if len(path) > depth and path[:depth] == self._attr_path
        }
        return sorted({"__class__", *type(self).__dict__, *names})

    @property
    def _ref(self) -> RemoteRef:
        ref: RemoteRef = self.actor_ref  # type: ignore[assignment]
        return ref

    def __getattr__(self, name: str) -> Any:
        path = (*self._attr_path, name)
        info = self._ref.attribute(path)
        if info is None:
            raise AttributeError(f"{self} has no attribute {name!r}")
        is_callable, traversable = info
        if is_callable:
            return RemoteMethod(actor_ref=self._ref, attr_path=path)
        if traversable:
            return RemoteProxy(actor_ref=self._ref, attr_path=path)
        return self._ref.ask(ProxyGetAttr(attr_path=path), block=False)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "actor_ref" or name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        self._ref.ask(ProxySetAttr(attr_path=(*self._attr_path, name), value=value))


class RemoteMethod(pykka.CallableProxy[Any]):
    """A method of an actor hosted by a Ray actor: calling it asks, ``defer`` tells.

    Made by `RemoteProxy` with pykka's arguments: the actor's ref and the method's path.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> pykka.Future[Any]:
        """Calls the method in the Ray actor; the future holds what it returned (or raised)."""
        ref: RemoteRef = self.actor_ref  # type: ignore[assignment]
        return ref.invoke(self._attr_path, args, kwargs)

    def defer(self, *args: Any, **kwargs: Any) -> None:
        """Calls the method without waiting: an exception crashes the actor (a told message)."""
        self.actor_ref.tell(ProxyCall(attr_path=self._attr_path, args=args, kwargs=kwargs))
