"""``zixir run``: one process that starts a tree, serves its health, and stops it on a signal.

The order of a daemon's life: lock the data dir, set up logging, start the tree, serve
``/metrics`` and the health paths, write ``daemon.json``, tell systemd it is ready; then wait
for a stop signal or for the root to exit; then stop the tree in reverse order and exit
with an `ExitCode`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from zixir.app import App
from zixir.daemon.datadir import DataDir
from zixir.daemon.exit_codes import ExitCode
from zixir.daemon.notify import Notifier, watchdog_interval
from zixir.daemon.signals import Signals
from zixir.observability import events

__all__ = ["DaemonOptions", "default_data_dir", "exit_process", "run"]


def default_data_dir() -> Path:
    """``$ZIXIR_DATA_DIR``, else ``$XDG_DATA_HOME/zixir``, else ``~/.local/share/zixir``."""
    if os.environ.get("ZIXIR_DATA_DIR"):
        return Path(os.environ["ZIXIR_DATA_DIR"])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "zixir"


@dataclass(frozen=True)
class DaemonOptions:
    """What ``zixir run`` was asked to do (its command-line options)."""

    target: str | None = None
    config: Path | None = None
    data_dir: Path | None = None
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    log_json: bool = False
    log_file: Path | None = None
    log_level: str = "INFO"
    drain_timeout: float = 30.0
    ray_address: str | None = None


def run(options: DaemonOptions) -> int:
    """Runs the daemon until it is stopped; returns its exit code (see `ExitCode`).

    Raises:
        ConfigError: the configuration file is wrong (before anything started).
        DataDirLockedError: another daemon holds the data dir.
        TargetError: the target cannot be imported, or built no tree.
    """
    from zixir.daemon.config import load_config
    from zixir.daemon.target import build_root, load_target

    data = DataDir(options.data_dir or default_data_dir())
    logs = _Logs(options)
    try:
        config = load_config(options.config, data.path, code=options.target is not None) if options.config else None
        build = load_target(options.target) if options.target is not None else None
        name = (
            options.target.partition(":")[0] if options.target else (options.config.stem if options.config else "app")
        )
        app = App(data.path, dict(config.app) if config is not None else {}, name)
        logs.open()
        ray = _connect_ray(options, config)
        signals = Signals()
        signals.install()
        try:
            return _Daemon(options, data, logs, signals).run(lambda: build_root(build, config, app))
        finally:
            signals.restore()
            if ray:
                from zixir.ray import disconnect

                disconnect()
    finally:
        logs.close()
        data.release()


def _connect_ray(options: DaemonOptions, config: Any) -> bool:
    """Joins the Ray cluster of ``--ray-address`` or the ``[ray]`` table; False if neither asks."""
    settings = dict(config.ray) if config is not None and config.ray is not None else None
    if options.ray_address is not None:
        settings = {**(settings or {}), "address": options.ray_address}
    if settings is None:
        return False
    from zixir.ray import connect

    connect(settings.pop("address", None), **settings)
    return True


class _Logs:
    """The daemon's log handler, reopened on SIGHUP (logrotate moved the file)."""

    def __init__(self, options: DaemonOptions) -> None:
        self._options = options
        self._open = False

    def open(self) -> None:
        """Installs (or replaces) the handler; the standard logging module's records join it."""
        from zixir.observability.logs import configure_logging

        sink: Any = str(self._options.log_file) if self._options.log_file is not None else sys.stderr
        configure_logging(self._options.log_level, sink=sink, json=self._options.log_json, bridge_stdlib=True)
        self._open = True

    def close(self) -> None:
        if self._open:
            from zixir.observability.logs import remove_logging

            remove_logging()
            self._open = False


