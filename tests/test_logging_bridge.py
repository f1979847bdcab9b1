"""configure_logging(bridge_stdlib=True): stdlib records join Zixir's sink, and nothing loops."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from loguru import logger

from zixir import Actor
from zixir.actors import _pykka
from zixir.observability import configure_logging, events
from zixir.observability._bridge import InterceptHandler
from zixir.observability.logs import remove_logging

WAIT = 10.0


@pytest.fixture(autouse=True)
def _silent_again() -> Iterator[None]:
    yield
    remove_logging()


def _lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _bridges() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if isinstance(h, InterceptHandler)]


def test_stdlib_records_are_not_bridged_unless_asked() -> None:
    out = io.StringIO()
    configure_logging(sink=out)
    logging.getLogger("some.library").warning("not for zixir's sink")
    assert out.getvalue() == ""
    assert _bridges() == []


def test_a_bridged_stdlib_record_keeps_its_logger_level_exception_and_caller() -> None:
    out = io.StringIO()
    callers: list[tuple[str, str]] = []
    spy = logger.add(lambda m: callers.append((m.record["function"], m.record["file"].name)), level="INFO")
    configure_logging("INFO", sink=out, bridge_stdlib=True)
    try:
        try:
            raise KeyError("missing")
        except KeyError:
            logging.getLogger("some.library").exception("lookup failed for %s", "a key")
        logging.getLogger("some.library").debug("below the level")
    finally:
        logger.remove(spy)
    (record,) = _lines(out)
    assert (record["logger"], record["level"], record["message"]) == (
        "some.library",
        "ERROR",
        "lookup failed for a key",
    )
    assert record["exception"].rstrip().endswith("KeyError: 'missing'")
    assert callers == [
        ("test_a_bridged_stdlib_record_keeps_its_logger_level_exception_and_caller", __file__.split("/")[-1])
    ]


def test_a_second_call_without_the_bridge_removes_it_and_restores_the_root_level() -> None:
    root = logging.getLogger()
    before = root.level
    configure_logging("DEBUG", sink=io.StringIO(), bridge_stdlib=True)
    assert len(_bridges()) == 1 and root.level == logging.DEBUG
    configure_logging("DEBUG", sink=io.StringIO(), bridge_stdlib=True)
    assert len(_bridges()) == 1  # replaced, not added
    out = io.StringIO()
    configure_logging("DEBUG", sink=out)
    assert _bridges() == [] and root.level == before
    logging.getLogger("some.library").warning("no longer bridged")
    assert out.getvalue() == ""


def test_forwarding_to_pykkas_logger_and_bridging_back_write_each_crash_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Failing(Actor):
        def fail(self) -> None:
            raise ValueError("bad")

    out = io.StringIO()
    caplog.set_level(logging.DEBUG, logger="pykka")
    configure_logging("DEBUG", sink=out, bridge_stdlib=True)
    forwarding = _pykka.forward_logs_to_stdlib()
    try:
        ref = Failing.start()
        ref.proxy().fail.defer()
        assert ref.wait_exit(WAIT) is not None
    finally:
        logger.remove(forwarding)
    crashes = [r for r in _lines(out) if r["message"].startswith("Unhandled exception in")]
    assert [r.get("event") for r in crashes] == [events.ACTOR_CRASHED]
    copies = [r for r in caplog.records if r.name == "pykka" and r.levelno == logging.ERROR]
    assert len(copies) == 1


def test_a_loguru_sink_that_writes_to_stdlib_does_not_loop_through_the_bridge() -> None:
    out = io.StringIO()
    configure_logging("INFO", sink=out, bridge_stdlib=True)
    # loguru's documented recipe for the other direction, in short.
    to_stdlib = logger.add(lambda m: logging.getLogger("app").info(m.record["message"]), level="INFO")
    try:
        logger.info("from the application")
    finally:
        logger.remove(to_stdlib)
    assert [r["message"] for r in _lines(out)] == ["from the application"]
