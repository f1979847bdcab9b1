"""Schema validation, repair and inference; anomaly detection on series."""

from __future__ import annotations

import numpy as np
import pytest

from zixir.analytics import Field, Schema, anomaly
from zixir.errors import InvalidArgumentError

SCHEMA = Schema(
    {
        "id": Field(type="int", unique=True),
        "email": Field(type="str", pattern=r"[^@]+@[^@]+", repair="drop"),
        "age": Field(type="int", min=0, max=120, repair="clip"),
        "plan": Field(type="str", allowed=("free", "pro"), repair="mode"),
        "spend": Field(type="float", nullable=False, repair="median", check=lambda v: v >= 0),
    }
)
ROWS = [
    {"id": 1, "email": "a@x.io", "age": 30, "plan": "free", "spend": 10.0},
    {"id": 2, "email": "b@x.io", "age": 150, "plan": "pro", "spend": None},
    {"id": 2, "email": "nope", "age": 40, "plan": "gold", "spend": 30.0},
    {"id": 4, "email": "d@x.io", "age": -3, "plan": "free", "spend": -1.0},
]


def test_every_violation_is_reported_with_row_field_rule_and_value() -> None:
    report = SCHEMA.validate(ROWS)
    got = {(v.row, v.field, v.rule, v.value) for v in report.violations}
    assert got == {
        (2, "id", "unique", 2), (1, "age", "max", 150), (1, "spend", "nullable", None),
        (2, "email", "pattern", "nope"), (2, "plan", "allowed", "gold"), (3, "age", "min", -3),
        (3, "spend", "check", -1.0),
    }  # fmt: skip
    assert report.rows == 4 and not report.ok
    assert report.score == pytest.approx(1 - 7 / 20)


def test_columns_validate_like_records() -> None:
    columns = {k: [r[k] for r in ROWS] for k in ROWS[0]}
    columns["age"] = np.array([30, 150, 40, -3])
    assert SCHEMA.validate(columns).violations == SCHEMA.validate(ROWS).violations


def test_repair_applies_each_fields_policy() -> None:
    rows, report = SCHEMA.repair(ROWS)
    assert report.dropped == (2,)  # the bad email
    assert [r["age"] for r in rows] == [30, 120, 0]
    assert [r["spend"] for r in rows] == [10.0, 10.0, 10.0]  # the median of the valid spends of kept rows
    assert {(v.field, v.rule) for v in report.violations} == set()
    assert report.repaired == 4


def test_inference_gives_a_schema_the_sample_passes() -> None:
    inferred = Schema.infer([*ROWS[:2], {"id": 3, "email": "c@x.io", "age": 20, "plan": "pro", "spend": 2.5}])
    assert inferred.fields["age"] == Field(type="int", min=20, max=150)
    assert inferred.fields["spend"].nullable and inferred.fields["spend"].type == "float"
    assert inferred.fields["plan"].allowed == ("free", "pro")
    assert inferred.validate(ROWS[:2]).ok
    assert not inferred.validate([{"id": 9, "email": "z", "age": 500, "plan": "x", "spend": 1.0}]).ok


def test_bad_rules_are_refused_when_declared() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^repair must be one of"):
        Field(repair="guess")
    with pytest.raises(InvalidArgumentError, match=r"^min 5 is above max 1$"):
        Field(min=5, max=1)
    with pytest.raises(InvalidArgumentError, match=r"^cannot impute field 'x' by mean"):
        Schema({"x": Field(type="float", repair="mean")}).repair([{"x": "a"}])


def test_anomalies_are_indices_into_the_series() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, 500)
    x[[117, 300]] = [9.0, -8.0]
    assert anomaly.zscore(x) == [117, 300]
    assert anomaly.robust_z(x) == [117, 300]
    assert set(anomaly.iqr(x, k=3.0)) == {117, 300}
    assert anomaly.rolling_z(x, window=50, threshold=5) == [117, 300]  # each judged on the 50 before it
    # Robust z ignores what an outlier does to the mean and sd: z-score misses 1 of 3 here.
    y = [1.0, 1.1, 0.9, 1.0, 1.05, 0.95, 1.0, 50.0, 60.0]
    assert anomaly.robust_z(y) == [7, 8]
