"""A local Ray head for the Ray tests: started once with ``ray start --head --num-cpus 2``
and joined by address, so a coordinator the tests kill does not take the cluster along.

Skipped, with the reason, when the ``ray`` extra is not installed.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before Ray is imported: it reads them once. The head requires this token; this process
# and the coordinators it starts pass it through the environment, whatever ~/.ray holds.
os.environ["RAY_AUTH_MODE"] = "token"
os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"

ray = pytest.importorskip("ray", reason="the ray extra is not installed: pip install -e '.[ray]'")

HEAD_START_TIMEOUT = 120.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def ray_head() -> Iterator[str]:
    """The address of a Ray head started for this test session (stopped at its end)."""
    executable = Path(sys.executable).with_name("ray")
    port = _free_port()
    temp_dir = tempfile.mkdtemp(prefix="zr-")  # short: Ray's socket paths must fit 107 bytes
    head = subprocess.Popen(
        [str(executable), "start", "--head", "--num-cpus", "2", "--port", str(port),
         "--include-dashboard=false", "--disable-usage-stats", "--temp-dir", temp_dir, "--block"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    started = threading.Event()
    output: list[str] = []

    def read() -> None:
        assert head.stdout is not None
        for line in head.stdout:
            output.append(line)
            if "Ray runtime started" in line:
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not started.wait(HEAD_START_TIMEOUT):
            raise RuntimeError("the Ray head did not start:\n" + "".join(output[-40:]))
        yield f"127.0.0.1:{port}"
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait(10)
        reader.join(10)
        if head.stdout is not None:
            head.stdout.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture
def ray_cluster(ray_head: str) -> Iterator[str]:
    """This process connected to the session's head (by `zixir.ray.connect`) for one test;
    the address. Disconnecting at the end kills the Ray actors the test left."""
    from zixir import ray as zray

    zray.connect(ray_head, log_to_driver=False)
    yield ray_head
    zray.disconnect()
