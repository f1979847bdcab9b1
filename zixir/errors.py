"""Every error Zixir raises, in one place.

Each error's name says the condition; each also inherits the builtin it resembles, so
``except ValueError`` keeps working for callers that do not know Zixir. Every error pickles
with its attributes (across processes: sandboxes, Ray).
"""

from __future__ import annotations

import inspect
import pickle
import traceback
import weakref
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from zixir.sandbox.result import SandboxResult

__all__ = [
    "AbandonedThreadsError",
    "ActorCrashedError",
    "ArgumentTypeError",
    "AsyncSourceError",
    "BufferFullError",
    "CacheError",
    "CheckpointMissingError",
    "ChildStartError",
    "CircuitOpenError",
    "ConfigError",
    "CorruptRecordError",
    "CycleError",
    "DataDirLockedError",
    "DeadlockError",
    "DuplicateNameError",
    "EmptyInputError",
    "EmptyKeyError",
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
    "RayTaskLostError",
    "RecordNotFoundError",
    "RemoteError",
    "RestartIntensityError",
    "RetryError",
    "RunMismatchError",
    "RunOwnedError",
    "SandboxClosedError",
    "SandboxError",
    "SandboxLimitError",
    "SandboxStartError",
    "SandboxTimeoutError",
    "SerializationError",
    "ShapeError",
    "SourceConsumedError",
    "StepTimeoutError",
    "TooManyRunsError",
    "UnknownChildError",
    "UnknownDeadLetterError",
    "UnknownOperationError",
    "UnknownRunError",
    "WorkerCrashedError",
    "WorkflowDefinitionError",
    "ZeroVectorError",
    "ZixirError",
]


#: Each ``__init__`` parameter after self: its name, and whether it is keyword-only.
_Parameters: TypeAlias = tuple[tuple[str, bool], ...]


class ZixirError(Exception):
    """Base class of every error raised by Zixir.

    Errors pickle with their attributes: an error with its own ``__init__`` is rebuilt by
    calling it with the attributes named after its parameters (the first, the message,
    comes from ``args`` when it is not stored), so each other parameter must be stored
    under its own name.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        state = dict(self.__dict__)
        parameters = _init_parameters(type(self))
        if parameters is None:  # the builtin's __init__: its args rebuild it
            return type(self), self.args, state or None
        positional: list[Any] = []
        keywords: dict[str, Any] = {}
        missing = []
        for index, (name, keyword_only) in enumerate(parameters):
            if name in state:
                value = state.pop(name)
            elif index == 0:  # the message, kept in args
                value = self.args[0] if self.args else ""
            else:
                missing.append(name)
                continue
            if keyword_only:
                keywords[name] = value
            else:
                positional.append(value)
        if missing:
            raise TypeError(
                f"{type(self).__qualname__} cannot be pickled: store its "
                f"__init__ arguments {missing} as attributes of the same names"
            )
        return _rebuild, (type(self), tuple(positional), keywords), state or None


# One entry per live error class that was pickled (weak: classes made on the fly go away).
_PARAMETERS: weakref.WeakKeyDictionary[type[ZixirError], _Parameters | None] = weakref.WeakKeyDictionary()


def _init_parameters(cls: type[ZixirError]) -> _Parameters | None:
    """(name, keyword-only) of each ``__init__`` parameter after self; None for a builtin's."""
    if cls not in _PARAMETERS:
        owner = next(klass for klass in cls.__mro__ if "__init__" in vars(klass))
        if not issubclass(owner, ZixirError):
            _PARAMETERS[cls] = None
        else:
            found = list(inspect.signature(owner.__init__).parameters.values())[1:]
            _PARAMETERS[cls] = tuple(
                (p.name, p.kind is p.KEYWORD_ONLY) for p in found if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            )
    return _PARAMETERS[cls]


def _rebuild(cls: type[ZixirError], args: tuple[Any, ...], kwargs: dict[str, Any]) -> ZixirError:
    """Unpickles an error: ``cls(*args, **kwargs)``."""
    return cls(*args, **kwargs)


