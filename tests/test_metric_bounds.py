"""A long-lived process keeps a fixed number of metric series, however many actors and
breakers come and go."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from zixir import Actor, ChildSpec, CircuitBreaker, DynamicSupervisor
from zixir.actors import registry

WAIT = 10.0


class Churner(Actor):
    def crash(self) -> None:
        raise RuntimeError("churned")


def exposed_series() -> dict[str, int]:
    return {family.name: len(family.samples) for family in REGISTRY.collect() if family.name.startswith("zixir_")}


def churn_dynamic_children(supervisor: DynamicSupervisor, count: int) -> None:
    proxy = supervisor.actor_ref.proxy()
    for n in range(count):
        ref = proxy.start_child().get(timeout=WAIT)
        name = next(c.name for c in proxy.which_children().get(timeout=WAIT) if c.ref is ref)
        if n % 10 == 0:  # every tenth crashes and is restarted under its own name
            ref.proxy().crash.defer()
            assert ref.wait_exit(WAIT) is not None
            assert registry.wait_for(name, WAIT) is not None
        proxy.terminate_child(name).get(timeout=WAIT)
        proxy.delete_child(name).get(timeout=WAIT)


def churn_unnamed_breakers(count: int) -> None:
    for _ in range(count):
        breaker = CircuitBreaker(failure_threshold=1)
        with pytest.raises(ValueError):
            breaker.call(int, "x")
        assert breaker.state == "open"


def test_5000_dynamic_children_and_1000_unnamed_breakers_add_no_series() -> None:
    ref = DynamicSupervisor.start(ChildSpec("churner", Churner), max_restarts=10_000, max_seconds=1.0)
    supervisor = ref.proxy()
    churn_dynamic_children(supervisor, 20)  # every label set this test uses exists now
    churn_unnamed_breakers(20)
    before = exposed_series()
    churn_dynamic_children(supervisor, 5_000)
    churn_unnamed_breakers(1_000)
    assert exposed_series() == before
    restarts = REGISTRY.get_sample_value("zixir_supervisor_restarts_total", {"supervisor": "root", "child": "churner"})
    assert restarts == 502
    ref.stop()
