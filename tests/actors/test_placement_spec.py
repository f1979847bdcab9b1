"""ChildSpec's placement on Ray, checked when the spec is built (no Ray needed), and the
crash reason of an exception raised in another process."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from zixir import Actor, ChildSpec, ExitReason, Supervisor
from zixir.actors.spec import START_GRACE, start_limit
from zixir.errors import ArgumentTypeError, InvalidArgumentError, RemoteError
from zixir.ray import RayPlacement


class Plain(Actor):
    pass


class Bounded(Actor):
    mailbox_size: ClassVar[int | None] = 10


class Trapping(Actor):
    trap_exits: ClassVar[bool] = True


def test_a_spec_keeps_its_placement_and_shows_it() -> None:
    placement = RayPlacement(num_gpus=1)
    spec = ChildSpec("gpu", Plain, placement=placement)
    assert spec.placement is placement and ChildSpec("cpu", Plain).placement is None
    assert repr(spec) == (
        "ChildSpec('gpu', Plain, restart='permanent', shutdown=5.0, start_timeout=5.0, "
        "placement=RayPlacement(num_gpus=1.0))"
    )


def test_a_placed_start_is_waited_for_a_grace_past_its_start_timeout() -> None:
    assert start_limit(ChildSpec("a", Plain, start_timeout=2.0)) == 2.0
    assert start_limit(ChildSpec("b", Plain, start_timeout=2.0, placement=RayPlacement())) == 2.0 + START_GRACE
    assert start_limit(ChildSpec("c", Plain, start_timeout=None, placement=RayPlacement())) is None


@pytest.mark.parametrize(
    ("actor_class", "placement", "error", "text"),
    [
        (Plain, {"num_cpus": 1}, ArgumentTypeError,
         r"ChildSpec 'x': placement must be a zixir.ray.RayPlacement or None, got \{'num_cpus': 1\}"),
        (Supervisor, RayPlacement(), InvalidArgumentError,
         r"ChildSpec 'x': a supervisor cannot be placed on Ray \(subtrees stay local\); "
         r"give the placement to the ChildSpecs of its workers instead"),
        (Bounded, RayPlacement(), InvalidArgumentError,
         r"ChildSpec 'x': Bounded has a bounded mailbox \(mailbox_size=10\), which a child placed on Ray "
         r"does not have \(its messages wait in Ray's queue\); keep it local, or set mailbox_size = None"),
        (Trapping, RayPlacement(), InvalidArgumentError,
         r"ChildSpec 'x': Trapping traps exits, which a child placed on Ray cannot \(links reach its stand-in "
         r"in this process, and refs do not travel to Ray\); keep it local, or set trap_exits = False"),
    ],
)  # fmt: skip
def test_a_placement_that_cannot_work_is_refused_when_the_spec_is_built(
    actor_class: type[Actor], placement: Any, error: type[Exception], text: str
) -> None:
    with pytest.raises(error, match=f"^{text}$") as info:
        ChildSpec("x", actor_class, placement=placement)
    assert info.value.argument == "placement"  # type: ignore[attr-defined]


def test_a_crash_by_a_remote_error_gives_the_original_type_message_and_traceback() -> None:
    error = RemoteError("boom", "app.QuotaError", "Traceback (most recent call last):\n  ...\napp.QuotaError: boom\n")
    reason = ExitReason.crash(error)
    assert (reason.kind, reason.error_type, reason.message) == ("crash", "app.QuotaError", "boom")
    assert reason.traceback == error.remote_traceback and reason.exception is error
    assert str(reason) == "crash: app.QuotaError: boom"
