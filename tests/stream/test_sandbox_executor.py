"""`parallel_map` with a Sandbox executor: limit breaches are item errors handled by the
stage's on_error."""

from __future__ import annotations

import pytest

from tests.stream.stream_targets import nap
from zixir import Sandbox, Stream
from zixir.errors import SandboxTimeoutError


@pytest.fixture
def sandbox() -> Sandbox:
    with Sandbox(timeout=0.5, workers=2) as sb:
        yield sb  # type: ignore[misc]


def test_a_timeout_breach_is_skipped_counted_and_kept_with_on_error_skip(sandbox: Sandbox) -> None:
    stream = Stream([0.0, 30.0, 0.01, 0.0]).parallel_map(nap, workers=2, executor=sandbox, name="nap", on_error="skip")
    assert stream.to_list() == [0.0, 0.01, 0.0]
    stats = stream.stats()
    assert stats is not None
    stage = stats.stage("nap")
    assert (stage.items_in, stage.items_out, stage.errors, stage.skipped) == (4, 3, 1, 1)
    assert isinstance(stage.recent_errors[0], SandboxTimeoutError)
    assert sandbox.run(nap, 0.0).unwrap() == 0.0  # the killed worker was replaced


def test_a_timeout_breach_fails_the_run_with_on_error_fail(sandbox: Sandbox) -> None:
    stream = Stream([0.0, 30.0, 0.0]).parallel_map(nap, workers=2, executor=sandbox, name="nap")
    with pytest.raises(SandboxTimeoutError, match=r"ran past timeout=0.5s"):
        stream.to_list()
    stats = stream.stats()
    assert stats is not None and stats.outcome == "failed" and stats.stage("nap").errors == 1
