"""Importing the sandbox package has no side effects: no fork hook, no metric, no process."""

from __future__ import annotations

import json
import subprocess
import sys

# Counts the fork hooks the sandbox installs, and looks for its metrics, at each step.
CHECK = """
import json, os
hooks = []
register = os.register_at_fork
def spy(**hook):
    if "sandbox" in str(getattr(hook.get("after_in_child"), "__module__", "")):
        hooks.append(hook)
    register(**hook)
os.register_at_fork = spy

def state():
    from zixir.observability.metrics import exposition
    return [len(hooks), "zixir_sandbox_workers_replaced_total" in exposition()]

import zixir, zixir.sandbox
steps = [state()]
with zixir.sandbox.Sandbox() as first:
    steps.append(state())
    with zixir.sandbox.Sandbox() as second:
        steps.append(state())
print(json.dumps(steps))
"""


def test_import_installs_nothing_and_the_first_sandbox_installs_the_fork_hook_once() -> None:
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120, check=True).stdout
    assert json.loads(out) == [[0, False], [1, True], [1, True]]
