"""``zixir sandbox check``: one call past each limit, and what is enforced here."""

from __future__ import annotations

import pytest

from tests.cli.support import zixir, zixir_json
from zixir.sandbox import selftest

LIMITS = ["timeout", "cpu_time", "memory", "crash", "max_recursion", "max_depth"]


def test_every_limit_is_enforced_on_this_machine_as_a_table_and_as_json() -> None:
    lines = zixir("sandbox", "check").stdout.splitlines()
    assert lines[0].startswith(f"sandbox limits on {selftest.machine()} (timeout=1.0, cpu_time=0.3, ")
    assert [line.split()[:2] for line in lines[1:]] == [[limit, "enforced"] for limit in LIMITS]
    assert "spins in one C call: cpu after " in lines[2]
    report = zixir_json("sandbox", "check")
    assert report["all_enforced"] is True
    assert [(c["limit"], c["reason"], c["enforced"]) for c in report["checks"]] == [
        ("timeout", "timeout", True), ("cpu_time", "cpu", True), ("memory", "memory", True),
        ("crash", "crashed", True), ("max_recursion", "depth", True), ("max_depth", "depth", True),
    ]  # fmt: skip
    assert report["checks"][0]["seconds"] >= 1.0  # the timeout ended the call, not the sleep


def test_a_limit_that_does_not_hold_is_reported_and_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = (("timeout", "sleeps 0 s", "timeout", abs, (-1,)),)  # returns at once: no timeout happens
    monkeypatch.setattr(selftest, "_CALLS", calls)
    result = zixir("sandbox", "check", code=1)
    assert result.stdout.splitlines()[1].split()[:2] == ["timeout", "NOT"]
    assert result.stderr.splitlines()[-1] == "zixir: error: not enforced here: timeout"
