"""The limits self-test: one call past each of a sandbox's limits on this machine, and
whether it ended with the limit's reason (``zixir sandbox check``)."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["LIMITS", "LimitCheck", "machine", "self_test"]

#: The limits of the sandbox the self-test runs its calls in.
LIMITS: dict[str, Any] = {"timeout": 1.0, "cpu_time": 0.3, "memory": "64MB", "max_depth": 1, "max_recursion": 200}


@dataclass(frozen=True, slots=True)
class LimitCheck:
    """One limit tried on this machine.

    Attributes:
        limit: The limit tried (``"timeout"``, ``"cpu_time"``, ...).
        call: What the call did to go past it.
        expected: The reason the call must end with.
        reason: The reason it ended with (None: it returned).
        seconds: Wall-clock seconds the call took.
        detail: The result's error message, or why the check could not run.
    """

    limit: str
    call: str
    expected: str
    reason: str | None
    seconds: float
    detail: str

    @property
    def enforced(self) -> bool:
        """Whether the call ended as the limit says."""
        return self.reason == self.expected


def _nested_reason() -> str | None:
    """In a worker: the reason a sandbox one level deeper gives (max_depth=1 refuses it)."""
    from zixir.sandbox.sandbox import Sandbox

    with Sandbox(start_timeout=10.0) as inner:
        return inner.run(abs, -1).reason


def _recurse(depth: int = 0) -> int:
    return _recurse(depth + 1) + 1


def _spin() -> int:
    return sum(range(10**12))  # one C call: no Python frame to interrupt


_CALLS: tuple[tuple[str, str, str, Callable[..., Any], tuple[Any, ...]], ...] = (
    ("timeout", "sleeps 30 s", "timeout", time.sleep, (30,)),
    ("cpu_time", "spins in one C call", "cpu", _spin, ()),
    ("memory", "allocates 300 MB", "memory", bytearray, (300_000_000,)),
    ("crash", "calls os.abort()", "crashed", os.abort, ()),
    ("max_recursion", "recurses without end", "depth", _recurse, ()),
    ("max_depth", "starts a sandbox inside its sandbox", "depth", _nested_reason, ()),
)


def self_test(progress: Callable[[LimitCheck], None] | None = None) -> list[LimitCheck]:
    """Runs one call past each limit in a sandbox with `LIMITS`; a check per limit.

    Args:
        progress: Called with each check as it completes.
    """
    from zixir.errors import ZixirError
    from zixir.sandbox.sandbox import Sandbox

    checks: list[LimitCheck] = []
    try:
        sandbox = Sandbox(**LIMITS)
    except ZixirError as exc:
        for limit, call, expected, _, _ in _CALLS:
            checks.append(LimitCheck(limit, call, expected, None, 0.0, f"no sandbox here: {exc}"))
            if progress is not None:
                progress(checks[-1])
        return checks
    with sandbox:
        for limit, call, expected, fn, args in _CALLS:
            result = sandbox.run(fn, *args)
            reason = result.reason
            detail = str(result.error) if result.error is not None else ""
            if fn is _nested_reason and result.ok:  # the refusal comes back as the inner call's reason
                reason, detail = result.value, f"the nested sandbox answered {result.value!r}"
            checks.append(LimitCheck(limit, call, expected, reason, result.duration, detail))
            if progress is not None:
                progress(checks[-1])
    return checks


def machine() -> str:
    """Where the self-test ran: system, kernel release and architecture."""
    return f"{platform.system()} {platform.release()} {platform.machine()}"
