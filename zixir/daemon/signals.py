"""How a daemon hears the outside: SIGTERM/SIGINT to stop, a second one to force, SIGHUP to reopen logs.

Handlers only set flags and wake the main thread: they run between the main thread's
bytecodes, where taking a lock the main thread holds (loguru's, say) would deadlock.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

__all__ = ["Signals"]


class Signals:
    """The signals a daemon has received, and an event that wakes its main thread.

    Attributes:
        wake: Set whenever something needs the main thread's attention.
        stop_signal: The signal that asked for the stop, once one did.
        reopen_logs: Set by SIGHUP; the main thread clears it once the logs are reopened.
    """

    def __init__(self) -> None:
        self.wake = threading.Event()
        self.stop_signal: int | None = None
        self.reopen_logs = False
        self._previous: dict[int, object] = {}

    def install(self) -> None:
        """Takes over SIGTERM, SIGINT and SIGHUP (call from the main thread)."""
        for signum, handler in (
            (signal.SIGTERM, self._on_stop),
            (signal.SIGINT, self._on_stop),
            (signal.SIGHUP, self._on_hup),
        ):
            self._previous[signum] = signal.signal(signum, handler)

    def restore(self) -> None:
        """Puts back the handlers that were there before `install`."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous.clear()

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        if self.stop_signal is not None:
            # The second: the operator does not want to wait for the shutdown.
            os.write(2, f"zixir: second {signal.Signals(signum).name}: exiting now\n".encode())
            os._exit(128 + signum)
        self.stop_signal = signum
        self.wake.set()

    def _on_hup(self, signum: int, frame: FrameType | None) -> None:
        self.reopen_logs = True
        self.wake.set()
