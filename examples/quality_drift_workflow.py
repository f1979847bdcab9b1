"""Validation and drift as workflow steps (the step form): each day's orders are
validated and repaired against a Schema, then checked for drift against a baseline kept
in a zixir.Cache. A drifted day logs the analytics.drift event and counts
zixir_analytics_drift_total; the workflow records the verdict with the day's run.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from zixir import Cache, Workflow
from zixir.analytics import Field, Schema, drift

COUNTRIES = ["DE", "FR", "NL"]
root = Path(tempfile.mkdtemp(prefix="zixir-quality-"))
wf = Workflow("orders", store=root / "workflow", inputs=("day", "shift"))
schema = Schema(
    {
        "order": Field(type="str", unique=True, repair="drop"),
        "amount": Field(type="float", min=0.0, max=500.0, repair="clip"),
        "country": Field(type="str", allowed=set(COUNTRIES), repair="mode"),
    }
)


@wf.step()
def orders(day: str, shift: float) -> list[dict[str, object]]:
    """Loads the day's orders (simulated: a few broken rows; `shift` moves the amounts)."""
    rng = random.Random(day)
    rows: list[dict[str, object]] = [
        {
            "order": f"{day}-{i}",
            "amount": round(rng.gauss(60 + shift, 15), 2),
            "country": rng.choice(["DE", "FR", "NL"]),
        }
        for i in range(2000)
    ]
    rows[3]["amount"] = -5.0  # clipped to 0
    rows[4]["country"] = "XX"  # imputed with the mode
    rows.append(dict(rows[0]))  # a duplicate order: dropped
    return rows


@wf.step()
def validated(orders: list[dict[str, object]]) -> dict[str, object]:
    """Validates, repairs by each field's policy, and reports the quality."""
    report = schema.validate(orders)
    fixed, after = schema.repair(orders)
    return {"rows": fixed, "score": report.score, "violations": len(report.violations), "dropped": len(after.dropped)}


@wf.step()
def drift_check(validated: dict[str, object]) -> dict[str, object]:
    """PSI of the day's amounts against the stored baseline (logs and counts a drift)."""
    with Cache(root / "cache") as cache:
        baseline = drift.load_baseline(cache, "order-amounts")
    monitor = drift.Monitor("order-amounts", baseline, method="psi")
    amounts = [row["amount"] for row in validated["rows"]]  # type: ignore[attr-defined]
    result = monitor.check(amounts)
    return {"psi": round(result.value, 3), "severity": result.severity, "drifted": result.drifted}


def main() -> None:
    rng = random.Random(0)
    with Cache(root / "cache") as cache:  # the reference sample, kept without expiry
        drift.save_baseline(cache, "order-amounts", [rng.gauss(60, 15) for _ in range(5000)])
    for day, shift in (("2026-11-21", 0.0), ("2026-11-22", 12.0)):
        result = wf.run(run_id=day, inputs={"day": day, "shift": shift})
        quality, verdict = result.outputs["validated"], result.outputs["drift_check"]
        print(
            f"{day}: {result.status}; quality {quality['score']:.4f}, {quality['violations']} violations, "
            f"{quality['dropped']} rows dropped; PSI {verdict['psi']} ({verdict['severity']}), "
            f"drifted: {verdict['drifted']}"
        )
    wf.close()


if __name__ == "__main__":
    main()
