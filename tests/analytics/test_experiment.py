"""Experiment: sticky assignment, running sums in the cache, analysis, promotion."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sst

from zixir import Cache
from zixir.analytics import Experiment, PromotionRule
from zixir.analytics.experiment import _batch_moments
from zixir.errors import ArgumentTypeError, InvalidArgumentError


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    c = Cache(tmp_path / "exp")
    yield c
    c.close()


def test_assignment_is_sticky_across_processes(cache: Cache) -> None:
    exp = Experiment("sticky", {"control": 0.5, "new": 0.5}, store=cache)
    mine = [exp.assign(f"user-{i}") for i in range(200)]
    code = textwrap.dedent("""
        from zixir.analytics.assignment import allocate, bucket_of
        owners = allocate([0.5, 0.5])
        print(",".join(["control", "new"][owners[bucket_of("sticky", f"user-{i}")]] for i in range(200)))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().split(",") == mine
    assert {"control", "new"} == set(mine)


def test_a_weight_change_moves_only_the_buckets_it_must_and_excludes_moved_units(cache: Cache) -> None:
    exp = Experiment("moves", {"control": 0.5, "new": 0.5}, store=cache)
    before = {f"u{i}": exp.assign(f"u{i}") for i in range(3000)}
    for unit in before:
        exp.record(unit, "converted", 1.0)
    exp2 = Experiment("moves", {"control": 0.4, "new": 0.6}, store=cache)
    after = {u: exp2.assign(u) for u in before}
    moved = [u for u in before if before[u] != after[u]]
    assert all(before[u] == "control" and after[u] == "new" for u in moved)
    assert 0.07 < len(moved) / len(before) < 0.13  # 10 % of the buckets moved
    exp2.record(moved[0], "converted", 1.0)
    a = exp2.analyze("converted", kind="mean")
    assert a.moved_units == len(moved)
    c = a.comparison("new")
    assert c.n + c.n_control == len(before) - len(moved)


def test_a_stopped_experiment_assigns_its_winner_or_control(cache: Cache) -> None:
    exp = Experiment("stop", {"control": 1, "new": 1}, store=cache)
    exp.stop()
    assert {exp.assign(f"u{i}") for i in range(50)} == {"control"}
    exp.stop("new")
    assert {exp.assign(f"u{i}") for i in range(50)} == {"new"}
    assert exp.status == "stopped" and exp.winner == "new"
    with pytest.raises(InvalidArgumentError, match=r"^winner 'x' is not one of the variants"):
        exp.stop("x")


def test_per_unit_values_sum_and_absent_units_count_as_zero(cache: Cache) -> None:
    exp = Experiment("rev", {"a": 1, "b": 1}, store=cache)
    values: dict[str, list[float]] = {"a": [], "b": []}
    rng = np.random.default_rng(5)
    for i in range(400):
        unit = f"u{i}"
        variant = exp.assign(unit)
        total = 0.0
        for _ in range(int(rng.integers(0, 3))):
            v = float(rng.exponential(10))
            exp.record(unit, "revenue", v)
            total += v
        values[variant].append(total)
    c = exp.analyze("revenue").comparison("b")
    ref = sst.ttest_ind(values["b"], values["a"], equal_var=False)
    assert c.test == "welch" and c.n == len(values["b"])
    assert c.diff == pytest.approx(np.mean(values["b"]) - np.mean(values["a"]))
    assert c.p_value == pytest.approx(ref.pvalue, rel=1e-6)


def test_record_many_aggregates_like_scipy_on_the_raw_values(cache: Cache) -> None:
    exp = Experiment("batch", {"control": 1, "new": 1}, store=cache)
    rng = np.random.default_rng(9)
    a, b = rng.normal(10, 3, 5000), rng.normal(10.2, 3, 4000)
    exp.record_many("control", "t", a.tolist()[:2500])
    exp.record_many("control", "t", a[2500:])
    exp.record_many("new", "t", b.tolist())
    c = exp.analyze("t").comparison("new")
    ref = sst.ttest_ind(b, a, equal_var=False)
    assert c.p_value == pytest.approx(ref.pvalue, rel=1e-8)
    assert c.ci == pytest.approx(tuple(ref.confidence_interval()), rel=1e-8)
    with pytest.raises(InvalidArgumentError, match=r"^unknown variant 'nope'"):
        exp.record_many("nope", "t", [1.0])


