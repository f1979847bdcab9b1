"""Helpers for the actor tests: waiting for restarts and recording lifecycles."""

from __future__ import annotations

import threading
from typing import Any

import pykka

from zixir.actors import Actor, ExitReason, registry

WAIT = 5.0

#: (event, name) pairs, appended by every Probe; tests read the order of starts and stops.
journal: list[tuple[str, str]] = []
_journal_lock = threading.Lock()


def note(event: str, name: str) -> None:
    with _journal_lock:
        journal.append((event, name))


class Probe(Actor):
    """A worker that journals its start and exit and can be made to fail."""

    def __init__(self, name: str = "probe", fail_start: bool = False) -> None:
        super().__init__()
        self.label = name
        self.fail_start = fail_start

    def on_start(self) -> None:
        if self.fail_start:
            raise RuntimeError(f"{self.label} cannot start")
        note("start", self.label)

    def on_exit(self, reason: ExitReason) -> None:
        note(f"exit:{reason.kind}", self.label)

    def ping(self) -> str:
        return self.label

    def crash(self) -> None:
        raise RuntimeError(f"{self.label} crashed")

    def stop_self(self) -> None:
        self.stop()


def running(name: str) -> pykka.ActorRef[Any]:
    """The running actor named `name`, waiting for it to come up."""
    ref = registry.wait_for(name, WAIT)
    assert ref is not None, f"{name} is not running"
    return ref


def crash_and_wait(name: str) -> pykka.ActorRef[Any]:
    """Crashes the running `name` and waits for its replacement; returns the new ref."""
    old = running(name)
    old.proxy().crash.defer()
    assert old.wait_exit(WAIT) is not None  # type: ignore[attr-defined]
    new = running(name)
    assert new is not old
    return new


def starts_once() -> type[Probe]:
    """A fresh Probe class whose every start after the first fails; `.starts` counts them."""

    class StartsOnce(Probe):
        starts = 0

        def on_start(self) -> None:
            type(self).starts += 1
            if type(self).starts > 1:
                raise RuntimeError("cannot start again")

    return StartsOnce
