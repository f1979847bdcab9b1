"""``zixir run`` as a real process: readiness, health, signals, exit codes, the data-dir lock."""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from pathlib import Path

from tests.daemon.support import WAIT, DaemonProcess
from zixir.daemon.exit_codes import ExitCode


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=WAIT) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_a_daemon_serves_health_and_stops_in_order_on_sigterm(tmp_path: Path) -> None:
    daemon = DaemonProcess("tests.daemon.sample_app:build", "--metrics-port", "0", data_dir=tmp_path)
    assert "STATUS=running: 2 children" in daemon.expect("READY=1")
    info = daemon.info()
    assert info["pid"] == daemon.process.pid and info["data_dir"] == str(tmp_path.resolve())
    status, body = get(info["metrics_url"] + "/healthz")
    assert status == 200
    assert [c["name"] for c in json.loads(body)["supervisors"][0]["children"]] == ["first", "second"]
    status, text = get(info["metrics_url"] + "/metrics")
    assert status == 200 and 'zixir_supervisor_children{state="running",supervisor="root"} 2.0' in text
    daemon.signal(signal.SIGTERM)
    assert "STATUS=stopping on SIGTERM" in daemon.expect("STOPPING=1")
    code, err = daemon.finish()
    assert code == ExitCode.OK, err
    assert (tmp_path / "exited-first").read_text() == "shutdown"
    assert (tmp_path / "exited-second").read_text() == "shutdown"
    assert not (tmp_path / "daemon.json").exists()


def test_a_root_that_gives_up_ends_the_daemon_with_its_reason(tmp_path: Path) -> None:
    daemon = DaemonProcess("tests.daemon.sample_app:build_gives_up", data_dir=tmp_path)
    code, err = daemon.finish()
    assert code == ExitCode.GAVE_UP
    assert "zixir: the root supervisor exited: crash: RestartIntensityError: Supervisor gave up" in err


def test_a_second_daemon_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    first = DaemonProcess("tests.daemon.sample_app:build", data_dir=tmp_path)
    first.expect("READY=1")
    second = DaemonProcess("tests.daemon.sample_app:build", data_dir=tmp_path)
    code, err = second.finish()
    assert code == ExitCode.LOCKED
    assert err.strip() == (
        f"zixir: error: data dir {tmp_path.resolve()} is in use by the daemon with pid {first.process.pid}; "
        "stop it first, or give this daemon another --data-dir"
    )
    first.signal(signal.SIGINT)
    assert first.finish()[0] == ExitCode.OK


def test_the_daemon_exits_although_an_abandoned_thread_still_runs(tmp_path: Path) -> None:
    daemon = DaemonProcess("tests.daemon.sample_app:build_abandons", data_dir=tmp_path)
    daemon.expect("READY=1")
    daemon.signal()
    code, err = daemon.finish()
    assert code == ExitCode.OK, err


def test_a_second_signal_forces_the_exit(tmp_path: Path) -> None:
    daemon = DaemonProcess("tests.daemon.sample_app:build_slow_stop", data_dir=tmp_path)
    daemon.expect("READY=1")
    daemon.signal(signal.SIGTERM)
    daemon.expect("STOPPING=1")
    daemon.signal(signal.SIGTERM)
    code, err = daemon.finish()
    assert code == 128 + signal.SIGTERM
    assert "zixir: second SIGTERM: exiting now" in err


def test_watchdog_pings_arrive_while_healthy(tmp_path: Path) -> None:
    daemon = DaemonProcess("tests.daemon.sample_app:build", data_dir=tmp_path, env={"WATCHDOG_USEC": "100000"})
    daemon.expect("READY=1")
    daemon.expect("WATCHDOG=1")
    daemon.expect("WATCHDOG=1")
    daemon.signal()
    assert daemon.finish()[0] == ExitCode.OK


def test_sighup_reopens_the_log_file(tmp_path: Path) -> None:
    log = tmp_path / "daemon.log"
    daemon = DaemonProcess("tests.daemon.sample_app:build", "--log-file", str(log), "--log-json", data_dir=tmp_path)
    daemon.expect("READY=1")
    rotated = tmp_path / "daemon.log.1"
    os.rename(log, rotated)  # what logrotate does
    daemon.signal(signal.SIGHUP)
    daemon.expect("STATUS=reopened the log file")
    daemon.signal()
    assert daemon.finish()[0] == ExitCode.OK
    assert "Daemon ready" in rotated.read_text()
    assert "Reopened the log file on SIGHUP" in log.read_text()
    for line in log.read_text().splitlines():
        json.loads(line)


def test_a_build_that_returns_no_tree_is_a_start_failure_in_one_line(tmp_path: Path) -> None:
    daemon = DaemonProcess("tests.daemon.sample_app:build_nothing", data_dir=tmp_path)
    code, err = daemon.finish()
    assert code == ExitCode.USAGE
    assert err.strip() == (
        "zixir: error: build returned str; it must return a Supervisor's ref (Supervisor.start(...)) "
        "or a list of ChildSpecs"
    )


def test_sigterm_lets_running_workflow_steps_finish_and_the_next_daemon_resumes_the_run(tmp_path: Path) -> None:
    from tests.daemon.sample_app import build_workflow
    from zixir.app import App

    os.mkfifo(tmp_path / "release")  # the slow step runs until the test writes to it
    first = DaemonProcess("tests.daemon.sample_app:build_workflow", data_dir=tmp_path)
    first.expect("READY=1")
    first.expect("STATUS=slow step running")
    first.signal(signal.SIGTERM)
    first.expect("STATUS=draining 1 workflow runs")
    with open(tmp_path / "release", "w") as release:  # the running step finishes during the drain
        release.write("x")
    code, err = first.finish()
    assert code == ExitCode.OK, err
    (spec, _) = build_workflow(App(tmp_path))
    (wf,) = spec.kwargs["workflows"]
    with wf:
        drained = wf.status("only")
        assert drained.status == "running"
        assert {name: step.status for name, step in drained.steps.items()} == {"slow": "succeeded", "after": "pending"}
    second = DaemonProcess("tests.daemon.sample_app:build_workflow", data_dir=tmp_path)
    second.expect("READY=1")
    second.expect("STATUS=after step ran")
    second.signal(signal.SIGTERM)
    code, err = second.finish()
    assert code == ExitCode.OK, err
    with wf:
        assert wf.status("only").status == "succeeded"
    assert (tmp_path / "slow-runs").read_text() == "run\n"  # the committed step did not run again
