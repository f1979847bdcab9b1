"""Supervisor: OTP's strategies, restart types, intensity, ordered start and shutdown."""

from __future__ import annotations

import threading
from typing import Any

import pykka
import pytest

from tests.actors.support import WAIT, Probe, crash_and_wait, journal, running, starts_once
from zixir.actors import Actor, ChildSpec, DynamicSupervisor, ExitReason, Supervisor, SupervisorStatistics, whereis
from zixir.errors import (
    ArgumentTypeError,
    ChildStartError,
    DuplicateNameError,
    InvalidArgumentError,
    RestartIntensityError,
    UnknownChildError,
)


@pytest.fixture(autouse=True)
def _clear_journal() -> None:
    journal.clear()


def specs(*names: str, restart: str = "permanent") -> list[ChildSpec]:
    return [ChildSpec(n, Probe, kwargs={"name": n}, restart=restart) for n in names]  # type: ignore[arg-type]


def test_start_returns_once_every_child_has_started_in_order() -> None:
    Supervisor.start(children=specs("a", "b", "c"))
    assert journal == [("start", "a"), ("start", "b"), ("start", "c")]
    assert [whereis(n).proxy().ping().get() for n in "abc"] == ["a", "b", "c"]  # type: ignore[union-attr]


def test_stop_stops_children_in_reverse_order_before_returning() -> None:
    root = Supervisor.start(children=specs("a", "b", "c"))
    journal.clear()
    root.stop()
    assert journal == [("exit:shutdown", "c"), ("exit:shutdown", "b"), ("exit:shutdown", "a")]
    assert whereis("a") is None and pykka.ActorRegistry.get_all() == []


def test_one_for_one_restarts_only_the_crashed_child() -> None:
    Supervisor.start(children=specs("a", "b", "c"), strategy="one_for_one")
    before = {n: running(n) for n in "abc"}
    crash_and_wait("b")
    assert running("a") is before["a"] and running("c") is before["c"]


def test_one_for_all_restarts_every_child() -> None:
    Supervisor.start(children=specs("a", "b", "c"), strategy="one_for_all")
    before = {n: running(n) for n in "abc"}
    crash_and_wait("b")
    assert all(running(n) is not before[n] for n in "abc")
    assert journal[-3:] == [("start", "a"), ("start", "b"), ("start", "c")]


def test_rest_for_one_restarts_the_child_and_those_started_after_it() -> None:
    Supervisor.start(children=specs("a", "b", "c"), strategy="rest_for_one")
    before = {n: running(n) for n in "abc"}
    crash_and_wait("b")
    assert running("a") is before["a"]
    assert running("b") is not before["b"] and running("c") is not before["c"]


def test_a_permanent_child_that_stops_itself_is_restarted() -> None:
    Supervisor.start(children=specs("a"))
    old = running("a")
    old.proxy().stop_self()
    assert old.wait_exit(WAIT).kind == "normal"  # type: ignore[attr-defined]
    assert running("a") is not old


def test_a_transient_child_is_restarted_after_a_crash_but_not_after_a_normal_stop() -> None:
    root = Supervisor.start(children=specs("t", restart="transient"))
    crash_and_wait("t")
    ref = running("t")
    ref.proxy().stop_self()
    ref.wait_exit(WAIT)  # type: ignore[attr-defined]
    (info,) = root.proxy().which_children().get()
    assert info.ref is None and not info.alive and info.restarts == 1


def test_a_temporary_child_is_never_restarted_and_frees_its_name() -> None:
    root = Supervisor.start(children=specs("t", restart="temporary") + specs("p"), strategy="one_for_all")
    t = running("t")
    t.proxy().crash.defer()
    t.wait_exit(WAIT)  # type: ignore[attr-defined]
    assert [c.name for c in root.proxy().which_children().get()] == ["p"]
    # a sibling's crash restarts the others, never a temporary child
    root.proxy().start_child(ChildSpec("t2", Probe, kwargs={"name": "t2"}, restart="temporary")).get()
    crash_and_wait("p")
    assert whereis("t2") is None
    assert [c.name for c in root.proxy().which_children().get()] == ["p"]
    Supervisor.start(children=specs("t"))  # the name is free again


