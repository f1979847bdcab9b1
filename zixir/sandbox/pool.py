"""A sandbox's warm workers: spawning, handing out, retiring, replacing, and their statistics.

A SandboxActor can own a `WorkerPool` through its Sandbox and read `Sandbox.stats()`.
"""

from __future__ import annotations

import itertools
import os
import select
import socket
import threading
import time
from dataclasses import dataclass

from loguru import logger

from zixir.errors import SandboxClosedError, SandboxStartError
from zixir.observability import events
from zixir.sandbox import _metrics, _process, _procfs, _protocol
from zixir.sandbox._forkserver_client import ForkServerClient
from zixir.sandbox._protocol import WorkerConfig

__all__ = ["SandboxStats", "Worker", "WorkerPool", "WorkerStats"]


@dataclass(frozen=True, slots=True)
class WorkerStats:
    """One worker process, as of the moment `Sandbox.stats` was called.

    Attributes:
        pid: The worker's pid (None while it is still starting).
        tasks: Calls it has run.
        rss: Its resident memory in bytes, read from /proc now (None if unreadable).
        busy: True while it runs a call.
        age: Seconds since it was spawned.
    """

    pid: int | None
    tasks: int
    rss: int | None
    busy: bool
    age: float


@dataclass(frozen=True, slots=True)
class SandboxStats:
    """A snapshot of a sandbox's fork server, workers and counters.

    Attributes:
        fork_server_pid: The fork server's pid (None if it is not running).
        depth: How deeply nested this sandbox is (0 outside any sandbox).
        workers: One entry per live worker.
        calls: Calls finished since the sandbox started.
        replaced: Workers retired (killed, crashed, recycled) and replaced.
        reasons: How many calls ended with each reason, ``"ok"`` counting successes.
    """

    fork_server_pid: int | None
    depth: int
    workers: tuple[WorkerStats, ...]
    calls: int
    replaced: int
    reasons: dict[str, int]


class Worker:
    """The host's handle on one worker process: its socket, output pipes and last measures."""

    def __init__(self, token: int, server: ForkServerClient, config: WorkerConfig, high_water: int | None) -> None:
        self.token = token
        self.server = server
        self.pid: int | None = None
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.out_fd, out_w = os.pipe()
        self.err_fd, err_w = os.pipe()
        try:
            server.spawn(token, config, (theirs.fileno(), out_w, err_w))
        except BaseException:
            self.sock.close()
            os.close(self.out_fd)
            os.close(self.err_fd)
            raise
        finally:
            theirs.close()
            os.close(out_w)
            os.close(err_w)
        self.sock.setblocking(False)
        os.set_blocking(self.out_fd, False)
        os.set_blocking(self.err_fd, False)
        self.poller = select.poll()
        for fd in (self.sock.fileno(), self.out_fd, self.err_fd):
            self.poller.register(fd, select.POLLIN)
        self.exited = threading.Event()
        self.status: int | None = None
        self.failure: str | None = None  # why the fork server could not fork it
        self.ready = False
        self.busy = False
        self.killed = False
        self.retire = False  # set by a call that leaves the worker unfit for another
        self.closed_by_pool = False
        self.cancelled = False  # its call was cancelled: killed for that, not a crash
        self.tasks = 0
        self.idle_rss = self.start_rss = 0
        self.cpu_total = 0.0
        self.last_duration = 0.0  # seconds the last call took, from sending it to its result
        self.high_water = high_water
        self.started = time.monotonic()

    def wait_ready(self, timeout: float) -> None:
        """Reads the worker's hello frame.

        Raises:
            SandboxStartError: The worker died, or said nothing within `timeout` seconds.
        """
        reader = _protocol.FrameReader(_protocol.HELLO.size)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.exited.is_set():
            if not select.select([self.sock], [], [], 0.02)[0]:
                continue
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                break
            try:
                body = reader.feed(data)
                if body is None:
                    continue
                hello = _protocol.decode_hello(body)
            except _protocol.ProtocolError as exc:
                self.kill()
                raise SandboxStartError(f"a sandbox worker did not start: {exc}") from exc
            self.pid, self.idle_rss, self.start_rss = hello.pid, hello.rss, hello.rss
            self.cpu_total = hello.cpu_total
            if self.high_water is not None:
                self.high_water += hello.rss
            self.ready = True
            return
        if self.failure is not None:
            raise SandboxStartError(f"a sandbox worker did not start: {self.failure}")
        try:
            said = os.read(self.err_fd, 1 << 16).decode("utf-8", "replace").strip()
        except OSError:
            said = ""
        status = "" if self.status is None else f" (wait status {self.status})"
        raise SandboxStartError(
            f"a sandbox worker did not start{status}" + (f"; it said:\n{said[-2000:]}" if said else "")
        )

    def kill(self) -> None:
        """SIGKILLs the worker's process tree and group (idempotent).

        Not once the fork server reported it dead: it was reaped, so its pid may already
        name another process; the fork server kills the orphans it left.
        """
        if self.pid is not None and not self.killed and not self.exited.is_set():
            self.killed = True
            _process.kill_tree(self.pid, self.pid)

    def cancel(self) -> None:
        """Kills the worker because its call was cancelled (`SandboxFuture.cancel`)."""
        self.cancelled = True
        self.kill()

    def close(self) -> None:
        """Closes the host's ends of the worker's socket and pipes."""
        for fd in (self.out_fd, self.err_fd):
            if fd >= 0:
                os.close(fd)
        self.out_fd = self.err_fd = -1
        self.sock.close()

    def rss_now(self) -> int | None:
        """The worker's resident memory right now, in bytes (None if unreadable)."""
        return None if self.pid is None else _procfs.rss(self.pid)