def _portable(error: BaseException) -> BaseException:
    """`error` itself if it survives a pickle round trip, else a RemoteError standing in for it."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        kind = type(error)
        name = f"{kind.__module__}.{kind.__qualname__}"
        text = "".join(traceback.format_exception(error))
        return RemoteError(f"{name}: {error}", name, text)
    return error


class InvalidArgumentError(ValueError, ZixirError):
    """An argument has the right type but a value that cannot work (NaN, negative, out of range).

    Attributes:
        argument: The argument's name.
    """

    def __init__(self, message: str, argument: str) -> None:
        super().__init__(message)
        self.argument = argument


class ArgumentTypeError(TypeError, ZixirError):
    """An argument is of a type the call does not accept.

    Attributes:
        argument: The argument's name.
    """

    def __init__(self, message: str, argument: str) -> None:
        super().__init__(message)
        self.argument = argument


class LengthMismatchError(ValueError, ZixirError):
    """Two sequences that must have the same length do not.

    Attributes:
        lengths: The two lengths that differ.
    """

    def __init__(self, message: str, lengths: tuple[int, int]) -> None:
        super().__init__(message)
        self.lengths = lengths


class NotNumericError(TypeError, ZixirError):
    """An element of a numeric input is not an int or a float.

    Attributes:
        index: Position of the offending element (``None`` for a scalar argument).
    """

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


class EmptyInputError(ValueError, ZixirError):
    """An operation that has no answer for an empty input was given one."""


class ShapeError(ValueError, ZixirError):
    """Matrix dimensions do not match the data, or each other."""


class ZeroVectorError(ValueError, ZixirError):
    """A vector with no direction (all zeros, or empty) was given where one is needed."""


class UnknownOperationError(ValueError, ZixirError):
    """``engine.run`` was asked for an operation that does not exist."""


class CircuitOpenError(RuntimeError, ZixirError):
    """A circuit breaker is open: the call was refused without being made.

    Attributes:
        breaker: The breaker's name.
        retry_after: Seconds until the breaker lets a probe call through.
    """

    def __init__(self, message: str, breaker: str, retry_after: float) -> None:
        super().__init__(message)
        self.breaker = breaker
        self.retry_after = retry_after


class RetryError(RuntimeError, ZixirError):
    """A retry policy gave up.

    Attributes:
        errors: Every attempt's exception, in order (the last is also ``__cause__``).
    """

    def __init__(self, message: str, errors: list[BaseException]) -> None:
        super().__init__(message)
        self.errors = errors

    def __reduce__(self) -> tuple[Any, ...]:
        # An attempt's error that cannot cross a pickle becomes a RemoteError, so the
        # RetryError itself always can.
        rebuild, (cls, (message, errors), keywords), state = super().__reduce__()
        portable = [_portable(error) for error in errors]
        return rebuild, (cls, (message, portable), keywords), state


class MailboxFullError(RuntimeError, ZixirError):
    """A message could not be delivered because the actor's bounded mailbox stayed full.

    Attributes:
        actor: The actor's description.
        size: The mailbox's bound.
    """

    def __init__(self, message: str, actor: str, size: int) -> None:
        super().__init__(message)
        self.actor = actor
        self.size = size


class DeadlockError(RuntimeError, ZixirError):
    """An actor waited for an answer that only its own thread could give."""


class ActorCrashedError(RuntimeError, ZixirError):
    """An actor stopped because an actor it is linked to crashed.

    Attributes:
        origin: Description of the actor whose crash propagated.
    """

    def __init__(self, message: str, origin: str) -> None:
        super().__init__(message)
        self.origin = origin


class DuplicateNameError(ValueError, ZixirError):
    """A name for an actor or child is already taken in this process."""


class ChildStartError(RuntimeError, ZixirError):
    """A supervisor could not start a child (its ``on_start`` failed).

    Attributes:
        child: The child's name.
    """

    def __init__(self, message: str, child: str) -> None:
        super().__init__(message)
        self.child = child


class RestartIntensityError(RuntimeError, ZixirError):
    """A supervisor gave up: its children crashed more often than its restart intensity allows.

    Attributes:
        restarts: The allowed number of restarts.
        within: The window, in seconds.
    """

    def __init__(self, message: str, restarts: int, within: float) -> None:
        super().__init__(message)
        self.restarts = restarts
        self.within = within


class UnknownChildError(KeyError, ZixirError):
    """A supervisor has no child of that name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CacheError(RuntimeError, ZixirError):
    """The cache's storage failed (cannot open, disk full...); nothing committed is lost."""


