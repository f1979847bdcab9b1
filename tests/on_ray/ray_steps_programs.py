"""Ray steps shared by the tests and by the coordinator processes they start and kill.

Run as a script, it is a coordinator: ``python ray_steps_programs.py <address> <store>
<run_id> <markers>`` joins the Ray head at `address`, runs (or resumes) the workflow
`pipeline` in `store` and prints its outputs as JSON. Steps leave marker files in
`markers`, one per run of a step (``<step>.<pid>.<n>``), so a test counts executions, and
talk to the test through FIFOs there, so it waits on them, never on the clock.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import sys
from pathlib import Path
from typing import Any

import psutil

from zixir import RetryPolicy
from zixir.workflow import Workflow

# ---- steps -----------------------------------------------------------------------------


def mark(markers: str, step: str) -> None:
    """Records one execution of `step` (a new file each time: O_EXCL, never overwritten)."""
    for n in range(1000):
        try:
            fd = os.open(os.path.join(markers, f"{step}.{os.getpid()}.{n}"), os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            continue
        os.close(fd)
        return


def runs_of(markers: str | Path, step: str) -> int:
    """How many times `step` ran."""
    return sum(1 for name in os.listdir(markers) if name.split(".")[0] == step)


def tell(fifo: str, line: str) -> None:
    """Writes a line to a FIFO the test reads: how a step says where it is."""
    with open(fifo, "w") as pipe:
        pipe.write(line + "\n")


def read_line(fifo: str | Path, timeout: float) -> str:
    """A line a step writes to `fifo` (with `tell`), waited for at most `timeout` seconds."""
    fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # read-write: no EOF before the step writes
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
        assert ready, f"nothing came on {fifo} within {timeout}s"
        return os.read(fd, 4096).decode().strip()
    finally:
        os.close(fd)


def wait_gone(pid: int, timeout: float) -> None:
    """Waits until the process `pid` has ended (psutil.TimeoutExpired if it has not)."""
    with contextlib.suppress(psutil.NoSuchProcess):  # gone already
        psutil.Process(pid).wait(timeout=timeout)


def block_on(fifo: str) -> None:
    """Waits until the test writes to `fifo` (or the step's process is killed)."""
    with open(fifo) as pipe:
        pipe.read()


def numbers(count: int) -> list[int]:
    return list(range(count))


def square(numbers: int) -> int:
    return numbers * numbers


def total(square: list[int]) -> int:
    return sum(square)


def shout(text: str) -> str:
    return text.upper()


def blob(size: int) -> bytes:
    """A large output: kept in Ray's object store for the Ray steps that read it."""
    return bytes(range(256)) * (size // 256)


def checksum(blob: bytes) -> tuple[int, int]:
    return len(blob), sum(blob[::4096])


def flaky_size(blob: bytes, markers: str) -> int:
    """Fails its first attempt."""
    mark(markers, "flaky_size")
    if runs_of(markers, "flaky_size") == 1:
        raise ConnectionError("first attempt")
    return len(blob)


def quota(user: str) -> int:
    raise LookupError(f"no quota for {user}")


def hog(megabytes: int) -> int:
    """Allocates `megabytes` in one piece (past a memory limit: a MemoryError in the sandbox)."""
    return len(bytearray(megabytes << 20))


def exit_worker(code: int) -> None:
    """Ends the Ray worker process running the task (as a native crash would)."""
    os._exit(code)


def traced_double(numbers: int) -> int:
    """Opens a span of its own on the Ray worker."""
    from zixir import tracing

    with tracing.span("inside.ray", item=numbers):
        return numbers * 2


def slow_first_attempt(markers: str) -> int:
    """The first attempt records its pid and blocks on a FIFO no one writes, past the step's
    timeout, until its task is cancelled (a marker named ``survived`` would show it was not
    stopped); later attempts return at once."""
    if runs_of(markers, "attempt") == 0:
        mark(markers, "attempt")
        Path(markers, "first.pid").write_text(str(os.getpid()))
        never = os.path.join(markers, "never")
        os.mkfifo(never)
        block_on(never)
        mark(markers, "survived")
        return -1
    mark(markers, "attempt")
    return runs_of(markers, "attempt")


# ---- the workflow a coordinator runs and a test kills ----------------------------------


def prepare(markers: str) -> list[int]:
    mark(markers, "prepare")
    return [1, 2, 3, 4]


def scale(prepare: int, markers: str) -> int:
    mark(markers, "scale")
    return prepare * 10


def hold(scale: list[int], markers: str) -> int:
    """Runs on Ray. Its first run says so (with its worker's pid) on the FIFO ``held`` and
    blocks on the FIFO ``go``, which the test never writes: it kills the coordinator."""
    mark(markers, "hold")
    if runs_of(markers, "hold") == 1:
        tell(os.path.join(markers, "held"), str(os.getpid()))
        block_on(os.path.join(markers, "go"))
    return sum(scale)


def finish(hold: int, markers: str) -> str:
    mark(markers, "finish")
    return f"total {hold}"


def pipeline(store: str) -> Workflow:
    """A workflow mixing a thread step, a Ray fan-out and two Ray steps."""
    wf = Workflow("pipeline", store=store, inputs=("markers",))
    wf.add_step("prepare", prepare)
    wf.add_step("scale", scale, map_over="prepare", executor="ray")
    wf.add_step("hold", hold, executor="ray", retry=RetryPolicy(max_attempts=2, initial_delay=0.0, jitter=0.0))
    wf.add_step("finish", finish, executor="ray")
    return wf


def main(address: str, store: str, run_id: str, markers: str) -> None:
    import zixir.ray

    zixir.ray.connect(address, log_to_driver=False)
    wf = pipeline(store)
    inputs: Any = None if wf.runs() else {"markers": markers}
    result = wf.run(run_id, inputs)
    print(json.dumps({"status": result.status, "outputs": result.outputs}), flush=True)
    wf.close()
    zixir.ray.disconnect()


if __name__ == "__main__":
    main(*sys.argv[1:5])
