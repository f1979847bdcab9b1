"""A workflow defined at module level, as a configuration file names it ("tests.daemon.sample_flows:etl")."""

from __future__ import annotations

from zixir import Workflow

etl = Workflow("etl", store="sample-flows-store", inputs=("day",))  # opened only when it runs


@etl.step()
def load(day: str) -> str:
    return day


not_a_workflow = "etl"
