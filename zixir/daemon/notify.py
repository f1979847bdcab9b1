"""systemd's notify protocol (``Type=notify``), spoken directly: one datagram per message.

systemd passes the socket's address in ``NOTIFY_SOCKET``; without it every call does
nothing, so a daemon runs the same under systemd and outside it. See sd_notify(3).
"""

from __future__ import annotations

import os
import socket

from loguru import logger

__all__ = ["Notifier", "watchdog_interval"]


class Notifier:
    """Sends ``READY=1``, ``STATUS=...``, ``STOPPING=1`` and ``WATCHDOG=1`` to systemd.

    Args:
        address: The notify socket's path (``@name`` for the abstract namespace); by
            default ``$NOTIFY_SOCKET``. None or empty: not under systemd, nothing is sent.
    """

    def __init__(self, address: str | None = None) -> None:
        address = os.environ.get("NOTIFY_SOCKET") if address is None else address
        self.address = address or None

    @property
    def enabled(self) -> bool:
        """Whether there is a socket to send to."""
        return self.address is not None

    def send(self, *assignments: str) -> bool:
        """Sends ``KEY=value`` lines in one datagram; returns whether it was sent.

        A failure is logged, never raised: a daemon must not die because systemd went away.
        """
        if self.address is None:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto("\n".join(assignments).encode(), target)
        except OSError as exc:
            logger.warning("Could not notify systemd at {}: {}", self.address, exc)
            return False
        return True

    def ready(self, status: str) -> bool:
        """The service is up (``READY=1``), with a status line."""
        return self.send("READY=1", f"STATUS={status}")

    def status(self, status: str) -> bool:
        """A free-form status line, shown by ``systemctl status``."""
        return self.send(f"STATUS={status}")

    def stopping(self, status: str) -> bool:
        """The service is shutting down (``STOPPING=1``)."""
        return self.send("STOPPING=1", f"STATUS={status}")

    def watchdog(self) -> bool:
        """The service is healthy (``WATCHDOG=1``); systemd restarts it when these stop."""
        return self.send("WATCHDOG=1")


def watchdog_interval() -> float | None:
    """Seconds between ``WATCHDOG=1`` pings: half of ``$WATCHDOG_USEC``, as sd_watchdog_enabled(3)
    advises; None when systemd asked for no watchdog, or asked another process (``$WATCHDOG_PID``)."""
    usec, pid = os.environ.get("WATCHDOG_USEC"), os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        seconds = int(usec) / 1e6
    except ValueError:
        logger.warning("Ignoring WATCHDOG_USEC={!r}: not a number of microseconds", usec)
        return None
    return seconds / 2 if seconds > 0 else None
