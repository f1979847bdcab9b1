"""``zixir demo``: one process running a supervised agentic pipeline with injected faults,
live progress, and a summary whose checks say whether every part did what it claims.

The order: the feature workflow is killed with SIGKILL in a child process and resumed
here; the tree starts and ``/metrics`` and ``/healthz`` are served; requests and agent
turns run for ``seconds`` (or until SIGINT/SIGTERM with ``serve``); then the tree stops
in order and the summary is printed.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from zixir._validate import number
from zixir.errors import ArgumentTypeError

__all__ = ["DemoOptions", "run_demo"]


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What ``zixir demo`` was asked to do.

    Attributes:
        seconds: How long requests and agent turns run (after the workflow part).
        data_dir: Where the stores and the log go; None: a fresh temporary dir, removed at the end.
        serve: Run until SIGINT or SIGTERM instead of for `seconds`.
        metrics_port: The port of ``/metrics`` and ``/healthz`` (0: any free port).
        as_json: Print the summary as JSON.
        seed: Seeds the generated events, users and tokens.
    """

    seconds: float = 20.0
    data_dir: Path | None = None
    serve: bool = False
    metrics_port: int = 0
    as_json: bool = False
    seed: int = 15

    def __post_init__(self) -> None:
        number("seconds", self.seconds, above=0)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ArgumentTypeError(f"seed must be an int, got {self.seed!r}", "seed")


class _Progress:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.start = time.monotonic()
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self._lock:
            print(f"[{time.monotonic() - self.start:5.1f}s] {line}", file=self.stream, flush=True)


