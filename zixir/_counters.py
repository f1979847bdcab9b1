"""Plain, thread-safe counters that every component increments on its own paths.

No Prometheus here: importing a component costs nothing and registers nothing. The one
collector in `zixir.observability.metrics` reads these counters when Prometheus scrapes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from prometheus_client.core import Metric

__all__ = [
    "OVERFLOW_LABEL",
    "Collector",
    "Counter",
    "CounterChild",
    "Gauge",
    "GaugeChild",
    "collectors",
    "counter",
    "counters",
    "exported",
    "gauge",
    "gauges",
    "max_series",
    "register_collector",
    "set_max_series",
]

#: The label value that new label sets get once a counter has `max_series()` series.
OVERFLOW_LABEL = "other"

_lock = threading.Lock()
_counters: dict[str, Counter] = {}
_gauges: dict[str, Gauge] = {}
_collectors: list[Collector] = []
_max_series = 1000
#: Set once zixir.observability.metrics has registered its collector with prometheus_client.
exported = threading.Event()


class Collector(Protocol):
    """A component's own exporter: yields prometheus_client metric families when scraped."""

    def collect(self) -> Iterator[Metric]:
        """The component's metric families, read at scrape time."""
        ...


class CounterChild:
    """One series of a counter: a plain number behind a lock (exact under threads)."""

    __slots__ = ("_lock", "_value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        """Adds `amount` (>= 0) to the series."""
        if amount < 0:
            raise ValueError(f"a counter only goes up; got inc({amount!r})")
        with self._lock:
            self._value += amount

    @property
    def value(self) -> float:
        """The series' total so far."""
        return self._value


class Counter:
    """A counter with labels, shaped like prometheus_client's (``c.labels(...).inc()``).

    At most `max_series()` label sets are kept; further new ones are counted under the
    label value ``"other"`` in every label, so a long-lived process never grows its
    metrics without bound, whatever names its callers pass.

    Args:
        name: The metric's name, without the ``_total`` suffix the exporter adds.
        documentation: The metric's help text.
        label_names: The metric's label names, in order.
    """

    _child: ClassVar[type[CounterChild]] = CounterChild

    def __init__(self, name: str, documentation: str, label_names: tuple[str, ...]) -> None:
        self.name = name
        self.documentation = documentation
        self.label_names = label_names
        self._series: dict[tuple[str, ...], CounterChild] = {}
        self._lock = threading.Lock()
        if not label_names:
            self._series[()] = self._child()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, labels={self.label_names}, {len(self._series)} series)"

    def labels(self, *values: object, **named: object) -> CounterChild:
        """The series for these label values (positional, or by label name).

        Raises:
            ValueError: the values do not match the counter's label names.
        """
        if named:
            if values or set(named) != set(self.label_names):
                raise ValueError(f"{self.name} takes the labels {self.label_names}, got {values} {named}")
            values = tuple(named[label] for label in self.label_names)
        if len(values) != len(self.label_names):
            raise ValueError(f"{self.name} takes the labels {self.label_names}, got {values}")
        key = tuple(str(value) for value in values)
        child = self._series.get(key)
        if child is None:
            with self._lock:
                if key not in self._series and len(self._series) >= _max_series:
                    key = (OVERFLOW_LABEL,) * len(key)
                child = self._series.setdefault(key, self._child())
        return child

    def inc(self, amount: float = 1.0) -> None:
        """Adds `amount` to a counter without labels."""
        self._series[()].inc(amount)

    def samples(self) -> list[tuple[tuple[str, ...], float]]:
        """Every series' label values and total."""
        with self._lock:
            series = list(self._series.items())
        return [(key, child.value) for key, child in series]


def counter(name: str, documentation: str, label_names: tuple[str, ...] = ()) -> Counter:
    """Creates a counter, or returns the one already created under `name`.

    A second import of a module (importlib.reload) must find its counter, not fail on it.

    Raises:
        ValueError: `name` ends in a suffix the exporter adds, or names a counter with
            other labels.
    """
    for suffix in ("_total", "_created"):
        if name.endswith(suffix):
            raise ValueError(f"counter names leave off {suffix!r}, which the exporter adds; got {name!r}")
    with _lock:
        existing = _counters.get(name)
        if existing is None:
            existing = _counters[name] = Counter(name, documentation, label_names)
        elif existing.label_names != label_names:
            raise ValueError(f"the counter {name!r} exists with the labels {existing.label_names}, not {label_names}")
        return existing


def counters() -> list[Counter]:
    """Every counter created so far."""
    with _lock:
        return list(_counters.values())


def register_collector(collector: Collector) -> None:
    """Adds a component's own collector, read on every scrape (once per object)."""
    with _lock:
        if collector not in _collectors:
            _collectors.append(collector)


def collectors() -> list[Collector]:
    """The components' own collectors."""
    with _lock:
        return list(_collectors)


def max_series() -> int:
    """How many label sets each counter keeps before folding new ones into ``"other"``."""
    return _max_series


def set_max_series(limit: int) -> None:
    """Sets the bound on label sets per counter (default 1000); existing series stay.

    Raises:
        InvalidArgumentError: `limit` is below 1.
        ArgumentTypeError: `limit` is not an int.
    """
    from zixir import _validate

    global _max_series
    _max_series = _validate.whole("limit", limit)


class GaugeChild(CounterChild):
    """One series of a gauge: a plain number that goes up and down, behind a lock."""

    __slots__ = ()

    def inc(self, amount: float = 1.0) -> None:
        """Adds `amount` (any sign) to the series."""
        with self._lock:
            self._value += amount

    def dec(self, amount: float = 1.0) -> None:
        """Subtracts `amount` from the series."""
        self.inc(-amount)

    def set(self, value: float) -> None:
        """Sets the series to `value`."""
        with self._lock:
            self._value = float(value)


class Gauge(Counter):
    """A gauge with labels (``g.labels(...).inc()/.dec()/.set()``), bounded like `Counter`.

    Args:
        name: The metric's name.
        documentation: The metric's help text.
        label_names: The metric's label names, in order.
    """

    _child = GaugeChild

    def labels(self, *values: object, **named: object) -> GaugeChild:
        """The series for these label values (see `Counter.labels`)."""
        child = super().labels(*values, **named)
        assert isinstance(child, GaugeChild)
        return child

    def dec(self, amount: float = 1.0) -> None:
        """Subtracts `amount` from a gauge without labels."""
        self.labels().dec(amount)

    def set(self, value: float) -> None:
        """Sets a gauge without labels to `value`."""
        self.labels().set(value)


def gauge(name: str, documentation: str, label_names: tuple[str, ...] = ()) -> Gauge:
    """Creates a gauge, or returns the one already created under `name`.

    Raises:
        ValueError: `name` ends in ``_total`` (a counter's suffix), or names a gauge with
            other labels.
    """
    if name.endswith("_total"):
        raise ValueError(f"a gauge's name does not end in '_total' (a counter's suffix); got {name!r}")
    with _lock:
        existing = _gauges.get(name)
        if existing is None:
            existing = _gauges[name] = Gauge(name, documentation, label_names)
        elif existing.label_names != label_names:
            raise ValueError(f"the gauge {name!r} exists with the labels {existing.label_names}, not {label_names}")
        return existing


def gauges() -> list[Gauge]:
    """Every gauge created so far."""
    with _lock:
        return list(_gauges.values())
