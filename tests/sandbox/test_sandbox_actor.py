"""SandboxActor: a supervised pool that runs calls and reports real resource figures."""

from __future__ import annotations

import os

import psutil
import pytest
import sandbox_targets as targets

from zixir.actors import ChildSpec, Supervisor, whereis
from zixir.errors import ArgumentTypeError, ChildStartError, InvalidArgumentError
from zixir.sandbox.actor import SandboxActor


def test_the_proxy_runs_calls_and_reports_the_resources_of_host_and_pool() -> None:
    ref = SandboxActor.start(timeout=10.0, workers=2)
    proxy = ref.proxy()
    assert proxy.run(targets.double, 21).get().value == 42
    assert [r.value for r in proxy.map(targets.double, [1, 2, 3]).get()] == [2, 4, 6]
    assert proxy.run(targets.raise_value_error, "bad").get().reason == "exception"
    stats = proxy.resource_stats().get()
    assert stats.host.pid == os.getpid() and stats.host.rss > 0
    assert stats.host.uptime > 0 and stats.host.cpu_percent >= 0
    assert stats.fork_server is not None and stats.fork_server.pid != os.getpid()
    assert len(stats.workers) == 2 and all(w.rss > 0 for w in stats.workers)
    assert stats.calls == 5 and stats.reasons == {"ok": 4, "exception": 1}
    pool = [psutil.Process(pid) for pid in (stats.fork_server.pid, *(w.pid for w in stats.workers))]
    ref.stop()
    _, alive = psutil.wait_procs(pool, timeout=10)
    assert alive == []  # stopping the actor closed its pool


def test_a_bad_option_fails_the_start_under_a_supervisor() -> None:
    with pytest.raises(ChildStartError, match="timeout must be"):
        Supervisor.start(children=[ChildSpec("pool", SandboxActor, kwargs={"timeout": -1})])
    root = Supervisor.start(children=[ChildSpec("pool", SandboxActor, kwargs={"timeout": 5.0})])
    assert whereis("pool").proxy().run(targets.double, 2).get().value == 4
    root.stop()


def test_calls_are_counted_per_reason_in_prometheus() -> None:
    from zixir.observability.metrics import exposition

    def count(reason: str) -> float:
        for line in exposition().splitlines():
            if line.startswith(f'zixir_sandbox_calls_total{{reason="{reason}"}}'):
                return float(line.split()[-1])
        return 0.0

    before = count("ok"), count("crashed")
    ref = SandboxActor.start(workers=1)
    ref.proxy().run(targets.double, 1).get()
    assert ref.proxy().run(targets.hard_exit, 3).get().reason == "crashed"
    ref.stop()
    assert (count("ok"), count("crashed")) == (before[0] + 1, before[1] + 1)


def test_options_are_checked_when_the_actor_is_built_with_typed_errors() -> None:
    with pytest.raises(
        ArgumentTypeError,
        match=r"^SandboxActor got an unknown option 'workrs'; "
        r"it takes Sandbox's: timeout, cpu_time, ",
    ):
        SandboxActor.start(workrs=2)
    with pytest.raises(
        InvalidArgumentError,
        match=r"^timeout must be a finite number > 0, "
        r"got nan$",
    ) as bad:
        SandboxActor.start(timeout=float("nan"))
    assert bad.value.argument == "timeout"
    with pytest.raises(ArgumentTypeError, match=r"^memory must be an int \(bytes\) or a str"):
        SandboxActor.start(memory=True)


def test_call_durations_land_in_the_histogram_per_reason() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from zixir.observability.metrics import exposition

    def histogram(reason: str) -> tuple[float, float]:
        """The count of calls, and how many took at most 300 s, for `reason`."""
        count = within = 0.0
        for family in text_string_to_metric_families(exposition()):
            for sample in family.samples:
                if sample.labels.get("reason") != reason:
                    continue
                if sample.name == "zixir_sandbox_call_duration_seconds_count":
                    count = sample.value
                elif sample.name == "zixir_sandbox_call_duration_seconds_bucket" and sample.labels["le"] == "300.0":
                    within = sample.value
        return count, within

    before = histogram("timeout")
    ref = SandboxActor.start(workers=1, timeout=0.2)
    result = ref.proxy().run(targets.sleep, 30.0).get()
    ref.stop()
    assert result.reason == "timeout" and result.duration >= 0.2
    count, within = histogram("timeout")
    assert (count, within) == (before[0] + 1, before[1] + 1)
