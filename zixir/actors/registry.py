"""Process-wide actor names: who holds a name, and which actor currently answers to it.

A name is held by an owner (a supervisor's child record, or an actor started by name)
for as long as the owner keeps it; the running actor behind it changes across restarts.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pykka

from zixir.errors import DuplicateNameError

__all__ = ["whereis"]

_changed = threading.Condition()
_owners: dict[str, object] = {}
_refs: dict[str, pykka.ActorRef[Any]] = {}


def reserve(name: str, owner: object) -> None:
    """Gives `name` to `owner`.

    Raises:
        DuplicateNameError: another owner holds the name.
    """
    with _changed:
        holder = _owners.get(name)
        if holder is not None and holder is not owner:
            running = _refs.get(name)
            raise DuplicateNameError(
                f"the name {name!r} is already taken in this process"
                + (f" (by {running})" if running is not None else "")
                + "; child and actor names are unique per process: pick another name, or "
                "use zixir.ensure_started to reuse the running actor"
            )
        _owners[name] = owner


def assign(name: str, ref: pykka.ActorRef[Any]) -> None:
    """Records `ref` as the actor that now answers to `name`."""
    with _changed:
        _refs[name] = ref
        _changed.notify_all()


def vacate(name: str, ref: pykka.ActorRef[Any]) -> None:
    """Records that `ref` no longer answers to `name` (if it still did)."""
    with _changed:
        if _refs.get(name) is ref:
            del _refs[name]


def release(name: str, owner: object) -> None:
    """Frees `name` if `owner` holds it, so it can be taken again."""
    with _changed:
        if _owners.get(name) is owner:
            del _owners[name]
            _refs.pop(name, None)
            _changed.notify_all()


def whereis(name: str) -> pykka.ActorRef[Any] | None:
    """The running actor registered under `name`, or None while none is running.

    After a restart this is the new incarnation's ref: look names up again rather than
    keeping refs across restarts (or use `zixir.handle`).
    """
    ref = _refs.get(name)
    return ref if ref is not None and ref.is_alive() else None


def held(name: str) -> bool:
    """True while an owner (a supervisor's child record, or an actor) holds `name`."""
    with _changed:
        return name in _owners


def wait_for(
    name: str, timeout: float | None, other_than: pykka.ActorRef[Any] | None = None
) -> pykka.ActorRef[Any] | None:
    """Waits up to `timeout` seconds for a running actor under `name`; None if none came.

    Args:
        name: The name.
        timeout: Seconds to wait; None waits without limit.
        other_than: Wait for an actor other than this one (a replacement).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    with _changed:
        while True:
            ref = whereis(name)
            if ref is not None and ref is not other_than:
                return ref
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            _changed.wait(remaining)
