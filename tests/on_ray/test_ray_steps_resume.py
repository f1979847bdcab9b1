"""A coordinator running a workflow with Ray steps is killed with kill -9 mid-run; a new
coordinator process resumes the run: committed steps do not run again, the step whose Ray
task was running runs again (at least once), and the outputs are those of a run never
interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.on_ray import ray_steps_programs as programs

pytest.importorskip("ray")

PROGRAM = Path(programs.__file__)
ROOT = PROGRAM.parents[2]  # the repository: Ray's workers find the steps from there
WAIT = 120.0


@pytest.fixture
def markers(tmp_path: Path) -> Iterator[Path]:
    """The steps' marker files and FIFOs; a step still blocked on ``go`` is released at the end."""
    path = tmp_path / "markers"
    path.mkdir()
    os.mkfifo(path / "held")
    os.mkfifo(path / "go")
    yield path
    try:
        fd = os.open(path / "go", os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # no reader left: the killed coordinator's task is gone
        return
    os.close(fd)


def _coordinator(address: str, store: Path, markers: Path, *, output: bool) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(PROGRAM), address, str(store), "r1", str(markers)],
        cwd=ROOT, stdout=subprocess.PIPE if output else subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip


def test_a_coordinator_killed_mid_run_is_resumed_by_another_with_the_same_outputs(
    ray_head: str, tmp_path: Path, markers: Path
) -> None:
    store = tmp_path / "store"
    first = _coordinator(ray_head, store, markers, output=False)
    try:
        worker = int(programs.read_line(markers / "held", WAIT))  # hold's Ray task is running there
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(WAIT)
    programs.wait_gone(worker, WAIT)  # Ray stops the tasks of a coordinator that died
    assert (programs.runs_of(markers, "prepare"), programs.runs_of(markers, "scale")) == (1, 4)
    second = _coordinator(ray_head, store, markers, output=True)
    out, _ = second.communicate(timeout=WAIT)
    assert second.returncode == 0
    result = json.loads(out.strip().splitlines()[-1])
    assert result == {
        "status": "succeeded",
        "outputs": {"prepare": [1, 2, 3, 4], "scale": [10, 20, 30, 40], "hold": 100, "finish": "total 100"},
    }
    runs = {step: programs.runs_of(markers, step) for step in ("prepare", "scale", "hold", "finish")}
    assert runs == {"prepare": 1, "scale": 4, "hold": 2, "finish": 1}  # only the interrupted step ran again
