"""Zixir stays silent as a library and writes flat JSON lines once the application asks."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

import zixir
from zixir import Actor, ChildSpec, Supervisor
from zixir.errors import ArgumentTypeError, InvalidArgumentError
from zixir.observability import configure_logging, events
from zixir.observability.logs import remove_logging

WAIT = 10.0
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
CORE = ["time", "level", "message", "logger", "actor", "trace_id", "span_id", "exception"]


@pytest.fixture(autouse=True)
def _silent_again() -> Iterator[None]:
    yield
    remove_logging()


def _log_from_inside_zixir(text: str, /, **fields: Any) -> None:
    # loguru decides by the calling module's __name__, so log from a zixir.* namespace.
    code = "from loguru import logger\nlogger.bind(**fields).info(text)"
    exec(code, {"__name__": "zixir.probe", "text": text, "fields": fields})


def _lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _events(out: io.StringIO, name: str) -> list[dict[str, Any]]:
    return [line for line in _lines(out) if line.get("event") == name]


class Crasher(Actor):
    def fail(self, secret: str) -> None:
        raise ValueError("boom")


def test_importing_zixir_keeps_its_records_silent() -> None:
    out = io.StringIO()
    handler = logger.add(out, level="DEBUG", format="{name}: {message}")
    try:
        _log_from_inside_zixir("hidden")
        logger.info("the application's own record")
        assert "hidden" not in out.getvalue()
        assert "the application's own record" in out.getvalue()
    finally:
        logger.remove(handler)
    assert zixir.configure_logging is configure_logging


def test_configure_logging_writes_one_flat_json_object_per_line() -> None:
    out = io.StringIO()
    configure_logging("DEBUG", sink=out)
    _log_from_inside_zixir("ready", event="probe.ready", child="worker", attempt=2)
    (record,) = _lines(out)
    assert list(record)[: len(CORE)] == CORE
    assert RFC3339_UTC.match(record["time"]), record["time"]
    assert record["level"] == "INFO"
    assert record["message"] == "ready"
    assert record["logger"] == "zixir.probe"
    assert record["actor"] is None and record["trace_id"] is None and record["span_id"] is None
    assert record["exception"] is None
    assert (record["event"], record["child"], record["attempt"]) == ("probe.ready", "worker", 2)


def test_a_field_named_like_a_common_key_keeps_both() -> None:
    out = io.StringIO()
    configure_logging(sink=out)
    _log_from_inside_zixir("the message", message="a field", level="a level")
    (record,) = _lines(out)
    assert record["message"] == "the message" and record["level"] == "INFO"
    assert record["extra_message"] == "a field" and record["extra_level"] == "a level"


def test_braces_and_markup_in_messages_are_written_as_they_are() -> None:
    out = io.StringIO()
    configure_logging(sink=out)
    text = "<red>{not a field}</x> \\< done"
    _log_from_inside_zixir(text)
    assert _lines(out)[0]["message"] == text


def test_a_second_call_replaces_the_first_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(sink=first)
    configure_logging(sink=second)
    _log_from_inside_zixir("once")
    assert first.getvalue() == ""
    assert [r["message"] for r in _lines(second)] == ["once"]


def test_levels_below_the_configured_one_are_not_written() -> None:
    out = io.StringIO()
    configure_logging("warning", sink=out)
    _log_from_inside_zixir("info is below warning")
    assert out.getvalue() == ""


def test_a_crash_inside_a_supervised_actor_names_the_child_and_carries_the_traceback() -> None:
    out = io.StringIO()
    configure_logging(sink=out)
    root = Supervisor.start(children=[ChildSpec("payments", Crasher)], max_restarts=5)
    first = zixir.whereis("payments")
    first.proxy().fail.defer("hunter2-secret")
    assert first.wait_exit(WAIT) is not None
    root.stop()
    (crash,) = _events(out, events.ACTOR_CRASHED)
    assert crash["level"] == "ERROR"
    assert crash["actor"] == "payments"
    assert crash["logger"] == "zixir.actors._pykka"
    assert (crash["actor_class"], crash["error_type"]) == ("Crasher", "ValueError")
    assert crash["exception"].startswith("Traceback (most recent call last):")
    assert crash["exception"].rstrip().endswith("ValueError: boom")
    assert "hunter2-secret" not in out.getvalue()  # neither the call's arguments nor locals


def test_an_actor_without_a_name_is_logged_by_class_and_short_urn() -> None:
    out = io.StringIO()
    configure_logging(sink=out)
    ref = Crasher.start()
    ref.proxy().fail.defer("x")
    assert ref.wait_exit(WAIT) is not None
    (crash,) = _events(out, events.ACTOR_CRASHED)
    assert crash["actor"] == f"Crasher ({ref.actor_urn[:17]})"
    assert re.match(r"^Crasher \(urn:uuid:[0-9a-f]{8}\)$", crash["actor"])


def test_an_unexpected_message_is_logged_by_its_type_only() -> None:
    out = io.StringIO()
    configure_logging(sink=out)
    ref = Crasher.start()
    ref.tell({"password": "hunter2-secret"})
    ref.stop()
    (record,) = _events(out, events.ACTOR_UNEXPECTED_MESSAGE)
    assert (record["message_type"], record["actor_class"]) == ("dict", "Crasher")
    assert "hunter2-secret" not in out.getvalue()


def test_redact_sees_every_records_fields_and_decides_what_is_written() -> None:
    out = io.StringIO()
    seen: list[str] = []

    def redact(fields: dict[str, Any]) -> dict[str, Any]:
        seen.append(fields["message"])
        return {key: "[redacted]" if key == "token" else value for key, value in fields.items()}

    configure_logging(sink=out, redact=redact)
    _log_from_inside_zixir("login", token="t-123", user="ada")
    _log_from_inside_zixir("plain")
    first, second = _lines(out)
    assert (first["token"], first["user"]) == ("[redacted]", "ada")
    assert second["message"] == "plain"
    assert seen == ["login", "plain"]
    assert "t-123" not in out.getvalue()


def test_text_lines_carry_the_same_fields_for_people() -> None:
    out = io.StringIO()
    configure_logging(sink=out, json=False)
    _log_from_inside_zixir("ready", event="probe.ready", child="worker")
    line = out.getvalue()
    assert re.match(r"^\d{4}-\d\d-\d\dT\S+Z INFO     zixir\.probe ready event=probe\.ready child=worker\n$", line)


def test_rotation_and_retention_go_to_a_file_sink(tmp_path: Path) -> None:
    path = tmp_path / "zixir.log"
    configure_logging(sink=path, rotation="500 B", retention=2)
    for n in range(40):
        _log_from_inside_zixir(f"record {n}", n=n)
    remove_logging()  # closes the file
    files = sorted(tmp_path.iterdir())
    assert 1 < len(files) <= 3  # the current file and at most two rotated ones
    kept = [json.loads(line) for file in files for line in file.read_text().splitlines()]
    assert kept and all(record["message"] == f"record {record['n']}" for record in kept)
    assert max(record["n"] for record in kept) == 39


@pytest.mark.parametrize("option", ["rotation", "retention"])
def test_rotation_and_retention_are_refused_for_a_sink_that_is_not_a_path(option: str) -> None:
    with pytest.raises(InvalidArgumentError, match=rf"^{option} applies to file sinks only, and sink=") as caught:
        configure_logging(sink=io.StringIO(), **{option: "1 MB"})
    assert caught.value.argument == option


def test_bad_arguments_get_typed_errors_and_keep_the_previous_handler() -> None:
    out = io.StringIO()
    configure_logging(sink=out)
    with pytest.raises(InvalidArgumentError, match=r"^level must be a loguru level name .* got 'LOUD'$"):
        configure_logging("LOUD", sink=io.StringIO())
    with pytest.raises(ArgumentTypeError, match=r"^json must be True or False, got 'yes'$"):
        configure_logging(sink=io.StringIO(), json="yes")  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match=r"^bridge_stdlib must be True or False, got 1$"):
        configure_logging(sink=io.StringIO(), bridge_stdlib=1)  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match=r"^redact must be a callable"):
        configure_logging(sink=io.StringIO(), redact="token")  # type: ignore[arg-type]
    _log_from_inside_zixir("still here")
    assert [r["message"] for r in _lines(out)] == ["still here"]


def test_records_carry_the_ids_of_the_span_they_were_written_in() -> None:
    from zixir import tracing

    out = io.StringIO()
    configure_logging(sink=out)
    with tracing.span("request") as span:
        _log_from_inside_zixir("in a span")
    _log_from_inside_zixir("outside")
    in_span, outside = _lines(out)
    assert (in_span["trace_id"], in_span["span_id"]) == (span.trace_id, span.span_id)
    assert (outside["trace_id"], outside["span_id"]) == (None, None)


def test_spans_true_writes_one_record_per_finished_span_until_replaced() -> None:
    from zixir import tracing

    out = io.StringIO()
    configure_logging(sink=out, spans=True)
    with tracing.span("scored", model="m1") as span:
        pass
    assert tracing.flush(5.0)
    (record,) = [r for r in _lines(out) if r.get("event") == "span"]
    assert (record["name"], record["trace_id"], record["span_id"]) == ("scored", span.trace_id, span.span_id)
    assert record["attributes"] == {"model": "m1"} and record["status"] == "ok"
    configure_logging(sink=out)  # replaces the handler, and its span records with it
    assert tracing.exporters() == []
    with pytest.raises(ArgumentTypeError, match=r"^spans must be True or False, got 'yes'$"):
        configure_logging(sink=out, spans="yes")  # type: ignore[arg-type]


def test_remove_logging_makes_zixir_silent_again() -> None:
    out = io.StringIO()
    configure_logging(sink=out)
    remove_logging()
    _log_from_inside_zixir("after removal")
    assert out.getvalue() == ""
