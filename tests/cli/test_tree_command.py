"""``zixir tree`` against a real ``zixir run`` process, found through its data dir."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from tests.cli.support import zixir, zixir_json
from tests.daemon.support import DaemonProcess
from zixir.daemon.exit_codes import ExitCode


def test_tree_shows_the_running_daemons_tree_then_says_when_none_runs(tmp_path: Path) -> None:
    daemon = DaemonProcess("tests.daemon.sample_app:build", "--metrics-port", "0", data_dir=tmp_path)
    try:
        daemon.expect("READY=1")
        info = daemon.info()
        lines = zixir("tree", "--data-dir", str(tmp_path)).stdout.splitlines()
        assert lines == [
            f"daemon pid {daemon.process.pid} on {tmp_path.resolve()}: healthy, ready ({info['metrics_url']})",
            "root  supervisor running, restarts 0",
            "├── first  running, restarts 0",
            "└── second  running, restarts 0",
        ]
        report = zixir_json("tree", "--data-dir", str(tmp_path))
        assert (report["pid"], report["status"], report["ready"]) == (daemon.process.pid, "ok", True)
        assert [c["name"] for c in report["supervisors"][0]["children"]] == ["first", "second"]
    finally:
        daemon.signal(signal.SIGTERM)
        assert daemon.finish()[0] == ExitCode.OK
    assert zixir("tree", "--data-dir", str(tmp_path), code=2).stderr == (
        f"zixir: error: no daemon runs on {tmp_path.resolve()}: start one with zixir run, or give its --data-dir\n"
    )


def test_a_daemon_without_a_port_or_a_stale_daemon_json_is_a_clear_error(tmp_path: Path) -> None:
    daemon = DaemonProcess("tests.daemon.sample_app:build", data_dir=tmp_path)
    try:
        daemon.expect("READY=1")
        assert zixir("tree", "--data-dir", str(tmp_path), code=2).stderr == (
            f"zixir: error: the daemon on {tmp_path.resolve()} (pid {daemon.process.pid}) serves no health "
            "endpoint: restart it with --metrics-port\n"
        )
    finally:
        daemon.signal(signal.SIGTERM)
        assert daemon.finish()[0] == ExitCode.OK
    (tmp_path / "daemon.json").write_text(json.dumps({"pid": 1, "metrics_url": "http://127.0.0.1:1"}))
    assert zixir("tree", "--data-dir", str(tmp_path), code=2).stderr == (
        f"zixir: error: no daemon runs on {tmp_path.resolve()} (its daemon.json is left from a daemon that is gone): "
        "start one with zixir run, or give its --data-dir\n"
    )
