"""What a placed child's refs and stand-in exchange with its Ray actor: records that pickle.

An answer that is none of these records is the handler's return value itself, so an
untraced call that succeeds carries nothing more than a raw Ray actor call does.
"""

from __future__ import annotations

import pickle
import traceback as traceback_module
from typing import Any, NamedTuple

from zixir.actors.messages import ExitKind
from zixir.errors import RemoteError

__all__ = ["TEXT_CAP", "Attributes", "Exit", "Failure", "RemoteExit", "Started", "Traced", "failure_of"]

#: Characters of an exception's message, and of its traceback's end, that travel back.
TEXT_CAP = 16_384

#: An actor's public attributes as its proxy sees them: attribute path -> (callable,
#: traversable), as pykka's proxies introspect them.
Attributes = dict[tuple[str, ...], tuple[bool, bool]]


class Failure(NamedTuple):
    """An exception raised in the Ray actor, on its way back.

    Attributes:
        type_name: The exception's type, qualified by its module unless a builtin.
        message: ``str()`` of the exception.
        traceback: The traceback, formatted in the Ray worker.
        error: The exception itself, with the remote traceback as a note, when it
            survives a pickle round trip and was raised by an asked call; else None.
    """

    type_name: str
    message: str
    traceback: str
    error: BaseException | None = None

    def exception(self) -> BaseException:
        """What an asker gets: the exception itself, or a `RemoteError` standing in for it."""
        return self.error if self.error is not None else self.remote_error()

    def remote_error(self) -> RemoteError:
        """A `RemoteError` with the original's type name, message and traceback."""
        return RemoteError(self.message, self.type_name, self.traceback)


def failure_of(error: BaseException, where: str, *, keep: bool) -> Failure:
    """`error` as a `Failure`.

    Args:
        error: The exception, with its traceback.
        where: Said in the note added to a kept exception (``"the Ray actor of child 'x'"``).
        keep: Send the exception itself when it pickles (for an asker).
    """
    kind = type(error)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    try:
        message = str(error)[:TEXT_CAP]
    except Exception:
        message = f"<{name} whose str() raised>"
    try:
        text = "".join(traceback_module.format_exception(error))[-TEXT_CAP:]
    except Exception:
        text = f"{name}: {message}\n"
    kept: BaseException | None = None
    if keep and isinstance(error, Exception):
        try:
            error.add_note(f"raised in {where}; its traceback there:\n{text}")
            pickle.loads(pickle.dumps(error))
            kept = error
        except Exception:
            kept = None
    return Failure(name, message, text, kept)


class Traced(NamedTuple):
    """The answer of a call that carried a trace context, with the spans that ended in the
    Ray actor meanwhile (`zixir.tracing.wire`); `answer` may be a `Failure`."""

    answer: Any
    spans: bytes


class Started(NamedTuple):
    """The Ray actor built the user's actor and ran its ``on_start``."""

    attributes: Attributes


class Exit(NamedTuple):
    """How the user's actor in the Ray actor ended (the answer of its ``watch``).

    Attributes:
        kind: ``"crash"`` (a told message, ``on_start`` or ``on_stop`` raised),
            ``"normal"`` (it stopped itself) or ``"shutdown"`` (it was stopped).
        failure: What raised, for a crash.
    """

    kind: ExitKind
    failure: Failure | None = None


class RemoteExit(NamedTuple):
    """Told to a stand-in when its Ray actor's ``watch`` answered: how the user's actor
    ended (`exit`), or the error Ray gave instead (`error`: the Ray actor is gone)."""

    exit: Exit | None
    error: BaseException | None
