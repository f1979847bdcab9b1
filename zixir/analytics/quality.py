"""Data validation: a `Schema` of `Field` rules checks records (dicts) or columns, reports
every violation with a quality score, repairs by a stated policy per field, and can be
inferred from a sample."""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from zixir.errors import ArgumentTypeError, InvalidArgumentError

Data = Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]]

__all__ = ["REPAIRS", "Data", "Field", "Report", "Schema", "Violation"]

#: Repair policies: drop the row, clip into [min, max], impute by mean/median/mode or by `fill`.
REPAIRS = ("drop", "clip", "mean", "median", "mode", "constant")
_TYPES: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,)}


@dataclass(frozen=True, slots=True)
class Field:
    """The rules of one field; rules left at None are not checked.

    Attributes:
        type: "int", "float" (ints pass too), "str" or "bool"; None: any.
        nullable: None (and nan) allowed.
        min, max: Inclusive bounds of numbers.
        allowed: The values allowed.
        pattern: A regex every str must fully match.
        unique: No value twice: every occurrence after the first is a violation (so
            ``repair="drop"`` keeps the first row of duplicates).
        check: A predicate the value must pass (rule name "check").
        repair: What `Schema.repair` does to a violating value (see `REPAIRS`); None: keep it.
        fill: The value of repair="constant".

    Raises:
        InvalidArgumentError: an unknown type or repair; min above max; a bad pattern.
    """

    type: str | None = None
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    allowed: tuple[Any, ...] | None = None
    pattern: str | None = None
    unique: bool = False
    check: Callable[[Any], bool] | None = None
    repair: str | None = None
    fill: Any = None

    def __post_init__(self) -> None:
        if self.type is not None and self.type not in _TYPES:
            raise InvalidArgumentError(f"type must be one of {sorted(_TYPES)} or None, got {self.type!r}", "type")
        if self.repair is not None and self.repair not in REPAIRS:
            raise InvalidArgumentError(f"repair must be one of {REPAIRS} or None, got {self.repair!r}", "repair")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise InvalidArgumentError(f"min {self.min!r} is above max {self.max!r}", "min")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise InvalidArgumentError(f"pattern {self.pattern!r} is not a regex: {exc}", "pattern") from exc

    def violations(self, value: Any) -> list[str]:
        """The rules `value` breaks (all but uniqueness, which needs the column)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return [] if self.nullable else ["nullable"]
        if self.type is not None:
            kinds = _TYPES[self.type]
            if not isinstance(value, kinds) or (isinstance(value, bool) and self.type != "bool"):
                return ["type"]
        broken = []
        if self.min is not None and _number(value) and value < self.min:
            broken.append("min")
        if self.max is not None and _number(value) and value > self.max:
            broken.append("max")
        if self.allowed is not None and value not in self.allowed:
            broken.append("allowed")
        if self.pattern is not None and isinstance(value, str) and re.fullmatch(self.pattern, value) is None:
            broken.append("pattern")
        if self.check is not None and not self.check(value):
            broken.append("check")
        return broken


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: the row's index in the input, the field, the rule and the value."""

    row: int
    field: str
    rule: str
    value: Any


@dataclass(frozen=True, slots=True)
class Report:
    """A validation's outcome.

    Attributes:
        rows: Rows checked.
        violations: Every broken rule, in row order.
        score: The share of cells (rows x fields) that break no rule, in [0, 1].
        dropped: Rows a repair dropped (indices in the input).
        repaired: Cells a repair changed.
    """

    rows: int
    violations: tuple[Violation, ...]
    score: float
    dropped: tuple[int, ...] = ()
    repaired: int = 0

    @property
    def ok(self) -> bool:
        """No violation."""
        return not self.violations


