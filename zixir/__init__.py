"""Zixir: Erlang/OTP-style supervision, durable workflows and fast kernels for Python."""

from __future__ import annotations

from loguru import logger as _logger

from zixir import actors, cache, engine, errors, resilience, sandbox, serialization
from zixir.actors import (
    Actor,
    ActorRef,
    ChildSpec,
    Down,
    DynamicSupervisor,
    ExitReason,
    RestartBackoff,
    Supervisor,
    ensure_started,
    handle,
    whereis,
)
from zixir.cache import Cache, CacheActor
from zixir.errors import CircuitOpenError, RetryError, SandboxError, ZixirError
from zixir.observability import configure_logging
from zixir.resilience import CircuitBreaker, RetryPolicy
from zixir.sandbox import Sandbox, SandboxActor, SandboxResult

__all__ = [
    "Actor",
    "ActorRef",
    "Cache",
    "CacheActor",
    "ChildSpec",
    "CircuitBreaker",
    "CircuitOpenError",
    "Down",
    "DynamicSupervisor",
    "ExitReason",
    "RestartBackoff",
    "RetryError",
    "RetryPolicy",
    "Sandbox",
    "SandboxActor",
    "SandboxError",
    "SandboxResult",
    "Supervisor",
    "ZixirError",
    "actors",
    "cache",
    "configure_logging",
    "engine",
    "ensure_started",
    "errors",
    "handle",
    "observability",
    "resilience",
    "sandbox",
    "serialization",
    "whereis",
]

# Libraries stay silent until the application opts in (loguru's advice for libraries).
_logger.disable("zixir")
