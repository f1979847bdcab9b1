"""The demo's summary: what each part did, the checks that say it did what it claims, and
the trace tree of one request; as text for people or JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Check", "checks", "render", "to_json", "trace_tree"]


@dataclass(frozen=True, slots=True)
class Check:
    """One claim of the demo, and whether the run bore it out."""

    name: str
    ok: bool
    detail: str


def checks(report: dict[str, Any]) -> list[Check]:
    """The demo's checks, evaluated on its `report` (the JSON summary's fields)."""
    req, wf, sb, api = report["requests"], report["workflow"], report["sandbox"], report["api"]
    cache, tokens, http = report["cache"], report["tokens"], report["http"]
    return [
        Check(
            "requests served",
            req["served"] > 0 and req["failed"] == 0 and req["served"] == req["offered"],
            f"{req['served']} of {req['offered']} answered, {req['failed']} failed",
        ),
        Check(
            "scoring worker restarted after each injected crash",
            report["crashes_injected"] > 0 and report["restarts"] >= report["crashes_injected"],
            f"{report['crashes_injected']} crashes injected, {report['restarts']} restarts",
        ),
        Check(
            "requests kept flowing across restarts",
            req["served_after_crash"] > 0,
            f"{req['served_after_crash']} served after the first crash, {req['retried']} sent again",
        ),
        Check(
            "backpressure bounded the requests in flight",
            0 < req["max_in_flight"] <= req["bound"],
            f"at most {req['max_in_flight']} in flight (bound {req['bound']})",
        ),
        Check(
            "workflow killed with SIGKILL mid-run",
            wf["killed_signal"] == 9 and wf["steps_resumed"] > 0,
            f"signal {wf['killed_signal']} while {wf['killed_during']!r} ran, "
            f"after {wf['steps_resumed']} steps committed",
        ),
        Check(
            "resumed run skipped its committed steps",
            wf["status"] == "succeeded" and not wf["redone"] and wf["steps_run_after_resume"] > 0,
            f"{wf['status']}; {wf['steps_run_after_resume']} steps run after the resume, "
            f"committed steps run again: {', '.join(wf['redone']) or 'none'}",
        ),
        Check(
            "resumed features equal a straight computation",
            wf["features_match"],
            f"{wf['users']} users' feature vectors compared",
        ),
        Check(
            "sandbox killed hung and memory-hungry tool calls",
            sb["kills"].get("timeout", 0) > 0 and sb["kills"].get("memory", 0) > 0 and sb["ok"] > 0,
            f"{sb['ok']} answered; killed: " + ", ".join(f"{k} {v}" for k, v in sorted(sb["kills"].items())),
        ),
        Check(
            "breaker tripped on the flaky API, retries ran, calls recovered",
            api["breaker_trips"] > 0 and api["retries"] > 0 and api["ok"] > 0,
            f"{api['breaker_trips']} trips, {api['retries']} retries, {api['ok']} ok, "
            f"{api['failed']} failed, {api['rejected']} rejected while open",
        ),
        Check(
            "scores cached with a TTL",
            cache["hits"] > 0 and cache["misses"] > 0,
            f"hit rate {cache['hit_rate']:.0%} ({cache['hits']} hits, {cache['misses']} misses)",
        ),
        Check(
            "model tokens reached the sink",
            tokens["streamed"] > 0 and tokens["received"] == tokens["streamed"],
            f"{tokens['streamed']} streamed, {tokens['received']} received",
        ),
        Check(
            "/metrics and /healthz answered while running",
            http["healthz"] == 200 and http["metrics"] == 200 and http["metrics_has_restarts"],
            f"/healthz {http['healthz']}, /metrics {http['metrics']} at {http['url']}",
        ),
        Check(
            "one request traced through actors and a sandbox worker",
            {"Agent.turn", "Scorer.score", "tool.lookup"} <= set(report["trace"]["names"]),
            f"{report['trace']['spans']} spans in trace {report['trace']['trace_id']}",
        ),
    ]


def trace_tree(spans: Sequence[Any]) -> list[str]:
    """The spans of one trace as a tree, one line each; repeated leaves folded ("TokenSink.write x24")."""
    children: dict[str | None, list[Any]] = {}
    ids = {span.span_id for span in spans}
    for span in sorted(spans, key=lambda s: s.start):
        parent = span.parent_id if span.parent_id in ids else None
        children.setdefault(parent, []).append(span)
    lines: list[str] = []

    def walk(parent: str | None, prefix: str) -> None:
        kids = children.get(parent, [])
        groups: list[list[Any]] = []
        for kid in kids:  # fold runs of same-named leaves
            if groups and groups[-1][0].name == kid.name and kid.span_id not in children:
                groups[-1].append(kid)
            else:
                groups.append([kid])
        for i, group in enumerate(groups):
            last = i == len(groups) - 1
            span = group[0]
            label = span.name if len(group) == 1 else f"{span.name} x{len(group)}"
            status = "" if span.status == "ok" else f"  [{span.status}: {span.error_type}]"
            connector = "" if parent is None else ("└── " if last else "├── ")
            lines.append(f"{prefix}{connector}{label}{status}")
            if len(group) == 1:
                walk(span.span_id, prefix + ("" if parent is None else ("    " if last else "│   ")))

    walk(None, "")
    return lines


def render(report: dict[str, Any], found: Sequence[Check]) -> str:
    """The summary for people."""
    req, wf, sb, api, cache = report["requests"], report["workflow"], report["sandbox"], report["api"], report["cache"]
    kills = ", ".join(f"{reason} {n}" for reason, n in sorted(sb["kills"].items())) or "none"
    lines = [
        "",
        f"Summary ({report['seconds']:.1f} s, seed {report['seed']})",
        f"  requests served     {req['served']} ({req['cached']} from the cache), {req['failed']} failed",
        f"  restarts            {report['restarts']} of demo-scorer ({report['crashes_injected']} crashes injected)",
        f"  workflow steps      {wf['steps_total']} run, {wf['steps_resumed']} resumed from checkpoints "
        f"after kill -9 ({wf['status']})",
        f"  breaker trips       {api['breaker_trips']} ({api['retries']} retries, {api['rejected']} calls failed fast)",
        f"  sandbox kills       {kills} ({sb['ok']} tool calls answered)",
        f"  cache hit rate      {cache['hit_rate']:.0%}",
        f"  tokens streamed     {report['tokens']['streamed']}",
        "",
        f"Trace of one agent request ({report['trace']['trace_id']}):",
        *(f"  {line}" for line in report["trace"]["tree"]),
        "",
        "Checks:",
        *(f"  [{'ok' if c.ok else 'FAILED'}] {c.name}: {c.detail}" for c in found),
    ]
    return "\n".join(lines)


def to_json(report: dict[str, Any], found: Sequence[Check]) -> str:
    """The summary for scripts: the report, each check, and ``ok``."""
    data = dict(report)
    data["checks"] = [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in found]
    data["ok"] = all(c.ok for c in found)
    return json.dumps(data, indent=2)
