"""`SandboxFuture`: the Future of a submitted sandbox call, whose `cancel` also stops a
call that is already running, by killing the worker process that runs it."""

from __future__ import annotations

import threading
from concurrent.futures import CancelledError, Future
from typing import TYPE_CHECKING

from zixir.sandbox.result import SandboxResult

if TYPE_CHECKING:
    from zixir.sandbox.pool import Worker

__all__ = ["SandboxFuture"]


class SandboxFuture(Future[SandboxResult]):
    """What `Sandbox.submit` returns: a `concurrent.futures.Future` of the SandboxResult.

    `cancel` works at any time before the result is set: a call not started yet is
    dropped, and a running call has its worker's process tree killed (the sandbox replaces
    the worker, and the call is not counted by its circuit breaker). Either way the future
    is then cancelled: `cancelled()` is True and `result()` raises CancelledError.
    """

    def __init__(self) -> None:
        super().__init__()
        self._guard = threading.Lock()
        self._worker: Worker | None = None
        self._stopped = False  # cancel() stopped the call after it started

    def cancel(self) -> bool:
        """Cancels the call, killing its worker if it is running.

        Returns:
            False if the call had already ended (its result is set); True otherwise.
        """
        if super().cancel():
            return True
        with self._guard:
            if self._stopped:
                return True
            if self.done():
                return False
            self._stopped = True
            worker = self._worker
        if worker is not None:
            worker.cancel()
        return True

    def cancelled(self) -> bool:
        """True once `cancel` stopped the call (before or while it ran)."""
        return self._stopped or super().cancelled()

    # -- the dispatching thread's side -------------------------------------------------------

    def _attach(self, worker: Worker) -> bool:
        """Notes the worker that runs the call; False if the call was cancelled meanwhile."""
        with self._guard:
            if self._stopped:
                return False
            self._worker = worker
            return True

    def _detach(self) -> None:
        with self._guard:
            self._worker = None

    def _stopped_by_cancel(self) -> bool:
        return self._stopped

    def _settle(self, result: SandboxResult) -> None:
        """Sets the result, or CancelledError if `cancel` stopped the call."""
        with self._guard:
            stopped = self._stopped
        if stopped:
            self.set_exception(CancelledError("the sandbox call was cancelled; its worker was killed"))
        else:
            self.set_result(result)