class _Daemon:
    def __init__(self, options: DaemonOptions, data: DataDir, logs: _Logs, signals: Signals) -> None:
        self.options = options
        self.data = data
        self.logs = logs
        self.signals = signals
        self.notifier = Notifier()
        self.root_exited = threading.Event()
        self.done = threading.Event()

    def run(self, start_tree: Any) -> int:
        from zixir.errors import ChildStartError, DuplicateNameError

        self.notifier.status("starting the tree")
        try:
            root = start_tree()
        except (ChildStartError, DuplicateNameError) as exc:
            logger.error("The tree failed to start: {}", exc)
            _say(f"the tree failed to start: {exc}")
            return ExitCode.START_FAILED
        server = self._serve(root)
        threading.Thread(target=self._watch_root, args=(root,), name="zixir-root-watch", daemon=True).start()
        self.data.write_info(self._info(server))
        from zixir.observability import health

        report = health(root)  # never an ask: the root may already be gone
        children = sum(len(s["children"]) for s in report.supervisors)
        self.notifier.ready(f"running: {children} children")
        logger.bind(event=events.DAEMON_READY, pid=os.getpid(), data_dir=str(self.data.path)).info(
            "Daemon ready: pid {}, data dir {}", os.getpid(), self.data.path
        )
        interval = watchdog_interval()
        if interval is not None and self.notifier.enabled:
            threading.Thread(target=self._watchdog, args=(root, interval), name="zixir-watchdog", daemon=True).start()
        try:
            return self._wait_and_stop(root)
        finally:
            self.done.set()
            if server is not None:
                server.close()

    def _wait_and_stop(self, root: Any) -> int:
        while True:
            self.signals.wake.wait()
            self.signals.wake.clear()
            if self.signals.reopen_logs:
                self.signals.reopen_logs = False
                self.logs.open()
                logger.info("Reopened the log file on SIGHUP")
                self.notifier.status("reopened the log file")
            if self.signals.stop_signal is not None or self.root_exited.is_set():
                break
        if self.root_exited.is_set():
            reason = root.wait_exit(0)
            if reason is not None and reason.abnormal:
                logger.bind(event=events.DAEMON_GAVE_UP, reason=str(reason)).error(
                    "The root supervisor exited: {}", reason
                )
                _say(f"the root supervisor exited: {reason}")
                self.notifier.stopping(f"root exited: {reason}")
                return ExitCode.GAVE_UP
            logger.info("The root supervisor stopped ({}); exiting", reason)
            return ExitCode.OK
        import signal

        name = signal.Signals(self.signals.stop_signal or signal.SIGTERM).name
        logger.bind(event=events.DAEMON_STOPPING, signal=name).info("{}: stopping the tree", name)
        self.notifier.stopping(f"stopping on {name}")
        self._drain_workflows()
        root.stop(timeout=None)
        logger.bind(event=events.DAEMON_STOPPED).info("Tree stopped")
        return ExitCode.OK

    def _drain_workflows(self) -> None:
        """Lets the running steps of hosted workflows finish, up to the drain timeout."""
        actor_module = sys.modules.get("zixir.workflow.actor")
        if actor_module is None:
            return  # no workflow was ever hosted here
        import pykka

        deadline = time.monotonic() + self.options.drain_timeout
        handles = []
        for ref in pykka.ActorRegistry.get_by_class(actor_module.WorkflowActor):
            try:
                handles += ref.proxy().drain().get(timeout=self.options.drain_timeout)
            except Exception as exc:  # a host that cannot drain is stopped like the rest
                logger.warning("{} could not drain: {!r}", ref, exc)
        if not handles:
            return
        self.notifier.status(f"draining {len(handles)} workflow runs")
        logger.bind(event=events.DAEMON_DRAINING, runs=len(handles), timeout=self.options.drain_timeout).info(
            "Draining {} workflow runs for up to {} s", len(handles), self.options.drain_timeout
        )
        for run in handles:
            with contextlib.suppress(Exception):  # drained runs end with RunOwnedError: expected
                run.result(max(0.0, deadline - time.monotonic()))

    def _watch_root(self, root: Any) -> None:
        root.wait_exit(None)
        self.root_exited.set()
        self.signals.wake.set()

    def _watchdog(self, root: Any, interval: float) -> None:
        from zixir.observability import health

        while not self.done.wait(interval):
            if health(root).healthy:
                self.notifier.watchdog()

    def _serve(self, root: Any) -> Any:
        if self.options.metrics_port is None:
            return None
        from zixir.observability import serve

        return serve(port=self.options.metrics_port, host=self.options.metrics_host, root=root)

    def _info(self, server: Any) -> dict[str, Any]:
        import zixir

        return {
            "pid": os.getpid(),
            "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "target": self.options.target,
            "config": str(self.options.config) if self.options.config else None,
            "data_dir": str(self.data.path),
            "metrics_url": server.url if server is not None else None,
            "metrics_port": server.port if server is not None else None,
            "ray_address": _ray_address(),
            "version": zixir.__version__,
        }


def _ray_address() -> str | None:
    if "zixir.ray.connection" not in sys.modules:  # never connected: do not load Ray to say so
        return None
    from zixir.ray import connected

    connection = connected()
    return connection.address if connection is not None else None


def _say(message: str) -> None:
    print(f"zixir: {message}", file=sys.stderr, flush=True)


def exit_process(code: int) -> None:
    """Exits with `code`, even when an abandoned thread that is not a daemon thread still runs."""
    deadline = time.monotonic() + 1.0  # threads of actors that just stopped are finishing
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))
    lingering = [t.name for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    sys.stdout.flush()
    sys.stderr.flush()
    if lingering:
        logger.warning("Exiting with {} thread(s) still running: {}", len(lingering), ", ".join(lingering))
        logger.complete()
        os._exit(code)
    sys.exit(code)