def run_demo(options: DemoOptions, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Runs the demo; prints progress to `err` and the summary to `out`.

    Returns:
        0 when every check passed, 1 otherwise (the failed checks are named on `err`).
    """
    from zixir.daemon.signals import Signals
    from zixir.observability.logs import configure_logging, remove_logging

    out, err = out or sys.stdout, err or sys.stderr
    temporary = options.data_dir is None
    directory = Path(tempfile.mkdtemp(prefix="zixir-demo-")) if temporary else Path(options.data_dir)  # type: ignore[arg-type]
    directory.mkdir(parents=True, exist_ok=True)
    say = _Progress(err)
    configure_logging("INFO", sink=str(directory / "demo.log"), json=True)
    signals = Signals()
    if threading.current_thread() is threading.main_thread():
        signals.install()
    try:
        say(f"data dir {directory}{' (temporary)' if temporary else ''}; logs in demo.log there")
        report = _Run(options, directory, say, signals).run()
    finally:
        signals.restore()
        remove_logging()
        if temporary:
            shutil.rmtree(directory, ignore_errors=True)
    from zixir.demo.summary import checks, render, to_json

    found = checks(report)
    print(to_json(report, found) if options.as_json else render(report, found), file=out, flush=True)
    failed = [c.name for c in found if not c.ok]
    if failed:
        print(f"zixir demo: failed: {'; '.join(failed)}", file=err, flush=True)
        return 1
    return 0


class _Run:
    def __init__(self, options: DemoOptions, directory: Path, say: _Progress, signals: Any) -> None:
        from zixir.demo.faults import FaultPlan

        self.options = options
        self.directory = directory
        self.say = say
        self.signals = signals
        self.plan = FaultPlan(seed=options.seed)
        self.http: dict[str, Any] = {"healthz": None, "metrics": None, "metrics_has_restarts": False, "url": None}

    def run(self) -> dict[str, Any]:
        from zixir.actors import handle
        from zixir.demo.actors import start_tree
        from zixir.demo.counts import Counts
        from zixir.demo.resume import kill_and_resume
        from zixir.demo.traffic import AgentLoop, Requests
        from zixir.observability import serve

        workflow = kill_and_resume(self.directory, self.plan, self.say)
        counts = Counts()
        root = start_tree(self.directory / "cache", self.plan, counts)
        try:
            handle("demo-cache").call("put_many", {f"features:{u}": f for u, f in workflow.features.items()})
            server = serve(port=self.options.metrics_port, root=root)
            self.http["url"] = server.url
            self.say(f"tree started; serving {server.url}/metrics and {server.url}/healthz")
            stop = threading.Event()
            requests, agent = Requests(self.plan, stop, self.say), AgentLoop(self.plan, stop, self.say)
            threads = [
                threading.Thread(target=part.run, name=f"demo-{name}", daemon=True)
                for name, part in (("requests", requests), ("agent", agent))
            ]
            for thread in threads:
                thread.start()
            started = time.monotonic()
            try:
                self._wait(started, requests, counts)
            finally:
                stop.set()
                for thread in threads:
                    thread.join(60.0)
                if self.http["healthz"] is None:
                    self._probe()
                server.close()
            elapsed = time.monotonic() - started
            pipeline = handle("demo-pipeline")
            pipeline.call("settled", timeout=10.0)
            restarts = next(c.restarts for c in pipeline.call("which_children") if c.name == "demo-scorer")
            cache = handle("demo-cache").call("stats", timeout=10.0)
            received, _ = handle("demo-sink").call("stats", timeout=10.0)
        finally:
            root.stop()
        return self._report(elapsed, workflow, requests.counts(), counts.snapshot(), restarts, cache, received, agent)

    def _wait(self, started: float, requests: Any, counts: Any) -> None:
        deadline = None if self.options.serve else started + self.options.seconds
        if self.options.serve:
            self.say("running until Ctrl-C (SIGINT) or SIGTERM")
        next_line = started + 1.0
        while self.signals.stop_signal is None:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return
            wake = min(next_line, deadline) if deadline is not None else next_line
            self.signals.wake.wait(max(0.0, wake - now))
            if time.monotonic() >= next_line:
                next_line += 1.0
                self._line(requests.counts(), counts.snapshot())
                if self.http["healthz"] is None and requests.counts().crashes and time.monotonic() - started > 2.0:
                    self._probe()
        self.say("stopping on a signal")

    def _line(self, req: Any, agent: dict[str, int]) -> None:
        self.say(
            f"requests {req.served} ({req.cached} cached, ≤{req.max_in_flight} in flight) | "
            f"crashes {req.crashes} | tools ok {agent.get('tool_ok', 0)} timeout {agent.get('tool_timeout', 0)} "
            f"memory {agent.get('tool_memory', 0)} | api ok {agent.get('api_ok', 0)} "
            f"trips {agent.get('breaker_open', 0)} | tokens {agent.get('tokens', 0)}"
        )

    def _probe(self) -> None:
        url = self.http["url"]
        for path in ("healthz", "metrics"):
            try:
                with urllib.request.urlopen(f"{url}/{path}", timeout=5.0) as response:
                    self.http[path], body = response.status, response.read().decode()
            except urllib.error.HTTPError as exc:
                self.http[path], body = exc.code, ""
            if path == "metrics":
                self.http["metrics_has_restarts"] = "zixir_supervisor_restarts_total{" in body
        self.say(f"GET /healthz {self.http['healthz']}, GET /metrics {self.http['metrics']}")

    def _report(
        self,
        elapsed: float,
        wf: Any,
        req: Any,
        agent: dict[str, int],
        restarts: int,
        cache: Any,
        received: int,
        loop: Any,
    ) -> dict[str, Any]:
        from zixir.demo import features
        from zixir.demo.summary import trace_tree
        from zixir.tracing import finished_spans

        spans = finished_spans(loop.trace_id) if loop.trace_id else []
        kills = {k.removeprefix("tool_"): v for k, v in agent.items() if k.startswith("tool_") and k != "tool_ok"}
        return {
            "seconds": elapsed,
            "seed": self.plan.seed,
            "data_dir": str(self.directory),
            "requests": asdict(req),
            "crashes_injected": req.crashes,
            "restarts": restarts,
            "workflow": {
                "run_id": wf.run_id,
                "steps": list(features.STEPS),
                "steps_total": len(features.STEPS),
                "killed_signal": wf.killed_signal,
                "killed_during": wf.killed_during,
                "steps_resumed": len(wf.committed_before_kill),
                "committed_before_kill": list(wf.committed_before_kill),
                "steps_run_after_resume": len(wf.run_after_resume),
                "run_after_resume": list(wf.run_after_resume),
                "redone": list(wf.redone),
                "status": wf.status,
                "features_match": wf.features_match,
                "users": len(wf.features),
            },
            "agent_turns": loop.turns,
            "agent_errors": loop.errors,
            "sandbox": {"ok": agent.get("tool_ok", 0), "kills": kills},
            "api": {
                "ok": agent.get("api_ok", 0),
                "failed": agent.get("api_failed", 0),
                "rejected": agent.get("api_rejected", 0),
                "retries": agent.get("api_retries", 0),
                "breaker_trips": agent.get("breaker_open", 0),
            },
            "cache": {"hits": cache.hits, "misses": cache.misses, "hit_rate": cache.hit_rate},
            "tokens": {"streamed": agent.get("tokens", 0), "received": received},
            "http": dict(self.http),
            "trace": {
                "trace_id": loop.trace_id,
                "spans": len(spans),
                "tree": trace_tree(spans),
                "names": sorted({span.name for span in spans}),
            },
        }
