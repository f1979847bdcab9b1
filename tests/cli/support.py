"""Runs ``zixir`` commands in this process and parses what they print."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from zixir.cli import main

ROOT = Path(__file__).resolve().parents[2]


def zixir(*args: str, code: int = 0) -> Result:
    """Runs ``zixir ARGS``; checks its exit code."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    return result


def zixir_json(*args: str) -> Any:
    """Runs ``zixir ARGS --json`` and parses its output."""
    return json.loads(zixir(*args, "--json").stdout)
