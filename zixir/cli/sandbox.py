"""``zixir sandbox check``: which sandbox limits this machine enforces."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from zixir.cli._common import emit_json, json_option

if TYPE_CHECKING:
    from zixir.sandbox.selftest import LimitCheck

__all__ = ["sandbox"]


@click.group()
def sandbox() -> None:
    """Process sandboxes on this machine.

    \b
    Example:
      zixir sandbox check
    """


@sandbox.command()
@json_option
def check(as_json: bool) -> None:
    """Run one call past each sandbox limit (timeout, CPU time, memory, a crash, recursion,
    nesting depth) and say which limits are enforced here. Exits 1 if one is not.

    \b
    Example:
      zixir sandbox check --json
    """
    from zixir.sandbox.selftest import LIMITS, machine, self_test

    def show(check: LimitCheck) -> None:
        mark = "enforced" if check.enforced else "NOT ENFORCED"
        got = check.reason or "returned"
        click.echo(f"{check.limit:<14} {mark:<13} {check.call}: {got} after {check.seconds:.2f}s")

    if not as_json:
        limits = ", ".join(f"{name}={value!r}" for name, value in LIMITS.items())
        click.echo(f"sandbox limits on {machine()} ({limits}):")
    checks = self_test(None if as_json else show)
    failed = [c.limit for c in checks if not c.enforced]
    if as_json:
        emit_json(
            {
                "machine": machine(),
                "limits": LIMITS,
                "checks": [
                    {"limit": c.limit, "call": c.call, "expected": c.expected, "reason": c.reason,
                     "enforced": c.enforced, "seconds": c.seconds, "detail": c.detail}
                    for c in checks
                ],
                "all_enforced": not failed,
            }
        )  # fmt: skip
    if failed:
        if not as_json:
            for c in checks:
                if not c.enforced:
                    click.echo(f"zixir: {c.limit}: {c.detail or 'no detail'}", err=True)
        click.echo(f"zixir: error: not enforced here: {', '.join(failed)}", err=True)
        raise click.exceptions.Exit(1)
