"""`Sandbox`: run functions in warm worker processes whose time, CPU, memory, nesting and
output limits are enforced; a fault in the function never reaches the caller's process.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import CancelledError
from types import TracebackType
from typing import Any, Self

from zixir.errors import (
    ArgumentTypeError,
    SandboxClosedError,
    SandboxLimitError,
    SandboxStartError,
)
from zixir.resilience.breaker import CircuitBreaker
from zixir.sandbox import _config, _options
from zixir.sandbox._call import Limits, execute
from zixir.sandbox._protocol import WorkerConfig
from zixir.sandbox.future import SandboxFuture
from zixir.sandbox.pool import SandboxStats, WorkerPool
from zixir.sandbox.result import FAILURE_REASONS, SandboxResult

__all__ = ["Sandbox"]

_Job = tuple[SandboxFuture, bytes]


_forks = 0  # how many times this process is a fork of the one before (os.register_at_fork)
_fork_hook = threading.Lock()
_fork_hook_installed = False


def _forked() -> None:
    global _forks
    _forks += 1


def _watch_forks() -> None:
    """Installs the fork counter, once, when the first Sandbox is made (not at import).

    Forks before that do not matter: a sandbox compares the count with the one it saw when
    it was made.
    """
    global _fork_hook_installed
    with _fork_hook:
        if not _fork_hook_installed:
            os.register_at_fork(after_in_child=_forked)
            _fork_hook_installed = True


class _Failed(Exception):
    """Carries a failed result through a circuit breaker, which counts it as a failure."""

    def __init__(self, result: SandboxResult) -> None:
        super().__init__(result.reason)
        self.result = result


def _stop(pool: WorkerPool | None, forks: int) -> None:
    """Stops a sandbox nobody closed (collected, or at interpreter exit), without waiting.

    Not in a forked child: the workers and the fork server belong to the parent.
    """
    if pool is not None and forks == _forks:
        pool.close(wait=False)


class Sandbox:
    """Runs functions in a pool of warm worker processes, with every limit enforced.

    No bytes a worker sends back run code in this process: results cross as
    `zixir.serialization` data (msgpack; pickle only with `allow_pickle`), errors are
    rebuilt only for builtin and `zixir.errors` types (any other becomes a `RemoteError`),
    and every frame's length is checked before anything is allocated for it. That is the
    boundary. Workers still run as your user, see your files and network, and can signal
    or trace your processes through the operating system: resource isolation for code you
    trust to be buggy, not a jail for hostile code. Calls go to the worker by pickle (the
    worker trusts its host). Enforcement is Linux-only (/proc, prctl, rlimits); elsewhere
    construction raises SandboxStartError.

    Workers are forked by a fork server: a clean, thread-free Python process started in
    its own session (Ctrl-C does not reach it), which dies with its host and kills every
    worker's process group when it goes. Each worker runs in its own process group, with
    core dumps off, a scrubbed environment (see `env`), the host's sys.path and working
    directory. A function and its arguments are pickled (module-level functions travel
    by import path); a function defined in the host's ``__main__`` script works when the
    script guards its own code with ``if __name__ == "__main__":``, as multiprocessing
    requires. Module state persists in a worker between its calls; the standard fds 0-2 and
    ``sys.stdout``/``sys.stderr`` are put back after every call.

    Enforcement: the host waits on the worker's socket and output pipes at most 20 ms at a
    time; a call still running reads /proc every 20 ms for the CPU time and RSS of the
    worker and its child processes, and the worker's whole process tree is killed when a
    limit is passed. A call whose peak RSS (the worker's high-water mark, reset before each
    call) went over `memory` between two reads ends as "memory" too, and its worker is
    replaced. Backstops in the worker: RLIMIT_CPU at the CPU used so far plus
    `cpu_time` plus 1 s (its SIGXCPU is reported as "cpu"), and RLIMIT_DATA at the idle
    data size plus `memory` plus max(`memory`, 256 MiB) (a MemoryError in a worker with a
    memory limit is reported as "memory"). Child processes a call leaves running are
    killed, and their worker replaced.

    Args:
        timeout: Wall-clock seconds a call may take (from sending it to its result), or
            None. The call's worker is killed when it runs over.
        cpu_time: CPU seconds a call may use (its worker and child processes), or None.
        memory: How much a call may grow its worker's resident memory (RSS of the worker
            and its child processes, summed) above the worker's idle size: bytes, or a
            string such as ``"512MB"`` (see `parse_memory`), or None.
        max_depth: How many sandboxes deep calls may nest (a sandboxed function running
            its own Sandbox counts one more); deeper calls end with reason "depth".
        max_recursion: Python frames fn may nest below itself; a RecursionError past it
            ends the call with reason "depth".
        max_output: Bytes of the serialized result (or error), and of stdout and of stderr
            each, a call may produce; an int or a size string.
        workers: Worker processes, so calls that may run at once.
        env: The workers' environment; None for a scrubbed copy of this process's (PATH,
            HOME, LANG/LC_*, PYTHON*, VIRTUAL_ENV, TMPDIR... see `scrubbed_env`); pass
            ``dict(os.environ)`` to keep everything.
        max_tasks_per_worker: Calls after which a worker is replaced by a fresh one.
        max_worker_memory: Growth of a worker's idle RSS above its size at start after which
            it is replaced (bytes or a size string); by default `memory` if set, else None.
        breaker: A CircuitBreaker counting "crashed", "timeout", "memory" and "cpu" results
            as failures; while it is open, calls raise CircuitOpenError without running.
        start_timeout: Seconds to wait for the fork server or a worker to start.
        allow_pickle: Let results and errors of types `zixir.serialization` does not store
            come back by pickle. Unpickling runs code the bytes name, so this trusts the
            worker, and whatever fn did to it, with this process.

    Raises:
        ArgumentTypeError: An argument has the wrong type (a TypeError; ``.argument``
            names it).
        InvalidArgumentError: An argument is out of range, NaN or infinite, or a size
            string is malformed (a ValueError; ``.argument`` names it).
        SandboxStartError: Not Linux, or the fork server did not start.
    """

    def __init__(
        self,
        *,
        timeout: float | None = None,
        cpu_time: float | None = None,
        memory: int | str | None = None,
        max_depth: int = 8,
        max_recursion: int = 1000,
        max_output: int | str = "16MiB",
        workers: int = 1,
        env: Mapping[str, str] | None = None,
        max_tasks_per_worker: int | None = None,
        max_worker_memory: int | str | None = None,
        breaker: CircuitBreaker | None = None,
        start_timeout: float = 30.0,
        allow_pickle: bool = False,
    ) -> None:
        options = _options.check(
            timeout=timeout,
            cpu_time=cpu_time,
            memory=memory,
            max_depth=max_depth,
            max_recursion=max_recursion,
            max_output=max_output,
            workers=workers,
            env=env,
            max_tasks_per_worker=max_tasks_per_worker,
            max_worker_memory=max_worker_memory,
            breaker=breaker,
            start_timeout=start_timeout,
            allow_pickle=allow_pickle,
        )
        limits = Limits(options.timeout, options.cpu_time, options.memory, options.max_output, options.allow_pickle)
        self._limits = limits
        self._max_depth = options.max_depth
        self._size = options.workers
        self._breaker = options.breaker
        env = options.env
        if not sys.platform.startswith("linux"):
            raise SandboxStartError(
                f"Sandbox enforces its limits with Linux facilities "
                f"(/proc, prctl, rlimits); {sys.platform} is not supported"
            )
        depth, inherited = _config.inherited_depth()
        self._depth = depth
        self._depth_limit = self._max_depth if inherited is None else min(self._max_depth, inherited)
        worker_env = dict(_config.scrubbed_env(os.environ) if env is None else env)
        worker_env[_config.DEPTH_VARIABLE] = str(depth + 1)
        worker_env[_config.MAX_DEPTH_VARIABLE] = str(self._depth_limit)
        self._main = _config.host_main()
        if self._main is not None:  # results built from the host's main script come back here
            sys.modules.setdefault("__mp_main__", sys.modules["__main__"])
        try:
            cwd = os.getcwd()
        except OSError:
            cwd = "/"
        config = WorkerConfig(
            sys_path=list(sys.path),
            argv=list(sys.argv),
            cwd=cwd,
            env=worker_env,
            main=self._main,
            cpu_time=limits.cpu_time,
            memory=limits.memory,
            data_slack=max(limits.memory or 0, 256 << 20),
            track_memory=limits.memory is not None or options.max_worker_memory is not None,
            max_output=limits.max_output,
            max_recursion=options.max_recursion,
            allow_pickle=options.allow_pickle,
        )
        _watch_forks()
        self._pid, self._forks = os.getpid(), _forks
        self._lock = threading.Lock()
        self._closed = False
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._pool: WorkerPool | None = None
        if depth < self._depth_limit:  # deeper, every call ends as "depth": nothing to start
            self._pool = WorkerPool(
                self._size,
                config,
                worker_env,
                options.start_timeout,
                options.max_tasks_per_worker,
                options.max_worker_memory,
                depth,
            )
            try:
                self._pool.start()
            except BaseException:
                self._pool.close(wait=False)
                raise
        self._finalizer = weakref.finalize(self, _stop, self._pool, self._forks)

    # -- calls -----------------------------------------------------------------------------

    def run(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> SandboxResult:
        """Runs ``fn(*args, **kwargs)`` in a worker and waits for the result.

        Returns:
            The SandboxResult; whatever fn does (raise, hang, crash, exhaust memory) ends
            up in it, never raised here.

        Raises:
            SerializationError: fn or an argument cannot be pickled (nothing was run).
            SandboxClosedError: The sandbox is closed, or was created in another process.
            CircuitOpenError: The sandbox's breaker is open (nothing was run).
            SandboxStartError: A worker could not be started.
        """
        return self._call(self._encode(fn, args, kwargs))

    def run_module(
        self, module: str, function: str, args: Iterable[Any] = (), kwargs: Mapping[str, Any] | None = None
    ) -> SandboxResult:
        """Runs a function named by strings: ``module`` is imported in the worker.

        Args:
            module: A module importable with the host's sys.path, e.g. ``"app.tasks"``.
            function: The function's name in it; dotted for attributes (``"Cls.method"``).
            args: Positional arguments.
            kwargs: Keyword arguments.

        Returns:
            The SandboxResult; an import error in the worker is reason "exception".

        Raises:
            ArgumentTypeError: `module` or `function` is not a str (a TypeError).
            SerializationError, SandboxClosedError, CircuitOpenError, SandboxStartError:
                As `run`.
        """
        if not isinstance(module, str) or not isinstance(function, str):
            raise ArgumentTypeError(
                f"run_module takes the module and function names as str, got {module!r} and {function!r}",
                "module" if not isinstance(module, str) else "function",
            )
        return self._call(self._encode((module, function), tuple(args), kwargs or {}))

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> SandboxFuture:
        """Starts ``fn(*args, **kwargs)`` in a worker and returns at once.

        Returns:
            A SandboxFuture (a concurrent.futures.Future) of the SandboxResult. Its
            exception is set only for the errors `run` raises (an open breaker, a closed
            sandbox...). Its `cancel` also stops a running call: the worker is killed and
            replaced.

        Raises:
            SerializationError: fn or an argument cannot be pickled (nothing was run).
            SandboxClosedError: The sandbox is closed.
        """
        payload = self._encode(fn, args, kwargs)
        future = SandboxFuture()
        with self._lock:
            self._check_open()
            self._jobs.put((future, payload))
            if len(self._threads) < self._size:
                thread = threading.Thread(
                    target=self._dispatch, daemon=True, name=f"zixir-sandbox-dispatch-{len(self._threads)}"
                )
                thread.start()
                self._threads.append(thread)
        return future

    def map(self, fn: Callable[..., Any], items: Iterable[Any]) -> list[SandboxResult]:
        """Runs ``fn(item)`` for each item, on all workers at once.

        Returns:
            The results, in the order of `items`.

        Raises:
            SerializationError: fn or an item cannot be pickled (nothing was run).
            SandboxClosedError, CircuitOpenError, SandboxStartError: As `run`.
        """
        futures = [self.submit(fn, item) for item in items]
        return [future.result() for future in futures]

    def _encode(self, target: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bytes:
        self._check_open()
        if not isinstance(target, tuple) and not callable(target):
            raise ArgumentTypeError(f"fn must be callable, got {target!r}", "fn")
        return _config.encode_call(target, args, kwargs, self._main is not None)

    def _check_open(self) -> None:
        if self._closed:
            raise SandboxClosedError("the sandbox is closed; create a new Sandbox")
        if _forks != self._forks:
            raise SandboxClosedError(f"this Sandbox belongs to process {self._pid}; a forked child must create its own")

    def _call(self, payload: bytes, future: SandboxFuture | None = None) -> SandboxResult:
        if self._breaker is None:
            return self._attempt(payload, future)

        def attempt() -> SandboxResult:
            result = self._attempt(payload, future)
            if result.reason in FAILURE_REASONS and not (future is not None and future._stopped_by_cancel()):
                raise _Failed(result)  # a call killed because it was cancelled is no failure
            return result

        try:
            return self._breaker.call(attempt)
        except _Failed as failed:
            return failed.result

    def _attempt(self, payload: bytes, future: SandboxFuture | None = None) -> SandboxResult:
        pool = self._pool
        if pool is None:
            level = self._depth + 1
            return SandboxResult(
                reason="depth",
                error=SandboxLimitError(
                    f"sandboxes nest {self._depth_limit} deep at most (max_depth); this call would "
                    f"run at depth {level}",
                    "depth",
                    self._depth_limit,
                    level,
                ),
            )
        worker = pool.acquire()
        if future is not None and not future._attach(worker):  # cancelled while it waited
            pool.release(worker, retire=False)
            return SandboxResult(reason="crashed", error=CancelledError("the sandbox call was cancelled"))
        try:
            result, retire = execute(worker, payload, self._limits, alone=pool.running == 1)
        except BaseException:
            pool.release(worker, retire=True)
            raise
        finally:
            if future is not None:
                future._detach()
        pool.release(worker, retire=retire, reason=result.reason, counted=True, duration=result.duration)
        return result

    def _dispatch(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, payload = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future._settle(self._call(payload, future))
            except BaseException as exc:
                future.set_exception(exc)

    # -- lifecycle -------------------------------------------------------------------------

    def stats(self) -> SandboxStats:
        """A snapshot of the fork server, the workers (pids, tasks, RSS) and call counters."""
        if self._pool is None:
            return SandboxStats(None, self._depth, (), 0, 0, {})
        return self._pool.stats()

    @property
    def closed(self) -> bool:
        """True once `close` was called."""
        return self._closed

    def close(self, *, wait: bool = True) -> None:
        """Stops the workers and the fork server; later calls raise SandboxClosedError.

        Submitted calls that have not started are cancelled. Idempotent. In a forked child
        of the process that created the sandbox, only marks it closed: the workers and the
        fork server are the parent's.

        Args:
            wait: Let running calls finish first (each within its limits); if False, their
                workers are killed and they end as "crashed" with a SandboxClosedError.
        """
        if _forks != self._forks:
            self._closed = True
            self._finalizer.detach()
            return
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = list(self._threads)
        self._finalizer.detach()
        while True:  # cancel what has not started
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job[0].cancel()
        for _ in threads:
            self._jobs.put(None)
        if self._pool is not None:
            self._pool.close(wait=wait)
        current = threading.current_thread()
        for thread in threads:
            if thread is not current:
                thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        limits = self._limits
        state = "closed" if self._closed else f"{self._size} workers"
        return (
            f"Sandbox({state}, timeout={limits.timeout}, cpu_time={limits.cpu_time}, "
            f"memory={limits.memory}, max_output={limits.max_output}, depth={self._depth}/"
            f"{self._depth_limit})"
        )