def test_a_child_stopped_from_outside_is_not_restarted() -> None:
    root = Supervisor.start(children=specs("a", "b"))
    running("a").stop()
    assert whereis("a") is None
    counts = root.proxy().count_children().get()
    assert (counts.specs, counts.active) == (2, 1)


def test_stop_all_tears_a_whole_tree_down_without_restarts() -> None:
    inner = ChildSpec("inner", Supervisor, kwargs={"children": specs("x", "y")})
    Supervisor.start(children=[*specs("a"), inner])
    assert len(pykka.ActorRegistry.get_all()) == 5
    pykka.ActorRegistry.stop_all(timeout=WAIT)
    assert pykka.ActorRegistry.get_all() == []
    assert not [e for e in journal if e[0] == "start" and journal.index(e) >= 3]


def test_exceeding_the_restart_intensity_stops_the_children_and_crashes_the_supervisor() -> None:
    root = Supervisor.start(children=specs("a", "b"), max_restarts=2, max_seconds=60)
    crash_and_wait("b")
    crash_and_wait("b")
    journal.clear()
    running("b").proxy().crash.defer()
    reason = root.wait_exit(WAIT)  # type: ignore[attr-defined]
    assert reason.kind == "crash" and isinstance(reason.exception, RestartIntensityError)
    assert reason.message == (
        "Supervisor gave up: its children needed more than 2 restarts within 60 s "
        "(last: 'b', crash: RuntimeError: b crashed)"
    )
    assert journal[-1] == ("exit:shutdown", "a")
    assert whereis("a") is None and pykka.ActorRegistry.get_all() == []


def test_a_nested_supervisor_that_gives_up_is_restarted_by_its_parent() -> None:
    inner = ChildSpec("inner", Supervisor, kwargs={"children": specs("x"), "max_restarts": 0})
    root = Supervisor.start(children=[inner])
    old_inner = running("inner")
    running("x").proxy().crash.defer()
    assert old_inner.wait_exit(WAIT).kind == "crash"  # type: ignore[attr-defined]
    assert running("inner") is not old_inner
    assert running("x").proxy().ping().get() == "x"
    (info,) = root.proxy().which_children().get()
    assert info.restarts == 1 and info.is_supervisor


def test_a_failed_start_names_the_child_and_stops_the_started_siblings() -> None:
    children = [*specs("a"), ChildSpec("b", Probe, kwargs={"name": "b", "fail_start": True}), *specs("c")]
    with pytest.raises(
        ChildStartError, match=r"^child 'b' failed to start: crash: RuntimeError: b cannot start; "
    ) as info:
        Supervisor.start(children=children)
    assert info.value.child == "b"
    assert journal == [("start", "a"), ("exit:crash", "b"), ("exit:shutdown", "a")]
    assert pykka.ActorRegistry.get_all() == [] and whereis("a") is None
    Supervisor.start(children=specs("a", "b"))  # every name was freed


def test_a_start_failure_during_a_restart_counts_against_the_intensity() -> None:
    FlakyStart = starts_once()
    root = Supervisor.start(children=[ChildSpec("f", FlakyStart)], max_restarts=3, max_seconds=60)
    running("f").proxy().crash.defer()
    reason = root.wait_exit(WAIT)  # type: ignore[attr-defined]
    assert isinstance(reason.exception, RestartIntensityError)
    assert FlakyStart.starts == 4  # the first start, then the 3 restarts allowed, all failing


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(DuplicateNameError, match=r"^two children are named 'a'"):
        Supervisor.start(children=specs("a", "a"))
    Supervisor.start(children=specs("a"))
    with pytest.raises(DuplicateNameError, match=r"^the name 'a' is already taken in this process"):
        Supervisor.start(children=specs("a"))


