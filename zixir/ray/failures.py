"""What went wrong on the Ray side, in Zixir's terms: the user's exception, or why a worker,
an actor or a node is gone.

Ray reports a remote exception as a ``RayTaskError`` wrapping the original, and a lost
actor as a ``RayActorError`` whose text says why. `cause_of` names the cause; `original`
gives the user's exception back (or a `RemoteError` standing in for it).
"""

from __future__ import annotations

from typing import Literal

from zixir.errors import RemoteError

__all__ = ["Cause", "cause_of", "original"]

#: exception: the user's code raised; killed: ``ray.kill``; worker_died: the worker process
#: exited (a crash, a signal); node_died: its node left the cluster; out_of_memory: Ray's
#: OOM killer stopped it; unresponsive: Zixir's health check found it hung; cancelled:
#: ``ray.cancel``; unavailable: Ray could not reach it for now.
Cause = Literal[
    "exception", "killed", "worker_died", "node_died", "out_of_memory", "unresponsive", "cancelled", "unavailable"
]


def cause_of(error: BaseException) -> Cause:
    """The cause of a failure Ray reported for a task or an actor call."""
    from ray import exceptions as rex

    if isinstance(error, (rex.RayTaskError, rex.UnserializableException)):
        return "exception"
    if isinstance(error, rex.TaskCancelledError):
        return "cancelled"
    if isinstance(error, rex.OutOfMemoryError):
        return "out_of_memory"
    if isinstance(error, rex.NodeDiedError):
        return "node_died"
    if isinstance(error, rex.ActorUnavailableError):
        return "unavailable"
    text = str(error).lower()
    if "out of memory" in text or "oom" in text.split():
        return "out_of_memory"
    if "ray.kill" in text:
        return "killed"
    if "node" in text and ("died" in text or "dead" in text) and "worker" not in text:
        return "node_died"
    return "worker_died"


def original(error: BaseException) -> BaseException:
    """The user's exception inside a ``RayTaskError``; other errors as they are.

    When the original could not travel (Ray replaced it, or this process could not rebuild
    it), a `RemoteError` keeps its type name, message and the remote traceback text.
    """
    from ray import exceptions as rex

    if isinstance(error, rex.UnserializableException):
        return RemoteError(str(error), "Exception", str(error))
    if not isinstance(error, rex.RayTaskError):
        return error
    cause = error.cause
    if isinstance(cause, Exception) and not isinstance(cause, rex.RayError):
        return cause
    type_name = type(cause).__qualname__ if cause is not None else "Exception"
    # the instance `ray.get` raises forwards unknown attributes to its cause, which has no text
    return RemoteError(str(cause), type_name, getattr(error, "traceback_str", None) or str(error))
