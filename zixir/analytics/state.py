"""The stored running sums of an experiment and how one outcome changes them.

One cache record holds, per variant: units exposed, and per metric the moments of the
units' values (`Moments`) and of anonymous batches (`record_many`), and per declared pair
(ratio or CUPED covariate) the co-moments. Units keep their own record: variant, whether
they were excluded after their bucket moved, and their value of every metric.
"""

from __future__ import annotations

from typing import Any

from zixir.analytics.moments import CoMoments, Moments

__all__ = ["State", "Unit"]


class Unit:
    """A unit's stored record: [variant index, excluded, {metric: value}]."""

    __slots__ = ("excluded", "values", "variant")

    def __init__(self, stored: list[Any] | None, variant: int) -> None:
        if stored is None:
            self.variant, self.excluded, self.values = variant, False, {}
        else:
            self.variant, self.excluded, self.values = int(stored[0]), bool(stored[1]), dict(stored[2])

    def to_list(self) -> list[Any]:
        """The stored form."""
        return [self.variant, self.excluded, self.values]


class State:
    """The running sums of one experiment (its stored record, decoded)."""

    def __init__(self, stored: dict[str, Any] | None, variants: int, pairs: list[tuple[str, str]]) -> None:
        stored = stored or {}
        self.variants = variants
        self.pairs = pairs
        self.exposed: list[int] = _padded(stored.get("exposed"), variants, 0)
        self.moved: int = stored.get("moved", 0)
        self.excluded: int = stored.get("excluded", 0)
        self.metrics: dict[str, dict[str, list[Any]]] = {
            name: {
                "unit": _padded(m["unit"], variants, None),
                "anon": _padded(m["anon"], variants, None),
                "binary": _padded(m["binary"], variants, True),
            }
            for name, m in stored.get("metrics", {}).items()
        }
        self.co: dict[str, list[Any]] = {k: _padded(v, variants, None) for k, v in stored.get("pairs", {}).items()}

    def to_dict(self) -> dict[str, Any]:
        """The stored form."""
        return {"exposed": self.exposed, "moved": self.moved, "excluded": self.excluded,
                "metrics": self.metrics, "pairs": self.co}  # fmt: skip

    def metric(self, name: str) -> dict[str, list[Any]]:
        """The sums of metric `name`, created empty."""
        found = self.metrics.get(name)
        if found is None:
            n = self.variants
            found = self.metrics[name] = {"unit": [None] * n, "anon": [None] * n, "binary": [True] * n}
        return found

    def unit_moments(self, name: str, variant: int) -> Moments:
        """Moments of the units' values of `name` in `variant` (units without a value not in)."""
        return Moments.of(self.metric(name)["unit"][variant])

    def expose(self, unit: Unit) -> None:
        """Counts a unit newly exposed to its variant."""
        self.exposed[unit.variant] += 1

    def retract(self, unit: Unit) -> None:
        """Takes a unit whose bucket moved out of every sum of its old variant, for good."""
        v = unit.variant
        self.exposed[v] -= 1
        self.moved += 1
        for name, value in unit.values.items():
            m = self.unit_moments(name, v)
            m.remove(value)
            self.metric(name)["unit"][v] = m.to_list()
        self._pairs(unit, dict(unit.values), {}, v)
        unit.excluded = True

    def add(self, unit: Unit, name: str, value: float) -> None:
        """Adds `value` to the unit's value of metric `name` (a unit's value is the sum of
        what was recorded for it) and updates the sums."""
        v = unit.variant
        before = dict(unit.values)
        old = unit.values.get(name)
        new = value if old is None else old + value
        unit.values[name] = new
        metric = self.metric(name)
        m = Moments.of(metric["unit"][v])
        if old is not None:
            m.remove(old)
        m.add(new)
        metric["unit"][v] = m.to_list()
        if new not in (0.0, 1.0):
            metric["binary"][v] = False
        self._pairs(unit, before, unit.values, v)

    def add_batch(self, name: str, variant: int, batch: Moments, binary: bool) -> None:
        """Merges the moments of anonymous values (one per unit) into `variant`."""
        metric = self.metric(name)
        m = Moments.of(metric["anon"][variant])
        m.merge(batch)
        metric["anon"][variant] = m.to_list()
        if not binary:
            metric["binary"][variant] = False

    def _pairs(self, unit: Unit, before: dict[str, float], after: dict[str, float], v: int) -> None:
        for y, x in self.pairs:
            if y not in before and x not in before and y not in after and x not in after:
                continue
            key = f"{y}\x00{x}"
            co = CoMoments.of(self.co.setdefault(key, [None] * self.variants)[v])
            if y in before or x in before:
                co.add(before.get(y, 0.0), before.get(x, 0.0), -1)
            if y in after or x in after:
                co.add(after.get(y, 0.0), after.get(x, 0.0))
            self.co[key][v] = co.to_list()

    def comoments(self, y: str, x: str, variant: int) -> CoMoments:
        """Co-moments of (y, x) over the units of `variant` with either value."""
        return CoMoments.of(self.co.get(f"{y}\x00{x}", [None] * self.variants)[variant])


def _padded(values: list[Any] | None, n: int, fill: Any) -> list[Any]:
    values = list(values) if values is not None else []
    return values + [fill] * (n - len(values))