def test_record_many_tells_binary_batches_from_values_in_the_unit_range(cache: Cache) -> None:
    exp = Experiment("kinds", {"control": 1, "new": 1}, store=cache)
    exp.record_many("control", "rate", [0.0, 1.0] * 200)
    exp.record_many("new", "rate", [0.0, 1.0, 1.0] * 100)
    assert exp.analyze("rate").kind == "conversion"
    exp.record_many("new", "share", [0.5, 0.25, 1.0] * 100)  # in [0, 1], not 0/1
    exp.record_many("control", "share", [0.0, 1.0] * 100)
    assert exp.analyze("share").kind == "mean"
    with pytest.raises(InvalidArgumentError, match=r"^values hold nan or inf"):
        exp.record_many("new", "share", [1.0, float("nan")])
    with pytest.raises(InvalidArgumentError, match=r"^values hold nan or inf"):
        exp.record_many("new", "share", np.array([float("inf"), 1.0]))
    # Lane sums of values near the float maximum overflow: the exact kernels take over.
    batch, binary = _batch_moments([1e300] * 300)
    assert (batch.n, batch.mean, batch.m2, binary) == (300.0, 1e300, 0.0, False)


def test_cuped_equals_welch_on_the_adjusted_values(cache: Cache) -> None:
    exp = Experiment("cuped", {"a": 1, "b": 1}, store=cache, covariates={"spend": "spend_pre"})
    rng = np.random.default_rng(2)
    rows: dict[str, list[tuple[float, float]]] = {"a": [], "b": []}
    for i in range(600):
        unit = f"u{i}"
        variant = exp.assign(unit)
        pre = float(rng.normal(50, 10))
        y = pre + float(rng.normal(1.0 if variant == "b" else 0.0, 3))
        exp.record(unit, "spend_pre", pre)
        exp.record(unit, "spend", y)
        rows[variant].append((y, pre))
    adjusted = exp.analyze("spend", cuped=True).comparison("b")
    plain = exp.analyze("spend").comparison("b")
    ys = np.array([r[0] for v in rows.values() for r in v])
    xs = np.array([r[1] for v in rows.values() for r in v])
    theta = np.cov(ys, xs)[0, 1] / np.var(xs, ddof=1)
    adj = {v: [y - theta * (x - xs.mean()) for y, x in r] for v, r in rows.items()}
    ref = sst.ttest_ind(adj["b"], adj["a"], equal_var=False)
    assert adjusted.diff == pytest.approx(np.mean(adj["b"]) - np.mean(adj["a"]), rel=1e-9)
    assert adjusted.p_value == pytest.approx(ref.pvalue, rel=1e-6)
    assert adjusted.ci[1] - adjusted.ci[0] < (plain.ci[1] - plain.ci[0]) / 2  # variance reduced


def test_ratio_metric_by_the_delta_method(cache: Cache) -> None:
    exp = Experiment("ctr", {"a": 1, "b": 1}, store=cache, ratios={"ctr": ("clicks", "views")})
    rng = np.random.default_rng(4)
    for i in range(300):
        unit = f"u{i}"
        variant = exp.assign(unit)
        views = int(rng.integers(1, 10))
        exp.record(unit, "views", views)
        exp.record(unit, "clicks", int(rng.binomial(views, 0.3 if variant == "b" else 0.2)))
    a = exp.analyze("ctr")
    c = a.comparison("b")
    assert a.kind == "ratio" and c.test == "delta"
    assert 0.15 < c.mean_control < 0.25 and 0.25 < c.mean < 0.35
    assert c.p_value < 0.01 and c.ci[0] < c.diff < c.ci[1]


def test_sample_ratio_mismatch_is_flagged(cache: Cache) -> None:
    fine = Experiment("srm-ok", {"control": 1, "new": 1}, store=cache)
    for i in range(4000):
        fine.record(f"u{i}", "converted", 1.0)
    assert not fine.analyze("converted").srm
    # A broken logger loses 15 % of one arm's units: 2000 against 1700 on a 50/50 split.
    lossy = Experiment("srm-lossy", {"control": 1, "new": 1}, store=cache)
    lossy.record_many("control", "x", [1.0] * 2000)
    lossy.record_many("new", "x", [1.0] * 1700)
    a = lossy.analyze("x")
    assert a.srm and a.srm_p == pytest.approx(sst.chisquare([2000, 1700]).pvalue)


