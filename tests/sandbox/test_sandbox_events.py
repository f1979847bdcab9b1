"""A sandbox worker killed by a limit is logged with the limit as its reason."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sandbox_targets as targets
from loguru import logger

from zixir.observability import events
from zixir.sandbox import Sandbox


@pytest.fixture
def fields() -> Iterator[list[dict[str, Any]]]:
    out: list[dict[str, Any]] = []
    logger.enable("zixir")
    handler = logger.add(lambda m: out.append({**m.record["extra"], "level": m.record["level"].name}), level="DEBUG")
    yield out
    logger.remove(handler)
    logger.disable("zixir")


def test_a_worker_killed_past_its_timeout_is_an_event_with_the_reason(fields: list[dict[str, Any]]) -> None:
    with Sandbox(timeout=0.3) as sandbox:
        assert sandbox.run(targets.sleep, 1000).reason == "timeout"
        assert sandbox.run(targets.double, 4).value == 8
    (killed,) = [r for r in fields if r.get("event") == events.SANDBOX_WORKER_KILLED]
    assert (killed["reason"], killed["level"]) == ("timeout", "WARNING")
    assert isinstance(killed["pid"], int)


def test_a_worker_recycled_after_max_tasks_is_a_debug_event(fields: list[dict[str, Any]]) -> None:
    with Sandbox(timeout=30.0, max_tasks_per_worker=1) as sandbox:
        assert sandbox.run(targets.double, 4).value == 8
    recycled = [r for r in fields if r.get("event") == events.SANDBOX_WORKER_RECYCLED]
    assert [(r["cause"], r["level"]) for r in recycled] == [("max_tasks", "DEBUG")]
    assert not [r for r in fields if r.get("event") == events.SANDBOX_WORKER_KILLED]
