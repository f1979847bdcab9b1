"""zixir.Actor: exits are always reported, cleanup always runs, one actor never takes others down."""

from __future__ import annotations

import threading
from typing import Any

import pykka
import pytest

from zixir.actors import Actor, Down, ExitReason
from zixir.errors import ActorCrashedError, DeadlockError, MailboxFullError

WAIT = 5.0


class Log:
    """What a Recorder saw, shared with the test that started it."""

    def __init__(self) -> None:
        self.exits: list[ExitReason] = []
        self.downs: list[Down] = []
        self.exited = threading.Event()
        self.down_seen = threading.Event()


class Recorder(Actor):
    """Records its exit and the Down messages it sees in its `Log`."""

    def __init__(self, fail_in: str | None = None, log: Log | None = None) -> None:
        super().__init__()
        self.fail_in = fail_in
        log = log or Log()
        self.exits, self.downs = log.exits, log.downs
        self.exited, self.down_seen = log.exited, log.down_seen

    def on_start(self) -> None:
        if self.fail_in == "on_start":
            raise RuntimeError("start failed")
        if self.fail_in == "on_start_exit":
            raise SystemExit(3)

    def on_stop(self) -> None:
        if self.fail_in == "on_stop":
            raise RuntimeError("stop failed")

    def on_exit(self, reason: ExitReason) -> None:
        self.exits.append(reason)
        self.exited.set()

    def on_down(self, down: Down) -> None:
        self.downs.append(down)
        self.down_seen.set()

    def boom(self) -> None:
        raise ValueError("boom")

    def exit_interpreter(self) -> None:
        raise SystemExit(1)

    def echo(self, value: Any) -> Any:
        return value

    def stop_self(self) -> None:
        self.stop()


def recorder(fail_in: str | None = None) -> tuple[pykka.ActorRef[Any], Log]:
    log = Log()
    return Recorder.start(fail_in=fail_in, log=log), log


def exit_of(ref: pykka.ActorRef[Any]) -> ExitReason:
    reason = ref.wait_exit(WAIT)  # type: ignore[attr-defined]
    assert reason is not None, f"{ref} did not exit"
    return reason  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("how", "kind"),
    [("outside", "shutdown"), ("self", "normal"), ("told crash", "crash"), ("on_start", "crash"),
     ("on_stop", "crash"), ("on_start_exit", "crash")],
)  # fmt: skip
def test_cleanup_hook_runs_exactly_once_on_every_kind_of_exit(how: str, kind: str) -> None:
    ref, actor = recorder(fail_in=how if how.startswith("on_") else None)
    if how == "outside":
        ref.stop()
    elif how == "self":
        ref.proxy().stop_self()
    elif how == "told crash":
        ref.proxy().boom.defer()
    elif how == "on_stop":
        ref.stop()
    assert actor.exited.wait(WAIT)
    assert exit_of(ref).kind == kind
    assert [r.kind for r in actor.exits] == [kind]
    assert not ref.is_alive() and ref not in pykka.ActorRegistry.get_all()


def test_a_crash_reason_carries_type_message_and_traceback() -> None:
    ref = Recorder.start()
    ref.proxy().boom.defer()
    reason = exit_of(ref)
    assert (reason.kind, reason.error_type, reason.message) == ("crash", "ValueError", "boom")
    assert reason.traceback is not None and 'raise ValueError("boom")' in reason.traceback
    assert isinstance(reason.exception, ValueError) and str(reason) == "crash: ValueError: boom"


def test_an_asked_call_that_raises_returns_the_error_and_the_actor_lives_on() -> None:
    ref = Recorder.start()
    with pytest.raises(ValueError, match="^boom$"):
        ref.proxy().boom().get()
    assert ref.proxy().echo(7).get() == 7


def test_crash_on_ask_error_crashes_the_actor_and_still_answers_the_caller() -> None:
    class Strict(Recorder):
        crash_on_ask_error = True

    ref = Strict.start()
    with pytest.raises(ValueError, match="^boom$"):
        ref.proxy().boom().get()
    assert exit_of(ref).kind == "crash"


def test_asking_itself_from_its_own_thread_fails_at_once() -> None:
    class SelfAsker(Actor):
        def ask_self(self) -> Any:
            return self.actor_ref.proxy().value().get()

        def value(self) -> int:
            return 1

    ref = SelfAsker.start()
    with pytest.raises(DeadlockError, match=r"waited for an answer from itself, which would block forever"):
        ref.proxy().ask_self().get(timeout=WAIT)
    assert ref.is_alive()


