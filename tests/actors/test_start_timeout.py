"""A child whose on_start hangs never hangs its supervisor: start timeouts and async starts.

Each stuck child waits on a `threading.Event` that the test sets at the end; calls that
used to hang run under `within`, so a regression fails the test instead of hanging it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pykka
import pytest

from tests.actors.support import WAIT, Probe, journal, note, running
from zixir.actors import (
    ChildSpec,
    DynamicSupervisor,
    ExitReason,
    Supervisor,
    SupervisorStatistics,
    ensure_started,
    whereis,
)
from zixir.errors import ArgumentTypeError, ChildStartError, InvalidArgumentError, RestartIntensityError

T = TypeVar("T")

#: Set at the end of every test: every stuck on_start returns then.
gate = threading.Event()
#: Every incarnation of a Stuck child, in start order.
stuck_refs: list[pykka.ActorRef[Any]] = []
#: Set when a Stuck child's on_start has begun.
entered = threading.Event()


class Stuck(Probe):
    """Blocks in on_start until `gate` is set (only its first `free_starts` starts do not)."""

    free_starts = 0

    def on_start(self) -> None:
        stuck_refs.append(self.actor_ref)
        entered.set()
        if type(self).free_starts > 0:
            type(self).free_starts -= 1
        else:
            gate.wait()
        super().on_start()

    def on_stop(self) -> None:
        note("on_stop", self.label)


@pytest.fixture(autouse=True)
def _release_the_stuck() -> Iterator[None]:
    journal.clear()
    stuck_refs.clear()
    gate.clear()
    entered.clear()
    Stuck.free_starts = 0
    yield
    gate.set()
    for ref in stuck_refs:
        ref.wait_exit(WAIT)  # type: ignore[attr-defined]


def within(seconds: float, fn: Callable[[], T]) -> T:
    """Runs `fn` in a helper thread; fails the test if it has not returned after `seconds`."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, fn()))
        except BaseException as exc:
            outcome.append((False, exc))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"{fn} was still blocked after {seconds} s"
    ok, value = outcome[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


def released_and_stopped(ref: pykka.ActorRef[Any], name: str) -> ExitReason:
    """Lets every stuck on_start return; the abandoned `ref` then stops at once, unnamed."""
    gate.set()
    reason = ref.wait_exit(WAIT)  # type: ignore[attr-defined]
    assert reason is not None, f"{ref} did not stop once its on_start returned"
    assert whereis(name) is not ref
    assert ref not in pykka.ActorRegistry.get_all()
    return reason  # type: ignore[no-any-return]


def test_supervisor_start_with_a_stuck_child_raises_child_start_error() -> None:
    children = [
        ChildSpec("a", Probe, kwargs={"name": "a"}),
        ChildSpec("s", Stuck, kwargs={"name": "s"}, start_timeout=0.2),
    ]
    with pytest.raises(
        ChildStartError, match=r"^child 's' timed out after 0.2 s in on_start \(its start_timeout\)"
    ) as info:
        within(WAIT * 2, lambda: Supervisor.start(children=children))
    assert info.value.child == "s"
    assert str(info.value).endswith("; the children started before it were stopped")
    assert ("exit:shutdown", "a") in journal and whereis("a") is None
    (stuck,) = stuck_refs
    assert released_and_stopped(stuck, "s").kind == "shutdown"
    assert ("on_stop", "s") in journal  # its on_start completed, so its on_stop ran
    assert ("start", "s") in journal
    Supervisor.start(children=[ChildSpec("s", Probe, kwargs={"name": "s"})])  # the name is free


def test_a_dynamic_start_of_a_stuck_child_leaves_the_supervisor_answering_and_stoppable() -> None:
    template = ChildSpec("stuck", Stuck, kwargs={"name": "stuck"}, start_timeout=600.0, shutdown=0.1)
    sup = DynamicSupervisor.start(template=template)
    pending = sup.proxy().start_child()
    assert entered.wait(WAIT)  # its on_start has begun
    (info,) = sup.proxy().which_children().get(timeout=WAIT)  # answers while the child starts
    assert (info.name, info.ref, info.alive) == ("stuck-1", None, False)
    assert sup.proxy().count_children().get(timeout=WAIT).specs == 1
    assert within(WAIT * 2, lambda: sup.stop(timeout=WAIT)) is True
    with pytest.raises(ChildStartError, match=r"stopped while 'stuck-1' was starting"):
        pending.get(timeout=WAIT)
    (stuck,) = stuck_refs
    released_and_stopped(stuck, "stuck-1")
    assert ("start", "stuck") in journal  # its on_start did complete, unregistered


def test_start_child_of_a_stuck_child_times_out_and_the_late_finisher_is_stopped_unnamed() -> None:
    from prometheus_client import REGISTRY

    def abandoned_total() -> float:
        labels = {"supervisor": "patient", "child": "s"}
        return REGISTRY.get_sample_value("zixir_supervisor_abandoned_total", labels) or 0.0

    before = abandoned_total()
    root = Supervisor.start(children=[], name="patient")
    spec = ChildSpec("s", Stuck, kwargs={"name": "s"}, start_timeout=0.2)
    with pytest.raises(ChildStartError, match=r"^child 's' timed out after 0.2 s in on_start") as info:
        root.proxy().start_child(spec).get(timeout=WAIT)
    assert info.value.child == "s"
    stats = root.proxy().statistics().get(timeout=WAIT)
    assert stats.abandoned == 1 and stats.children == ()  # the spec of a failed start_child is not kept
    assert abandoned_total() == before + 1
    replacement = root.proxy().start_child(ChildSpec("s", Probe, kwargs={"name": "s"})).get(timeout=WAIT)
    late = stuck_refs[0]
    assert released_and_stopped(late, "s").kind == "shutdown"
    assert whereis("s") is replacement  # the late finisher never took the name
    assert [c.ref for c in root.proxy().which_children().get(timeout=WAIT)] == [replacement]


def test_restart_child_of_a_stuck_child_times_out_and_keeps_the_spec() -> None:
    Stuck.free_starts = 1
    root = Supervisor.start(children=[ChildSpec("s", Stuck, kwargs={"name": "s"}, start_timeout=0.2)])
    root.proxy().terminate_child("s").get(timeout=WAIT)
    with pytest.raises(ChildStartError, match=r"^child 's' timed out after 0.2 s"):
        root.proxy().restart_child("s").get(timeout=WAIT)
    (info,) = root.proxy().which_children().get(timeout=WAIT)
    assert (info.name, info.ref) == ("s", None)
    released_and_stopped(stuck_refs[1], "s")
    assert root.proxy().restart_child("s").get(timeout=WAIT) is whereis("s")


def test_ensure_started_of_a_stuck_actor_times_out_and_frees_the_name() -> None:
    spec = ChildSpec("e", Stuck, kwargs={"name": "e"}, start_timeout=0.2)
    with pytest.raises(ChildStartError, match=r"^child 'e' timed out after 0.2 s"):
        within(WAIT * 2, lambda: ensure_started(spec))
    other = ensure_started(ChildSpec("e", Probe, kwargs={"name": "e"}))
    released_and_stopped(stuck_refs[0], "e")
    assert whereis("e") is other
    other.stop()
    gate.clear()  # the next one is stuck again

    root = Supervisor.start(children=[])
    supervised = ChildSpec("f", Stuck, kwargs={"name": "f"}, start_timeout=0.2)
    with pytest.raises(ChildStartError, match=r"^child 'f' timed out after 0.2 s"):
        within(WAIT * 2, lambda: ensure_started(supervised, supervisor=root))
    assert root.proxy().which_children().get(timeout=WAIT) == []


def test_a_restart_that_hangs_in_on_start_counts_against_the_restart_intensity() -> None:
    Stuck.free_starts = 1  # the first start returns; every restart hangs
    last: list[SupervisorStatistics] = []

    class Reporting(Supervisor):
        def on_exit(self, reason: ExitReason) -> None:
            super().on_exit(reason)
            last.append(self.statistics())

    root = Reporting.start(
        children=[ChildSpec("r", Stuck, kwargs={"name": "r"}, start_timeout=0.2)], max_restarts=2, max_seconds=600
    )
    running("r").proxy().crash.defer()
    reason = root.wait_exit(WAIT * 2)  # type: ignore[attr-defined]
    assert reason is not None, "the supervisor hung in a restart"
    assert isinstance(reason.exception, RestartIntensityError)
    assert "timed out after 0.2 s" in reason.message
    (stats,) = last
    assert stats.abandoned == 2  # two restarts, each stuck and abandoned
    assert stats.children[0].last_crash.error_type == "ChildStartError"  # type: ignore[union-attr]
    _first, *hung = stuck_refs
    assert len(hung) == 2
    for ref in hung:
        assert released_and_stopped(ref, "r").kind == "shutdown"
    assert whereis("r") is None


def test_a_child_may_ask_its_supervisor_from_on_start_when_started_dynamically() -> None:
    class Asker(Probe):
        def __init__(self, sup: pykka.ActorRef[Any]) -> None:
            super().__init__("asker")
            self.sup = sup
            self.seen: list[str] = []

        def on_start(self) -> None:
            self.seen = [c.name for c in self.sup.proxy().which_children().get(timeout=WAIT)]

        def saw(self) -> list[str]:
            return self.seen

    root = Supervisor.start(children=[])
    ref = root.proxy().start_child(ChildSpec("asker", Asker, kwargs={"sup": root})).get(timeout=WAIT * 2)
    assert ref.proxy().saw().get(timeout=WAIT) == ["asker"]

    # Started with its supervisor, it cannot be answered: the start times out instead of hanging.
    class Parent(Supervisor):
        pass

    class EarlyAsker(Asker):
        def __init__(self) -> None:
            super().__init__(pykka.ActorRegistry.get_by_class(Parent)[0])

        def on_start(self) -> None:
            stuck_refs.append(self.actor_ref)
            super().on_start()

    children = [ChildSpec("early", EarlyAsker, start_timeout=0.2)]
    with pytest.raises(ChildStartError, match=r"^child 'early' timed out after 0.2 s"):
        within(WAIT * 2, lambda: Parent.start(children=children))


def test_max_children_counts_the_children_still_starting() -> None:
    template = ChildSpec("slow", Stuck, kwargs={"name": "slow"}, start_timeout=600.0, shutdown=0.1)
    sup = DynamicSupervisor.start(template=template, max_children=1)
    sup.proxy().start_child()
    with pytest.raises(RuntimeError, match=r"already runs max_children=1 children"):
        sup.proxy().start_child().get(timeout=WAIT)


def test_start_timeout_defaults_and_checks() -> None:
    assert ChildSpec("w", Probe).start_timeout == 5.0
    assert ChildSpec("s", Supervisor).start_timeout is None
    assert ChildSpec("n", Probe, start_timeout=None).start_timeout is None
    assert ChildSpec("i", Probe, start_timeout=2).start_timeout == 2.0
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(
            InvalidArgumentError, match=r"^ChildSpec 'x': start_timeout must be None or seconds > 0, got "
        ) as info:
            ChildSpec("x", Probe, start_timeout=bad)
        assert info.value.argument == "start_timeout"
    with pytest.raises(ArgumentTypeError, match=r"^ChildSpec 'x': start_timeout must be None or seconds > 0, got '1'$"):
        ChildSpec("x", Probe, start_timeout="1")
    assert "start_timeout=5.0" in repr(ChildSpec("w", Probe))


def test_terminate_child_while_it_starts_answers_the_caller_and_returns() -> None:
    root = Supervisor.start(children=[])
    spec = ChildSpec("t", Stuck, kwargs={"name": "t"}, start_timeout=600.0, shutdown=0.1)
    pending = root.proxy().start_child(spec)
    assert entered.wait(WAIT)
    within(WAIT * 2, lambda: root.proxy().terminate_child("t").get(timeout=WAIT))
    with pytest.raises(ChildStartError, match=r"^child 't' was terminated while starting$"):
        pending.get(timeout=WAIT)
    stats = root.proxy().statistics().get(timeout=WAIT)
    assert stats.abandoned == 1 and stats.children == ()  # never started: the spec is not kept
    assert released_and_stopped(stuck_refs[0], "t").kind == "shutdown"


def test_a_supervisor_answers_and_stops_while_a_restart_hangs_in_on_start() -> None:
    Stuck.free_starts = 1  # the first start returns; the restart hangs
    spec = ChildSpec("h", Stuck, kwargs={"name": "h"}, start_timeout=600.0, shutdown=0.2)
    root = Supervisor.start(children=[spec])
    entered.clear()
    running("h").proxy().crash.defer()
    assert entered.wait(WAIT)  # the restart is inside on_start now, and stays there
    (info,) = within(WAIT, lambda: root.proxy().which_children().get(timeout=WAIT))
    assert (info.state, info.alive, info.ref, info.restarts) == ("restarting", False, None, 1)
    assert whereis("h") is None
    assert within(WAIT, lambda: root.stop(timeout=WAIT)) is True  # bounded by the shutdown timeout
    assert released_and_stopped(stuck_refs[1], "h").kind == "shutdown"


def test_a_group_restarts_in_order_each_child_once_the_one_before_it_started() -> None:
    Stuck.free_starts = 1
    children = [
        ChildSpec("g1", Probe, kwargs={"name": "g1"}),
        ChildSpec("g2", Stuck, kwargs={"name": "g2"}, start_timeout=600.0),
        ChildSpec("g3", Probe, kwargs={"name": "g3"}),
    ]
    root = Supervisor.start(children=children, strategy="rest_for_one")
    entered.clear()
    journal.clear()
    running("g2").proxy().crash.defer()
    assert entered.wait(WAIT)
    infos = root.proxy().which_children().get(timeout=WAIT)
    assert [i.state for i in infos] == ["running", "restarting", "restarting"]
    assert ("start", "g3") not in journal  # g3 waits for g2's on_start to return
    with pytest.raises(ValueError, match=r"^child 'g3' is restarting; terminate_child\('g3'\) first$"):
        root.proxy().restart_child("g3").get(timeout=WAIT)
    gate.set()
    root.proxy().settled().get(timeout=WAIT)
    assert [i.state for i in root.proxy().which_children().get(timeout=WAIT)] == ["running"] * 3
    assert journal.index(("start", "g2")) < journal.index(("start", "g3"))


def test_terminating_a_restarting_child_lets_the_rest_of_its_group_start() -> None:
    Stuck.free_starts = 1
    children = [
        ChildSpec("t1", Stuck, kwargs={"name": "t1"}, start_timeout=600.0, shutdown=0.1),
        ChildSpec("t2", Probe, kwargs={"name": "t2"}),
    ]
    root = Supervisor.start(children=children, strategy="one_for_all")
    entered.clear()
    running("t1").proxy().crash.defer()
    assert entered.wait(WAIT)
    within(WAIT, lambda: root.proxy().terminate_child("t1").get(timeout=WAIT))
    root.proxy().settled().get(timeout=WAIT)
    assert [(i.name, i.state) for i in root.proxy().which_children().get(timeout=WAIT)] == [
        ("t1", "stopped"),
        ("t2", "running"),
    ]
    assert released_and_stopped(stuck_refs[1], "t1").kind == "shutdown"


def test_a_restart_whose_init_raises_is_a_crash_against_the_intensity() -> None:
    class BuildsOnce(Probe):
        built = 0

        def __init__(self, name: str) -> None:
            type(self).built += 1
            if type(self).built > 1:
                raise RuntimeError("cannot build again")
            super().__init__(name)

    root = Supervisor.start(children=[ChildSpec("b", BuildsOnce, kwargs={"name": "b"})], max_restarts=2)
    running("b").proxy().crash.defer()
    reason = root.wait_exit(WAIT)  # type: ignore[attr-defined]
    assert reason is not None and isinstance(reason.exception, RestartIntensityError)
    assert "(last: 'b', crash: RuntimeError: cannot build again)" in reason.message
    assert BuildsOnce.built == 3  # the first start, then two restarts that failed in __init__


def test_settled_answers_at_once_when_nothing_is_starting() -> None:
    root = Supervisor.start(children=[ChildSpec("s", Probe, kwargs={"name": "s"})])
    assert within(WAIT, lambda: root.proxy().settled().get(timeout=WAIT)) is None
    (info,) = root.proxy().which_children().get(timeout=WAIT)
    assert info.state == "running"
