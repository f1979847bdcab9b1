"""Supervisor against a model: random crashes, stops and dynamic calls, checked step by step.

A pure-Python `Model` applies OTP's rules (strategies, restart types, deliberate stops,
restart intensity, failed restarts counting as crashes) to the same steps the real
`Supervisor` goes through; after every step `which_children()`, `count_children()`,
`statistics()` and `zixir.whereis` must agree with it.

Waiting is deterministic: `wait_exit` returns only once the child's `Down` is in its
supervisor's mailbox, and the supervisor handles messages in order, so a `settled()` asked
after `wait_exit` is answered once the restarts the exit caused have concluded.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pykka
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.actors.support import WAIT, Probe
from zixir.actors import ChildSpec, ExitReason, Supervisor, registry, whereis
from zixir.actors.spec import RestartType
from zixir.actors.supervisor import Strategy
from zixir.errors import (
    ChildStartError,
    DuplicateNameError,
    RestartIntensityError,
    UnknownChildError,
)

POOL = tuple(f"model-{letter}" for letter in "abcde")
RESTART_TYPES: tuple[RestartType, ...] = ("permanent", "transient", "temporary")
STRATEGIES: tuple[Strategy, ...] = ("one_for_one", "one_for_all", "rest_for_one")

#: name -> how many of its next starts fail. Written by the test between steps, read in
#: the child's thread (`on_start`) while the test waits for the supervisor's answer.
failing_starts: dict[str, int] = {}

#: the strategy of every supervisor seen giving up: the intensity test is not vacuous
give_ups: list[Strategy] = []


class Worker(Probe):
    """A Probe that can also be made to fail its next starts."""

    def on_start(self) -> None:
        left = failing_starts.get(self.label, 0)
        if left:
            failing_starts[self.label] = left - 1
            raise RuntimeError(f"{self.label} cannot start")


# ---- the model ---------------------------------------------------------------------------


@dataclass(eq=False)
class Child:
    name: str
    restart: RestartType
    incarnation: int
    running: bool = True
    restarts: int = 0
    last_crash: str | None = None  # the message of the last crash or failed restart


class GaveUp(Exception):
    """The modelled supervisor exceeded its restart intensity."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(name, reason)
        self.name = name
        self.reason = reason


@dataclass
class Model:
    """OTP's supervision rules, applied to plain records."""

    strategy: Strategy
    max_restarts: int
    max_seconds: float
    children: list[Child] = field(default_factory=list)
    restart_times: list[float] = field(default_factory=list)
    restarts: int = 0  # restart events (a group restart counts once)
    failing: dict[str, int] = field(default_factory=dict)
    incarnations: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add(self, name: str, restart: RestartType) -> None:
        self.children.append(Child(name, restart, next(self.incarnations)))

    def child(self, name: str) -> Child | None:
        return next((c for c in self.children if c.name == name), None)

    def start(self, child: Child) -> bool:
        """One start attempt; False if it fails (consuming one armed failure)."""
        if self.failing.get(child.name, 0):
            self.failing[child.name] -= 1
            return False
        child.running, child.incarnation = True, next(self.incarnations)
        return True

    def exited(self, child: Child, kind: str, now: float) -> None:
        """`child` exited by itself ("crash", "normal") or was stopped from outside ("shutdown")."""
        child.running = False
        if kind == "crash":
            child.last_crash = f"{child.name} crashed"
        if child.restart == "temporary":
            self.children.remove(child)  # never restarted; its name is freed
            return
        if kind == "shutdown" or (kind == "normal" and child.restart == "transient"):
            return  # a deliberate stop, or a transient child's normal exit: spec kept
        reason = f"crash: RuntimeError: {child.name} crashed" if kind == "crash" else kind
        self.restart(child, now, reason)

    def restart(self, child: Child, now: float, reason: str) -> None:
        """Restarts `child` and its strategy's group; raises GaveUp past the intensity."""
        self.restart_times = [t for t in self.restart_times if t > now - self.max_seconds] + [now]
        if len(self.restart_times) > self.max_restarts:
            raise GaveUp(child.name, reason)
        self.restarts += 1
        at = self.children.index(child)
        group = {
            "one_for_one": [child],
            "one_for_all": list(self.children),
            "rest_for_one": self.children[at:],
        }[self.strategy]
        for member in group:  # the others are shut down first
            member.running = False
        dropped = [c for c in group if c is not child and c.restart == "temporary"]
        self.children = [c for c in self.children if c not in dropped]
        for member in [c for c in group if c not in dropped]:  # in start order
            member.restarts += 1
            if not self.start(member):  # a failed restart is a crash, against the intensity
                member.last_crash = f"{member.name} cannot start"
                self.restart(member, now, f"crash: RuntimeError: {member.name} cannot start")
                return


