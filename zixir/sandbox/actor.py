"""`zixir.SandboxActor`: a supervised owner of a `Sandbox`'s worker pool.

It starts the pool on start and closes it (fork server and workers) on every exit, runs
calls through its proxy, and reports the resources of its host and of the pool.
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import psutil

from zixir.actors.actor import Actor
from zixir.actors.messages import ExitReason
from zixir.errors import ArgumentTypeError
from zixir.sandbox import _options
from zixir.sandbox.result import SandboxResult
from zixir.sandbox.sandbox import Sandbox

__all__ = ["ProcessResources", "ResourceStats", "SandboxActor", "check_sandbox_options"]


@dataclass(frozen=True, slots=True)
class ProcessResources:
    """What one process uses, read through psutil.

    Attributes:
        pid: The process.
        cpu_percent: CPU use since the previous `resource_stats` (100.0: one core busy).
        rss: Resident memory in bytes.
        uptime: Seconds since the process started.
    """

    pid: int
    cpu_percent: float
    rss: int
    uptime: float


@dataclass(frozen=True, slots=True)
class ResourceStats:
    """The host process, the pool's fork server and workers, and the pool's counters.

    Attributes:
        host: The process the actor runs in.
        fork_server: The pool's fork server (None if it is not running).
        workers: One entry per live worker.
        calls: Calls finished since the pool started.
        replaced: Workers retired (killed, crashed, recycled) and replaced.
        reasons: How many calls ended with each reason, ``"ok"`` counting successes.
    """

    host: ProcessResources
    fork_server: ProcessResources | None
    workers: tuple[ProcessResources, ...]
    calls: int
    replaced: int
    reasons: dict[str, int]


def check_sandbox_options(options: dict[str, Any]) -> None:
    """Checks `options` as `Sandbox` would, without starting anything."""
    signature = inspect.signature(Sandbox)
    unknown = sorted(set(options) - set(signature.parameters))
    if unknown:
        raise ArgumentTypeError(
            f"SandboxActor got an unknown option {unknown[0]!r}; it takes Sandbox's: {', '.join(signature.parameters)}",
            unknown[0],
        )
    bound = signature.bind(**options)
    bound.apply_defaults()
    _options.check(**bound.arguments)


class SandboxActor(Actor):
    """Owns a `Sandbox` in a supervision tree.

    Calls through the proxy run one at a time in the actor's thread; for calls at once,
    take the pool with `sandbox()` and call it from your own threads (its `submit` and
    `map` use every worker).

    Args:
        **options: Passed to `Sandbox` (`timeout`, `memory`, `workers`, ...); checked when
            the actor is built, so a bad option fails the start of the actor, not its first
            call.

    Raises:
        ArgumentTypeError: An option is unknown or has the wrong type (a TypeError).
        InvalidArgumentError: An option is out of range (a ValueError).
    """

    def __init__(self, **options: Any) -> None:
        super().__init__()
        check_sandbox_options(options)
        self._options = options
        self._sandbox: Sandbox | None = None
        self._processes: dict[int, psutil.Process] = {}  # kept: cpu_percent needs the last read

    def on_start(self) -> None:
        self._sandbox = Sandbox(**self._options)

    def on_exit(self, reason: ExitReason) -> None:
        """Closes the pool, on every exit."""
        if self._sandbox is not None:
            self._sandbox.close()

    def sandbox(self) -> Sandbox:
        """The pool itself, for calls from other threads (never close it: the actor does)."""
        if self._sandbox is None:
            raise RuntimeError(f"{self} has no sandbox (its on_start did not run)")
        return self._sandbox

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> SandboxResult:
        """`Sandbox.run`, in the actor's thread."""
        return self.sandbox().run(fn, *args, **kwargs)

    def run_module(self, module: str, function: str, args: Iterable[Any] = ()) -> SandboxResult:
        """`Sandbox.run_module`, in the actor's thread."""
        return self.sandbox().run_module(module, function, args)

    def map(self, fn: Callable[..., Any], items: Iterable[Any]) -> list[SandboxResult]:
        """`Sandbox.map`: the items run on every worker at once."""
        return self.sandbox().map(fn, items)

    def resource_stats(self) -> ResourceStats:
        """CPU %, RSS and uptime of the host, the fork server and each worker, and counters."""
        stats = self.sandbox().stats()
        host = self._measure(os.getpid())
        assert host is not None  # this very process
        server = None if stats.fork_server_pid is None else self._measure(stats.fork_server_pid)
        workers = tuple(m for w in stats.workers if w.pid is not None and (m := self._measure(w.pid)))
        live = {host.pid, *(w.pid for w in workers), *([server.pid] if server else [])}
        self._processes = {pid: p for pid, p in self._processes.items() if pid in live}
        return ResourceStats(host, server, workers, stats.calls, stats.replaced, dict(stats.reasons))

    def _measure(self, pid: int) -> ProcessResources | None:
        try:
            process = self._processes.get(pid)
            if process is None:
                process = self._processes[pid] = psutil.Process(pid)
            with process.oneshot():
                return ProcessResources(
                    pid, process.cpu_percent(interval=None), process.memory_info().rss,
                    time.time() - process.create_time(),
                )  # fmt: skip
        except psutil.Error:  # it ended meanwhile
            self._processes.pop(pid, None)
            return None
