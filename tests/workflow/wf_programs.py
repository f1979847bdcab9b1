"""Workflows and step functions shared by the tests and the processes they start.

Run as a script, it runs one of the programs below in a child process and reports on
stdout, one flushed line per event, so the parent waits on the pipe, never on the clock:
``python wf_programs.py <program> <store> <run_id> [<log file>]``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any

from zixir import RetryPolicy
from zixir.errors import RunOwnedError
from zixir.workflow import StepContext, Workflow

# ---- module-level steps (importable by sandbox workers) --------------------------------


def sleepy(seconds: float) -> str:
    """A process step that outlives its timeout."""
    time.sleep(seconds)
    return "woke"


def doubled(x: int) -> int:
    return x * 2


def traced_double(x: int) -> int:
    """A process step that opens a span of its own in the worker."""
    from zixir import tracing

    with tracing.span("inside.double", x=x):
        return x * 2


# ---- the 200-step workflow of the kill -9 test ------------------------------------------

STEPS = 200


def say(line: str) -> None:
    """One line to the parent (flushed: it reads the pipe as events)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def append(path: str, line: str) -> None:
    """Appends a line to the executions log: one O_APPEND write, kept by the kernel even if
    this process is killed right after."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def big(store: str, log: str | None, max_workers: int = 4) -> Workflow:
    """200 steps in layers of 10: each reads up to three steps of the previous layer."""
    wf = Workflow("big", store=store, max_workers=max_workers)
    for i in range(STEPS):
        layer, slot = divmod(i, 10)
        reads = [] if layer == 0 else sorted({(layer - 1) * 10 + (slot + k) % 10 for k in (0, 3, 7)})

        def make(i: int, reads: list[int]) -> Any:
            names = [f"s{r}" for r in reads]
            params = "".join(", " + n for n in names)
            source = f"def s{i}(ctx{params}):\n    return run_step(ctx, {i}, [{', '.join(names)}])\n"
            scope: dict[str, Any] = {"run_step": lambda ctx, i, values: run_step(ctx, i, values, log)}
            exec(source, scope)
            return scope[f"s{i}"]

        wf.add_step(f"s{i}", make(i, reads))
    return wf


def run_step(ctx: StepContext, i: int, values: list[int], log: str | None) -> int:
    if log is not None:
        append(log, f"{ctx.step} {os.getpid()}")
        say(f"ran {ctx.step}")
    return (i * 7 + sum(values) * 3) % 1_000_003


# ---- retries that survive a kill --------------------------------------------------------


def retried(store: str, log: str | None) -> Workflow:
    wf = Workflow("retried", store=store)

    def flaky(ctx: StepContext) -> int:
        if log is not None:
            append(log, f"attempt {ctx.attempt} {os.getpid()}")
        say(f"attempt {ctx.attempt}")
        if ctx.attempt == 2 and os.environ.get("WF_HANG") == "1":
            threading.Event().wait(120)  # killed here by the parent
        if ctx.attempt < 4:
            raise ConnectionError(f"attempt {ctx.attempt} failed")
        return ctx.attempt

    wf.add_step("flaky", flaky, retry=RetryPolicy(max_attempts=5, initial_delay=0.0, jitter=0.0))
    return wf


# ---- cancel and race ----------------------------------------------------------------------


def blocking(store: str, log: str | None) -> Workflow:
    wf = Workflow("blocking", store=store)

    def wait(ctx: StepContext) -> bool:
        say("started")
        return ctx.cancelled.wait(120)

    wf.add_step("wait", wait)
    wf.add_step("after", lambda wait: "never runs when cancelled")
    return wf


def racing(store: str, log: str | None) -> Workflow:
    wf = Workflow("racing", store=store, max_workers=2)
    gate = os.environ.get("WF_GATE")

    def first() -> int:
        if gate is not None and not os.path.exists(gate):
            raise RuntimeError("gate closed")
        return 1

    wf.add_step("first", first)
    for i in range(20):

        def step(first: int, i: int = i) -> int:
            if log is not None:
                append(log, f"r{i} {os.getpid()}")
            return first + i

        wf.add_step(f"r{i}", step)
    return wf


PROGRAMS = {"big": big, "retried": retried, "blocking": blocking, "racing": racing}


def tree(program: str, store: str, run_id: str, log: str | None, mode: str) -> None:
    """Hosts the program's workflow in a supervision tree: mode "start" asks the
    WorkflowActor to run `run_id`; mode "resume" waits for the run its start resumed."""
    from zixir import ChildSpec, Supervisor, WorkflowActor, whereis

    wf = PROGRAMS[program](store, log)
    root = Supervisor.start(children=[ChildSpec("host", WorkflowActor, kwargs={"workflows": [wf]})])
    host = whereis("host").proxy()
    handle = host.run(wf.name, run_id).get() if mode == "start" else host.handle(wf.name, run_id).get()
    say("ready")
    # A resumed run may have ended already: its record then holds the result.
    result = host.status(wf.name, run_id).get() if handle is None else handle.result(120)
    say(json.dumps({"status": result.status, "outputs": result.outputs}, default=str))
    root.stop()
    wf.close()


def main() -> None:
    if sys.argv[1] == "tree":
        mode, program, store, run_id, log = sys.argv[2:]
        tree(program, store, run_id, log, mode)
        return
    program, store, run_id, *rest = sys.argv[1:]
    log = rest[0] if rest else None
    wf = PROGRAMS[program](store, log)
    say("ready")
    try:
        result = wf.run(run_id=run_id)
    except RunOwnedError as exc:
        say(json.dumps({"owned": str(exc)}))
        return
    say(json.dumps({"status": result.status, "outputs": result.outputs}, default=str))


if __name__ == "__main__":
    main()
