"""The fork server's side: a clean, thread-free process that forks sandbox workers when asked.

Run by path, ``python -P .../_forkserver.py HOST_PID CONTROL_FD``; it imports the standard
library and its standard-library-only siblings (_process, _procfs, _protocol, _payload,
_worker),
never the zixir package (whose imports start threads). The host's side is
_forkserver_client.
"""

from __future__ import annotations

import importlib
import os
import select
import signal
import socket
import sys
import time
import types
from typing import TYPE_CHECKING, Any

__all__ = ["main"]

_SHUTDOWN_GRACE = 5.0  # seconds the server waits for killed processes to be reaped


def _load_siblings() -> tuple[types.ModuleType, ...]:
    """Loads the sibling modules as a private package, without running zixir's __init__."""
    package = types.ModuleType("_zixir_sandbox")
    package.__path__ = [os.path.dirname(os.path.abspath(__file__))]
    sys.modules["_zixir_sandbox"] = package
    return tuple(
        importlib.import_module(f"_zixir_sandbox.{name}")
        for name in ("_process", "_procfs", "_protocol", "_payload", "_worker")
    )


if TYPE_CHECKING:
    from zixir.sandbox import _payload, _process, _procfs, _protocol, _worker
elif __name__ == "__main__":
    _process, _procfs, _protocol, _payload, _worker = _load_siblings()


def _preload() -> None:
    """Imports what a worker needs to encode a result, so no call pays for it (best effort:
    a worker imports whatever is missing when it needs it)."""
    for name in _payload.PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            continue


def _ensure_standard_fds() -> None:
    """Opens /dev/null on fds 0-2 if closed, so no received fd lands there."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)
            if opened != fd:
                os.dup2(opened, fd)
                os.close(opened)


def _noop(signum: int, frame: Any) -> None:
    """Lets the signal wake the loop through the wakeup fd."""


class _Server:
    """The fork server's loop: spawn requests in, worker pids and wait statuses out."""

    def __init__(self, control: socket.socket, host_pid: int) -> None:
        self.control = control
        self.host_pid = host_pid
        self.workers: dict[int, int] = {}  # pid -> the host's token for it
        self.running = True
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)

    def send(self, *message: Any) -> None:
        try:
            self.control.send(_protocol.encode_control(*message))
        except OSError:
            self.running = False  # the host is gone

    def serve(self) -> None:
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        for number in (signal.SIGCHLD, signal.SIGUSR1, signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, _noop)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the host decides; Ctrl-C is for it
        self.send(_protocol.READY, os.getpid())
        try:
            while self.running:
                self.step()
        finally:
            self.shutdown()

    def step(self) -> None:
        control = self.control.fileno()
        ready, _, _ = select.select([control, self.wake_r], [], [], 1.0)
        if self.wake_r in ready:
            signals = self.drain()
            if signal.SIGTERM in signals:
                self.running = False
        self.reap()
        if control in ready:
            self.handle()
        if os.getppid() != self.host_pid:  # re-parented: the host died (SIGUSR1 told us too)
            self.running = False
        self.sweep()

    def drain(self) -> set[int]:
        seen: set[int] = set()
        try:
            while data := os.read(self.wake_r, 512):
                seen.update(data)
        except BlockingIOError:
            pass
        return seen

    def handle(self) -> None:
        try:
            data, fds, _, _ = socket.recv_fds(self.control, _protocol.CONTROL_MAX, 8)
        except OSError:
            data, fds = b"", []
        if not data:  # EOF: the host closed us or died
            self.running = False
            for fd in fds:
                os.close(fd)
            return
        try:
            message = _protocol.decode_control(data)
        except ValueError:
            message = ("",)  # not a message of the protocol: ignored
        if message[0] == _protocol.SPAWN and len(fds) == 3:
            self.spawn(message[1], message[2], fds)
        else:
            for fd in fds:
                os.close(fd)
            if message[0] == _protocol.STOP:
                self.running = False

    def spawn(self, token: int, config: _protocol.WorkerConfig, fds: list[int]) -> None:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        server_pid = os.getpid()
        try:
            pid = os.fork()
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            self.send(_protocol.FAILED, token, f"fork failed: {exc}")
            return
        if pid == 0:
            try:
                signal.set_wakeup_fd(-1)
                self.control.detach()  # the worker closes the fd; the object must not
                _worker.serve(fds[0], fds[1], fds[2], config, server_pid)
            finally:
                os._exit(70)
        for fd in fds:
            os.close(fd)
        try:
            os.setpgid(pid, pid)  # also done by the child: whichever runs first wins the race
        except OSError:
            pass
        self.workers[pid] = token
        self.send(_protocol.SPAWNED, token, pid)

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if self.workers.pop(pid, None) is not None:
                self.send(_protocol.EXITED, pid, status)

    def sweep(self) -> None:
        """Kills escaped descendants of dead workers: they were re-parented to us."""
        for child in _procfs.children(os.getpid()):
            if child not in self.workers:
                _process.kill_tree(child)

    def shutdown(self) -> None:
        """Kills every worker's process tree and group, reaps everything, then returns."""
        for pid in list(self.workers):
            _process.kill_tree(pid, pid)
        deadline = time.monotonic() + _SHUTDOWN_GRACE
        while time.monotonic() < deadline:
            self.sweep()
            for pid in list(self.workers):
                _process.kill_tree(pid, pid)
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                select.select([self.wake_r], [], [], 0.02)
                self.drain()
            elif self.workers.pop(pid, None) is not None:
                self.send(_protocol.EXITED, pid, status)
        self.control.close()


def main(argv: list[str]) -> int:
    """Runs the fork server until its host goes away or asks it to stop.

    Args:
        argv: ``[script, host_pid, control_fd]``.

    Returns:
        The exit code.
    """
    host_pid, control_fd = int(argv[1]), int(argv[2])
    _ensure_standard_fds()
    _preload()
    control = socket.socket(fileno=control_fd)
    _process.prctl(_process.PR_SET_PDEATHSIG, signal.SIGUSR1)  # the host's death wakes us
    _process.prctl(_process.PR_SET_CHILD_SUBREAPER, 1)  # escaped grandchildren come to us
    if os.getppid() != host_pid:
        return 0  # the host died before the prctl took effect
    _Server(control, host_pid).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