def test_dynamic_children_can_be_started_terminated_restarted_and_deleted() -> None:
    root = Supervisor.start(children=[])
    proxy = root.proxy()
    ref = proxy.start_child(ChildSpec("d", Probe, kwargs={"name": "d"})).get()
    assert whereis("d") is ref
    proxy.terminate_child("d").get()
    assert whereis("d") is None
    with pytest.raises(DuplicateNameError):  # a terminated child keeps its name
        Supervisor.start(children=specs("d"))
    again = proxy.restart_child("d").get()
    assert whereis("d") is again
    with pytest.raises(ValueError, match=r"^child 'd' is running; terminate_child\('d'\) first$"):
        proxy.delete_child("d").get()
    proxy.terminate_child("d").get()
    proxy.delete_child("d").get()
    with pytest.raises(UnknownChildError, match=r"has no child named 'd'$"):
        proxy.restart_child("d").get()
    Supervisor.start(children=specs("d"))


def test_a_child_that_does_not_stop_in_time_is_abandoned_and_shutdown_goes_on() -> None:
    release = threading.Event()

    class Stubborn(Probe):
        def on_stop(self) -> None:
            release.wait(WAIT)

    last_statistics: list[SupervisorStatistics] = []

    class Reporting(Supervisor):
        def on_exit(self, reason: ExitReason) -> None:
            super().on_exit(reason)
            last_statistics.append(self.statistics())

    root = Reporting.start(
        children=[*specs("a"), ChildSpec("s", Stubborn, kwargs={"name": "s"}, shutdown=0.05), *specs("c")]
    )
    stats_before = root.proxy().statistics().get()
    assert stats_before.abandoned == 0
    try:
        root.stop(timeout=WAIT)
        assert ("exit:shutdown", "a") in journal and ("exit:shutdown", "c") in journal
        assert root.wait_exit(WAIT) is not None  # type: ignore[attr-defined]
        assert last_statistics[0].abandoned == 1
    finally:
        release.set()


def test_statistics_count_restarts_and_keep_the_last_crash() -> None:
    root = Supervisor.start(children=specs("a"))
    crash_and_wait("a")
    stats = root.proxy().statistics().get()
    (child,) = stats.children
    assert stats.restarts == 1 and child.restarts == 1
    assert child.last_crash is not None and child.last_crash.message == "a crashed"
    assert stats.uptime >= 0 and child.alive


def test_bad_arguments_are_refused_when_the_supervisor_is_built() -> None:
    with pytest.raises(
        ValueError, match=r"^strategy must be one of one_for_one, one_for_all, rest_for_one, got 'all'$"
    ):
        Supervisor(strategy="all")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"actor_class must be a zixir.Actor subclass"):
        ChildSpec("x", pykka.ThreadingActor)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"restart must be one of permanent, transient, temporary"):
        ChildSpec("x", Probe, restart="always")  # type: ignore[arg-type]
    assert ChildSpec("x", Probe).shutdown == 5.0 and ChildSpec("y", Supervisor).shutdown is None


def test_an_unsupervised_actor_crash_never_affects_a_tree() -> None:
    class Loner(Actor):
        def die(self) -> None:
            raise SystemExit(2)

    Supervisor.start(children=specs("a"))
    loner = Loner.start()
    with pytest.raises(SystemExit):
        loner.proxy().die().get(timeout=WAIT)
    assert running("a").proxy().ping().get() == "a"


def test_exit_reasons_reach_the_supervisor_for_every_crash_phase() -> None:
    seen: list[ExitReason] = []

    class Watching(Supervisor):
        def on_down(self, down: Any) -> None:
            seen.append(down.reason)
            super().on_down(down)

    Watching.start(children=specs("a"))
    crash_and_wait("a")
    assert seen[0].error_type == "RuntimeError" and "a crashed" in (seen[0].traceback or "")


def test_thousands_of_failed_restarts_end_in_give_up_not_in_recursion_error() -> None:
    NeverAgain = starts_once()
    root = Supervisor.start(children=[ChildSpec("n", NeverAgain)], max_restarts=1500, max_seconds=600)
    running("n").proxy().crash.defer()
    reason = root.wait_exit(60)  # type: ignore[attr-defined]
    assert isinstance(reason.exception, RestartIntensityError)
    assert NeverAgain.starts == 1501


