"""A call to a child placed on Ray through a Zixir handle, against a raw Ray actor call.

Both actors have the same class body and the same placement on one local cluster (two
CPUs), and the calls alternate in this process, so the cluster's load affects both alike.
"""

from __future__ import annotations

from typing import Any

from benchmarks.harness import Comparison, compare, progress
from zixir import Actor, ChildSpec, Supervisor, handle
from zixir import ray as zray
from zixir.ray import RayPlacement

CALLS = 200  # one timed run: sequential round trips, each waiting for its answer
REPEATS = 11
TARGET = 1.1
NAME = "bench.ray.worker"


class _Body:
    """The class body both sides run: the same method, so only the runtime differs."""

    def work(self, x: int) -> int:
        return x + 1


class _ZixirWorker(_Body, Actor):
    pass


def run() -> list[Comparison]:
    """Starts a local Ray cluster, times both kinds of call, and stops it."""
    import ray

    progress("starting a local Ray cluster (num_cpus=2)")
    zray.connect(num_cpus=2, log_to_driver=False)
    placement = RayPlacement(num_cpus=0.5)
    root = None
    try:
        root = Supervisor.start(children=[ChildSpec(NAME, _ZixirWorker, placement=placement)])
        raw: Any = ray.remote(_Body).options(**placement.ray_options()).remote()
        ray.get(raw.work.remote(0))  # placed and answering
        named = handle(NAME)

        def through_zixir() -> None:
            call = named.call
            for i in range(CALLS):
                call("work", i)

        def raw_ray() -> None:
            work = raw.work
            for i in range(CALLS):
                ray.get(work.remote(i))

        row = compare(
            f"{CALLS} handle(name).call to a Ray child",
            f"{CALLS} ray.get(actor.work.remote(x))",
            through_zixir,
            raw_ray,
            target=TARGET,
            repeats=REPEATS,
        )
        ray.kill(raw)
        return [row]
    finally:
        if root is not None:
            root.stop()
        zray.disconnect()
