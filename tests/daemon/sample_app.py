"""Applications that tests/daemon runs with ``zixir run``, one build function per story."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from zixir import Actor, ChildSpec, ExitReason, Supervisor, whereis

#: Never set: the on_stop of a Stubborn actor waits on it forever.
_never = threading.Event()


class Marker(Actor):
    """Leaves ``exited-<label>`` in its directory when it exits: proof that cleanup ran."""

    def __init__(self, directory: str, label: str) -> None:
        super().__init__()
        self.directory = Path(directory)
        self.label = label

    def on_exit(self, reason: ExitReason) -> None:
        (self.directory / f"exited-{self.label}").write_text(reason.kind)

    def ping(self) -> str:
        return self.label


class CrashesSoon(Actor):
    """Crashes right after every start: its supervisor soon gives up."""

    def on_start(self) -> None:
        self.actor_ref.tell("crash")

    def on_receive(self, message: Any) -> Any:
        raise RuntimeError("crashes soon after starting")


class Stubborn(Actor):
    """Its on_stop never returns: its supervisor abandons it after its shutdown timeout."""

    def on_stop(self) -> None:
        _never.wait()


def build(app: Any) -> list[ChildSpec]:
    """Two workers under a root that Zixir makes."""
    return [
        ChildSpec("first", Marker, kwargs={"directory": str(app.data_dir), "label": "first"}),
        ChildSpec("second", Marker, kwargs={"directory": str(app.data_dir), "label": "second"}),
    ]


def build_gives_up() -> Any:
    """A root of its own, whose child keeps crashing."""
    return Supervisor.start(children=[ChildSpec("doomed", CrashesSoon)], max_restarts=1, name="fragile")


def build_abandons() -> list[ChildSpec]:
    """A child that cannot be stopped: the daemon still exits."""
    return [ChildSpec("stubborn", Stubborn, shutdown=0.2)]


def build_slow_stop() -> list[ChildSpec]:
    """A child whose stop takes as long as its shutdown timeout allows (a minute)."""
    return [ChildSpec("slow", Stubborn, shutdown=60.0)]


def build_nothing() -> str:
    """Not a tree."""
    return "not a tree"


def build_workflow(app: Any) -> list[ChildSpec]:
    """A WorkflowActor running a two-step run: `slow` tells systemd's socket it runs, then waits for the test."""
    from zixir import Workflow, WorkflowActor
    from zixir.daemon.notify import Notifier

    wf = Workflow("drained", store=str(app.path("wf")))

    @wf.step()
    def slow() -> int:
        with open(app.path("slow-runs"), "a") as runs:
            runs.write("run\n")
        Notifier().status("slow step running")
        with open(app.path("release")) as release:  # a FIFO: blocks until the test writes to it
            release.read(1)
        return 1

    @wf.step()
    def after(slow: int) -> int:
        Notifier().status("after step ran")
        return slow + 1

    class Starter(Actor):
        """Starts (or, after a drain, lets the WorkflowActor resume) the run once the tree is up."""

        def on_start(self) -> None:
            host = whereis("workflows")
            if host is not None and not host.proxy().runs("drained").get():
                host.proxy().run("drained", "only").get()

    return [ChildSpec("workflows", WorkflowActor, kwargs={"workflows": [wf]}), ChildSpec("starter", Starter)]
