"""Scale-out on Ray (the optional ``ray`` extra): supervised remote children and workflow
steps on a cluster, behind the same API as local ones.

Install the extra: ``pip install 'zixir[ray]'``. Nothing here imports Ray until a Ray
feature is used; see docs/scaling.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zixir._lazy import attributes

if TYPE_CHECKING:
    from zixir.ray.connection import RayConnection, connect, connected, disconnect
    from zixir.ray.placement import RayPlacement
    from zixir.ray.ref import RayChildRef

__all__ = ["RayChildRef", "RayConnection", "RayPlacement", "connect", "connected", "disconnect"]

__getattr__, __dir__ = attributes(
    globals(),
    {
        "RayConnection": "connection",
        "connect": "connection",
        "connected": "connection",
        "disconnect": "connection",
        "RayPlacement": "placement",
        "RayChildRef": "ref",
    },
)
