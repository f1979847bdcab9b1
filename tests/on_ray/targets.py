"""Actor classes the Ray tests place on Ray: importable by the Ray workers, which share the
test process's sys.path."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pykka

from zixir import Actor, tracing

WAIT = 20.0  # seconds for anything that involves starting a Ray worker


class Boom(Exception):
    """A user's own exception type."""


@pykka.traversable
class Meter:
    """A traversable attribute: its methods are reached through the actor's proxy."""

    def __init__(self) -> None:
        self.reading = 0

    def add(self, amount: int) -> int:
        self.reading += amount
        return self.reading


class Worker(Actor):
    """A worker whose methods run in its Ray worker."""

    def __init__(self, factor: int = 1, marker: str | None = None) -> None:
        super().__init__()
        self.factor = factor
        self.marker = marker
        self.meter = Meter()
        self._hang = threading.Event()

    def on_start(self) -> None:
        if self.factor < 0:
            raise Boom(f"factor {self.factor} is negative")

    def work(self, x: int) -> int:
        return x * self.factor

    def traced_work(self, x: int) -> int:
        with tracing.span("inner", x=x):
            return x * self.factor

    def fail(self) -> None:
        raise Boom("nope")

    def hang(self) -> None:
        self._hang.wait()  # until its Ray actor is killed

    def quit(self) -> None:
        self.stop()

    def ask_myself(self) -> Any:
        return self.actor_ref.ask("anyone there?")  # would wait forever: DeadlockError

    def on_receive(self, message: Any) -> Any:
        return f"got {message!r}"

    def on_stop(self) -> None:
        if self.marker is not None:
            Path(self.marker).write_text("on_stop ran")


class Strict(Worker):
    """Crashes when an asked call raises, too."""

    crash_on_ask_error = True


class Local(Actor):
    """A local child beside the placed ones."""

    def ping(self) -> str:
        return "pong"
