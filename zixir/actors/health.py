"""Hang detection beyond OTP: a thread that pings a supervisor's children.

A child that does not answer a ping in time is reported to its supervisor, which
abandons it (a Python thread cannot be killed) and restarts a fresh incarnation.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import pykka
from loguru import logger

from zixir.actors.messages import _Ping

__all__ = ["HealthChecker", "Unresponsive"]


@dataclass(frozen=True, slots=True)
class Unresponsive:
    """Told to a supervisor: the child `ref` did not answer a health check."""

    ref: pykka.ActorRef[Any]


class HealthChecker:
    """Pings every running child of a supervisor each `interval` seconds.

    Args:
        supervisor: The supervisor's ref; its ``child_refs()`` lists the children.
        interval: Seconds between rounds.
        timeout: Seconds a child has to answer.
    """

    def __init__(self, supervisor: pykka.ActorRef[Any], interval: float, timeout: float) -> None:
        self._supervisor = supervisor
        self._interval = interval
        self._timeout = timeout
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"health-{supervisor.actor_urn[-8:]}", daemon=True)

    def start(self) -> None:
        """Starts the pinging thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stops the pinging thread (it finishes its current ping first)."""
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(self._timeout + 1.0)

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                children: list[tuple[str, Any]] = self._supervisor.ask(
                    "__child_refs__", block=True, timeout=self._timeout + 1.0
                )
            except (pykka.ActorDeadError, pykka.Timeout):
                return
            pings = [(ref, ref.ask(_Ping(), block=False)) for _, ref in children]
            for ref, future in pings:
                try:
                    future.get(timeout=self._timeout)
                except pykka.Timeout:
                    logger.warning("{} did not answer a health check within {} s", ref, self._timeout)
                    try:
                        self._supervisor.tell(Unresponsive(ref))
                    except pykka.ActorDeadError:
                        return
                except Exception:  # noqa: BLE001 - it died meanwhile: its Down is on the way
                    continue
