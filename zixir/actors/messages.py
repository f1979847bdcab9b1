"""Why an actor exited, and the system messages actors exchange about it.

Every exit has an `ExitReason`; monitors receive it in a `Down` message.
"""

from __future__ import annotations

import traceback as traceback_module
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from zixir.errors import RemoteError

if TYPE_CHECKING:
    import pykka

__all__ = ["Down", "ExitKind", "ExitReason"]

#: normal: the actor stopped itself; shutdown: it was stopped from outside; crash: it failed.
ExitKind = Literal["normal", "shutdown", "crash"]


@dataclass(frozen=True, slots=True)
class ExitReason:
    """Why an actor exited.

    Attributes:
        kind: ``"normal"`` (stopped itself), ``"shutdown"`` (stopped from outside) or
            ``"crash"`` (an exception in ``on_start``, a told message, ``on_stop``...).
        error_type: The exception's class name for a crash, else None.
        message: The exception's text for a crash, else None.
        traceback: The formatted traceback for a crash, else None.
        exception: The exception object for a crash, else None.
    """

    kind: ExitKind
    error_type: str | None = None
    message: str | None = None
    traceback: str | None = None
    exception: BaseException | None = None

    @property
    def abnormal(self) -> bool:
        """True for a crash: the exits that links propagate and supervisors restart."""
        return self.kind == "crash"

    @classmethod
    def crash(cls, error: BaseException, tb: TracebackType | None = None) -> ExitReason:
        """The reason for a crash by `error`.

        A `RemoteError` (an exception raised in another process, such as a child's Ray
        actor) gives its original's type name and traceback, not its own.
        """
        if isinstance(error, RemoteError):
            return cls("crash", error.type_name, str(error), error.remote_traceback, error)
        text = "".join(traceback_module.format_exception(type(error), error, tb or error.__traceback__))
        return cls("crash", type(error).__name__, str(error), text, error)

    def __str__(self) -> str:
        if self.kind != "crash":
            return self.kind
        return f"crash: {self.error_type}: {self.message}"


@dataclass(frozen=True, slots=True)
class Down:
    """Delivered to a monitoring actor's ``on_down`` when the monitored actor exits.

    Attributes:
        ref: The actor that exited.
        reason: Why it exited (``noproc`` crash if it was not running when monitored).
    """

    ref: pykka.ActorRef[Any]
    reason: ExitReason


class _LinkedExit(NamedTuple):
    """System message: a linked actor exited abnormally."""

    ref: pykka.ActorRef[Any]
    reason: ExitReason


class _Ping(NamedTuple):
    """System message: answered by the actor loop itself, to detect hung actors."""


class _Started(NamedTuple):
    """System message to a supervisor: the child `ref` started without being waited for
    has returned from ``on_start`` (a failed start arrives as its `Down` instead)."""

    ref: pykka.ActorRef[Any]


class _StartTimedOut(NamedTuple):
    """System message to a supervisor, from its timer: the start of `ref` is due."""

    ref: pykka.ActorRef[Any]