@dataclass(frozen=True)
class Schema:
    """Named fields and their rules, for records (dicts) or columns.

    Args:
        fields: {name: Field}. A missing key counts as None.
    """

    fields: Mapping[str, Field] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, rule in self.fields.items():
            if not isinstance(rule, Field):
                raise ArgumentTypeError(f"the rule of field {name!r} must be a Field, got {rule!r}", "fields")

    def validate(self, data: Data) -> Report:
        """Checks every row; `data` is a list of dicts or a dict of columns (lists, arrays)."""
        rows = _rows(data)
        found = self._violations(rows)
        cells = len(rows) * len(self.fields)
        bad = len({(v.row, v.field) for v in found})
        return Report(len(rows), tuple(found), 1.0 - bad / cells if cells else 1.0)

    def repair(
        self, data: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]]
    ) -> tuple[list[dict[str, Any]], Report]:
        """The rows repaired by each field's policy, and the report of what is left.

        Imputed values (mean, median, mode) come from the field's valid values. A field
        without a policy keeps its violations, which the report lists.
        """
        rows = [dict(r) for r in _rows(data)]
        found = self._violations(rows)
        # Drops first: imputed values come from the rows that stay.
        drop = {v.row for v in found if self.fields[v.field].repair == "drop"}
        changed = 0
        for name, rule in self.fields.items():
            bad_rows = {v.row for v in found if v.field == name} - drop
            if not bad_rows or rule.repair in (None, "drop"):
                continue
            good = [r.get(name) for i, r in enumerate(rows) if i not in bad_rows and i not in drop]
            for row in sorted(bad_rows):
                new = _replacement(name, rule, rows[row].get(name), good)
                if new is not _KEEP:
                    rows[row][name] = new
                    changed += 1
        kept = [r for i, r in enumerate(rows) if i not in drop]
        after = self.validate(kept)
        return kept, Report(after.rows, after.violations, after.score, tuple(sorted(drop)), changed)

    @classmethod
    def infer(
        cls, sample: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]], *, max_allowed: int = 10
    ) -> Schema:
        """A schema the sample passes: each field's type, nullability, range of numbers,
        and allowed values of strs with at most `max_allowed` distinct values."""
        rows = _rows(sample)
        names = list(dict.fromkeys(k for r in rows for k in r))
        out = {}
        for name in names:
            values = [r.get(name) for r in rows]
            present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
            kinds = {t for t in ("bool", "int", "float", "str") for v in present if type(v).__name__ == t}
            kind = "float" if kinds == {"int", "float"} else (kinds.pop() if len(kinds) == 1 else None)
            numeric = kind in ("int", "float")
            distinct = set(present) if kind == "str" else set()
            out[name] = Field(
                type=kind, nullable=len(present) < len(values),
                min=min(present) if numeric and present else None, max=max(present) if numeric and present else None,
                allowed=tuple(sorted(distinct)) if kind == "str" and 0 < len(distinct) <= max_allowed else None,
            )  # fmt: skip
        return cls(out)

    def _violations(self, rows: Sequence[Mapping[str, Any]]) -> list[Violation]:
        found = []
        for name, rule in self.fields.items():
            seen: set[Any] = set()
            for i, row in enumerate(rows):
                value = row.get(name)
                for broken in rule.violations(value):
                    found.append(Violation(i, name, broken, value))
                if rule.unique and value is not None:
                    if value in seen:  # the first occurrence stands; later ones break the rule
                        found.append(Violation(i, name, "unique", value))
                    seen.add(value)
        found.sort(key=lambda v: v.row)
        return found


_KEEP = object()


def _replacement(name: str, rule: Field, value: Any, good: list[Any]) -> Any:
    policy = rule.repair
    if policy == "constant":
        return rule.fill
    if policy == "clip":
        if not _number(value):
            return _KEEP
        low = rule.min if rule.min is not None else value
        high = rule.max if rule.max is not None else value
        return min(max(value, low), high)
    valid = [g for g in good if g is not None and not rule.violations(g)]
    if not valid:
        raise InvalidArgumentError(f"cannot impute field {name!r} by {policy}: it has no valid value", "repair")
    if policy == "mode":
        return Counter(valid).most_common(1)[0][0]
    return statistics.fmean(valid) if policy == "mean" else statistics.median(valid)


def _rows(data: Any) -> list[Mapping[str, Any]]:
    if isinstance(data, Mapping):
        columns = {k: list(v.tolist() if hasattr(v, "tolist") else v) for k, v in data.items()}
        lengths = {len(c) for c in columns.values()}
        if len(lengths) > 1:
            raise InvalidArgumentError(f"the columns have different lengths {sorted(lengths)}", "data")
        n = lengths.pop() if lengths else 0
        return [{k: c[i] for k, c in columns.items()} for i in range(n)]
    if isinstance(data, (list, tuple)) and all(isinstance(r, Mapping) for r in data):
        return list(data)
    raise ArgumentTypeError(f"data must be a list of dicts or a dict of columns, got {type(data).__name__}", "data")
