"""The exposition parses, and real work moves the numbers in it: counters, gauges, process_*."""

from __future__ import annotations

import gc
import shutil
import subprocess
import sys
import threading

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from zixir import Actor, CircuitBreaker, metrics
from zixir.errors import ArgumentTypeError

WAIT = 10.0


def _samples(text: str | None = None) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.exposition() if text is None else text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _breaker_states(name: str) -> dict[str, float]:
    samples = _samples()
    return {
        state: _value(samples, "zixir_breaker_state", breaker=name, state=state)
        for state in ("closed", "open", "half_open")
    }


class Idle(Actor):
    pass


def test_the_breaker_state_gauge_follows_transitions_with_one_series_per_state() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=5.0, name="gauge-test", clock=lambda: now[0])
    assert _breaker_states("gauge-test") == {"closed": 1.0, "open": 0.0, "half_open": 0.0}
    with pytest.raises(ValueError):
        breaker.call(int, "x")
    assert _breaker_states("gauge-test") == {"closed": 0.0, "open": 1.0, "half_open": 0.0}
    now[0] = 10.0
    assert breaker.call(int, "7") == 7  # the probe succeeds: half-open, then closed
    assert _breaker_states("gauge-test") == {"closed": 1.0, "open": 0.0, "half_open": 0.0}
    transitions = _value(_samples(), "zixir_breaker_transitions_total", breaker="gauge-test", state="half_open")
    assert transitions == 1.0


def test_breakers_that_come_and_go_leave_the_state_gauge_where_it_was() -> None:
    gc.collect()
    before = _breaker_states("unnamed")
    kept = []
    for n in range(1_000):
        breaker = CircuitBreaker(failure_threshold=1)
        if n % 2:
            with pytest.raises(ValueError):
                breaker.call(int, "x")
        if n % 100 < 2:
            kept.append(breaker)  # 10 closed, 10 open
    del breaker
    gc.collect()
    during = _breaker_states("unnamed")
    assert (during["closed"] - before["closed"], during["open"] - before["open"]) == (10, 10)
    kept.clear()
    gc.collect()
    assert _breaker_states("unnamed") == before


def test_live_threads_and_actor_exits_move_with_real_actors() -> None:
    before = _samples()
    refs = [Idle.start() for _ in range(5)]
    for ref in refs:
        assert ref.proxy().actor_urn.get(timeout=WAIT)
    during = _samples()
    assert _value(during, "zixir_threads") - _value(before, "zixir_threads") >= 5
    assert _value(during, "zixir_threads") == threading.active_count()
    for ref in refs:
        ref.stop()
    after = _samples()
    exits = "zixir_actor_exits_total"
    assert (
        _value(after, exits, actor_class="Idle", kind="shutdown")
        - _value(before, exits, actor_class="Idle", kind="shutdown")
        == 5
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prometheus_client's process collector reads /proc")
def test_the_process_collectors_metrics_are_in_the_exposition() -> None:
    samples = _samples()
    assert _value(samples, "process_resident_memory_bytes") > 0
    assert _value(samples, "process_open_fds") > 0
    assert ("process_cpu_seconds_total", ()) in samples


def test_openmetrics_exposition_parses_and_ends_with_eof() -> None:
    breaker = CircuitBreaker(name="openmetrics-test")
    text = metrics.exposition(openmetrics=True)
    assert text.endswith("# EOF\n")
    families = {family.name: family for family in parse_openmetrics(text)}
    assert families["zixir_breaker_state"].type == "gauge"
    assert families["zixir_actor_exits"].type == "counter"
    states = {
        s.labels["state"]: s.value
        for s in families["zixir_breaker_state"].samples
        if s.labels["breaker"] == "openmetrics-test"
    }
    assert states == {"closed": 1.0, "open": 0.0, "half_open": 0.0}
    assert breaker.state == "closed"


def test_openmetrics_must_be_a_bool() -> None:
    with pytest.raises(ArgumentTypeError, match=r"^openmetrics must be True or False, got 'yes'$"):
        metrics.exposition(openmetrics="yes")  # type: ignore[arg-type]


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool is not installed (Debian: apt-get install prometheus)"
)
def test_promtool_accepts_the_exposition_and_its_lint() -> None:
    # A fresh process, so only Zixir's metrics are checked, not the ones tests make up.
    # promtool reads the Prometheus text format only; OpenMetrics is checked by the
    # OpenMetrics parser above (which is strict).
    work = (
        "import zixir\nfrom zixir import metrics\n"
        "breaker = zixir.CircuitBreaker(failure_threshold=1, name='promtool')\n"
        "try:\n    breaker.call(int, 'x')\nexcept ValueError:\n    pass\n"
        "ref = zixir.Actor.start()\nref.stop()\n"
        "print(metrics.exposition(), end='')\n"
    )
    text = subprocess.run([sys.executable, "-c", work], capture_output=True, text=True, check=True, timeout=60).stdout
    assert 'zixir_breaker_state{breaker="promtool",state="open"} 1.0' in text
    promtool = shutil.which("promtool")
    assert promtool is not None
    checked = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
