"""A workflow step's Ray task, on its worker: the step's function runs under the caller's
trace context (its spans go back with the result), inside a zixir `Sandbox` when the
step has ``limits=``, one sandbox kept per worker process and limits.

Ray imports this module on the worker; it imports no Ray itself.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import threading
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

from zixir import _validate
from zixir.errors import InvalidArgumentError, RemoteError, SandboxError

if TYPE_CHECKING:
    from zixir.sandbox import Sandbox

__all__ = [
    "MAX_SANDBOXES",
    "REPORT",
    "STARTED",
    "SandboxCache",
    "WithSpans",
    "decode_trace",
    "encode_trace",
    "max_sandboxes",
    "run_step",
    "sandboxes",
    "step_task",
]

#: Sandboxes a Ray worker process keeps for the steps with limits it ran, one per distinct
#: limits; past this, the least recently used is closed (its worker processes stop). Set
#: on the workers with the environment variable ``ZIXIR_RAY_MAX_SANDBOXES`` (for instance
#: through ``RayPlacement(runtime_env={"env_vars": {...}})``).
MAX_SANDBOXES = 4
#: The first item a timed step's task yields when it starts: the coordinator's clock for
#: the step's timeout starts then, not while Ray queues the task.
STARTED: Final = "zixir.ray.started"
#: The attribute a raised error carries back to the coordinator: (spans, traceback text).
REPORT: Final = "zixir_ray_report"


class WithSpans:
    """A step's output with the spans its call made: what its task returns when the call
    made spans (without any, the task returns the output itself, as a plain Ray task would).

    Args:
        output: The step's output.
        spans: The spans, encoded by `zixir.tracing.wire.end`.
    """

    __slots__ = ("output", "spans")

    def __init__(self, output: Any, spans: bytes) -> None:
        self.output = output
        self.spans = spans

    def __reduce__(self) -> tuple[Any, ...]:
        return WithSpans, (self.output, self.spans)


def encode_trace(context: tuple[str, str, bool] | None) -> str:
    """A trace context (`zixir.tracing.wire.context_out`) as one short str for a task's
    header ("" outside any span): Ray sends a str for less than a tuple."""
    if context is None:
        return ""
    trace_id, span_id, sampled = context
    return f"{trace_id}{span_id}{int(sampled)}"


def decode_trace(header: str) -> tuple[str, str, bool] | None:
    """The trace context `encode_trace` made (checked again where it becomes current)."""
    if not header:
        return None
    return header[:32], header[32:48], header[48:] == "1"


class SandboxCache:
    """The sandboxes of one worker process, by limits, least recently used closed first.

    Args:
        max_size: At most this many are kept open.
    """

    def __init__(self, max_size: int) -> None:
        self.max_size = _validate.whole("max_size", max_size)
        self._open: OrderedDict[tuple[Any, ...], Sandbox] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, limits: Mapping[str, Any], allow_pickle: bool) -> Sandbox:
        """The sandbox for `limits` (started on first use; no timeout: the coordinator
        cancels the whole task at the step's timeout, and the sandbox dies with it)."""
        key = (allow_pickle, *sorted(limits.items()))
        retired: list[Sandbox] = []
        with self._lock:
            sandbox = self._open.pop(key, None)
            if sandbox is None:
                from zixir.sandbox import Sandbox  # on first use: a worker without limits never loads it

                sandbox = Sandbox(workers=1, allow_pickle=allow_pickle, **limits)
            self._open[key] = sandbox
            while len(self._open) > self.max_size:
                retired.append(self._open.popitem(last=False)[1])
        for old in retired:
            old.close()
        return sandbox

    def __len__(self) -> int:
        with self._lock:
            return len(self._open)

    def close(self) -> None:
        """Closes every sandbox kept."""
        with self._lock:
            kept, self._open = list(self._open.values()), OrderedDict()
        for sandbox in kept:
            sandbox.close()


_sandboxes: SandboxCache | None = None
_sandboxes_lock = threading.Lock()


def sandboxes() -> SandboxCache:
    """This worker process's sandboxes, kept for the steps with limits it runs (made on
    first use, bounded by `max_sandboxes`)."""
    global _sandboxes
    with _sandboxes_lock:
        if _sandboxes is None:
            _sandboxes = SandboxCache(max_sandboxes())
        return _sandboxes


def max_sandboxes() -> int:
    """`MAX_SANDBOXES`, or ``ZIXIR_RAY_MAX_SANDBOXES`` when set.

    Raises:
        InvalidArgumentError: the variable is not a whole number >= 1.
    """
    size = os.environ.get("ZIXIR_RAY_MAX_SANDBOXES")
    if size is None:
        return MAX_SANDBOXES
    if not size.strip().isdigit():
        raise InvalidArgumentError(
            f"ZIXIR_RAY_MAX_SANDBOXES must be a whole number >= 1, got {size!r}", "ZIXIR_RAY_MAX_SANDBOXES"
        )
    return _validate.whole("ZIXIR_RAY_MAX_SANDBOXES", int(size))


def run_step(
    step: str,
    fn: Callable[..., Any],
    limits: Mapping[str, Any],
    allow_pickle: bool,
    trace: tuple[str, str, bool] | None,
    names: tuple[str, ...],
    values: tuple[Any, ...],
) -> Any:
    """Calls `fn` with the step's arguments (`names` paired with `values`), under `trace`.

    Returns:
        The step's output, or a `WithSpans` of it when the call made spans.

    Raises:
        Exception: what the step raised, or a `SandboxError` for a limit its sandbox
            enforced (a `RemoteError` if it cannot travel), carrying `REPORT`.
    """
    from zixir.tracing import wire

    kwargs = dict(zip(names, values, strict=True))
    text: str | None = None
    token = wire.begin(trace)
    try:
        try:
            if limits:
                result = sandboxes().get(limits, allow_pickle).run(fn, **kwargs)
                if not result.ok:
                    text = result.traceback
                    if result.reason == "exception" and isinstance(result.error, Exception):
                        raise result.error
                    raise SandboxError(
                        f"step {step!r}: the sandboxed call on its Ray worker failed ({result.reason}): {result.error}",
                        result,
                    )
                value = result.value
            else:
                value = fn(**kwargs)
        finally:
            spans = wire.end(token)
    except Exception as error:
        if text is None:
            text = "".join(traceback.format_exception(error))
        sent = _sendable(error, text)
        with contextlib.suppress(Exception):  # an error without a __dict__: its traceback stays in Ray's text
            setattr(sent, REPORT, (spans, text))
        if sent is error:
            raise
        raise sent from None
    return WithSpans(value, spans) if spans else value


def _sendable(error: Exception, text: str) -> Exception:
    """`error` if it survives a pickle round trip (as Ray sends it), else a RemoteError
    with its type's name, message and traceback text."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        kind = type(error)
        name = f"{kind.__module__}.{kind.__qualname__}"
        return RemoteError(f"{name}: {error}", name, text)
    return error


def _outputs(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """The values, an upstream Ray step's `WithSpans` (which Ray resolved from its
    ObjectRef) replaced by its output."""
    return tuple(value.output if type(value) is WithSpans else value for value in values)


def step_task(
    step: str,
    fn: Callable[..., Any],
    limits: Mapping[str, Any],
    allow_pickle: bool,
    names: tuple[str, ...],
    *,
    timed: bool,
) -> Callable[..., Any]:
    """The function a step's Ray tasks run. It takes ``(trace, *values)``, or, when no
    value is an upstream Ray step's ObjectRef, one list ``[trace, *values]`` (one argument
    costs Ray less to send than several): `trace` from `encode_trace`, `values` the
    step's arguments in the order of `names`. It returns what `run_step` returns or,
    `timed`, yields `STARTED` and then that."""
    kept = dict(limits)

    def call(head: str | list[Any], values: tuple[Any, ...]) -> Any:
        if type(head) is list:
            return run_step(step, fn, kept, allow_pickle, decode_trace(head[0]), names, tuple(head[1:]))
        assert isinstance(head, str)
        return run_step(step, fn, kept, allow_pickle, decode_trace(head), names, _outputs(values))

    if timed:

        def timed_task(head: str | list[Any], *values: Any) -> Iterator[Any]:
            yield STARTED
            yield call(head, values)

        return timed_task

    def task(head: str | list[Any], *values: Any) -> Any:
        return call(head, values)

    return task
