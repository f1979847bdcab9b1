"""Runs ``zixir run`` in a subprocess, listening on a notify socket as systemd would."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
WAIT = 20.0


class DaemonProcess:
    """A ``zixir`` subprocess and the sd_notify datagrams it sends."""

    def __init__(self, *args: str, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        address = f"@zixir-test-{uuid.uuid4().hex}"
        self.socket.bind("\0" + address[1:])
        self.messages: list[str] = []
        environment = {**os.environ, "PYTHONPATH": str(ROOT), "NOTIFY_SOCKET": address, **(env or {})}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "zixir.cli", "run", *args, "--data-dir", str(data_dir)],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def expect(self, field: str, timeout: float = WAIT) -> str:
        """Waits for a datagram with the line `field` (or starting with it); returns the datagram."""
        deadline = time.monotonic() + timeout
        while True:
            for message in self.messages:
                if any(line == field or line.startswith(field) for line in message.splitlines()):
                    self.messages.remove(message)
                    return message
            left = deadline - time.monotonic()
            if left <= 0 or (self.process.poll() is not None and not self._pending()):
                raise AssertionError(f"no {field!r} from the daemon; got {self.messages}; {self.finish(0.1)}")
            self.socket.settimeout(left)
            try:
                self.messages.append(self.socket.recv(4096).decode())
            except TimeoutError:
                continue

    def _pending(self) -> bool:
        self.socket.settimeout(0.2)  # a datagram sent just before the exit
        try:
            self.messages.append(self.socket.recv(4096).decode())
        except TimeoutError:
            return False
        return True

    def info(self) -> dict[str, Any]:
        return json.loads((self.data_dir / "daemon.json").read_text())  # type: ignore[no-any-return]

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def finish(self, timeout: float = WAIT) -> tuple[int | None, str]:
        """Waits for the exit; returns the exit code and stderr (killing it if it hangs)."""
        try:
            _, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
            return None, err
        finally:
            self.socket.close()
        return self.process.returncode, err
