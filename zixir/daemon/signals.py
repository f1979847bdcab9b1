"""How a daemon hears the outside: SIGTERM/SIGINT to stop, a second one to force, SIGHUP to reopen logs.

Handlers only set flags and wake the main thread: they run between the main thread's
bytecodes, where taking a lock the main thread holds (loguru's, or the one inside a
``threading.Event`` it is waiting on) would deadlock. So the wake-up is a pipe: a handler
writes one byte, which takes no lock. The pipe is also the interpreter's wakeup fd
(`signal.set_wakeup_fd`): a signal delivered to another thread only sets a flag for the
main thread, and would never run its handler while the main thread sleeps in a wait; the
byte the C-level handler writes ends that wait, so the Python handler runs.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import weakref
from types import FrameType

__all__ = ["Signals", "Wakeup"]


class Wakeup:
    """An event that signal handlers and other threads may set without taking a lock.

    `set` writes a byte to a pipe (never blocks: a full pipe is already set); `wait`
    waits for the read end to be readable; `clear` drains it. The pipe closes when the
    object is collected, once nothing can set it any more.
    """

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        weakref.finalize(self, _close, self._read, self._write)

    def set(self) -> None:
        """Wakes the waiter (safe in a signal handler)."""
        with contextlib.suppress(BlockingIOError):  # a full pipe: the waiter wakes anyway
            os.write(self._write, b"\0")

    def wait(self, timeout: float | None = None) -> bool:
        """Waits until set (or `timeout` seconds); returns whether it is set."""
        readable, _, _ = select.select([self._read], [], [], timeout)
        return bool(readable)

    def fileno(self) -> int:
        """The write end, for `signal.set_wakeup_fd`."""
        return self._write

    def clear(self) -> None:
        """Forgets every `set` so far."""
        with contextlib.suppress(BlockingIOError):  # drained
            while os.read(self._read, 4096):
                continue


def _close(*fds: int) -> None:
    for fd in fds:
        os.close(fd)


class Signals:
    """The signals a daemon has received, and an event that wakes its main thread.

    Attributes:
        wake: Set whenever something needs the main thread's attention.
        stop_signal: The signal that asked for the stop, once one did.
        reopen_logs: Set by SIGHUP; the main thread clears it once the logs are reopened.
    """

    def __init__(self) -> None:
        self.wake = Wakeup()
        self.stop_signal: int | None = None
        self.reopen_logs = False
        self._previous: dict[int, object] = {}
        self._previous_wakeup_fd: int | None = None

    def install(self) -> None:
        """Takes over SIGTERM, SIGINT and SIGHUP, and the wakeup fd (call from the main thread)."""
        self._previous_wakeup_fd = signal.set_wakeup_fd(self.wake.fileno(), warn_on_full_buffer=False)
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
        if self._previous_wakeup_fd is not None:
            signal.set_wakeup_fd(self._previous_wakeup_fd)
            self._previous_wakeup_fd = None

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
