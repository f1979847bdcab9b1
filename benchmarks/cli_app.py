"""The application `bench_cli` runs with ``zixir run``: a root, three actors and a cache."""

from __future__ import annotations

from typing import Any

from zixir import Actor, CacheActor, ChildSpec

__all__ = ["Worker", "build"]


class Worker(Actor):
    """An actor that answers pings."""

    def ping(self) -> str:
        return "pong"


def build(app: Any) -> list[ChildSpec]:
    """The cache in the data dir, then three workers, under the root Zixir makes."""
    return [
        ChildSpec("cache", CacheActor, kwargs={"path": str(app.path("cache"))}),
        *(ChildSpec(f"worker-{n}", Worker) for n in range(3)),
    ]
