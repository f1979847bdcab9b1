"""Zixir's records carry stable event names and fields, listed in one table."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from zixir import CircuitBreaker, RetryPolicy
from zixir.cache import env
from zixir.errors import RetryError
from zixir.observability import events

DOCS = Path(__file__).resolve().parent.parent / "docs" / "observability.md"


@pytest.fixture
def fields() -> Iterator[list[dict[str, Any]]]:
    """Each Zixir record's event fields (loguru's extra), with its level and message."""
    out: list[dict[str, Any]] = []
    logger.enable("zixir")
    handler = logger.add(
        lambda m: out.append({**m.record["extra"], "level": m.record["level"].name, "message": m.record["message"]}),
        level="DEBUG",
    )
    yield out
    logger.remove(handler)
    logger.disable("zixir")


def _of(records: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [r for r in records if r.get("event") == event]


def _own_fields(record: dict[str, Any]) -> set[str]:
    return set(record) - {"event", "level", "message"}


def test_every_event_is_in_the_docs_table_with_its_fields() -> None:
    rows = {}
    for line in DOCS.read_text().splitlines():
        found = re.match(r"^\| `([a-z_]+(?:\.[a-z_]+)+)` \| (\w+) \| ([^|]*) \|", line)  # any dotted name
        if found:
            rows[found[1]] = (found[2], re.findall(r"`(\w+)`", found[3]))
    assert set(rows) == set(events.EVENTS)
    for name, event in events.EVENTS.items():
        assert rows[name] == (event.level, list(event.fields)), name


def test_breaker_transitions_are_events_with_the_old_and_new_state(fields: list[dict[str, Any]]) -> None:
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=5.0, name="ledger", clock=lambda: now[0])
    with pytest.raises(ValueError):
        breaker.call(int, "not a number")
    now[0] = 10.0
    assert breaker.state == "half_open"
    opened, probing = _of(fields, events.BREAKER_TRANSITION)
    assert opened == {
        "event": "breaker.transition", "breaker": "ledger", "old_state": "closed", "state": "open",
        "level": "WARNING", "message": "circuit breaker 'ledger': closed -> open",
    }  # fmt: skip
    assert (probing["old_state"], probing["state"], probing["level"]) == ("open", "half_open", "INFO")


def test_retry_attempts_and_giving_up_are_events_without_the_calls_arguments(fields: list[dict[str, Any]]) -> None:
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=3, initial_delay=0.5, multiplier=2.0, jitter=0.0, sleep=waits.append)

    def charge(card: str) -> None:
        raise TimeoutError("the gateway did not answer")

    with pytest.raises(RetryError):
        policy.call(charge, "4111-1111-1111-1111")
    failed = _of(fields, events.RETRY_ATTEMPT_FAILED)
    assert [(r["attempt"], r["wait"], r["error_type"]) for r in failed] == [
        (1, 0.5, "TimeoutError"),
        (2, 1.0, "TimeoutError"),
    ]
    (gave_up,) = _of(fields, events.RETRY_GAVE_UP)
    assert (gave_up["attempts"], gave_up["cause"], gave_up["error_type"]) == (
        3,
        "max_attempts=3 reached",
        "TimeoutError",
    )
    assert gave_up["target"] == failed[0]["target"] and "charge" in gave_up["target"]
    assert _own_fields(gave_up) == set(events.EVENTS[events.RETRY_GAVE_UP].fields)
    assert not [r for r in fields if "4111-1111" in repr(r)]


def test_retry_recovery_is_an_event(fields: list[dict[str, Any]]) -> None:
    outcomes = iter([OSError("flaky"), None])

    def flaky() -> str:
        error = next(outcomes)
        if error is not None:
            raise error
        return "done"

    assert RetryPolicy(max_attempts=3, jitter=0.0, sleep=lambda _: None).call(flaky) == "done"
    (recovered,) = _of(fields, events.RETRY_RECOVERED)
    assert recovered["attempt"] == 2 and _own_fields(recovered) == {"target", "attempt"}


def test_cache_map_growth_is_an_event_with_the_new_size(tmp_path: Path, fields: list[dict[str, Any]]) -> None:
    shared = env.acquire(tmp_path / "env", 1 << 20, durable=False)
    try:
        db = shared.open_db(b"big")
        shared.write(lambda txn: [txn.put(b"k%d" % i, b"x" * 1000) for i in range(3000)], db=db)
        size = shared.env.info()["map_size"]
    finally:
        env.release(shared)
    grown = _of(fields, events.CACHE_MAP_GROWN)
    assert grown and all(r["path"] == str(tmp_path / "env") for r in grown)
    assert [r["map_size_mib"] for r in grown] == [2 ** (n + 1) for n in range(len(grown))]
    assert grown[-1]["map_size_mib"] == size >> 20


def test_workflow_transitions_are_declared_events_with_their_fields(
    tmp_path: Path, fields: list[dict[str, Any]]
) -> None:
    from zixir.workflow import Workflow

    flaky = iter([OSError("card 4111-1111-1111-1111 declined"), None])

    def charge() -> int:
        error = next(flaky)
        if error is not None:
            raise error
        return 1

    def broken() -> int:
        raise ValueError("secret 4111-1111-1111-1111")

    wf = Workflow("events", store=tmp_path / "store")
    wf.add_step("charge", charge, retry=RetryPolicy(max_attempts=2, initial_delay=0.001, jitter=0.0))
    wf.add_step("maybe", lambda: 1, condition=lambda: False)
    wf.add_step("after", lambda maybe: maybe)
    wf.add_step("optional", broken, on_error="continue", fallback=0)
    wf.add_step("required", broken, depends_on=["charge", "optional"])
    try:
        result = wf.run()
    finally:
        wf.close()
    assert result.status == "failed"
    seen = {r["event"] for r in fields if str(r.get("event", "")).startswith("workflow.")}
    assert seen == {
        events.WORKFLOW_RUN_STARTED, events.WORKFLOW_RUN_FAILED, events.WORKFLOW_STEP_STARTED,
        events.WORKFLOW_STEP_RETRYING, events.WORKFLOW_STEP_SUCCEEDED, events.WORKFLOW_STEP_SKIPPED,
        events.WORKFLOW_STEP_FAILED_CONTINUED, events.WORKFLOW_STEP_FAILED,
    }  # fmt: skip
    for record in fields:
        if record.get("event") in seen:
            declared = events.EVENTS[record["event"]]
            assert (record["level"], _own_fields(record)) == (declared.level, set(declared.fields)), record
            assert "4111-1111" not in repr({k: v for k, v in record.items() if k != "message"})
    (failed,) = _of(fields, events.WORKFLOW_STEP_FAILED)
    assert (failed["step"], failed["error_type"]) == ("required", "ValueError") and "4111" in failed["message"]
