"""DynamicSupervisor, stable handles, ensure_started, restart backoff and health checks."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pykka
import pytest

from tests.actors.support import WAIT, Probe, crash_and_wait, running
from zixir.actors import (
    ChildSpec,
    DynamicSupervisor,
    RestartBackoff,
    Supervisor,
    ensure_started,
    handle,
    registry,
    whereis,
)
from zixir.actors.health import HealthCheck
from zixir.errors import ChildStartError


class Counter(Probe):
    def __init__(self, name: str = "counter", start: int = 0, step: int = 1) -> None:
        super().__init__(name)
        self.value = start
        self.step = step

    def bump(self) -> int:
        self.value += self.step
        return self.value

    def crash_asked(self) -> None:
        raise RuntimeError(f"{self.label} crashed")


def test_a_dynamic_supervisor_starts_children_of_its_template_with_extra_arguments() -> None:
    sup = DynamicSupervisor.start(template=ChildSpec("counter", Counter, kwargs={"step": 2}), max_children=2)
    first = sup.proxy().start_child("counter-1", 10).get()
    second = sup.proxy().start_child(name="counter-2", step=5).get()
    assert first.proxy().bump().get() == 12 and second.proxy().bump().get() == 5
    assert [c.name for c in sup.proxy().which_children().get()] == ["counter-1", "counter-2"]
    with pytest.raises(RuntimeError, match=r"already runs max_children=2 children"):
        sup.proxy().start_child().get()
    crash_and_wait("counter-1")  # one_for_one restarts, with the same extra arguments
    assert running("counter-1").proxy().bump().get() == 12


def test_a_handle_reaches_the_current_incarnation_across_restarts() -> None:
    Supervisor.start(children=[ChildSpec("c", Counter, kwargs={"name": "c"})])
    h = handle("c")
    assert h.proxy().bump().get() == 1
    crash_and_wait("c")
    assert h.proxy().bump().get() == 1  # a fresh incarnation, reached without a new lookup
    assert h.ask("anything") is None
    assert repr(h).startswith("Handle('c', now Counter")


def test_a_handle_waits_for_a_restart_then_gives_up_with_a_clear_error() -> None:
    root = Supervisor.start(children=[ChildSpec("c", Counter, kwargs={"name": "c"})])
    root.proxy().terminate_child("c").get()
    with pytest.raises(pykka.ActorDeadError, match=r"^no actor named 'c' was running within 0.05 s$"):
        handle("c", timeout=0.05).ref  # noqa: B018 - the lookup raises
    threading.Timer(0.02, lambda: root.proxy().restart_child("c")).start()
    assert handle("c", timeout=WAIT).proxy().bump().get() == 1


def test_ensure_started_starts_once_however_many_threads_race() -> None:
    spec = ChildSpec("solo", Counter, kwargs={"name": "solo"})
    with ThreadPoolExecutor(8) as pool:
        refs = list(pool.map(lambda _: ensure_started(spec), range(32)))
    assert len({id(r) for r in refs}) == 1
    assert refs[0].proxy().bump().get() == 1
    refs[0].stop()
    refs[0].wait_exit(WAIT)
    assert whereis("solo") is None
    assert ensure_started(spec) is not refs[0]  # the name was freed at exit


def test_ensure_started_under_a_supervisor_adds_a_child() -> None:
    root = Supervisor.start(children=[])
    ref = ensure_started(ChildSpec("kid", Counter, kwargs={"name": "kid"}), supervisor=root)
    assert ensure_started(ChildSpec("kid", Counter), supervisor=root) is ref
    assert [c.name for c in root.proxy().which_children().get()] == ["kid"]


def test_ensure_started_reports_a_failed_start() -> None:
    with pytest.raises(ChildStartError, match=r"^'bad' failed to start: crash: RuntimeError: bad cannot start$"):
        ensure_started(ChildSpec("bad", Probe, kwargs={"name": "bad", "fail_start": True}))
    assert whereis("bad") is None


def test_backoff_delays_grow_exponentially_within_the_jitter_and_cap() -> None:
    backoff = RestartBackoff(initial_delay=0.1, max_delay=1.0, multiplier=2.0, jitter=0.1, random=random.Random(3))
    delays = [backoff.delay(n) for n in range(6)]
    for n, d in enumerate(delays):
        base = min(1.0, 0.1 * 2**n)
        assert base * 0.9 <= d <= base * 1.1
    with pytest.raises(ValueError, match=r"jitter must be a fraction in \[0, 1\)"):
        RestartBackoff(jitter=1.5)


def test_a_restart_with_backoff_waits_while_the_supervisor_stays_responsive() -> None:
    backoff = RestartBackoff(initial_delay=0.2, max_delay=0.2, jitter=0.0)
    root = Supervisor.start(children=[ChildSpec("c", Counter, kwargs={"name": "c"})], backoff=backoff)
    old = running("c")
    old.proxy().crash.defer()
    old.wait_exit(WAIT)
    (info,) = root.proxy().which_children().get(timeout=WAIT)  # answers during the wait
    assert info.ref is None and whereis("c") is None
    assert running("c") is not old


def test_a_hung_child_is_abandoned_and_restarted_by_the_health_check() -> None:
    release = threading.Event()
    now = [0.0]  # the supervisor's clock: the ping deadlines are on it

    class Hanging(Counter):
        def hang(self) -> None:
            release.wait(WAIT * 2)

    root = Supervisor.start(
        children=[ChildSpec("h", Hanging, kwargs={"name": "h"})],
        health_check_interval=3600.0,  # the test tells the checks itself
        health_check_timeout=0.1,
        clock=lambda: now[0],
    )

    def check_at(when: float) -> int:
        now[0] = when
        root.tell(HealthCheck())
        return int(root.proxy().statistics().get(timeout=WAIT).abandoned)  # after the check

    try:
        hung = running("h")
        hung.proxy().hang.defer()
        assert check_at(0.0) == 0  # pings "h"
        assert check_at(0.09) == 0  # still within its 0.1 s
        assert check_at(0.1) == 1  # overdue: abandoned, and a fresh one started
        replacement = running("h")
        assert replacement is not hung
        assert replacement.proxy().bump().get() == 1
        assert check_at(0.2) == 1  # pings the replacement...
        assert replacement.proxy().bump().get() == 2  # ...which has answered it by now
        assert check_at(5.0) == 1  # long past the deadline, but answered: not abandoned
        stats = root.proxy().statistics().get()
        assert stats.abandoned == 1 and stats.children[0].last_crash.error_type == "Unresponsive"
    finally:
        release.set()
    assert hung.wait_exit(WAIT) is not None  # once released, the abandoned one stops


def test_health_checks_arrive_on_their_interval_and_find_a_hung_child() -> None:
    release = threading.Event()

    class Hanging(Counter):
        def hang(self) -> None:
            release.wait(WAIT * 2)

    Supervisor.start(
        children=[ChildSpec("h", Hanging, kwargs={"name": "h"})],
        health_check_interval=0.02,
        health_check_timeout=0.05,
    )
    try:
        hung = running("h")
        hung.proxy().hang.defer()
        replacement = registry.wait_for("h", WAIT * 2, other_than=hung)
        assert replacement is not None, "the hung child was not replaced"
        assert replacement.proxy().bump().get() == 1
    finally:
        release.set()
    assert hung.wait_exit(WAIT) is not None


def test_a_breaker_on_a_handle_fails_fast_once_the_actor_keeps_failing() -> None:
    from zixir import CircuitBreaker, CircuitOpenError

    Supervisor.start(children=[ChildSpec("c", Counter, kwargs={"name": "c"})])
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=10.0, name="c-handle", clock=lambda: now[0])
    h = handle("c", breaker=breaker)
    assert h.call("bump") == 1
    for _ in range(2):
        with pytest.raises(RuntimeError, match="c crashed"):
            h.call("crash_asked")
    assert breaker.state == "open"
    for through_the_breaker in (lambda: h.call("bump"), lambda: h.ask("ping"), lambda: h.tell("ping")):
        with pytest.raises(CircuitOpenError):
            through_the_breaker()
    now[0] = 11.0
    assert h.call("bump") == 2 and breaker.state == "closed"


def test_metrics_count_exits_and_restarts() -> None:
    from prometheus_client import REGISTRY

    def sample(metric: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(metric, labels) or 0.0

    crashes = sample("zixir_actor_exits_total", actor_class="Counter", kind="crash")
    restarts = sample("zixir_supervisor_restarts_total", supervisor="metered", child="m")
    Supervisor.start(children=[ChildSpec("m", Counter, kwargs={"name": "m"})], name="metered")
    crash_and_wait("m")
    assert sample("zixir_actor_exits_total", actor_class="Counter", kind="crash") == crashes + 1
    assert sample("zixir_supervisor_restarts_total", supervisor="metered", child="m") == restarts + 1