class CorruptRecordError(CacheError):
    """A stored record cannot be read back; every other key stays readable.

    Attributes:
        key: The key whose record is corrupt.
    """

    def __init__(self, message: str, key: str | bytes) -> None:
        super().__init__(message)
        self.key = key


class RecordNotFoundError(KeyError, ZixirError):
    """A cache table has no record with that id (never inserted, or deleted).

    Attributes:
        table: The table's name.
        id: The id no record of `table` has.
    """

    def __init__(self, message: str, table: str, id: int) -> None:
        super().__init__(message)
        self.table = table
        self.id = id

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class KeyTypeError(TypeError, ZixirError):
    """A cache key is neither str nor bytes."""


class EmptyKeyError(ValueError, ZixirError):
    """A cache key is empty."""


class SerializationError(TypeError, ZixirError):
    """A value cannot be serialized, or bytes cannot be deserialized."""


class FormatVersionError(SerializationError):
    """Stored bytes were written by a newer Zixir format than this one reads.

    Attributes:
        version: The format version found in the data.
    """

    def __init__(self, message: str, version: int) -> None:
        super().__init__(message)
        self.version = version


class SandboxError(RuntimeError, ZixirError):
    """A sandboxed call did not return a value; raised by `SandboxResult.unwrap`.

    Attributes:
        result: The call's SandboxResult: its reason, error, traceback text, output...
    """

    def __init__(self, message: str, result: SandboxResult) -> None:
        super().__init__(message)
        self.result = result


class SandboxClosedError(RuntimeError, ZixirError):
    """The sandbox is closed, or belongs to another process; the call was not made."""


class SandboxStartError(RuntimeError, ZixirError):
    """A sandbox's fork server or worker could not start (or the platform is not Linux)."""


class SandboxLimitError(RuntimeError, ZixirError):
    """A sandboxed call went over one of its limits; the `error` of its SandboxResult.

    Attributes:
        reason: The limit: ``"timeout"``, ``"cpu"``, ``"memory"``, ``"depth"`` or ``"output"``.
        limit: The limit's value (seconds, bytes or levels).
        used: What the call had used when it was stopped, in the same unit.
    """

    def __init__(self, message: str, reason: str, limit: float, used: float) -> None:
        super().__init__(message)
        self.reason = reason
        self.limit = limit
        self.used = used


class SandboxTimeoutError(SandboxLimitError, TimeoutError):
    """A sandboxed call ran past its wall-clock timeout and its worker was killed."""


