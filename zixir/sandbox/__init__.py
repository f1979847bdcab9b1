"""Process sandboxes: run functions in warm worker processes with enforced limits.

`Sandbox` is the entry point; `SandboxResult` says how each call ended. Linux only.
"""

from __future__ import annotations

from zixir.sandbox._config import scrubbed_env
from zixir.sandbox.actor import ProcessResources, ResourceStats, SandboxActor
from zixir.sandbox.future import SandboxFuture
from zixir.sandbox.pool import SandboxStats, WorkerStats
from zixir.sandbox.result import Reason, SandboxResult
from zixir.sandbox.sandbox import Sandbox
from zixir.sandbox.units import format_memory, parse_memory

__all__ = [
    "ProcessResources",
    "Reason",
    "ResourceStats",
    "Sandbox",
    "SandboxActor",
    "SandboxFuture",
    "SandboxResult",
    "SandboxStats",
    "WorkerStats",
    "format_memory",
    "parse_memory",
    "scrubbed_env",
]
