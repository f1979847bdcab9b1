"""A restart storm: 100 children under one supervisor crash 10,000 times in all.

Every crashed incarnation's thread must end, every replacement must answer, and once the
supervisor stops the process is back to the threads it had before.
"""

from __future__ import annotations

import threading
from typing import Any

import pykka

from tests.actors.support import WAIT
from zixir.actors import Actor, ChildSpec, Supervisor, registry, whereis

CHILDREN = 100
ROUNDS = 100  # 100 children x 100 rounds = 10,000 crashes
CRASH = "crash"


class Crasher(Actor):
    """Crashes on the told message `CRASH`; answers `ping()` with its name."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.label = name

    def on_receive(self, message: Any) -> Any:
        if message == CRASH:
            raise RuntimeError(f"{self.label} crashed")
        return super().on_receive(message)

    def ping(self) -> str:
        return self.label

    def thread(self) -> threading.Thread:
        return threading.current_thread()


class Root(Supervisor):
    def thread(self) -> threading.Thread:
        return threading.current_thread()


def thread_of(ref: pykka.ActorRef[Any]) -> threading.Thread:
    """The thread running `ref`'s actor, as the actor itself reports it."""
    thread: threading.Thread = ref.proxy().thread().get(timeout=WAIT)
    return thread


def join_ending_actor_threads() -> None:
    """Waits for the threads of actors stopped by earlier tests: `stop()` returns before they end."""
    for thread in threading.enumerate():
        target = getattr(thread, "_target", ...)  # deleted once run() has returned
        ending = target is ... or isinstance(getattr(target, "__self__", None), pykka.Actor)
        if ending and thread is not threading.current_thread():
            thread.join(WAIT)
            assert not thread.is_alive(), f"{thread} is still running"


def test_ten_thousand_crashes_leave_every_child_answering_and_no_thread_behind() -> None:
    join_ending_actor_threads()
    baseline = threading.active_count()
    names = [f"storm-{i:03}" for i in range(CHILDREN)]
    root = Root.start(
        children=[ChildSpec(n, Crasher, kwargs={"name": n}) for n in names],
        strategy="one_for_one",
        max_restarts=CHILDREN * ROUNDS,  # exactly enough: one restart too many would trip it
        max_seconds=3600,
    )
    assert threading.active_count() == baseline + CHILDREN + 1
    current = [whereis(n) for n in names]

    for _ in range(ROUNDS):
        olds: list[pykka.ActorRef[Any]] = []
        for ref in current:
            assert ref is not None
            olds.append(ref)
        threads = [thread_of(ref) for ref in olds]
        for ref in olds:
            ref.tell(CRASH)
        current = []
        for name, old, thread in zip(names, olds, threads):
            reason = old.wait_exit(WAIT)  # type: ignore[attr-defined]
            assert reason is not None and reason.kind == "crash"
            thread.join(WAIT)
            assert not thread.is_alive(), f"the thread of a crashed {name} did not end"
            new = registry.wait_for(name, 10)
            assert new is not None and new is not old, f"{name} was not restarted"
            current.append(new)

    # 100 children + the supervisor, not one thread more: every crashed incarnation's ended
    assert threading.active_count() == baseline + CHILDREN + 1
    assert [ref.proxy().ping().get(timeout=WAIT) for ref in current if ref is not None] == names
    stats = root.proxy().statistics().get(timeout=WAIT)
    assert (stats.restarts, stats.abandoned) == (CHILDREN * ROUNDS, 0)
    assert [(c.name, c.alive, c.restarts, c.ref) for c in stats.children] == [
        (n, True, ROUNDS, ref) for n, ref in zip(names, current)
    ]

    threads = [thread_of(root)] + [thread_of(ref) for ref in current if ref is not None]
    assert root.stop(timeout=WAIT) is True
    for thread in threads:
        thread.join(WAIT)
        assert not thread.is_alive(), f"{thread} did not end after the supervisor stopped"
    assert threading.active_count() == baseline
    assert pykka.ActorRegistry.get_all() == [] and [n for n in names if whereis(n) is not None] == []
