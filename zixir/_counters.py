"""Plain, thread-safe counters that every component increments on its own paths.

No Prometheus here: importing a component costs nothing and registers nothing. The one
collector in `zixir.observability.metrics` reads these counters when Prometheus scrapes.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, ClassVar, Protocol, TypeVar

if TYPE_CHECKING:
    from prometheus_client.core import Metric

__all__ = [
    "OVERFLOW_LABEL",
    "Collector",
    "Counter",
    "CounterChild",
    "Gauge",
    "GaugeChild",
    "Histogram",
    "HistogramChild",
    "ScrapeGauge",
    "collectors",
    "counter",
    "counters",
    "exported",
    "gauge",
    "gauges",
    "histogram",
    "histograms",
    "max_series",
    "register_collector",
    "scrape_gauge",
    "scrape_gauges",
    "set_max_series",
]

#: The label value that new label sets get once a counter has `max_series()` series.
OVERFLOW_LABEL = "other"

_lock = threading.Lock()
_counters: dict[str, Counter] = {}
_gauges: dict[str, Gauge] = {}
_collectors: list[Collector] = []
_histograms: dict[str, Histogram] = {}
_scrape_gauges: dict[str, ScrapeGauge] = {}
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
    return _register(_counters, "counter", name, label_names, lambda: Counter(name, documentation, label_names))


_M = TypeVar("_M", "Counter", "Gauge", "ScrapeGauge")


def _register(
    registry: dict[str, _M], kind: str, name: str, label_names: tuple[str, ...], make: Callable[[], _M]
) -> _M:
    """The metric `registry` holds under `name`, made by `make` the first time.

    Raises:
        ValueError: `name` is there with other labels.
    """
    with _lock:
        existing = registry.get(name)
        if existing is None:
            existing = registry[name] = make()
        elif existing.label_names != label_names:
            raise ValueError(f"the {kind} {name!r} exists with the labels {existing.label_names}, not {label_names}")
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
    """A gauge with labels (``g.labels(...).inc()/.dec()/.set()``), bounded like `Counter`."""

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
    return _register(_gauges, "gauge", name, label_names, lambda: Gauge(name, documentation, label_names))


def gauges() -> list[Gauge]:
    """Every gauge created so far."""
    with _lock:
        return list(_gauges.values())


def _fold(values: tuple[str, ...], known: Mapping[tuple[str, ...], object]) -> tuple[str, ...]:
    """`values`, or the overflow label set once `known` holds `max_series()` label sets."""
    if values not in known and len(known) >= _max_series:
        return (OVERFLOW_LABEL,) * len(values)
    return values


class HistogramChild:
    """One series of a histogram: a count per bucket and a sum, behind a lock."""

    __slots__ = ("_bounds", "_counts", "_lock", "_sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds
        self._counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        """Counts `value` in the first bucket whose upper bound is >= it."""
        index = bisect.bisect_left(self._bounds, value)
        with self._lock:
            self._counts[index] += 1
            self._sum += value

    def snapshot(self) -> tuple[list[int], float]:
        """Cumulative counts per bucket (+Inf last) and the sum of observed values."""
        with self._lock:
            counts, total = list(self._counts), self._sum
        running = 0
        for index, count in enumerate(counts):
            running += count
            counts[index] = running
        return counts, total


class Histogram:
    """A histogram with labels, shaped like prometheus_client's (``h.labels(...).observe(v)``).

    Label sets are bounded as a `Counter`'s: past `max_series()`, new ones are counted
    under ``"other"``.

    Args:
        name: The metric's name (the exporter adds ``_bucket``, ``_sum`` and ``_count``).
        documentation: The metric's help text.
        label_names: The metric's label names, in order.
        buckets: The buckets' upper bounds, increasing; ``+Inf`` is added by the exporter.
    """

    def __init__(self, name: str, documentation: str, label_names: tuple[str, ...], buckets: tuple[float, ...]) -> None:
        self.name = name
        self.documentation = documentation
        self.label_names = label_names
        self.buckets = buckets
        self._series: dict[tuple[str, ...], HistogramChild] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Histogram({self.name!r}, labels={self.label_names}, {len(self.buckets)} buckets)"

    def labels(self, *values: object) -> HistogramChild:
        """The series for these label values, in the order of the label names.

        Raises:
            ValueError: the number of values does not match the label names.
        """
        if len(values) != len(self.label_names):
            raise ValueError(f"{self.name} takes the labels {self.label_names}, got {values}")
        key = tuple(str(value) for value in values)
        child = self._series.get(key)
        if child is None:
            with self._lock:
                child = self._series.setdefault(_fold(key, self._series), HistogramChild(self.buckets))
        return child

    def samples(self) -> list[tuple[tuple[str, ...], list[int], float]]:
        """Every series' label values, cumulative bucket counts (+Inf last) and sum."""
        with self._lock:
            series = list(self._series.items())
        return [(key, *child.snapshot()) for key, child in series]


def histogram(name: str, documentation: str, label_names: tuple[str, ...], buckets: Iterable[float]) -> Histogram:
    """Creates a histogram, or returns the one already created under `name`.

    Raises:
        ValueError: `buckets` is empty or not increasing, or `name` exists with other
            labels or buckets.
    """
    bounds = tuple(float(bound) for bound in buckets)
    if not bounds or any(a >= b for a, b in itertools.pairwise(bounds)):
        raise ValueError(f"the buckets of {name!r} must be increasing and not empty, got {bounds}")
    with _lock:
        existing = _histograms.get(name)
        if existing is None:
            existing = _histograms[name] = Histogram(name, documentation, label_names, bounds)
        elif existing.label_names != label_names or existing.buckets != bounds:
            raise ValueError(f"the histogram {name!r} exists with other labels or buckets")
        return existing


def histograms() -> list[Histogram]:
    """Every histogram created so far."""
    with _lock:
        return list(_histograms.values())


class ScrapeGauge:
    """A gauge read when scraped: `read` returns (label values, value) pairs.

    Label sets past `max_series()` are summed under ``"other"``, so a reader that sees
    many distinct values (actor classes made on the fly) still exports a bounded family.

    Args:
        name: The metric's name.
        documentation: The metric's help text.
        label_names: The metric's label names, in order.
        read: Called on every scrape, in the scraping thread.
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        label_names: tuple[str, ...],
        read: Callable[[], Iterable[tuple[tuple[str, ...], float]]],
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.label_names = label_names
        self._read = read

    def __repr__(self) -> str:
        return f"ScrapeGauge({self.name!r}, labels={self.label_names})"

    def samples(self) -> list[tuple[tuple[str, ...], float]]:
        """The values read now, label sets summed where they repeat or overflow."""
        totals: dict[tuple[str, ...], float] = {}
        for values, value in self._read():
            key = _fold(tuple(str(v) for v in values), totals)
            totals[key] = totals.get(key, 0.0) + value
        return list(totals.items())


def scrape_gauge(
    name: str,
    documentation: str,
    label_names: tuple[str, ...],
    read: Callable[[], Iterable[tuple[tuple[str, ...], float]]],
) -> ScrapeGauge:
    """Creates a gauge read at scrape time, or returns the one already created under `name`.

    Raises:
        ValueError: `name` exists with other labels.
    """
    return _register(
        _scrape_gauges, "gauge", name, label_names, lambda: ScrapeGauge(name, documentation, label_names, read)
    )


def scrape_gauges() -> list[ScrapeGauge]:
    """Every gauge read at scrape time created so far."""
    with _lock:
        return list(_scrape_gauges.values())