class WorkerPool:
    """Up to `size` warm workers forked by one fork server; replaces the ones that go.

    Args:
        size: How many workers run calls at once.
        config: What each worker is told (limits, environment, sys.path...).
        server_env: The fork server's environment.
        start_timeout: Seconds to wait for the fork server or a worker to start.
        max_tasks: Calls after which a worker is replaced; None for no limit.
        high_water: Growth of a worker's idle RSS above its size at start, in bytes,
            after which it is replaced; None for no limit.
        depth: Nesting depth of the sandbox, for statistics.
    """

    def __init__(
        self,
        size: int,
        config: WorkerConfig,
        server_env: dict[str, str],
        start_timeout: float,
        max_tasks: int | None,
        high_water: int | None,
        depth: int,
    ) -> None:
        self._size = size
        self._config = config
        self._server_env = server_env
        self._start_timeout = start_timeout
        self._max_tasks = max_tasks
        self._high_water = high_water
        self._depth = depth
        self._tokens = itertools.count(1)
        self._cond = threading.Condition()
        self._metrics = _metrics.shared()
        self._server: ForkServerClient | None = None
        self._workers: dict[int, Worker] = {}  # token -> worker
        self._by_pid: dict[int, Worker] = {}
        self._idle: list[Worker] = []
        self._closed = False
        self._running = 0  # workers handed out and not yet given back
        self._calls = 0
        self._replaced = 0
        self._reasons: dict[str, int] = {}

    def start(self) -> None:
        """Starts the fork server and asks it for every worker.

        Raises:
            SandboxStartError: The fork server did not start.
        """
        with self._cond:
            while len(self._workers) < self._size:
                self._idle.append(self._spawn_locked())

    # -- the fork server's reports (its monitor thread) -------------------------------------

    def _on_spawned(self, token: int, pid: int) -> None:
        with self._cond:
            worker = self._workers.get(token)
            if worker is not None:
                worker.pid = pid
                self._by_pid[pid] = worker

    def _on_failed(self, token: int, why: str) -> None:
        with self._cond:
            worker = self._workers.get(token)
        if worker is not None:
            worker.failure = why
            worker.exited.set()

    def _on_exited(self, pid: int, status: int) -> None:
        with self._cond:
            worker = self._by_pid.pop(pid, None)
        if worker is not None:
            worker.status = status
            worker.exited.set()

    def _on_lost(self, server: ForkServerClient) -> None:
        with self._cond:  # its workers die with it (PR_SET_PDEATHSIG); so must their groups
            doomed = [w for w in self._workers.values() if w.server is server]
        for worker in doomed:
            worker.kill()
            worker.exited.set()

    # -- handing workers out ---------------------------------------------------------------

    def _spawn_locked(self) -> Worker:
        server = self._server
        if server is None or not server.alive:
            if server is not None:
                server.close()  # it died: reap it
            server = ForkServerClient(
                self._server_env, self._on_spawned, self._on_failed, self._on_exited, self._on_lost
            )
            server.start(self._start_timeout)
            self._server = server
        worker = Worker(next(self._tokens), server, self._config, self._high_water)
        self._workers[worker.token] = worker
        return worker

    def acquire(self) -> Worker:
        """Waits for an idle worker (starting one if the pool is short) and marks it busy.

        Raises:
            SandboxClosedError: The pool is closed.
            SandboxStartError: A worker or the fork server could not start.
        """
        with self._cond:
            while True:
                if self._closed:
                    raise SandboxClosedError("the sandbox is closed; create a new Sandbox")
                if self._idle:
                    worker = self._idle.pop()
                    if worker.exited.is_set():  # it died idle (its fork server went?)
                        worker.close()
                        self._forget_locked(worker)
                        continue
                    break
                if len(self._workers) < self._size:
                    worker = self._spawn_locked()
                    break
                self._cond.wait()
            worker.busy = True
            self._running += 1
        if not worker.ready:
            try:
                worker.wait_ready(self._start_timeout)
            except SandboxStartError:
                self.release(worker, retire=True)
                if self._closed:
                    raise SandboxClosedError(
                        "the sandbox was closed before the call started; create a new Sandbox"
                    ) from None
                raise
        return worker

    def release(
        self, worker: Worker, *, retire: bool, reason: str | None = None, counted: bool = False, duration: float = 0.0
    ) -> None:
        """Gives a worker back after a call; kills and replaces it if it must go.

        Args:
            worker: The worker `acquire` gave.
            retire: Replace it (it was killed, died, or its state is suspect).
            reason: The call's reason (None for success), for the statistics.
            counted: Whether a call ran (and counts in the statistics).
            duration: Seconds the call took, for the duration histogram.
        """
        killed = worker.killed or worker.exited.is_set()  # by the call's limits, or it died
        retire = (
            retire
            or killed
            or not worker.ready
            or (self._max_tasks is not None and worker.tasks >= self._max_tasks)
            or (worker.high_water is not None and worker.idle_rss > worker.high_water)
        )
        if retire:
            self._log_retirement(worker, reason if counted else None, killed)
            worker.kill()
            worker.close()
        with self._cond:
            worker.busy = False
            self._running -= 1
            if counted:
                self._calls += 1
                key = reason or "ok"
                self._reasons[key] = self._reasons.get(key, 0) + 1
                self._metrics.count_call(key, duration)
            if retire:
                self._forget_locked(worker)
                if not self._closed:
                    try:
                        self._idle.append(self._spawn_locked())  # boots while we return
                    except SandboxStartError:
                        pass  # the next acquire tries again, and raises
            else:
                self._idle.append(worker)  # close() collects it if the pool is closing
            self._cond.notify_all()

    def _log_retirement(self, worker: Worker, reason: str | None, killed: bool) -> None:
        """Logs why a worker goes: killed in a call (by the call's reason), or recycled."""
        if killed and reason is not None:
            logger.bind(event=events.SANDBOX_WORKER_KILLED, reason=reason, pid=worker.pid).warning(
                "sandbox worker {} was killed or died in a call: {}", worker.pid, reason
            )
            return
        if killed:
            cause = "exited"
        elif not worker.ready:
            cause = "not_ready"
        elif worker.high_water is not None and worker.idle_rss > worker.high_water:
            cause = "high_water"
        elif self._max_tasks is not None and worker.tasks >= self._max_tasks:
            cause = "max_tasks"
        else:
            cause = reason or "suspect"  # a MemoryError, or child processes left running
        logger.bind(event=events.SANDBOX_WORKER_RECYCLED, cause=cause, pid=worker.pid).debug(
            "sandbox worker {} retired: {}", worker.pid, cause
        )

    @property
    def running(self) -> int:
        """How many workers are handed out (running a call, or about to)."""
        return self._running

    def _forget_locked(self, worker: Worker) -> None:
        self._workers.pop(worker.token, None)
        if worker.pid is not None and self._by_pid.get(worker.pid) is worker:
            del self._by_pid[worker.pid]
        if not self._closed:  # a closing pool retires workers without replacing them
            self._replaced += 1
            self._metrics.replaced.inc()

    # -- shutting down and statistics ------------------------------------------------------

    def close(self, *, wait: bool) -> None:
        """Stops every worker and the fork server.

        Args:
            wait: Let running calls finish first; otherwise their workers are killed and
                this returns at once (their callers get "crashed" with SandboxClosedError).
        """
        with self._cond:
            self._closed = True
            self._cond.notify_all()  # wakes acquirers, which now raise SandboxClosedError
            if wait:
                while any(w.busy for w in self._workers.values()):
                    self._cond.wait()
            busy = [w for w in self._workers.values() if w.busy]
            idle, self._idle = self._idle, []
            server, self._server = self._server, None
            self._workers.clear()
        for worker in busy:  # their callers close the fds when they release them
            worker.closed_by_pool = True
            worker.kill()
        for worker in idle:
            worker.kill()
            worker.close()
        if server is not None:
            server.close()

    def stats(self) -> SandboxStats:
        """A snapshot of the fork server, the workers and the call counters."""
        with self._cond:
            workers = list(self._workers.values())
            server = self._server
            calls, replaced, reasons = self._calls, self._replaced, dict(self._reasons)
        now = time.monotonic()
        return SandboxStats(
            server.pid if server is not None and server.alive else None,
            self._depth,
            tuple(WorkerStats(w.pid, w.tasks, w.rss_now(), w.busy, now - w.started) for w in workers),
            calls,
            replaced,
            reasons,
        )