class WorkerCrashedError(ChildProcessError, ZixirError):
    """A sandbox worker died while running a call (a signal, or an exit), or fn called sys.exit.

    Attributes:
        exit_code: The exit status, if the worker exited (or fn called sys.exit).
        signal: The number of the signal that killed the worker, if one did.
    """

    def __init__(self, message: str, exit_code: int | None = None, signal: int | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.signal = signal

    def __str__(self) -> str:  # OSError would format a one-argument message the same way
        return str(self.args[0]) if self.args else ""


class RayActorDiedError(RuntimeError, ZixirError):
    """A child placed on Ray lost its Ray actor: killed, its worker or node gone, out of memory.

    The crash its supervisor sees (and restarts by the child's restart type).

    Attributes:
        child: The child's name.
        cause: Why, as `zixir.ray.failures.cause_of` names it: ``"killed"``,
            ``"worker_died"``, ``"node_died"``, ``"out_of_memory"`` or ``"unavailable"``.
    """

    def __init__(self, message: str, child: str, cause: str) -> None:
        super().__init__(message)
        self.child = child
        self.cause = cause


class RemoteError(RuntimeError, ZixirError):
    """Stands in for an exception raised in a sandbox that could not be sent back as itself.

    The original could not be pickled, or pickled but could not be rebuilt here (an
    ``__init__`` that takes other arguments than its ``args``, a class this process cannot
    import). Its type's name, message and traceback text are kept.

    Attributes:
        type_name: The original exception's qualified type name, e.g. ``"app.QuotaError"``.
        remote_traceback: The original traceback, formatted in the worker.
    """

    def __init__(self, message: str, type_name: str, remote_traceback: str) -> None:
        super().__init__(message)
        self.type_name = type_name
        self.remote_traceback = remote_traceback


class ConfigError(ValueError, ZixirError):
    """A daemon's configuration file is wrong: its message names the file and the dotted key.

    Attributes:
        file: The configuration file.
        key: The dotted key that is wrong (``"children[2].restart"``), or "" for the file.
    """

    def __init__(self, message: str, file: str, key: str) -> None:
        super().__init__(message)
        self.file = file
        self.key = key


class DataDirLockedError(RuntimeError, ZixirError):
    """Another daemon holds the data directory.

    Attributes:
        data_dir: The directory.
        pid: The holder's process id, when its ``daemon.json`` says it (else None).
    """

    def __init__(self, message: str, data_dir: str, pid: int | None) -> None:
        super().__init__(message)
        self.data_dir = data_dir
        self.pid = pid


class RayConnectionError(ConnectionError, ZixirError):
    """A Ray cluster could not be reached at the address given.

    Attributes:
        address: The address, as given.
    """

    __reduce__ = ZixirError.__reduce__  # OSError's own would come first in the MRO

    def __init__(self, message: str, address: str) -> None:
        super().__init__(message)
        self.address = address


class CycleError(ValueError, ZixirError):
    """A workflow's steps depend on each other in a cycle.

    Attributes:
        cycle: The steps of the cycle in order, the first repeated at the end
            (``("a", "b", "a")``).
    """

    def __init__(self, message: str, cycle: tuple[str, ...]) -> None:
        super().__init__(message)
        self.cycle = cycle


class WorkflowDefinitionError(ValueError, ZixirError):
    """A workflow is defined in a way that cannot run: an unknown dependency or input, a
    parameter that maps to nothing, a step named like an input.

    Attributes:
        step: The step at fault.
    """

    def __init__(self, message: str, step: str) -> None:
        super().__init__(message)
        self.step = step


class RunMismatchError(ValueError, ZixirError):
    """A run was resumed with other inputs, or under another DAG shape, than it started with.

    Attributes:
        run_id: The run's id.
    """

    def __init__(self, message: str, run_id: str) -> None:
        super().__init__(message)
        self.run_id = run_id


class RunOwnedError(RuntimeError, ZixirError):
    """A run is owned by another live process (or another call in this one), or was taken over.

    Attributes:
        run_id: The run's id.
    """

    def __init__(self, message: str, run_id: str) -> None:
        super().__init__(message)
        self.run_id = run_id


class UnknownRunError(KeyError, ZixirError):
    """A workflow's store holds no run with that id (never started, or pruned).

    Attributes:
        run_id: The id no run has.
    """

    def __init__(self, message: str, run_id: str) -> None:
        super().__init__(message)
        self.run_id = run_id

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownDeadLetterError(KeyError, ZixirError):
    """A workflow's store holds no dead letter with that id (discarded, or its run pruned).

    Attributes:
        entry_id: The id no dead letter has.
    """

    def __init__(self, message: str, entry_id: str) -> None:
        super().__init__(message)
        self.entry_id = entry_id

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CheckpointMissingError(LookupError, ZixirError):
    """A replay needs a checkpoint that is gone (its run was pruned, or the step kept none).

    Attributes:
        run_id: The run's id.
        step: The step whose checkpoint is missing.
    """

    def __init__(self, message: str, run_id: str, step: str) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.step = step


class StepTimeoutError(TimeoutError, ZixirError):
    """A workflow step's attempt ran past the step's timeout.

    Attributes:
        step: The step's name.
        timeout: The step's timeout in seconds.
    """

    def __init__(self, message: str, step: str, timeout: float) -> None:
        super().__init__(message)
        self.step = step
        self.timeout = timeout

    __reduce__ = ZixirError.__reduce__  # OSError's own would rebuild it from the message alone


class AbandonedThreadsError(RuntimeError, ZixirError):
    """A thread step's attempt was refused: the workflow already has as many abandoned
    (timed-out, still running) threads as it allows.

    Attributes:
        step: The step whose attempt was refused.
        limit: How many abandoned threads the workflow allows (its ``max_workers``).
    """

    def __init__(self, message: str, step: str, limit: int) -> None:
        super().__init__(message)
        self.step = step
        self.limit = limit


class TooManyRunsError(RuntimeError, ZixirError):
    """A WorkflowActor was asked to start a run while its `max_runs` runs are in flight.

    Attributes:
        limit: Its ``max_runs``.
    """

    def __init__(self, message: str, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class SourceConsumedError(RuntimeError, ZixirError):
    """A stream's source is a one-shot iterator (a generator) that an earlier run consumed.

    A Stream is a description: each run iterates its source again, which a list or a range
    allows and a generator does not.
    """


class AsyncSourceError(TypeError, ZixirError):
    """A sync way of running a stream (``for``, ``to_list()``...) met an async source or stage."""


class BufferFullError(RuntimeError, ZixirError):
    """A stream buffer with ``overflow="fail"`` was full when an item arrived.

    Attributes:
        size: The buffer's bound.
    """

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size


class ItemTimeoutError(TimeoutError, ZixirError):
    """The next item of a stream took longer than its ``timeout(seconds)`` stage allows.

    Attributes:
        seconds: The stage's limit.
    """

    def __init__(self, message: str, seconds: float) -> None:
        super().__init__(message)
        self.seconds = seconds

    __reduce__ = ZixirError.__reduce__  # OSError's own would drop `seconds`

    def __str__(self) -> str:  # OSError would format a one-argument message the same way
        return str(self.args[0]) if self.args else ""


class GroupLimitError(RuntimeError, ZixirError):
    """``group_by`` met a new key while it already held ``max_groups`` open groups.

    Attributes:
        limit: The ``max_groups`` bound.
    """

    def __init__(self, message: str, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class LoopBoundError(RuntimeError, ZixirError):
    """`zixir.run_async` was given an awaitable bound to the event loop of the calling thread.

    Running it on another loop would fail or deadlock: await it instead.
    """


class RayNotConnectedError(RuntimeError, ZixirError):
    """A Ray feature (such as a workflow step with ``executor="ray"``) was used while this
    process has no Ray connection: call ``zixir.ray.connect()`` (or ``connect("host:port")``)
    first."""


class RayTaskLostError(RuntimeError, ZixirError):
    """A workflow step's Ray task ended without a result or an exception of the step's own:
    its worker or node died, Ray's OOM killer stopped it, or it was cancelled or killed
    from outside.

    Attributes:
        step: The step's name.
        cause: Why, as `zixir.ray.failures.cause_of` names it ("worker_died", "node_died",
            "out_of_memory", "killed", "cancelled", "unavailable"...).
    """

    def __init__(self, message: str, step: str, cause: str) -> None:
        super().__init__(message)
        self.step = step
        self.cause = cause
