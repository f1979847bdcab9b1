"""The pykka boundary: one module touches pykka's internals; one envelope; one log path."""

from __future__ import annotations

import logging
import queue
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


class RecordingInbox:
    """A mailbox that keeps every envelope put in it."""

    def __init__(self) -> None:
        self.queue: queue.SimpleQueue[Envelope] = queue.SimpleQueue()
        self.envelopes: list[Envelope] = []

    def put(self, envelope: Envelope, /) -> None:
        self.envelopes.append(envelope)
        self.queue.put(envelope)

    def get(self) -> Envelope:
        return self.queue.get()

    def empty(self) -> bool:
        return self.queue.empty()

    def qsize(self) -> int:
        return self.queue.qsize()


class RecordedEcho(Echo):
    @classmethod
    def _new_inbox(cls) -> RecordingInbox:
        return RecordingInbox()


def envelopes(ref: pykka.ActorRef[Any]) -> list[Envelope]:
    inbox = ref.actor_inbox
    assert isinstance(inbox, RecordingInbox)
    return inbox.envelopes


def test_every_send_path_puts_zixirs_envelope_in_the_mailbox() -> None:
    ref = RecordedEcho.start()
    seen: list[Any] = []
    done = threading.Event()
    ref.tell("told")
    assert ref.ask("asked", timeout=WAIT) == "asked"
    assert ref.proxy().echo("proxied").get(timeout=WAIT) == "proxied"
    ref.proxy().note.defer("deferred", seen, done)
    assert done.wait(WAIT) and seen == ["deferred"]
    ref.stop(timeout=WAIT)
    assert ref.wait_exit(WAIT) is not None  # type: ignore[attr-defined]
    built = envelopes(ref)
    assert all(type(e) is tuple and len(e) == 3 and e[2] is None for e in built)  # outside any span
    messages = [message for message, _, _ in built]
    assert messages[:2] == ["told", "asked"] and _pykka.is_stop(messages[-1])
    assert [type(m).__name__ for m in messages[2:4]] == ["ProxyCall", "ProxyCall"]
    assert [reply_to is None for _, reply_to, _ in built] == [True, False, False, True, False]


def test_system_messages_travel_in_the_same_envelope() -> None:
    root = Supervisor.start(children=[])
    watcher = RecordedEcho.start()
    child = Echo.start()
    watcher.proxy().monitor(child).get(timeout=WAIT)
    child.stop()
    assert child.wait_exit(WAIT) is not None  # type: ignore[attr-defined]
    assert watcher.ask("after the down", timeout=WAIT) == "after the down"  # the Down was handled
    downs = [e for e in envelopes(watcher) if type(e[0]).__name__ == "Down"]
    assert len(downs) == 1 and downs[0][1:] == (None, None)
    root.stop()


def test_asks_left_in_the_mailbox_of_a_stopped_actor_get_actor_dead_error() -> None:
    entered, release = threading.Event(), threading.Event()

    class Blocker(Actor):
        def block(self) -> None:
            entered.set()
            release.wait(WAIT)
            raise RuntimeError("crashes while the asks below wait in its mailbox")

    ref = Blocker.start()
    ref.proxy().block.defer()  # told: its exception crashes the actor
    assert entered.wait(WAIT)
    left = ref.ask("left", block=False)
    stop = ref.ask(_pykka.stop_message(), block=False)
    release.set()
    with pytest.raises(pykka.ActorDeadError, match=r"stopped before handling the message$"):
        left.get(timeout=WAIT)
    assert stop.get(timeout=WAIT) is None  # a stop request left behind is answered: stopped


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
