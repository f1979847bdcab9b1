"""The demo's feature workflow: generated events, per-window statistics with engine
kernels, one feature vector per user; durable, so a killed run resumes.

The workflow runs first in a child process that is killed with SIGKILL while one step
runs (`zixir.demo._child`), then is resumed here; every step's execution is logged to a
file, which shows which steps the resumed run did not run again.
"""

from __future__ import annotations

import os
import random
import threading
from pathlib import Path
from typing import Any

from zixir import engine
from zixir.workflow import StepContext, Workflow

__all__ = ["FEATURES", "STEPS", "WINDOWS", "build_workflow", "compute_directly", "hang_at", "log_executions_to"]

#: Windows of events, each a step of its own; each carries the running totals on.
WINDOWS = 4
#: Names of the feature vector's entries.
FEATURES = ("mean", "std", "max", "min", "volume", "trend")
#: The workflow's steps, in order.
STEPS = ("events", *(f"window_{k}" for k in range(WINDOWS)), "features")

_settings: dict[str, Any] = {"hang_at": None, "log": None}


def hang_at(step: str | None) -> None:
    """Makes `step` block forever once it started (the child process being killed)."""
    _settings["hang_at"] = step


def log_executions_to(path: Path | None) -> None:
    """Appends "<step> <pid>" to `path` each time a step body runs."""
    _settings["log"] = path


def _executed(ctx: StepContext | None, step: str) -> None:
    path = _settings["log"]
    if path is not None:
        # One write with O_APPEND: lines from two processes never interleave.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, f"{step} {os.getpid()}\n".encode())
        finally:
            os.close(fd)
    if _settings["hang_at"] == step:
        print(f"running {step}", flush=True)  # the parent kills this process now
        threading.Event().wait()


def events(seed: int, users: int, per_window: int) -> list[dict[str, list[float]]]:
    """Generated events: per window, per user, the amounts of that user's events."""
    rng = random.Random(seed)
    windows: list[dict[str, list[float]]] = []
    for k in range(WINDOWS):
        window = {}
        for u in range(users):
            base = 10.0 + u % 7 + k * (u % 3)
            window[f"user-{u}"] = [rng.lognormvariate(0.0, 0.5) * base for _ in range(per_window)]
        windows.append(window)
    return windows


def _window(windows: list[dict[str, list[float]]], k: int, previous: dict[str, list[float]] | None) -> Any:
    out: dict[str, list[float]] = {}
    sign = float((k == WINDOWS - 1) - (k == 0))  # trend: the last window's mean minus the first's
    for user, amounts in windows[k].items():
        mean = engine.list_mean(amounts)
        stats = [
            mean,
            engine.list_std(amounts),
            engine.list_max(amounts),
            engine.list_min(amounts),
            engine.list_sum(amounts),
            sign * mean,
        ]
        out[user] = stats if previous is None else engine.vec_add(previous[user], stats)
    return out


def _events_step(seed: int, users: int, per_window: int, ctx: StepContext) -> Any:
    _executed(ctx, "events")
    return events(seed, users, per_window)


def _window_0(events: Any, ctx: StepContext) -> Any:
    _executed(ctx, "window_0")
    return _window(events, 0, None)


def _window_1(events: Any, window_0: Any, ctx: StepContext) -> Any:
    _executed(ctx, "window_1")
    return _window(events, 1, window_0)


def _window_2(events: Any, window_1: Any, ctx: StepContext) -> Any:
    _executed(ctx, "window_2")
    return _window(events, 2, window_1)


def _window_3(events: Any, window_2: Any, ctx: StepContext) -> Any:
    _executed(ctx, "window_3")
    return _window(events, 3, window_2)


def _features(window_3: Any, ctx: StepContext) -> Any:
    _executed(ctx, "features")
    return _finish(window_3)


def _finish(totals: dict[str, list[float]]) -> dict[str, list[float]]:
    # Averages over the windows, except the volume (a total) and the trend (a difference).
    scale = [1 / WINDOWS, 1 / WINDOWS, 1 / WINDOWS, 1 / WINDOWS, 1.0, 1.0]
    return {user: engine.vec_mul(values, scale) for user, values in totals.items()}


def build_workflow(store: Path) -> Workflow:
    """The feature workflow over the store at `store` (the same in every process)."""
    wf = Workflow("demo-features", store=store, inputs=("seed", "users", "per_window"), max_workers=1)
    wf.add_step("events", _events_step)
    wf.add_step("window_0", _window_0)
    wf.add_step("window_1", _window_1)
    wf.add_step("window_2", _window_2)
    wf.add_step("window_3", _window_3)
    wf.add_step("features", _features)
    return wf


def compute_directly(seed: int, users: int, per_window: int) -> dict[str, list[float]]:
    """The same features without the workflow: what the resumed run must produce."""
    windows = events(seed, users, per_window)
    totals = None
    for k in range(WINDOWS):
        totals = _window(windows, k, totals)
    assert totals is not None
    return _finish(totals)
