"""Zixir: Erlang/OTP-style supervision trees for Python, on pykka.

Supervisors with restart strategies and intensity, circuit breakers and retry policies, an
LMDB-backed cache, process sandboxes with enforced limits, compiled numeric kernels, a
msgpack storage format and Prometheus metrics. Components load on first use: ``import
zixir`` costs little more than pykka and loguru.
"""

from __future__ import annotations

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from loguru import logger as _logger

from zixir.errors import (
    AbandonedThreadsError,
    ActorCrashedError,
    ArgumentTypeError,
    AsyncSourceError,
    BufferFullError,
    CacheError,
    CheckpointMissingError,
    ChildStartError,
    CircuitOpenError,
    ConfigError,
    CorruptRecordError,
    CycleError,
    DataDirLockedError,
    DeadlockError,
    DuplicateNameError,
    EmptyInputError,
    EmptyKeyError,
    FormatVersionError,
    GroupLimitError,
    InvalidArgumentError,
    ItemTimeoutError,
    KeyTypeError,
    LengthMismatchError,
    LoopBoundError,
    MailboxFullError,
    NotNumericError,
    RayActorDiedError,
    RayConnectionError,
    RayNotConnectedError,
    RayTaskLostError,
    RecordNotFoundError,
    RemoteError,
    RestartIntensityError,
    RetryError,
    RunMismatchError,
    RunOwnedError,
    SandboxClosedError,
    SandboxError,
    SandboxLimitError,
    SandboxStartError,
    SandboxTimeoutError,
    SerializationError,
    ShapeError,
    SourceConsumedError,
    StepTimeoutError,
    TooManyRunsError,
    UnknownChildError,
    UnknownDeadLetterError,
    UnknownOperationError,
    UnknownRunError,
    WorkerCrashedError,
    WorkflowDefinitionError,
    ZeroVectorError,
    ZixirError,
)

if _TYPE_CHECKING:
    from zixir import (
        actors,
        cache,
        engine,
        metrics,
        observability,
        ray,
        resilience,
        sandbox,
        serialization,
        stream,
        tracing,
        workflow,
    )
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
    from zixir.observability import configure_logging
    from zixir.ray import RayPlacement
    from zixir.resilience import CircuitBreaker, RetryPolicy
    from zixir.sandbox import Sandbox, SandboxActor, SandboxResult
    from zixir.stream import Stream, gather, run_async
    from zixir.workflow import RunResult, StepContext, Workflow, WorkflowActor

    __version__: str

# Public name -> the module that defines it, imported on first access (PEP 562).
_LAZY_NAMES = {
    **dict.fromkeys(
        (
            "Actor",
            "ActorRef",
            "ChildSpec",
            "Down",
            "DynamicSupervisor",
            "ExitReason",
            "RestartBackoff",
            "Supervisor",
            "ensure_started",
            "handle",
            "whereis",
        ),
        "zixir.actors",
    ),
    "Cache": "zixir.cache",
    "CacheActor": "zixir.cache",
    "CircuitBreaker": "zixir.resilience",
    "RetryPolicy": "zixir.resilience",
    "Sandbox": "zixir.sandbox",
    "SandboxActor": "zixir.sandbox",
    "SandboxResult": "zixir.sandbox",
    "configure_logging": "zixir.observability",
    "RayPlacement": "zixir.ray",
    "RunResult": "zixir.workflow",
    "StepContext": "zixir.workflow",
    "Workflow": "zixir.workflow",
    "WorkflowActor": "zixir.workflow",
    "Stream": "zixir.stream",
    "gather": "zixir.stream",
    "run_async": "zixir.stream",
}
_LAZY_MODULES = (
    "actors",
    "cache",
    "engine",
    "metrics",
    "observability",
    "ray",
    "resilience",
    "sandbox",
    "serialization",
    "stream",
    "tracing",
    "workflow",
)

__all__ = [
    "AbandonedThreadsError",
    "Actor",
    "ActorCrashedError",
    "ActorRef",
    "ArgumentTypeError",
    "AsyncSourceError",
    "BufferFullError",
    "Cache",
    "CacheActor",
    "CacheError",
    "CheckpointMissingError",
    "ChildSpec",
    "ChildStartError",
    "CircuitBreaker",
    "CircuitOpenError",
    "ConfigError",
    "CorruptRecordError",
    "CycleError",
    "DataDirLockedError",
    "DeadlockError",
    "Down",
    "DuplicateNameError",
    "DynamicSupervisor",
    "EmptyInputError",
    "EmptyKeyError",
    "ExitReason",
    "FormatVersionError",
    "GroupLimitError",
    "InvalidArgumentError",
    "ItemTimeoutError",
    "KeyTypeError",
    "LengthMismatchError",
    "LoopBoundError",
    "MailboxFullError",
    "NotNumericError",
    "RayActorDiedError",
    "RayConnectionError",
    "RayNotConnectedError",
    "RayPlacement",
    "RayTaskLostError",
    "RecordNotFoundError",
    "RemoteError",
    "RestartBackoff",
    "RestartIntensityError",
    "RetryError",
    "RetryPolicy",
    "RunMismatchError",
    "RunOwnedError",
    "RunResult",
    "Sandbox",
    "SandboxActor",
    "SandboxClosedError",
    "SandboxError",
    "SandboxLimitError",
    "SandboxResult",
    "SandboxStartError",
    "SandboxTimeoutError",
    "SerializationError",
    "ShapeError",
    "SourceConsumedError",
    "StepContext",
    "StepTimeoutError",
    "Stream",
    "Supervisor",
    "TooManyRunsError",
    "UnknownChildError",
    "UnknownDeadLetterError",
    "UnknownOperationError",
    "UnknownRunError",
    "WorkerCrashedError",
    "Workflow",
    "WorkflowActor",
    "WorkflowDefinitionError",
    "ZeroVectorError",
    "ZixirError",
    "__version__",
    "actors",
    "cache",
    "configure_logging",
    "engine",
    "ensure_started",
    "errors",
    "gather",
    "handle",
    "metrics",
    "observability",
    "ray",
    "resilience",
    "run_async",
    "sandbox",
    "serialization",
    "stream",
    "tracing",
    "whereis",
    "workflow",
]


def __getattr__(name: str) -> _Any:
    if name in _LAZY_NAMES:
        value = getattr(_importlib.import_module(_LAZY_NAMES[name]), name)
    elif name in _LAZY_MODULES:
        value = _importlib.import_module(f"zixir.{name}")
    elif name == "__version__":
        from importlib.metadata import version

        value = version("zixir")  # pyproject.toml is the one source of the version
    else:
        raise AttributeError(f"module 'zixir' has no attribute {name!r}")
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


# Libraries stay silent until the application opts in (loguru's advice for libraries).
_logger.disable("zixir")
