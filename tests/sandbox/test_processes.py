"""The sandbox and its host process: __main__ functions, interpreter exit, the host killed
with SIGKILL, Ctrl-C. Each test runs a small host program in a subprocess.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil

HERE = Path(__file__).parent
WAIT = 60.0  # seconds a host program may take (it imports zixir, ~0.3 s, on a loaded box)


def run_host(code: str, tmp_path: Path, **popen: object) -> subprocess.Popen[str]:
    """Starts `code` as a script file (so it has a __main__ module with a __file__)."""
    script = tmp_path / "host.py"
    script.write_text(textwrap.dedent(code))
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    process: subprocess.Popen[str] = subprocess.Popen(  # type: ignore[call-overload]
        [sys.executable, str(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **popen,
    )
    return process


def gone(pids: list[int]) -> list[psutil.Process]:
    """Waits for the processes to end; returns those still running."""
    procs = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(procs, timeout=WAIT)
    return list(alive)


def test_a_function_defined_in_the_host_scripts_main_runs_in_a_worker(tmp_path: Path) -> None:
    host = run_host(
        """
        from dataclasses import dataclass
        from zixir.sandbox import Sandbox
        from zixir.serialization import register

        @register(name="box")  # results cross as zixir.serialization data
        @dataclass
        class Box:
            width: int
            height: int

        def area(box):
            return Box(box.width * box.height, 1)

        if __name__ == "__main__":
            with Sandbox(timeout=30) as sandbox:
                result = sandbox.run(area, Box(6, 7))
                print(result.reason, result.value)
    """,
        tmp_path,
    )
    out, err = host.communicate(timeout=WAIT)
    assert (host.returncode, out) == (0, "None Box(width=42, height=1)\n"), err


def test_a_function_from_a_main_workers_cannot_load_is_a_clear_error() -> None:
    code = textwrap.dedent("""
        from zixir.sandbox import Sandbox
        def f():
            return 1
        with Sandbox() as sandbox:
            try:
                sandbox.run(f)
            except TypeError as error:
                print(type(error).__name__, error)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=WAIT, check=True).stdout
    assert out == (
        "SerializationError 'f' is defined in __main__, which sandbox workers cannot "
        "import here (code given with -c, an interactive session, or a package's "
        "__main__); define it in a module file and import it, or name it with "
        "Sandbox.run_module(module, function, args)\n"
    )


def test_an_unclosed_sandbox_never_blocks_interpreter_exit(tmp_path: Path) -> None:
    host = run_host(
        """
        import json, sys
        import sandbox_targets
        from zixir.sandbox import Sandbox

        sandbox = Sandbox(workers=2)
        first = sandbox.run(sandbox_targets.double, 1)
        sandbox.submit(sandbox_targets.sleep, 1000)  # still running at exit
        stats = sandbox.stats()
        print(json.dumps([stats.fork_server_pid, *[w.pid for w in stats.workers]]), flush=True)
    """,
        tmp_path,
    )
    out, err = host.communicate(timeout=WAIT)
    assert host.returncode == 0, err
    assert gone(json.loads(out)) == []


def test_a_host_killed_with_sigkill_leaves_no_fork_server_or_worker(tmp_path: Path) -> None:
    host = run_host(
        f"""
        import json, os, select, sys
        import sandbox_targets
        from zixir.sandbox import Sandbox

        sandbox = Sandbox(workers=2)
        sandbox.map(sandbox_targets.double, range(4))
        os.mkfifo({str(tmp_path / "fifo")!r})
        reader = os.open({str(tmp_path / "fifo")!r}, os.O_RDONLY | os.O_NONBLOCK)
        sandbox.submit(sandbox_targets.child_then_announce, {str(tmp_path / "fifo")!r})
        assert select.select([reader], [], [], 60)[0]  # the worker and its child are running
        stats = sandbox.stats()
        print(json.dumps([stats.fork_server_pid, *[w.pid for w in stats.workers]]), flush=True)
        sys.stdin.readline()
    """,
        tmp_path,
    )
    try:
        assert host.stdout is not None
        pids = json.loads(host.stdout.readline())
        tree = [p.pid for p in psutil.Process(host.pid).children(recursive=True)]
        assert set(pids) < set(tree)  # the fork server, the workers, the worker's child
    finally:
        host.kill()
        host.communicate(timeout=WAIT)
    assert gone(tree) == []


def test_ctrl_c_in_the_host_does_not_reach_the_fork_server_or_the_workers(tmp_path: Path) -> None:
    host = run_host(
        """
        import sys
        import sandbox_targets
        from zixir.sandbox import Sandbox

        with Sandbox() as sandbox:
            sandbox.run(sandbox_targets.double, 1)
            try:  # the signal may come while print returns
                print("ready", flush=True)
                sys.stdin.readline()
            except KeyboardInterrupt:
                print("interrupted", sandbox.run(sandbox_targets.double, 21).value, flush=True)
    """,
        tmp_path,
        start_new_session=True,
    )
    try:
        assert host.stdout is not None
        assert host.stdout.readline() == "ready\n"
        os.killpg(host.pid, signal.SIGINT)  # what Ctrl-C does: the terminal's foreground group
    finally:
        out, err = host.communicate(timeout=WAIT)
    assert out == "interrupted 42\n", err


def test_a_forked_child_cannot_use_or_stop_its_parents_sandbox(tmp_path: Path) -> None:
    host = run_host(
        """
        import os, sys
        import sandbox_targets
        from zixir.errors import SandboxClosedError
        from zixir.sandbox import Sandbox

        sandbox = Sandbox()
        sandbox.run(sandbox_targets.double, 1)
        child = os.fork()
        if child == 0:
            try:
                sandbox.run(sandbox_targets.double, 1)
            except SandboxClosedError as error:
                print("child:", error, flush=True)
            sandbox.close()
            sys.exit(0)  # runs the child's exit handlers, which must leave the parent's alone
        os.waitpid(child, 0)
        print("parent:", sandbox.run(sandbox_targets.double, 21).value, flush=True)
        sandbox.close()
    """,
        tmp_path,
    )
    out, err = host.communicate(timeout=WAIT)
    assert out.splitlines() == [
        f"child: this Sandbox belongs to process {host.pid}; a forked child must create its own",
        "parent: 42",
    ], err