def test_outcomes_from_many_threads_are_all_counted(cache: Cache) -> None:
    exp = Experiment("threads", {"a": 1, "b": 1}, store=cache)
    start = threading.Barrier(4)

    def work(k: int) -> None:
        start.wait(timeout=10)
        for i in range(100):
            exp.record(f"t{k}-{i}", "clicks", 1.0)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    c = exp.analyze("clicks", kind="mean").comparison("b")
    assert c.n + c.n_control == 400
    assert c.mean == c.mean_control == 1.0


def test_counts_survive_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "killed"
    code = textwrap.dedent(f"""
        import os, signal, sys
        from zixir import Cache
        from zixir.analytics import Experiment
        exp = Experiment("k9", {{"a": 1, "b": 1}}, store=Cache({str(path)!r}))
        for i in range(500):
            exp.record(f"u{{i}}", "converted", 1.0)
        print("recorded", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL and "recorded" in proc.stdout
    with Cache(path) as cache:
        c = Experiment("k9", {"a": 1, "b": 1}, store=cache).analyze("converted").comparison("b")
        assert c.n + c.n_control == 500
    assert os.path.exists(path)


def test_promotion_needs_every_condition_and_records_its_decision(cache: Cache) -> None:
    now = [1000.0]
    rule = PromotionRule(metric="converted", min_samples=500, min_duration=3600, min_lift=0.1)
    exp = Experiment("promo", {"control": 1, "new": 1}, store=cache, rule=rule, auto_promote=True, clock=lambda: now[0])
    rng = np.random.default_rng(8)
    exp.record_many("control", "converted", (rng.random(3000) < 0.10).astype(float))
    exp.record_many("new", "converted", (rng.random(3000) < 0.16).astype(float))
    early = exp.check()
    assert not early.promote and early.winner == "new"
    assert early.reasons == ("0s elapsed is below min_duration 3600s",)
    now[0] += 3600
    done = exp.check()
    assert done.promote and done.promoted and exp.winner == "new" and exp.status == "stopped"
    assert done.numbers["lift"] > 0.1
    assert [d.promote for d in exp.decisions()] == [False, True]
    assert exp.assign("anyone") == "new"


def test_promotion_refuses_a_small_lift_and_no_winner(cache: Cache) -> None:
    rule = PromotionRule(metric="converted", min_samples=10, min_duration=0, min_lift=0.5)
    exp = Experiment("promo2", {"control": 1, "new": 1}, store=cache, rule=rule, auto_promote=True)
    rng = np.random.default_rng(8)
    exp.record_many("control", "converted", (rng.random(5000) < 0.10).astype(float))
    exp.record_many("new", "converted", (rng.random(5000) < 0.13).astype(float))
    d = exp.check()
    assert not d.promoted and exp.status == "running"
    assert d.reasons[0].startswith("lift 0.") and "below min_lift 0.5" in d.reasons[0]
    same = Experiment("promo3", {"control": 1, "new": 1}, store=cache, rule=rule)
    same.record_many("control", "converted", [0.0, 1.0] * 50)
    same.record_many("new", "converted", [0.0, 1.0] * 50)
    assert same.check().winner is None


def test_bad_arguments_are_typed_errors(cache: Cache) -> None:
    with pytest.raises(ArgumentTypeError, match=r"^store must be a zixir.Cache"):
        Experiment("x", {"a": 1, "b": 1}, store="/tmp/x")
    with pytest.raises(InvalidArgumentError, match=r"^an experiment needs at least two variants"):
        Experiment("x", {"a": 1}, store=cache)
    with pytest.raises(InvalidArgumentError, match=r"^the weight of variant 'b' must be finite and >= 0"):
        Experiment("x", {"a": 1, "b": -1}, store=cache)
    exp = Experiment("x", {"a": 1, "b": 1}, store=cache)
    exp.record("u", "revenue", 3.0)
    with pytest.raises(InvalidArgumentError, match=r"^metric 'revenue' of experiment 'x' has unit values other"):
        exp.analyze("revenue", kind="conversion")
    with pytest.raises(InvalidArgumentError, match=r"^cuped needs a covariate for 'revenue'"):
        exp.analyze("revenue", cuped=True)
    with pytest.raises(InvalidArgumentError, match=r"^direction must be"):
        exp.analyze("revenue", direction="up")
    with pytest.raises(ArgumentTypeError, match=r"^unit ids are non-empty str"):
        exp.assign(42)  # type: ignore[arg-type]
