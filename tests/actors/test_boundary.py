"""The pykka boundary: one module touches pykka's internals; one envelope; one log path."""

from __future__ import annotations

import logging
import re
import threading
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pykka
import pytest

from zixir.actors import Actor, Supervisor, _pykka
from zixir.actors.envelope import Envelope

WAIT = 5.0
ZIXIR = Path(__file__).resolve().parents[2] / "zixir"
PRIVATE = re.compile(r"pykka\._|_ActorStop|_actor_weakref|_envelope\b|_start_actor_loop|_get_hook|_handle_failure")


class Echo(Actor):
    def on_receive(self, message: Any) -> Any:
        return message

    def echo(self, value: Any) -> Any:
        return value

    def note(self, value: Any, seen: list[Any], done: threading.Event) -> None:
        seen.append(value)
        done.set()


def test_only_the_boundary_module_names_pykka_internals() -> None:
    offenders = [
        f"{path.relative_to(ZIXIR.parent)}:{number}"
        for path in ZIXIR.rglob("*.py")
        if path.name != "_pykka.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if PRIVATE.search(line)
    ]
    assert offenders == []


def test_the_installed_pykka_is_one_the_boundary_supports() -> None:
    major, minor = (int(part) for part in version("pykka").split(".")[:2])
    assert _pykka.SUPPORTED_PYKKA == ">=4.5,<4.6" and (major, minor) == (4, 5)


def recording(monkeypatch: pytest.MonkeyPatch) -> list[Envelope]:
    """Records every Envelope built from now on, through its one constructor."""
    built: list[Envelope] = []
    original = Envelope.__init__

    def init(self: Envelope, message: Any, reply_to: Any = None) -> None:
        original(self, message, reply_to)
        built.append(self)

    monkeypatch.setattr(Envelope, "__init__", init)
    return built


def test_every_send_path_builds_its_envelope_with_one_constructor(monkeypatch: pytest.MonkeyPatch) -> None:
    built = recording(monkeypatch)
    ref = Echo.start()
    seen: list[Any] = []
    done = threading.Event()
    ref.tell("told")
    assert ref.ask("asked", timeout=WAIT) == "asked"
    assert ref.proxy().echo("proxied").get(timeout=WAIT) == "proxied"
    ref.proxy().note.defer("deferred", seen, done)
    assert done.wait(WAIT) and seen == ["deferred"]
    ref.stop(timeout=WAIT)
    assert ref.wait_exit(WAIT) is not None  # type: ignore[attr-defined]
    messages = [e.message for e in built]
    assert messages[:2] == ["told", "asked"] and _pykka.is_stop(messages[-1])
    assert [type(m).__name__ for m in messages[2:4]] == ["ProxyCall", "ProxyCall"]
    assert [e.reply_to is None for e in built] == [True, False, False, True, False]
    assert all(type(e) is Envelope and e.context is None for e in built)


def test_system_messages_travel_in_the_same_envelope(monkeypatch: pytest.MonkeyPatch) -> None:
    built = recording(monkeypatch)
    root = Supervisor.start(children=[])
    watcher = Echo.start()
    child = Echo.start()
    watcher.proxy().monitor(child).get(timeout=WAIT)
    child.stop()
    assert child.wait_exit(WAIT) is not None  # type: ignore[attr-defined]
    assert "Down" in [type(e.message).__name__ for e in built]
    root.stop()


def test_crash_reports_go_through_loguru_with_pykka_texts(
    records: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    class Failing(Actor):
        def fail(self) -> None:
            raise ValueError("bad")

    caplog.set_level(logging.DEBUG, logger="pykka")
    ref = Failing.start()
    with pytest.raises(ValueError, match="^bad$"):
        ref.proxy().fail().get(timeout=WAIT)
    ref.proxy().fail.defer()
    assert ref.wait_exit(WAIT) is not None  # type: ignore[attr-defined]
    texts = [(r["level"].name, r["message"]) for r in records if r["exception"] is not None]
    assert texts == [("INFO", f"Exception returned from {ref} to caller:"), ("ERROR", f"Unhandled exception in {ref}:")]
    pykka_texts = [r.getMessage() for r in caplog.records if r.name == "pykka"]
    assert not [t for t in pykka_texts if "Exception returned" in t or "Unhandled exception" in t]


def test_forwarding_copies_the_reports_to_pykkas_stdlib_logger(caplog: pytest.LogCaptureFixture) -> None:
    from loguru import logger

    class Failing(Actor):
        def fail(self) -> None:
            raise ValueError("bad")

    caplog.set_level(logging.DEBUG, logger="pykka")
    handler = _pykka.forward_logs_to_stdlib()
    try:
        ref = Failing.start()
        ref.proxy().fail.defer()
        assert ref.wait_exit(WAIT) is not None  # type: ignore[attr-defined]
    finally:
        logger.remove(handler)
        logger.disable("zixir")
    (error,) = [r for r in caplog.records if r.name == "pykka" and r.levelno == logging.ERROR]
    assert error.getMessage() == f"Unhandled exception in {ref}:"
    assert error.exc_info is not None and error.exc_info[0] is ValueError


def test_pykkas_errors_pass_through_unchanged() -> None:
    ref = Echo.start()
    ref.stop()
    with pytest.raises(pykka.ActorDeadError):
        ref.tell("late")
    with pytest.raises(pykka.ActorDeadError):
        ref.ask("late", timeout=WAIT)