# ---- waiting and calling -------------------------------------------------------------------


def exited(ref: pykka.ActorRef[Any]) -> ExitReason:
    """Waits until `ref` has exited, its Down already queued at its supervisor."""
    reason = ref.wait_exit(WAIT)  # type: ignore[attr-defined]
    assert reason is not None, f"{ref} did not exit"
    return reason  # type: ignore[no-any-return]


def outcome(call: Callable[[], Any], expected: type[Exception] | None) -> Any:
    if expected is None:
        return call()
    with pytest.raises(expected):
        call()
    return None


# ---- the machine ---------------------------------------------------------------------------

#: a supervisor: its strategy, its first children, and limits (used by IntensityMachine)
A_STRATEGY = st.sampled_from(STRATEGIES)
FIRST_CHILDREN = st.lists(
    st.tuples(st.sampled_from(POOL), st.sampled_from(RESTART_TYPES)),
    max_size=4,
    unique_by=lambda c: c[0],
)
INTENSITY = st.integers(0, 3)
WINDOW = st.integers(1, 4)


class SupervisorMachine(RuleBasedStateMachine):
    """Intensity never trips here: 1000 restarts within 60 s on the real clock."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0  # the fake clock (IntensityMachine); unused on the real clock
        self.model: Model | None = None
        self.root: pykka.ActorRef[Any] | None = None
        self.seen: dict[str, tuple[int, pykka.ActorRef[Any]]] = {}  # name -> last incarnation seen
        failing_starts.clear()

    def limits(self, intensity: int, window: int) -> tuple[int, float, dict[str, Any]]:
        return 1000, 60.0, {}

    def launch(
        self,
        strategy: Strategy,
        initial: list[tuple[str, RestartType]],
        intensity: int,
        window: int,
    ) -> None:
        max_restarts, max_seconds, extra = self.limits(intensity, window)
        failing_starts.clear()
        self.model = Model(strategy, max_restarts, max_seconds)
        for name, restart in initial:
            self.model.add(name, restart)
        self.seen.clear()
        self.root = Supervisor.start(
            children=[ChildSpec(n, Worker, kwargs={"name": n}, restart=r) for n, r in initial],
            strategy=strategy,
            max_restarts=max_restarts,
            max_seconds=max_seconds,
            **extra,
        )

    @initialize(strategy=A_STRATEGY, initial=FIRST_CHILDREN, intensity=INTENSITY, window=WINDOW)
    def start_a_supervisor(
        self,
        strategy: Strategy,
        initial: list[tuple[str, RestartType]],
        intensity: int,
        window: int,
    ) -> None:
        self.launch(strategy, initial, intensity, window)

    @precondition(lambda self: self.root is None)
    @rule(strategy=A_STRATEGY, initial=FIRST_CHILDREN, intensity=INTENSITY, window=WINDOW)
    def start_a_new_supervisor_after_one_gave_up(
        self,
        strategy: Strategy,
        initial: list[tuple[str, RestartType]],
        intensity: int,
        window: int,
    ) -> None:
        self.launch(strategy, initial, intensity, window)

    def teardown(self) -> None:
        if self.root is not None:
            self.root.stop(timeout=WAIT)
            assert self.root.wait_exit(WAIT) is not None  # type: ignore[attr-defined]
        failing_starts.clear()
        assert pykka.ActorRegistry.get_all() == []
        assert [n for n in POOL if whereis(n) is not None] == []

    # ---- helpers ----

    @property
    def proxy(self) -> Any:
        assert self.root is not None
        return self.root.proxy()

    def running(self) -> list[Child]:
        return [c for c in self.model.children if c.running] if self.model is not None else []

    def pick(self, index: int) -> tuple[Child, pykka.ActorRef[Any]]:
        child = self.running()[index % len(self.running())]
        ref = whereis(child.name)
        assert ref is not None, f"{child.name} should be running"
        return child, ref

    def apply(self, change: Callable[[], None]) -> None:
        """Applies a step to the model; if the model gives up, the supervisor must have too."""
        assert self.model is not None and self.root is not None
        try:
            change()
        except GaveUp as gave_up:
            self.check_gave_up(gave_up)

    def check_gave_up(self, gave_up: GaveUp) -> None:
        assert self.model is not None and self.root is not None
        reason = self.root.wait_exit(WAIT)  # type: ignore[attr-defined]
        assert reason is not None, "the supervisor should have given up"
        assert reason.kind == "crash" and isinstance(reason.exception, RestartIntensityError)
        assert reason.message == (
            f"Supervisor gave up: its children needed more than {self.model.max_restarts} restarts "
            f"within {self.model.max_seconds} s (last: {gave_up.name!r}, {gave_up.reason})"
        )
        # every child was stopped before the supervisor exited, and every name was freed
        assert all(ref.wait_exit(0) is not None for _, ref in self.seen.values())  # type: ignore[attr-defined]
        assert pykka.ActorRegistry.get_all() == []
        assert [n for n in POOL if whereis(n) is not None or registry.held(n)] == []
        give_ups.append(self.model.strategy)
        self.root, self.model = None, None
        self.seen.clear()

    # ---- children exiting ----

    @precondition(lambda self: self.running())
    @rule(index=st.integers(0, 4))
    def crash_a_child(self, index: int) -> None:
        child, ref = self.pick(index)
        ref.proxy().crash.defer()
        assert exited(ref).kind == "crash"
        self.apply(lambda: self.model.exited(child, "crash", self.now))  # type: ignore[union-attr]

    @precondition(lambda self: self.running())
    @rule(index=st.integers(0, 4))
    def a_child_stops_itself(self, index: int) -> None:
        child, ref = self.pick(index)
        ref.proxy().stop_self().get(timeout=WAIT)
        assert exited(ref).kind == "normal"
        self.apply(lambda: self.model.exited(child, "normal", self.now))  # type: ignore[union-attr]

    @precondition(lambda self: self.running())
    @rule(index=st.integers(0, 4))
    def stop_a_child_from_outside(self, index: int) -> None:
        child, ref = self.pick(index)
        assert ref.stop(timeout=WAIT) is True
        assert exited(ref).kind == "shutdown"
        self.apply(lambda: self.model.exited(child, "shutdown", self.now))  # type: ignore[union-attr]

    # ---- the dynamic API ----

    @precondition(lambda self: self.root is not None)
    @rule(name=st.sampled_from(POOL), restart=st.sampled_from(RESTART_TYPES))
    def start_child(self, name: str, restart: RestartType) -> None:
        assert self.model is not None
        spec = ChildSpec(name, Worker, kwargs={"name": name}, restart=restart)
        if self.model.child(name) is not None:
            outcome(lambda: self.proxy.start_child(spec).get(timeout=WAIT), DuplicateNameError)
            return
        self.model.add(name, restart)
        added = self.model.children[-1]
        added.running = False
        if not self.model.start(added):
            self.model.children.remove(added)  # a child that failed to start is not kept
            outcome(lambda: self.proxy.start_child(spec).get(timeout=WAIT), ChildStartError)
            return
        assert self.proxy.start_child(spec).get(timeout=WAIT) is whereis(name)

    @precondition(lambda self: self.root is not None)
    @rule(name=st.sampled_from(POOL))
    def terminate_child(self, name: str) -> None:
        assert self.model is not None
        child = self.model.child(name)
        outcome(
            lambda: self.proxy.terminate_child(name).get(timeout=WAIT),
            None if child else UnknownChildError,
        )
        if child is not None:
            child.running = False
            if child.restart == "temporary":
                self.model.children.remove(child)

    @precondition(lambda self: self.root is not None)
    @rule(name=st.sampled_from(POOL))
    def restart_child(self, name: str) -> None:
        assert self.model is not None
        child = self.model.child(name)

        def call() -> Any:
            return self.proxy.restart_child(name).get(timeout=WAIT)

        if child is None:
            outcome(call, UnknownChildError)
        elif child.running:
            outcome(call, ValueError)
        elif not self.model.start(child):
            outcome(call, ChildStartError)  # not a restart by the supervisor: not counted
        else:
            assert call() is whereis(name)

    @precondition(lambda self: self.root is not None)
    @rule(name=st.sampled_from(POOL))
    def delete_child(self, name: str) -> None:
        assert self.model is not None
        child = self.model.child(name)

        def call() -> Any:
            return self.proxy.delete_child(name).get(timeout=WAIT)

        if child is None:
            outcome(call, UnknownChildError)
        elif child.running:
            outcome(call, ValueError)
        else:
            call()
            self.model.children.remove(child)

    @precondition(lambda self: self.root is not None)
    @rule(name=st.sampled_from(POOL), times=st.integers(1, 2))
    def make_the_next_starts_of_a_name_fail(self, name: str, times: int) -> None:
        assert self.model is not None
        failing_starts[name] = failing_starts.get(name, 0) + times
        self.model.failing[name] = self.model.failing.get(name, 0) + times

    # ---- the check after every step ----

    @invariant()
    def the_supervisor_agrees_with_the_model(self) -> None:
        if self.root is None or self.model is None:
            assert [n for n in POOL if whereis(n) is not None] == []
            return
        model = self.model
        self.proxy.settled().get(timeout=WAIT)  # the restarts of the step's exits concluded
        infos = self.proxy.which_children().get(timeout=WAIT)
        assert [(i.name, i.restart, i.alive, i.restarts) for i in infos] == [
            (c.name, c.restart, c.running, c.restarts) for c in model.children
        ]
        assert [i.last_crash.message if i.last_crash else None for i in infos] == [c.last_crash for c in model.children]
        for info, child in zip(infos, model.children):
            assert whereis(child.name) is info.ref
            if not child.running:
                assert info.ref is None
                continue
            assert info.ref is not None and not info.is_supervisor
            last = self.seen.get(child.name)
            if last is not None:  # the same incarnation keeps its ref; a new one has a new ref
                assert (info.ref is last[1]) == (child.incarnation == last[0]), child.name
            self.seen[child.name] = (child.incarnation, info.ref)
            assert info.ref.proxy().ping().get(timeout=WAIT) == child.name
        held = {c.name for c in model.children}
        assert [n for n in POOL if n not in held and whereis(n) is not None] == []
        assert {n for n in POOL if registry.held(n)} == held  # names are freed exactly
        counts = self.proxy.count_children().get(timeout=WAIT)
        running = sum(c.running for c in model.children)
        assert (counts.specs, counts.active, counts.supervisors, counts.workers) == (
            len(held),
            running,
            0,
            len(held),
        )
        assert self.proxy.statistics().get(timeout=WAIT).restarts == model.restarts
        assert {n: k for n, k in failing_starts.items() if k} == {n: k for n, k in model.failing.items() if k}


class IntensityMachine(SupervisorMachine):
    """Small limits on a fake clock the steps move: the supervisor gives up, exactly when the model does."""

    def limits(self, intensity: int, window: int) -> tuple[int, float, dict[str, Any]]:
        return intensity, float(window), {"clock": lambda: self.now}

    @precondition(lambda self: self.root is not None)
    @rule(seconds=st.sampled_from([0.5, 1.0, 2.0, 3.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds


def test_random_steps_keep_the_supervisor_in_line_with_otps_rules() -> None:
    run_state_machine_as_test(
        SupervisorMachine, settings=settings(max_examples=60, stateful_step_count=30, deadline=None)
    )


def test_the_supervisor_gives_up_exactly_when_the_model_exceeds_the_restart_intensity() -> None:
    give_ups.clear()
    run_state_machine_as_test(
        IntensityMachine, settings=settings(max_examples=80, stateful_step_count=30, deadline=None)
    )
    assert give_ups, "no supervisor reached its restart intensity"


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize(("pause", "gives_up"), [(1.0, True), (2.0, False)])
def test_a_failed_restart_counts_and_old_restarts_leave_the_window(
    strategy: Strategy, pause: float, gives_up: bool
) -> None:
    """Two restarts allowed within 2 s: a crash at 0 s, then at `pause` s a crash whose restart fails."""
    machine = IntensityMachine()
    try:
        initial: list[tuple[str, RestartType]] = [
            ("model-a", "permanent"),
            ("model-b", "transient"),
            ("model-c", "temporary"),
        ]
        machine.start_a_supervisor(strategy, initial, intensity=2, window=2)
        steps: list[Callable[[], None]] = [
            lambda: machine.crash_a_child(1),  # model-b, at 0 s
            lambda: machine.time_passes(pause),
            lambda: machine.make_the_next_starts_of_a_name_fail("model-a", 1),
            lambda: machine.crash_a_child(0),  # model-a; its restart fails and is retried
        ]
        for step in steps:
            machine.the_supervisor_agrees_with_the_model()
            step()
        machine.the_supervisor_agrees_with_the_model()
        assert (machine.root is None) == gives_up  # gave up at 1 s; at 2 s the first restart expired
    finally:
        machine.teardown()


def test_the_model_restarts_groups_and_gives_up_as_otp_does() -> None:
    model = Model("one_for_all", max_restarts=1, max_seconds=2.0)
    for name, restart in [("a", "permanent"), ("b", "temporary"), ("c", "transient")]:
        model.add(name, restart)  # type: ignore[arg-type]
    a, _, c = model.children
    model.exited(c, "crash", now=0.0)
    assert [(x.name, x.running, x.restarts) for x in model.children] == [
        ("a", True, 1),
        ("c", True, 1),
    ]
    with pytest.raises(GaveUp):
        model.exited(a, "normal", now=1.0)