@pytest.mark.parametrize(
    ("kwargs", "error", "argument", "text"),
    [
        (
            {"max_seconds": float("nan")},
            InvalidArgumentError,
            "max_seconds",
            r"max_seconds must be a finite number > 0.0, got nan",
        ),
        ({"max_seconds": "5"}, ArgumentTypeError, "max_seconds", r"max_seconds must be a number, got '5'"),
        ({"max_seconds": 0}, InvalidArgumentError, "max_seconds", r"max_seconds must be a finite number > 0.0, got 0"),
        ({"max_restarts": -1}, InvalidArgumentError, "max_restarts", r"max_restarts must be an int >= 0, got -1"),
        ({"max_restarts": 2.5}, ArgumentTypeError, "max_restarts", r"max_restarts must be an int, got 2.5"),
        ({"health_check_interval": float("inf")}, InvalidArgumentError, "health_check_interval",
         r"health_check_interval must be a finite number > 0.0, got inf"),
        ({"health_check_timeout": -1.0}, InvalidArgumentError, "health_check_timeout",
         r"health_check_timeout must be a finite number > 0.0, got -1.0"),
        ({"backoff": 0.5}, ArgumentTypeError, "backoff", r"backoff must be a RestartBackoff or None, got 0.5"),
        ({"clock": 3.0}, ArgumentTypeError, "clock", r"clock must be a callable returning seconds, got 3.0"),
        ({"children": ["a"]}, ArgumentTypeError, "children", r"children must be ChildSpec objects, got 'a'"),
    ],
)  # fmt: skip
def test_supervisor_arguments_are_checked_when_it_is_built(
    kwargs: dict[str, Any], error: type[Exception], argument: str, text: str
) -> None:
    with pytest.raises(error, match=f"^{text}$") as info:
        Supervisor(**kwargs)
    assert info.value.argument == argument  # type: ignore[attr-defined]


def test_dynamic_supervisor_and_child_spec_arguments_are_checked() -> None:
    template = ChildSpec("t", Probe)
    with pytest.raises(InvalidArgumentError, match=r"^max_children must be an int >= 1, got 0$"):
        DynamicSupervisor(template, max_children=0)
    with pytest.raises(ArgumentTypeError, match=r"^template must be a ChildSpec, got 'x'$"):
        DynamicSupervisor("x")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"^max_seconds must be a finite number > 0.0, got nan$"):
        DynamicSupervisor(template, max_seconds=float("nan"))
    with pytest.raises(InvalidArgumentError, match=r"^ChildSpec 'x': shutdown must be None or seconds >= 0, got nan$"):
        ChildSpec("x", Probe, shutdown=float("nan"))
    with pytest.raises(ArgumentTypeError, match=r"^ChildSpec 'x': shutdown must be None or seconds >= 0, got '1'$"):
        ChildSpec("x", Probe, shutdown="1")
    with pytest.raises(InvalidArgumentError, match=r"^ChildSpec name must be a non-empty str, got ''$"):
        ChildSpec("", Probe)
    with pytest.raises(ArgumentTypeError, match=r"^ChildSpec 'x': kwargs must be a mapping, got \[1\]$"):
        ChildSpec("x", Probe, kwargs=[1])  # type: ignore[arg-type]


class CrashesRightAway(Actor):
    """Crashes on the first message it tells itself from on_start."""

    def on_start(self) -> None:
        self.actor_ref.tell("crash")

    def on_receive(self, message: Any) -> Any:
        raise RuntimeError("crashed right away")


def test_a_supervisor_that_gives_up_right_after_its_start_has_still_started() -> None:
    # The give-up may land before Supervisor.start reads the outcome: it is not a failed start.
    for _ in range(30):
        root = Supervisor.start(children=[ChildSpec("quick", CrashesRightAway)], max_restarts=0)
        reason = root.wait_exit(WAIT)  # type: ignore[attr-defined]
        assert reason is not None and isinstance(reason.exception, RestartIntensityError)
