"""How one sandboxed call ended: `SandboxResult`, and the reasons a call can fail.

`Sandbox.run` returns a SandboxResult instead of raising for anything fn does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from zixir.errors import SandboxError

__all__ = ["FAILURE_REASONS", "Reason", "SandboxResult"]

#: Why a call did not return a value.
Reason: TypeAlias = Literal["timeout", "cpu", "memory", "depth", "output", "crashed", "exception"]

FAILURE_REASONS: frozenset[str] = frozenset({"timeout", "cpu", "memory", "crashed"})
"""The reasons a circuit breaker guarding a sandbox counts as failures of the sandbox.

The others are answers: fn raised (``"exception"``), or its call was refused as too deep or
its result too big; the sandbox itself worked.
"""


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


@dataclass(frozen=True, slots=True)
class SandboxResult:
    """The outcome of one sandboxed call.

    Attributes:
        value: What fn returned (None unless the call succeeded).
        reason: None if fn returned; else ``"timeout"`` (wall time), ``"cpu"`` (CPU time),
            ``"memory"``, ``"depth"`` (nested sandboxes or Python recursion too deep),
            ``"output"`` (result or captured output too big), ``"crashed"`` (the worker
            died by a signal or an exit, or fn called sys.exit) or ``"exception"``.
        error: The exception, for every reason: what fn raised (or a `RemoteError` standing
            in for it), a `SandboxLimitError` / `SandboxTimeoutError` for a limit, a
            `WorkerCrashedError` for a crash, a `SerializationError` for a result that could
            not be sent back.
        traceback: The traceback text from the worker, when fn raised.
        stdout: What the call wrote to fd 1 (Python, C code and child processes alike),
            decoded as UTF-8; at most ``max_output`` bytes.
        stderr: The same for fd 2.
        exit_code: The worker's exit status, or fn's ``sys.exit`` code, for ``"crashed"``.
        signal: The signal that killed the worker, for ``"crashed"`` (and ``"cpu"`` when
            the RLIMIT_CPU backstop's SIGXCPU ended it).
        duration: Wall-clock seconds from sending the call to having its result.
        cpu_seconds: CPU seconds the call used (the worker and its child processes).
        peak_memory: Peak resident memory of the worker during the call, in bytes (None
            if unknown). The memory limit applies to growth above the worker's idle size.
        pid: The pid of the worker that ran the call.
    """

    value: Any = None
    reason: Reason | None = None
    error: BaseException | None = None
    traceback: str | None = None
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    signal: int | None = None
    duration: float = 0.0
    cpu_seconds: float = 0.0
    peak_memory: int | None = None
    pid: int | None = None

    @property
    def ok(self) -> bool:
        """True if fn returned a value."""
        return self.reason is None

    def unwrap(self) -> Any:
        """Returns the value, or raises if the call failed.

        Returns:
            What fn returned.

        Raises:
            SandboxError: The call failed; ``.result`` is this result and the error is
                chained as its ``__cause__``.
        """
        if self.reason is None:
            return self.value
        raise SandboxError(f"the sandboxed call failed ({self.reason}): {self.error}", self) from self.error

    def __repr__(self) -> str:
        if self.reason is None:
            head = f"ok, value={_short(repr(self.value))}"
        else:
            head = f"reason={self.reason!r}, error={_short(repr(self.error), 120)}"
        return f"SandboxResult({head}, duration={self.duration:.4f}s, cpu={self.cpu_seconds:.3f}s, pid={self.pid})"
