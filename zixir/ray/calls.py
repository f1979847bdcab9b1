"""Sending to a child's Ray actor: the futures its asks return, and Ray's errors in Zixir's terms.

A call goes to the Ray actor from the caller's thread (Ray runs one process's calls to an
actor in the order they were sent). Its future waits on Ray's object ref when asked for
the answer; Ray's timeout is ``pykka.Timeout``, a lost actor ``pykka.ActorDeadError``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import pykka

from zixir.actors._pykka import future_has_result
from zixir.actors.ref import Future
from zixir.errors import DeadlockError
from zixir.ray.protocol import Failure, Traced

__all__ = ["RayFuture", "answer", "last_line", "lost", "settled_by", "spans_later", "unwrap"]

T = TypeVar("T")


class RayFuture(Future[T]):
    """The future of a call to a Ray actor: ``get()`` waits on its object ref, once.

    Made empty (pykka's `map`, `join` and `stop` make their futures with no arguments),
    then pointed at a call with `bind`.
    """

    object_ref: Any = None
    _who = ""
    _handler_thread: threading.Thread | None = None
    _settling: threading.Lock | None = None

    def bind(
        self, object_ref: Any, who: str, default_timeout: float | None, thread: threading.Thread | None = None
    ) -> RayFuture[T]:
        """Points the future at a call.

        Args:
            object_ref: The call's object ref.
            who: The actor, as error messages name it.
            default_timeout: Seconds ``get()`` waits when given none (the class's ``ask_timeout``).
            thread: The thread that handles the actor's messages, when it is in this process
                (a Ray actor calling itself): waiting there raises DeadlockError.

        Returns:
            The future.
        """
        self.object_ref = object_ref
        self._who = who
        self._default_timeout = default_timeout
        self._handler_thread = thread
        self._settling = threading.Lock()
        return self

    def get(self, *, timeout: float | None = None) -> Any:
        """Waits for the answer (see `pykka.Future.get`); later calls return it at once.

        Raises:
            pykka.Timeout: no answer within `timeout` (or the class's ``ask_timeout``).
            pykka.ActorDeadError: the Ray actor is gone.
            DeadlockError: called in the actor's own thread, which could never answer.
            Exception: what the handler raised.
        """
        settling = self._settling
        if settling is None:  # made by map(), join()...: pykka's own future
            return super().get(timeout=timeout)
        if self._handler_thread is threading.current_thread():
            raise DeadlockError(
                f"{self._who} waited for an answer from itself, which would block forever; "
                "call the method directly (self.method()) instead of through the actor's ref or proxy"
            )
        with settling:
            if not future_has_result(self):
                try:
                    value = answer(self.object_ref, self._default_timeout if timeout is None else timeout, self._who)
                except pykka.Timeout:
                    raise  # not settled: a later get waits again
                except Exception:
                    self.set_exception()
                else:
                    self.set(value)
        return super().get(timeout=0)


def answer(object_ref: Any, timeout: float | None, who: str) -> Any:
    """Waits up to `timeout` seconds for the answer behind `object_ref`.

    Raises:
        pykka.Timeout: no answer in time.
        pykka.ActorDeadError: the Ray actor is gone.
        Exception: what the handler raised (or, if it did not pickle, a RemoteError).
    """
    import ray
    from ray import exceptions as rex

    try:
        value = ray.get(object_ref, timeout=timeout)
    except rex.GetTimeoutError:
        raise pykka.Timeout(f"{who} did not answer within {timeout} s") from None
    except rex.RayActorError as exc:
        raise lost(who, exc) from exc
    except rex.RayTaskError as exc:  # the message or answer did not cross: Ray's own report
        from zixir.ray.failures import original

        raise original(exc) from None
    return unwrap(value)


def unwrap(value: Any) -> Any:
    """The answer in `value`: its spans exported, a `Failure` raised."""
    kind = type(value)
    if kind is Traced:
        from zixir.tracing import wire

        wire.receive(value.spans)
        value = value.answer
        kind = type(value)
    if kind is Failure:
        raise value.exception()
    return value


def lost(who: str, error: BaseException) -> pykka.ActorDeadError:
    """The ActorDeadError for a call whose Ray actor is gone (`error`, Ray's report)."""
    from zixir.ray.failures import cause_of

    return pykka.ActorDeadError(f"{who} is gone ({cause_of(error)}): {last_line(error)}")


def last_line(error: BaseException) -> str:
    """The last line of Ray's report, which says why (``The actor is dead because ...``)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def settled_by(object_ref: Any, future: Future[Any], convert: Callable[[Any], Any], who: str) -> None:
    """Settles `future` from Ray's callback once `object_ref` is done, so that it holds its
    answer without anyone waiting (a health check reads it without blocking)."""

    def done(outcome: Any) -> None:
        try:
            value = convert(outcome.result())
        except Exception as exc:
            from ray import exceptions as rex

            error = lost(who, exc) if isinstance(exc, rex.RayActorError) else exc
            with contextlib.suppress(Exception):  # settled meanwhile: nothing to tell
                future.set_exception((type(error), error, error.__traceback__))
            return
        with contextlib.suppress(Exception):
            future.set(value)

    object_ref.future().add_done_callback(done)


def spans_later(object_ref: Any) -> None:
    """Exports the spans a traced tell sends back, when its answer arrives (nobody waits on it)."""

    def done(outcome: Any) -> None:
        with contextlib.suppress(Exception):  # the actor is gone: its spans with it
            value = outcome.result()
            if type(value) is Traced:
                from zixir.tracing import wire

                wire.receive(value.spans)

    object_ref.future().add_done_callback(done)
