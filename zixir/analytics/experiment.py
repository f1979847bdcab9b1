"""`Experiment`: an A/B(/n) test whose assignment, outcomes and decisions live in a
zixir Cache, so every thread and process shares them and they survive restarts."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from zixir import _validate, engine
from zixir.analytics import analysis as _an
from zixir.analytics import raw
from zixir.analytics.assignment import allocate, bucket_of, check_weights
from zixir.analytics.moments import Moments
from zixir.analytics.promotion import PromotionRule, decide
from zixir.analytics.results import Analysis, Decision
from zixir.analytics.state import State, Unit
from zixir.errors import ArgumentTypeError, InvalidArgumentError

__all__ = ["Experiment"]

#: Decisions kept per experiment (the oldest go first).
MAX_DECISIONS = 100
_KINDS = ("auto", "mean", "conversion", "ratio")


class Experiment:
    """An experiment with sticky assignment and running sums in a `zixir.Cache`.

    Args:
        name: The experiment's name; also the key of its assignment hash.
        variants: {name: traffic weight}; the first is control unless `control` says.
            Opening an existing experiment with other weights moves only the buckets the
            new weights need; units in moved buckets are excluded from the analysis.
        store: The `zixir.Cache` that holds the experiment (required).
        control: The control variant's name.
        ratios: Ratio metrics {name: (numerator metric, denominator metric)}.
        covariates: CUPED covariates {metric: pre-period metric} (recorded per unit).
        rule: The promotion rule `check` applies.
        auto_promote: `check` stops the experiment with the winner when the rule holds.
        srm_alpha: p-value below which exposure counts flag a sample ratio mismatch.
        events: Raw events to keep: each `record` call, as it came (`events()`); the
            oldest go first. 0 (the default) keeps none; at most `raw.MAX_RAW_EVENTS`.
        event_retention: Seconds a raw event is kept (None: until `events` newer ones
            push it out); needs `events`.
        clock: Wall-clock seconds (the start time and decisions); injectable for tests.

    Raises:
        ArgumentTypeError: `store` is not a Cache, or another argument's type is wrong.
        InvalidArgumentError: fewer than two variants, bad weights, an unknown control.
    """

    def __init__(
        self,
        name: str,
        variants: dict[str, float],
        *,
        store: Any,
        control: str | None = None,
        ratios: dict[str, tuple[str, str]] | None = None,
        covariates: dict[str, str] | None = None,
        rule: PromotionRule | None = None,
        auto_promote: bool = False,
        srm_alpha: float = 0.001,
        events: int = 0,
        event_retention: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from zixir.cache import Cache

        if not isinstance(name, str) or not name or "/" in name:
            raise ArgumentTypeError(f"name must be a non-empty str without '/', got {name!r}", "name")
        if not isinstance(store, Cache):
            raise ArgumentTypeError(
                f"store must be a zixir.Cache (the experiment's state lives there), got {store!r}", "store"
            )
        weights = check_weights(variants)
        if len(weights) > 255:
            raise InvalidArgumentError(f"an experiment takes at most 255 variants, got {len(weights)}", "variants")
        self.name = name
        self.control = next(iter(weights)) if control is None else control
        if self.control not in weights:
            raise InvalidArgumentError(f"control {control!r} is not one of the variants {list(weights)}", "control")
        self.ratios = {k: (str(v[0]), str(v[1])) for k, v in (ratios or {}).items()}
        self.covariates = dict(covariates or {})
        self.rule = rule if rule is not None else PromotionRule()
        if not isinstance(self.rule, PromotionRule):
            raise ArgumentTypeError(f"rule must be a PromotionRule, got {rule!r}", "rule")
        self.auto_promote = bool(auto_promote)
        self.srm_alpha = _validate.number("srm_alpha", srm_alpha, above=0, at_most=0.5)
        self._clock = _validate.function("clock", clock, "a callable returning seconds")
        self.events_kept = _validate.whole("events", events, at_least=0)
        if self.events_kept > raw.MAX_RAW_EVENTS:
            raise InvalidArgumentError(f"events must be at most {raw.MAX_RAW_EVENTS:,}, got {events!r}", "events")
        self.event_retention = _validate.optional_number("event_retention", event_retention, above=0)
        if self.event_retention is not None and not self.events_kept:
            raise InvalidArgumentError(
                "event_retention needs events=N (how many raw events to keep)", "event_retention"
            )
        self._store = store
        self._prefix = f"zixir.experiment/{name}/"
        self._pairs = sorted({*self.ratios.values(), *self.covariates.items()})
        self._config: dict[str, Any] = store.transact(lambda txn: self._open(txn, weights))

    # ---- assignment ---------------------------------------------------------------------

    def assign(self, unit: str) -> str:
        """The variant of `unit`: the same in every process and after restarts. The first
        assignment counts the unit as exposed; a stopped experiment gives its winner (or
        control) and counts nothing."""
        _check_unit(unit)
        config = self._store.get(self._prefix + "config")
        names = config["names"]
        if config["status"] == "stopped":
            return str(config["winner"] or names[config["control"]])
        variant = self._store.get(self._prefix + "alloc")[bucket_of(self.name, unit)]
        known = self._store.get(self._prefix + "u/" + unit)
        if known is None or (known[0] != variant and not known[1]):
            self._store.transact(lambda txn: self._touch(txn, unit, None, 0.0))
        return str(names[variant])

    @property
    def variants(self) -> dict[str, float]:
        """The current weights."""
        config = self._store.get(self._prefix + "config")
        return dict(zip(config["names"], config["weights"]))

    # ---- outcomes -----------------------------------------------------------------------

    def record(self, unit: str, metric: str, value: float = 1.0) -> None:
        """Adds `value` to `unit`'s value of `metric` (one write transaction; a unit not
        yet assigned is assigned now). Units excluded after a move are not counted."""
        _check_unit(unit)
        _check_metric(metric)
        value = _validate.number("value", value)
        self._store.transact(lambda txn: self._touch(txn, unit, metric, value))

    def record_many(self, variant: str, metric: str, values: Sequence[float] | Any) -> None:
        """Adds one value per (anonymous) unit of `variant`: the batch's count, mean and
        squared deviations are computed by the engine kernels and merged in one write.

        Raises:
            InvalidArgumentError: an unknown variant, or a metric of a ratio or CUPED pair
                (those need per-unit values: use `record`).
        """
        _check_metric(metric)
        names = self._store.get(self._prefix + "config")["names"]
        if variant not in names:
            raise InvalidArgumentError(f"unknown variant {variant!r}; variants: {names}", "variant")
        if any(metric in pair for pair in self._pairs):
            raise InvalidArgumentError(
                f"metric {metric!r} is part of a ratio or covariate pair; record it per unit with record()", "metric"
            )
        if len(values) == 0:
            return
        batch, binary = _batch_moments(values)
        v = names.index(variant)

        def write(txn: Any) -> None:
            state = self._state(txn)
            state.add_batch(metric, v, batch, binary)
            txn.put(self._prefix + "state", state.to_dict())

        self._store.transact(write)

    def events(self, metric: str | None = None) -> list[raw.RawEvent]:
        """The kept raw events (of `metric`, or all), oldest first; empty unless the
        experiment keeps events (`events=N`). Batches from `record_many` are sums only."""
        now = self._clock()
        return self._store.transact(lambda txn: raw.read(txn, self._prefix, now, self.event_retention, metric))

    # ---- analysis -----------------------------------------------------------------------

    def analyze(self, metric: str, *, kind: str = "auto", direction: str = "higher", level: float = 0.95,
                cuped: bool = False, tau: float = 0.1) -> Analysis:  # fmt: skip
        """Every variant against control on `metric` (a look: it updates the running
        minimum of the sequential p-values).

        Args:
            metric: A recorded metric, or a declared ratio.
            kind: "mean" (Welch), "conversion" (z or Fisher, beta-binomial), "ratio" (delta
                method); "auto": ratio if declared, conversion if every value is 0 or 1.
            direction: "higher" or "lower" is better.
            level: Confidence level of the intervals (1 - alpha of the tests).
            cuped: Adjust by the metric's declared covariate.
            tau: The mSPRT mixture's spread, in standard deviations of a unit's value.

        Raises:
            InvalidArgumentError: a bad kind, direction, level or tau; cuped without a
                declared covariate or with batches; conversion on non-binary values.
        """
        _check_metric(metric)
        if kind not in _KINDS:
            raise InvalidArgumentError(f"kind must be one of {_KINDS}, got {kind!r}", "kind")
        if direction not in ("higher", "lower"):
            raise InvalidArgumentError(f'direction must be "higher" or "lower", got {direction!r}', "direction")
        level = _validate.number("level", level, above=0.5)
        if level >= 1:
            raise InvalidArgumentError(f"level must be below 1, got {level!r}", "level")
        tau = _validate.number("tau", tau, above=0)
        pair = self.ratios.get(metric)
        if kind == "ratio" and pair is None:
            raise InvalidArgumentError(
                f"{metric!r} is not a declared ratio; declare ratios={{{metric!r}: (numerator, denominator)}}", "kind"
            )
        if cuped:
            if metric not in self.covariates:
                raise InvalidArgumentError(
                    f"cuped needs a covariate for {metric!r}; declare covariates={{{metric!r}: pre_metric}}", "cuped"
                )
            pair = (metric, self.covariates[metric])

        def look(txn: Any) -> tuple[Analysis, list[float]]:
            state = self._state(txn)
            config = txn.get(self._prefix + "config")
            resolved = kind
            if kind == "auto":
                resolved = (
                    "ratio"
                    if metric in self.ratios
                    else ("conversion" if all(state.metric(metric)["binary"]) else "mean")
                )
            if cuped and any(a is not None for a in state.metric(metric)["anon"]):
                raise InvalidArgumentError(
                    f"cuped needs per-unit values; {metric!r} has batches from record_many", "cuped"
                )
            plan = _an.AnalysisPlan(self.name, metric, resolved, pair, cuped, direction, level, tau, self.srm_alpha)
            looks = txn.get(self._prefix + f"looks/{metric}/{resolved}/{int(cuped)}", [])
            result, looks = _an.analyze(plan, state, config["names"], config["weights"], config["control"], looks)
            txn.put(self._prefix + f"looks/{metric}/{resolved}/{int(cuped)}", looks)
            return result, looks

        return self._store.transact(look)[0]

    # ---- promotion ----------------------------------------------------------------------

    def check(self) -> Decision:
        """Applies the promotion rule now (never waits); with auto_promote, a met rule
        stops the experiment with the winner. Every check is recorded (`decisions`)."""
        config = self._store.get(self._prefix + "config")
        if config["status"] == "stopped":
            return Decision(False, config["winner"], ("the experiment is stopped",), False, self._clock(), {})
        result = self.analyze(
            self.rule.metric, kind=self.rule.kind, direction=self.rule.direction, level=1 - self.rule.alpha
        )
        decision = decide(self.rule, result, self._clock() - config["started"], self._clock(), self.auto_promote)

        def write(txn: Any) -> None:
            cfg = txn.get(self._prefix + "config")
            if decision.promoted:
                cfg["status"], cfg["winner"] = "stopped", decision.winner
                txn.put(self._prefix + "config", cfg)
            kept = txn.get(self._prefix + "decisions", [])
            kept.append(
                [
                    decision.promote,
                    decision.winner,
                    list(decision.reasons),
                    decision.promoted,
                    decision.at,
                    decision.numbers,
                ]
            )
            txn.put(self._prefix + "decisions", kept[-MAX_DECISIONS:])

        self._store.transact(write)
        return decision

    def decisions(self) -> list[Decision]:
        """The recorded checks, oldest first (at most `MAX_DECISIONS`)."""
        return [
            Decision(p, w, tuple(r), pr, at, nums)
            for p, w, r, pr, at, nums in self._store.get(self._prefix + "decisions", [])
        ]

    def stop(self, winner: str | None = None) -> None:
        """Stops the experiment: from now on `assign` gives `winner` (None: control).

        Raises:
            InvalidArgumentError: `winner` is not a variant.
        """

        def write(txn: Any) -> None:
            cfg = txn.get(self._prefix + "config")
            if winner is not None and winner not in cfg["names"]:
                raise InvalidArgumentError(f"winner {winner!r} is not one of the variants {cfg['names']}", "winner")
            cfg["status"], cfg["winner"] = "stopped", winner
            txn.put(self._prefix + "config", cfg)

        self._store.transact(write)

    @property
    def status(self) -> str:
        """ "running" or "stopped"."""
        return str(self._store.get(self._prefix + "config")["status"])

    @property
    def winner(self) -> str | None:
        """The promoted (or stopped-with) winner, or None."""
        winner = self._store.get(self._prefix + "config")["winner"]
        return None if winner is None else str(winner)

    def __repr__(self) -> str:
        return f"Experiment({self.name!r}, variants={self.variants!r}, status={self.status!r})"

    # ---- internals (inside write transactions) ------------------------------------------

    def _open(self, txn: Any, weights: dict[str, float]) -> dict[str, Any]:
        config = txn.get(self._prefix + "config")
        if config is None:
            names = list(weights)
            config = {"names": names, "weights": list(weights.values()), "control": names.index(self.control),
                      "started": self._clock(), "status": "running", "winner": None}  # fmt: skip
            txn.put(self._prefix + "alloc", allocate(config["weights"]))
        else:
            names = config["names"] + [n for n in weights if n not in config["names"]]
            new = [weights.get(n, 0.0) for n in names]
            if names[config["control"]] != self.control:
                raise InvalidArgumentError(
                    f"experiment {self.name!r} was created with control {names[config['control']]!r}, "
                    f"not {self.control!r}",
                    "control",
                )
            if new != config["weights"]:
                txn.put(self._prefix + "alloc", allocate(new, txn.get(self._prefix + "alloc")))
            config["names"], config["weights"] = names, new
        txn.put(self._prefix + "config", config)
        return dict(config)

    def _state(self, txn: Any) -> State:
        names = txn.get(self._prefix + "config")["names"]
        return State(txn.get(self._prefix + "state"), len(names), self._pairs)

    def _touch(self, txn: Any, unit: str, metric: str | None, value: float) -> None:
        """Exposes `unit` if new, retracts it if its bucket moved, adds `value` to `metric`."""
        config = txn.get(self._prefix + "config")
        if config["status"] == "stopped":
            return
        state = self._state(txn)
        variant = txn.get(self._prefix + "alloc")[bucket_of(self.name, unit)]
        key = self._prefix + "u/" + unit
        stored = txn.get(key)
        record = Unit(stored, variant)
        if stored is None:
            state.expose(record)
        elif record.variant != variant and not record.excluded:
            state.retract(record)
        if metric is not None:
            if record.excluded:
                state.excluded += 1
            else:
                state.add(record, metric, value)
            if self.events_kept:
                event = raw.RawEvent(self._clock(), unit, config["names"][record.variant], metric, value,
                                  not record.excluded)  # fmt: skip
                raw.append(txn, self._prefix, event, self.events_kept, self.event_retention)
        txn.put(key, record.to_list())
        txn.put(self._prefix + "state", state.to_dict())


def _batch_moments(values: Any) -> tuple[Moments, bool]:
    """The batch's moments in one engine pass, and whether every value is 0 or 1 (counted
    only when the range allows it)."""
    n, mean, m2, lo, hi = engine.list_moments(values)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise InvalidArgumentError("values hold nan or inf; drop or impute them first (Schema.repair)", "values")
    if not (math.isfinite(mean) and math.isfinite(m2)):  # sums beyond the float range: the exact kernels
        mean, m2 = engine.list_mean(values), engine.list_variance(values) * n
    binary = lo >= 0.0 and hi <= 1.0 and engine.count_value(values, 0.0) + engine.count_value(values, 1.0) == n
    return Moments(float(n), mean, m2), binary


def _check_unit(unit: object) -> None:
    if not isinstance(unit, str) or not unit:
        raise ArgumentTypeError(f"unit ids are non-empty str, got {unit!r}", "unit")


def _check_metric(metric: object) -> None:
    if not isinstance(metric, str) or not metric:
        raise ArgumentTypeError(f"metric names are non-empty str, got {metric!r}", "metric")
