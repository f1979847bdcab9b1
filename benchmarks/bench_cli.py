"""What the ``zixir`` command costs: ``zixir --help`` as a whole process against importing
pykka and loguru, and ``zixir run`` from its start to the first ``/readyz`` 200 (polled
every 5 ms) against importing what a daemon needs, with the daemon's peak RSS (VmHWM) at
that moment against that process's ``ru_maxrss``.

Both sides of each row run as fresh processes, alternating; the rows are medians.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from benchmarks.harness import Comparison, progress, whole_process

__all__ = ["run"]

HELP_RUNS = 21
DAEMON_RUNS = 9
POLL = 0.005
HELP_PEER = "import pykka, loguru"
DAEMON_PEER = "import pykka, loguru, lmdb, prometheus_client"
ROOT = Path(__file__).resolve().parents[1]
ZIXIR = str(Path(sys.executable).with_name("zixir"))  # the console script a user runs


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError):
        return False


def _daemon_to_ready() -> tuple[float, float]:
    """Starts ``zixir run``; returns seconds to the first /readyz 200 and its VmHWM then, in MiB."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="zixir-bench-cli-") as data_dir:
        argv = [ZIXIR, "run", "benchmarks.cli_app:build", "--data-dir", data_dir, "--metrics-port", str(port)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        start = time.perf_counter()
        child = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}/readyz"
            while not _ready(url):
                if child.poll() is not None:
                    raise RuntimeError(f"{argv} exited with {child.returncode} before it was ready")
                time.sleep(POLL)
            elapsed = time.perf_counter() - start
            with open(f"/proc/{child.pid}/status") as status:
                hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
        finally:
            child.send_signal(signal.SIGTERM)
            if child.wait(timeout=30) != 0:
                raise RuntimeError(f"{argv} exited with {child.returncode} on SIGTERM")
    return elapsed, hwm / 1024


def run() -> list[Comparison]:
    """Times ``zixir --help`` and ``zixir run`` against their peers; returns the table rows."""
    progress(f"zixir --help vs {HELP_PEER!r}, {HELP_RUNS} fresh processes each")
    help_argv, help_peer = [ZIXIR, "--help"], [sys.executable, "-c", HELP_PEER]
    whole_process(help_argv), whole_process(help_peer)  # warm the page cache and .pyc files
    helps, help_peers = [], []
    for _ in range(HELP_RUNS):
        helps.append(whole_process(help_argv)[0])
        help_peers.append(whole_process(help_peer)[0])
    progress(f"zixir run (root, 3 actors, a cache) to /readyz vs {DAEMON_PEER!r}, {DAEMON_RUNS} runs each")
    daemon_peer = [sys.executable, "-c", DAEMON_PEER]
    _daemon_to_ready(), whole_process(daemon_peer)
    daemons, peers = [], []
    for _ in range(DAEMON_RUNS):
        daemons.append(_daemon_to_ready())
        peers.append(whole_process(daemon_peer))
    return [
        Comparison("zixir --help (fresh process)", HELP_PEER, statistics.median(helps),
                   statistics.median(help_peers), target=1.3),
        Comparison("zixir run: start to first /readyz 200", "import pykka+loguru+lmdb+prometheus",
                   statistics.median(t for t, _ in daemons), statistics.median(t for t, _ in peers), target=3.0),
        Comparison("zixir run: VmHWM when ready", "that import: ru_maxrss", statistics.median(m for _, m in daemons),
                   statistics.median(m for _, m in peers), target=1.4, unit="MiB"),
    ]  # fmt: skip


if __name__ == "__main__":
    from benchmarks.harness import machine, print_table

    print(f"machine: {machine()}")
    print_table("the zixir command", run())
