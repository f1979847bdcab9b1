"""A restart storm: 100 children crashing 10,000 times leave no thread behind."""

from __future__ import annotations

import threading

from tests.actors.support import WAIT, Probe, running
from zixir.actors import ChildSpec, Supervisor

CHILDREN = 100
ROUNDS = 100  # 100 children x 100 rounds = 10,000 crashes


def test_ten_thousand_crashes_leave_every_child_answering_and_no_leaked_thread() -> None:
    before = set(threading.enumerate())
    baseline = len(before)
    names = [f"storm-{i}" for i in range(CHILDREN)]
    root = Supervisor.start(
        children=[ChildSpec(n, Probe, kwargs={"name": n}) for n in names],
        max_restarts=CHILDREN * ROUNDS,
        max_seconds=3600,
    )
    for _ in range(ROUNDS):
        olds = [running(n) for n in names]
        for ref in olds:
            ref.proxy().crash.defer()
        for ref in olds:
            assert ref.wait_exit(WAIT) is not None  # type: ignore[attr-defined]
    assert [running(n).proxy().ping().get(timeout=WAIT) for n in names] == names
    stats = root.proxy().statistics().get()
    assert stats.restarts == CHILDREN * ROUNDS and stats.abandoned == 0
    assert threading.active_count() == baseline + CHILDREN + 1
    root.stop()
    root.wait_exit(WAIT)  # type: ignore[attr-defined]
    for thread in set(threading.enumerate()) - before:
        thread.join(WAIT)  # an exited actor's thread ends right after its last report
    assert threading.active_count() == baseline
