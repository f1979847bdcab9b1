"""The host's side of the fork server: starts it, asks it for workers, hears their exits.

A daemon thread reads the server's reports, so it never holds up interpreter exit. The
server's side is _forkserver; the messages are _protocol's control channel.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from zixir.errors import SandboxStartError
from zixir.sandbox import _protocol
from zixir.sandbox._protocol import WorkerConfig

__all__ = ["ForkServerClient"]

_SCRIPT = str(Path(__file__).with_name("_forkserver.py"))


class ForkServerClient:
    """The host's handle on one fork server process, started in its own session.

    Args:
        env: The server's environment (its workers replace theirs with their config's).
        on_spawned: Called as ``on_spawned(token, pid)`` when a requested worker forked.
        on_failed: Called as ``on_failed(token, why)`` when a requested fork failed.
        on_exited: Called as ``on_exited(pid, wait_status)`` when a worker was reaped.
        on_lost: Called as ``on_lost(server)`` once the server is gone (closed, or died).
    """

    def __init__(
        self,
        env: dict[str, str],
        on_spawned: Callable[[int, int], None],
        on_failed: Callable[[int, str], None],
        on_exited: Callable[[int, int], None],
        on_lost: Callable[[ForkServerClient], None],
    ) -> None:
        self._env = env
        self._on_spawned = on_spawned
        self._on_failed = on_failed
        self._on_exited = on_exited
        self._on_lost = on_lost
        self._send_lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None
        self.alive = False

    def start(self, timeout: float) -> None:
        """Starts the server and waits until it is ready.

        Raises:
            SandboxStartError: It did not start within `timeout` seconds.
        """
        if not sys.executable:
            raise SandboxStartError(
                "sys.executable is empty: the sandbox cannot start a Python fork server from this embedded interpreter"
            )
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-P", _SCRIPT, str(os.getpid()), str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                env=self._env,
                close_fds=True,
            )
        except OSError as exc:
            ours.close()
            raise SandboxStartError(f"cannot start the sandbox's fork server: {exc}") from exc
        finally:
            theirs.close()
        ours.settimeout(timeout)
        try:
            message = _protocol.decode_control(ours.recv(_protocol.SERVER_MESSAGE_MAX))
            if message[0] != _protocol.READY:
                raise ValueError(f"the fork server said {message!r} before it was ready")
        except (OSError, ValueError) as exc:
            ours.close()
            self._process.kill()
            code = self._process.wait()
            raise SandboxStartError(
                f"the sandbox's fork server did not start (exit status {code}); its stderr says why"
            ) from exc
        ours.settimeout(None)
        self._sock = ours
        self.pid = int(message[1])
        self.alive = True
        threading.Thread(target=self._monitor, name=f"zixir-sandbox-server-{self.pid}", daemon=True).start()

    def spawn(self, token: int, config: WorkerConfig, fds: Sequence[int]) -> None:
        """Asks for a worker; `fds` (socket, stdout and stderr ends) go to it.

        Raises:
            SandboxStartError: The server is gone, or the config is too big to send.
        """
        data = _protocol.encode_control(_protocol.SPAWN, token, config)
        if len(data) > _protocol.CONTROL_MAX:  # the server would read a truncated packet
            raise SandboxStartError(
                f"a sandbox worker's configuration (sys.path, sys.argv, env) is {len(data)} "
                f"bytes pickled, over the fork server's {_protocol.CONTROL_MAX}; pass a "
                "smaller env= or trim sys.path"
            )
        with self._send_lock:
            if self._sock is None or not self.alive:
                raise SandboxStartError("the sandbox's fork server is not running")
            try:
                socket.send_fds(self._sock, [data], list(fds))
            except OSError as exc:
                raise SandboxStartError(f"the sandbox's fork server is gone: {exc}") from exc

    def _monitor(self) -> None:
        sock = self._sock
        assert sock is not None
        try:
            while True:
                data = sock.recv(_protocol.SERVER_MESSAGE_MAX)
                if not data:
                    break
                message = _protocol.decode_control(data)
                if message[0] == _protocol.EXITED:
                    self._on_exited(message[1], message[2])
                elif message[0] == _protocol.SPAWNED:
                    self._on_spawned(message[1], message[2])
                elif message[0] == _protocol.FAILED:
                    self._on_failed(message[1], message[2])
        except (OSError, ValueError):  # ValueError: not the protocol; treat as a lost server
            pass
        finally:
            self.alive = False
            self._on_lost(self)

    def close(self, timeout: float = 5.0) -> None:
        """Stops the server: it kills its workers' process trees, reaps them and exits.

        Waits up to `timeout` seconds for it to exit, then kills it.
        """
        with self._send_lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            try:  # shutdown, not just close: the monitor thread is blocked in recv on it
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        process = self._process
        if process is None:
            return
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
