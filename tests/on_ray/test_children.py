"""Children placed on Ray under a supervisor: restarts, strategies, intensity, hangs, stops."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pykka
import pytest

import zixir
from tests.on_ray.targets import WAIT, Local, Strict, Worker
from zixir import ChildSpec, Supervisor
from zixir.actors import registry
from zixir.actors.health import HealthCheck
from zixir.errors import ChildStartError, RayActorDiedError, RemoteError
from zixir.observability import events
from zixir.ray import RayChildRef, RayPlacement
from zixir.ray.child import RAY_ACTOR_PREFIX

ray = pytest.importorskip("ray")

Start = Callable[..., pykka.ActorRef[Any]]


@pytest.fixture
def start(ray_cluster: str) -> Iterator[Start]:
    """Starts a root supervisor for the test; stops it (and its Ray actors) before disconnecting."""
    roots: list[pykka.ActorRef[Any]] = []

    def starter(*children: ChildSpec, **options: Any) -> pykka.ActorRef[Any]:
        root = Supervisor.start(children=children, **options)
        roots.append(root)
        return root

    yield starter
    for root in roots:
        if root.is_alive():
            root.stop(timeout=WAIT)


def running(name: str) -> Any:
    ref = registry.wait_for(name, WAIT)
    assert ref is not None, f"{name} is not running"
    return ref


def replaced(old: pykka.ActorRef[Any], name: str) -> Any:
    ref = registry.wait_for(name, WAIT, other_than=old)
    assert ref is not None, f"{name} was not restarted"
    return ref


def gone(ray_actor: Any) -> None:
    """Waits until `ray_actor` is dead: a call to it fails as Ray reports a lost actor."""
    with pytest.raises(ray.exceptions.RayActorError):
        ray.get(ray_actor.ping.remote(), timeout=WAIT)


def no_child_alive_on_ray() -> None:
    """Every Ray actor of a placed child is dead (or dying, and then dead before this returns)."""
    for name in ray.util.list_named_actors():
        if name.startswith(RAY_ACTOR_PREFIX):
            try:
                handle = ray.get_actor(name)
            except ValueError:
                continue  # dead already
            gone(handle)


def deaths(cause: str) -> float:
    from prometheus_client import REGISTRY

    value = REGISTRY.get_sample_value("zixir_ray_child_deaths_total", {"actor_class": "Worker", "cause": cause})
    return value or 0.0


def died(records: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (r["extra"]["child"], r["extra"]["cause"], r["extra"]["error_type"])
        for r in records
        if r["extra"].get("event") == events.RAY_CHILD_DIED
    ]


def test_a_child_killed_with_ray_kill_is_restarted_and_its_handle_answers(
    start: Start, records: list[dict[str, Any]]
) -> None:
    before = deaths("killed")
    root = start(ChildSpec("w", Worker, kwargs={"factor": 2}, placement=RayPlacement(num_cpus=0.5)))
    first = running("w")
    assert isinstance(first, RayChildRef) and first.placement == RayPlacement(num_cpus=0.5)
    ray.kill(first.ray_actor)
    second = replaced(first, "w")
    assert zixir.handle("w").call("work", 21) == 42
    assert second.proxy().work(1).get(timeout=WAIT) == 2
    (info,) = root.proxy().which_children().get(timeout=WAIT)
    assert info.restarts == 1 and info.last_crash.error_type == "RayActorDiedError"
    error = info.last_crash.exception
    assert isinstance(error, RayActorDiedError) and (error.child, error.cause) == ("w", "killed")
    assert str(error) == "child 'w' lost its Ray actor (killed): The actor is dead because it was killed by `ray.kill`."
    assert died(records) == [("w", "killed", "RayActorDiedError")]
    assert deaths("killed") == before + 1


def test_one_for_all_restarts_the_local_child_when_the_remote_one_is_killed(start: Start) -> None:
    root = start(
        ChildSpec("local", Local),
        ChildSpec("remote", Worker, placement=RayPlacement()),
        strategy="one_for_all",
    )
    local, remote = running("local"), running("remote")
    ray.kill(remote.ray_actor)
    replaced(remote, "remote")
    root.proxy().settled().get(timeout=WAIT)
    assert local.wait_exit(WAIT) is not None and running("local") is not local
    assert zixir.handle("local").call("ping") == "pong" and zixir.handle("remote").call("work", 3) == 3
    assert [c.restarts for c in root.proxy().which_children().get(timeout=WAIT)] == [1, 1]


def test_a_remote_child_crashing_past_the_intensity_makes_its_supervisor_give_up_and_escalate(start: Start) -> None:
    brittle = ChildSpec("brittle", Worker, placement=RayPlacement())
    inner = ChildSpec("inner", Supervisor, kwargs={"children": [brittle], "max_restarts": 0, "max_seconds": 60.0})
    root = start(inner)
    first_inner, first_brittle = running("inner"), running("brittle")
    first_brittle.proxy().fail.defer()
    replaced(first_inner, "inner")
    root.proxy().settled().get(timeout=WAIT)
    (info,) = root.proxy().which_children().get(timeout=WAIT)
    assert info.restarts == 1 and info.last_crash.error_type == "RestartIntensityError"
    assert "(last: 'brittle', crash: tests.on_ray.targets.Boom: nope)" in info.last_crash.message
    assert zixir.handle("brittle").call("work", 5) == 5  # a fresh tree, a fresh Ray actor
    gone(first_brittle.ray_actor)


def test_an_asked_error_comes_back_and_a_told_one_crashes_the_child_with_the_remote_reason(
    start: Start, records: list[dict[str, Any]]
) -> None:
    root = start(ChildSpec("w", Worker, placement=RayPlacement()))
    ref = running("w")
    with pytest.raises(Exception, match=r"^nope\n") as info:  # then its notes
        ref.proxy().fail().get(timeout=WAIT)
    assert type(info.value).__qualname__ == "Boom" and str(info.value) == "nope"  # the user's own exception
    assert "raised in the Ray actor of child 'w'" in info.value.__notes__[0]
    assert ref.proxy().work(4).get(timeout=WAIT) == 4  # it lives on
    assert died(records) == []

    ref.proxy().fail.defer()
    replaced(ref, "w")
    (child,) = root.proxy().which_children().get(timeout=WAIT)
    crash = child.last_crash
    assert child.restarts == 1 and (crash.error_type, crash.message) == ("tests.on_ray.targets.Boom", "nope")
    assert 'raise Boom("nope")' in crash.traceback and "in fail" in crash.traceback  # formatted on Ray
    assert isinstance(crash.exception, RemoteError)
    assert died(records) == [("w", "exception", "tests.on_ray.targets.Boom")]
    gone(ref.ray_actor)


def test_an_asked_error_crashes_a_child_whose_class_says_so(start: Start) -> None:
    root = start(ChildSpec("strict", Strict, placement=RayPlacement()))
    ref = running("strict")
    with pytest.raises(Exception, match=r"^nope\n"):
        ref.proxy().fail().get(timeout=WAIT)  # the caller gets it, and the child crashes
    replaced(ref, "strict")
    (child,) = root.proxy().which_children().get(timeout=WAIT)
    assert child.restarts == 1 and child.last_crash.error_type == "tests.on_ray.targets.Boom"


def test_a_stopped_child_is_not_restarted_and_nothing_is_left_on_ray(start: Start, tmp_path: Path) -> None:
    marker = tmp_path / "stopped"
    root = start(
        ChildSpec("stopped", Worker, kwargs={"marker": str(marker)}, placement=RayPlacement()),
        ChildSpec("quitter", Worker, restart="transient", placement=RayPlacement()),
    )
    stopped, quitter = running("stopped"), running("quitter")
    assert stopped.stop(timeout=WAIT) is True  # once its Ray actor ran on_stop and was killed
    assert marker.read_text() == "on_stop ran"
    gone(stopped.ray_actor)

    quitter.proxy().quit.defer()  # the actor stops itself in its Ray worker (self.stop())
    reason = quitter.wait_exit(WAIT)
    assert reason is not None and reason.kind == "normal"
    gone(quitter.ray_actor)
    root.proxy().settled().get(timeout=WAIT)
    states = {c.name: (c.state, c.restarts) for c in root.proxy().which_children().get(timeout=WAIT)}
    assert states == {"stopped": ("stopped", 0), "quitter": ("stopped", 0)}
    assert zixir.whereis("stopped") is None and zixir.whereis("quitter") is None
    with pytest.raises(pykka.ActorDeadError):
        stopped.ask("hello", timeout=WAIT)
    with pytest.raises(pykka.ActorDeadError):
        stopped.tell("hello")
    no_child_alive_on_ray()


def test_a_hung_remote_child_is_found_by_the_health_check_killed_and_replaced(
    start: Start, records: list[dict[str, Any]]
) -> None:
    now = [0.0]  # the supervisor's clock: the ping deadlines are on it
    root = start(
        ChildSpec("h", Worker, placement=RayPlacement()),
        health_check_interval=3600.0,  # the test tells the checks itself
        health_check_timeout=1.0,
        clock=lambda: now[0],
    )

    def check_at(when: float) -> int:
        now[0] = when
        root.tell(HealthCheck())
        return int(root.proxy().statistics().get(timeout=WAIT).abandoned)  # after the check

    hung = running("h")
    hung.proxy().hang.defer()
    stuck = hung.proxy().work(1)
    with pytest.raises(pykka.Timeout, match=r"^Worker on Ray \(urn:uuid:.*\) did not answer within 0.1 s$"):
        stuck.get(timeout=0.1)
    assert check_at(0.0) == 0  # pings it: the ping waits in its queue behind the hang
    assert check_at(1.0) == 1  # unanswered: abandoned, its Ray actor killed, a fresh one started
    replacement = replaced(hung, "h")
    assert replacement.proxy().work(2).get(timeout=WAIT) == 2
    gone(hung.ray_actor)
    with pytest.raises(pykka.ActorDeadError, match=r"is gone \(killed\)"):
        stuck.get(timeout=WAIT)
    stats = root.proxy().statistics().get(timeout=WAIT)
    assert stats.children[0].last_crash.error_type == "Unresponsive"
    assert died(records) == [("h", "unresponsive", "Unresponsive")]


def test_a_placement_no_node_can_meet_fails_the_start_within_start_timeout_and_leaves_nothing(
    ray_cluster: str,
) -> None:
    spec = ChildSpec("big", Worker, start_timeout=1.0, placement=RayPlacement(num_cpus=64))
    with pytest.raises(
        ChildStartError,
        match=r"^child 'big' could not be placed on Ray within its start_timeout of 1.0 s: no node could give it "
        r"RayPlacement\(num_cpus=64.0\) \(Ray keeps such an actor pending until one can\); its Ray actor was killed",
    ) as info:
        Supervisor.start(children=[spec])
    assert info.value.child == "big"
    no_child_alive_on_ray()
    unknown = ChildSpec("pinned", Worker, placement=RayPlacement(node="10.9.9.9"))
    with pytest.raises(ChildStartError, match=r"no alive node has the address '10.9.9.9'"):
        Supervisor.start(children=[unknown])


def test_on_start_failing_on_ray_fails_the_start_with_the_remote_reason(ray_cluster: str) -> None:
    spec = ChildSpec("negative", Worker, kwargs={"factor": -1}, placement=RayPlacement())
    with pytest.raises(
        ChildStartError,
        match=r"^child 'negative' failed to start: crash: tests.on_ray.targets.Boom: factor -1 is negative",
    ):
        Supervisor.start(children=[spec])
    no_child_alive_on_ray()


def test_a_placed_child_needs_a_connection() -> None:
    assert zixir.ray.connected() is None
    spec = ChildSpec("w", Worker, placement=RayPlacement())
    with pytest.raises(ChildStartError, match=r"not connected to a Ray cluster; call zixir.ray.connect\(\) before"):
        Supervisor.start(children=[spec])


def test_a_dynamic_supervisor_places_the_children_of_a_placed_template(start: Start) -> None:
    template = ChildSpec("job", Worker, kwargs={"factor": 3}, placement=RayPlacement(num_cpus=0.25))
    dynamic = zixir.DynamicSupervisor.start(template)
    try:
        ref = dynamic.proxy().start_child().get(timeout=WAIT)
        assert isinstance(ref, RayChildRef) and ref.placement == template.placement
        assert zixir.handle("job-1").call("work", 2) == 6
    finally:
        dynamic.stop(timeout=WAIT)
    gone(ref.ray_actor)
