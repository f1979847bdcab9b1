"""Every error Zixir raises, in one place.

Each error's name says the condition; each also inherits the builtin it resembles, so
``except ValueError`` keeps working for callers that do not know Zixir.
"""

from __future__ import annotations

__all__ = [
    "ActorCrashedError",
    "CacheError",
    "ChildStartError",
    "CircuitOpenError",
    "CorruptRecordError",
    "DeadlockError",
    "DuplicateNameError",
    "EmptyInputError",
    "EmptyKeyError",
    "FormatVersionError",
    "KeyTypeError",
    "LengthMismatchError",
    "MailboxFullError",
    "NotNumericError",
    "RecordNotFoundError",
    "RestartIntensityError",
    "RetryError",
    "SerializationError",
    "ShapeError",
    "UnknownChildError",
    "UnknownOperationError",
    "ZeroVectorError",
    "ZixirError",
]


class ZixirError(Exception):
    """Base class of every error raised by Zixir."""


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
