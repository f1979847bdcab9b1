"""The sd_notify protocol against a real datagram socket, and the watchdog settings."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from zixir.daemon.notify import Notifier, watchdog_interval


def test_messages_reach_a_path_socket_and_an_abstract_one(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        notifier = Notifier(str(path))
        assert notifier.enabled and notifier.ready("up: 3 children")
        assert server.recv(100) == b"READY=1\nSTATUS=up: 3 children"
        assert notifier.stopping("bye") and server.recv(100) == b"STOPPING=1\nSTATUS=bye"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind("\0zixir-notify-test")
        assert Notifier("@zixir-notify-test").watchdog() and server.recv(100) == b"WATCHDOG=1"


def test_without_a_socket_nothing_is_sent_and_a_dead_socket_is_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not Notifier().enabled and Notifier().ready("x") is False
    assert Notifier(str(tmp_path / "gone.sock")).ready("x") is False  # logged, not raised


def test_watchdog_interval_is_half_of_watchdog_usec_for_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    assert watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert watchdog_interval() is None  # meant for another process
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    monkeypatch.setenv("WATCHDOG_USEC", "soon")
    assert watchdog_interval() is None
