"""Every ``zixir`` command explains itself with an example; ``zixir --help`` imports no component."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from tests.cli.support import ROOT, zixir
from zixir.cli import main


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
    return found


@pytest.mark.parametrize("path", [(), *_commands(main)], ids=lambda path: " ".join(path) or "zixir")
def test_every_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    text = zixir(*path, "--help").stdout
    assert "Example" in text and f"zixir {' '.join(path)}".rstrip() in text.split("Example", 1)[1]


def test_zixir_help_loads_no_component_or_heavy_dependency() -> None:
    probe = (
        "import sys, json\nfrom zixir.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    loaded = set(json.loads(out.splitlines()[-1]))
    heavy = {"lmdb", "msgpack", "psutil", "prometheus_client", "tqdm", "zixir.workflow", "zixir.cache", "zixir.sandbox"}
    assert loaded & heavy == set()