def test_default_ask_timeout_names_the_actor() -> None:
    release = threading.Event()

    class Slow(Actor):
        ask_timeout = 0.05

        def block(self) -> None:
            release.wait(WAIT)

    ref = Slow.start()
    try:
        with pytest.raises(pykka.Timeout, match=r"^Slow \(urn:uuid:.*\) did not answer within 0.05 s$"):
            ref.proxy().block().get()
    finally:
        release.set()


def test_system_exit_in_a_message_stops_only_that_actor_and_the_asker_gets_the_error() -> None:
    bystander = Recorder.start()
    ref = Recorder.start()
    with pytest.raises(SystemExit):
        ref.proxy().exit_interpreter().get(timeout=WAIT)
    assert exit_of(ref).kind == "crash"
    assert bystander.is_alive() and bystander.proxy().echo(1).get(timeout=WAIT) == 1


def test_system_exit_in_on_start_leaves_no_zombie() -> None:
    bystander = Recorder.start()
    ref = Recorder.start(fail_in="on_start_exit")
    assert exit_of(ref).error_type == "SystemExit"
    assert not ref.is_alive() and pykka.ActorRegistry.get_all() == [bystander]
    with pytest.raises(pykka.ActorDeadError):
        ref.ask("anything", timeout=WAIT)


def test_a_monitor_receives_down_with_the_reason() -> None:
    (watcher, watcher_actor), target = recorder(), Recorder.start()
    watcher.proxy().monitor(target).get()
    target.proxy().boom.defer()
    assert watcher_actor.down_seen.wait(WAIT)
    (down,) = watcher_actor.downs
    assert down.ref == target and down.reason.error_type == "ValueError"


def test_monitoring_an_actor_that_already_exited_delivers_down_at_once() -> None:
    (watcher, watcher_log), target = recorder(), Recorder.start()
    target.stop()
    exit_of(target)
    watcher.proxy().monitor(target).get()
    assert watcher_log.down_seen.wait(WAIT)
    assert watcher_log.downs[0].reason.kind == "shutdown"


def test_a_link_stops_the_partner_on_a_crash_but_not_on_a_normal_exit() -> None:
    a, b = Recorder.start(), Recorder.start()
    a.proxy().link(b).get()
    b.stop()
    assert exit_of(b).kind == "shutdown"
    assert a.is_alive()
    c = Recorder.start()
    a.proxy().link(c).get()
    c.proxy().boom.defer()
    reason = exit_of(a)
    assert reason.kind == "crash" and isinstance(reason.exception, ActorCrashedError)
    assert "crashed (crash: ValueError: boom)" in (reason.message or "")


def test_an_actor_that_traps_exits_is_told_instead_of_stopped() -> None:
    trapped = threading.Event()

    class Trapper(Recorder):
        trap_exits = True

        def on_linked_exit(self, ref: pykka.ActorRef[Any], reason: ExitReason) -> None:
            trapped.set()

    a, b = Trapper.start(), Recorder.start()
    a.proxy().link(b).get()
    b.proxy().boom.defer()
    assert trapped.wait(WAIT)
    assert a.proxy().echo("alive").get(timeout=WAIT) == "alive"


def test_a_bounded_mailbox_refuses_when_full_and_still_takes_a_stop() -> None:
    release = threading.Event()
    busy = threading.Event()

    class Bounded(Actor):
        mailbox_size = 2
        mailbox_timeout = 0.05

        def block(self) -> None:
            busy.set()
            release.wait(WAIT)

    ref = Bounded.start()
    ref.proxy().block.defer()
    assert busy.wait(WAIT)
    ref.tell("one")
    ref.tell("two")
    assert ref.mailbox_depth() == 2  # type: ignore[attr-defined]
    with pytest.raises(MailboxFullError, match=r"stayed full \(2 messages\) for 0.05 s") as info:
        ref.tell("three")
    assert info.value.size == 2
    stopped = ref.stop(block=False)  # a system message: bypasses the bound, goes first
    release.set()
    assert stopped.get(timeout=WAIT) is True
    assert exit_of(ref).kind == "shutdown"
