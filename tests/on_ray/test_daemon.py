"""``zixir run`` on a Ray cluster: ``--ray-address`` and the ``[ray]`` table."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

from tests.daemon.support import DaemonProcess
from zixir.daemon.exit_codes import ExitCode


def test_a_daemon_joins_the_cluster_of_ray_address_and_says_so_in_daemon_json(ray_head: str, tmp_path: Path) -> None:
    daemon = DaemonProcess("tests.daemon.sample_app:build", "--ray-address", ray_head, data_dir=tmp_path / "d")
    daemon.expect("READY=1")
    joined = daemon.info()["ray_address"]
    assert joined is not None and joined.rpartition(":")[2] == ray_head.rpartition(":")[2]
    daemon.signal(signal.SIGTERM)
    code, err = daemon.finish()
    assert code == ExitCode.OK, err


def test_a_daemon_joins_the_cluster_of_its_config_files_ray_table(ray_head: str, tmp_path: Path) -> None:
    config = tmp_path / "app.toml"
    config.write_text(
        f'[ray]\naddress = "{ray_head}"\nnamespace = "zixir-test"\n\n'
        '[[children]]\nname = "marker"\nclass = "tests.daemon.sample_app:Marker"\n'
        f'kwargs = {{ directory = "{tmp_path}", label = "m" }}\n'
    )
    daemon = DaemonProcess("--config", str(config), data_dir=tmp_path / "d")
    daemon.expect("READY=1")
    assert daemon.info()["ray_address"].rpartition(":")[2] == ray_head.rpartition(":")[2]
    daemon.signal(signal.SIGTERM)
    assert daemon.finish()[0] == ExitCode.OK


def test_an_unreachable_ray_address_fails_the_start_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    daemon = DaemonProcess("tests.daemon.sample_app:build", "--ray-address", f"127.0.0.1:{port}", data_dir=tmp_path)
    code, err = daemon.finish()
    assert code == ExitCode.START_FAILED
    assert err.startswith(f"zixir: error: no Ray cluster answers at 127.0.0.1:{port} (")
    assert not (tmp_path / "daemon.json").exists()
