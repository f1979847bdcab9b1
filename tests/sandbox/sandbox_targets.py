"""Functions the sandbox tests run in workers.

Standard library only, so a fresh worker imports this module in milliseconds (a test module
would pull in pytest, hypothesis and zixir).
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from typing import Any

__all__ = [
    "NeedsTwo",
    "Unpicklable",
    "allocate",
    "announce_then_sleep",
    "child_then_announce",
    "cpu_limit",
    "data_limit",
    "disaster",
    "double",
    "echo_child",
    "environment",
    "fork_then_exit",
    "grow",
    "hard_exit",
    "hold",
    "huge_print",
    "huge_result",
    "identity",
    "leave_child",
    "leave_daemon",
    "leave_session",
    "nest",
    "nest_spin",
    "print_from_c",
    "raise_memory_error",
    "raise_needs_two",
    "raise_unpicklable",
    "raise_value_error",
    "recurse",
    "segfault",
    "send_sigxcpu",
    "sleep",
    "soft_exit",
    "spin",
    "talk",
    "unloadable_result",
    "unpicklable_result",
    "what_the_worker_is",
]

_KEPT: list[bytearray] = []


def double(x: int) -> int:
    return 2 * x


def identity(x: Any) -> Any:
    return x


def talk(text: str) -> int:
    print(text)
    print(f"err:{text}", file=sys.stderr)
    return len(text)


def print_from_c() -> None:
    ctypes.CDLL(None).printf(b"printed by C\n")


def echo_child() -> None:
    subprocess.run(["echo", "printed by a child"], check=True)


def raise_value_error(message: str) -> None:
    raise ValueError(message)


def raise_memory_error() -> None:
    raise MemoryError("asked for too much")


def spin() -> None:
    while True:
        pass


def announce_then_sleep(fifo: str, seconds: float) -> float:
    """Writes "started" to a FIFO the test waits on, then sleeps."""
    with open(fifo, "w") as file:
        file.write("started")
    time.sleep(seconds)
    return seconds


def child_then_announce(fifo: str) -> None:
    """Starts a child process, writes "started" to a FIFO, then sleeps."""
    subprocess.Popen(["sleep", "1000"])
    announce_then_sleep(fifo, 1000)


def sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def grow(megabytes: int) -> int:
    """Allocates (and touches) memory one MiB at a time."""
    chunks = [bytearray(1 << 20) for _ in range(megabytes)]
    return len(chunks)


def allocate(megabytes: int) -> int:
    """Allocates memory in one piece."""
    return len(bytearray(megabytes << 20))


def hold(megabytes: int) -> int:
    """Keeps memory allocated in the worker after the call."""
    _KEPT.append(bytearray(megabytes << 20))
    return os.getpid()


def segfault() -> None:
    ctypes.string_at(0)


def hard_exit(code: int) -> None:
    os._exit(code)


def soft_exit(code: int) -> None:
    sys.exit(code)


def send_sigxcpu() -> None:
    os.kill(os.getpid(), signal.SIGXCPU)


def leave_child() -> int:
    return subprocess.Popen(["sleep", "1000"]).pid


def leave_session() -> int:
    return subprocess.Popen(["sleep", "1000"], start_new_session=True).pid


def leave_daemon() -> None:
    """Double-forks: the sleep's parent exits, so it is re-parented (to the worker)."""
    subprocess.run(["sh", "-c", "sleep 1000 &"], check=True)


def fork_then_exit(code: int) -> None:
    """Dies while a forked child keeps the worker's socket open."""
    if os.fork() == 0:
        time.sleep(1000)
        os._exit(0)
    os._exit(code)


def huge_result(size: int) -> bytes:
    return b"x" * size


def huge_print(size: int) -> str:
    chunk = "y" * 65536
    for _ in range(size // len(chunk) + 1):
        sys.stdout.write(chunk)
    return "printed"


class Unpicklable(Exception):
    """An exception that cannot be pickled: it holds a lock."""

    def __init__(self) -> None:
        super().__init__("holds a lock")
        self.lock = threading.Lock()


def raise_unpicklable() -> None:
    raise Unpicklable()


class NeedsTwo(Exception):
    """Pickles, but does not unpickle: its __init__ does not take its args."""

    def __init__(self, a: int, b: int) -> None:
        super().__init__(f"{a}-{b}")


def raise_needs_two() -> None:
    raise NeedsTwo(1, 2)


def recurse(depth: int) -> int:
    return 0 if depth == 0 else 1 + recurse(depth - 1)


def unpicklable_result() -> Any:
    return threading.Lock()


def _refuse() -> None:
    raise RuntimeError("this object refuses to be rebuilt")


class _Unloadable:
    def __reduce__(self) -> tuple[Any, ...]:
        return _refuse, ()


def unloadable_result() -> Any:
    return _Unloadable()


def environment() -> dict[str, str]:
    return dict(os.environ)


def cpu_limit() -> tuple[int, float]:
    return resource.getrlimit(resource.RLIMIT_CPU)[0], time.process_time()


def data_limit() -> int:
    return resource.getrlimit(resource.RLIMIT_DATA)[0]


def what_the_worker_is() -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "pgid": os.getpgid(0),
        "threads": threading.active_count(),
        "zixir": sorted(m for m in sys.modules if m == "zixir" or m.startswith("zixir.")),
        "numpy": "numpy" in sys.modules,
        "core": resource.getrlimit(resource.RLIMIT_CORE),
        "cwd": os.getcwd(),
        "path": list(sys.path),
    }


def nest(levels: int, **options: Any) -> str | None:
    """Runs itself `levels` sandboxes deeper; returns the innermost depth variable."""
    if levels == 0:
        return os.environ.get("ZIXIR_SANDBOX_DEPTH")
    from zixir.sandbox import Sandbox

    with Sandbox(**options) as sandbox:
        result: str | None = sandbox.run(nest, levels - 1, **options).unwrap()
        return result


def disaster(index: int) -> object:
    """One of six ways for a call to go wrong, by index."""
    disasters = [
        spin,
        lambda: grow(200),
        segfault,
        lambda: hard_exit(9),
        lambda: huge_print(2_000_000),
        raise_unpicklable,
    ]
    return disasters[index]()


def nest_spin() -> None:
    """Runs a spinning call in a nested sandbox (whose fork server and worker must die
    with this worker)."""
    from zixir.sandbox import Sandbox

    with Sandbox() as sandbox:
        sandbox.run(spin)
