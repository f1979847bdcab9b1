"""Experiments, data validation and drift detection, on numpy and scipy.

Install the extra: ``pip install 'zixir[analytics]'``. See docs/analytics.md.
"""

from __future__ import annotations

try:
    import numpy  # noqa: F401
    import scipy.stats  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"zixir.analytics needs numpy and scipy ({exc}); install them with: pip install 'zixir[analytics]'"
    ) from exc

from zixir.analytics import anomaly, drift
from zixir.analytics.experiment import Experiment
from zixir.analytics.power import power, sample_size, sample_size_proportions
from zixir.analytics.promotion import PromotionRule
from zixir.analytics.quality import Field, Report, Schema, Violation
from zixir.analytics.raw import RawEvent
from zixir.analytics.results import Analysis, Comparison, Decision

__all__ = [
    "Analysis",
    "Comparison",
    "Decision",
    "Experiment",
    "Field",
    "PromotionRule",
    "RawEvent",
    "Report",
    "Schema",
    "Violation",
    "anomaly",
    "drift",
    "power",
    "sample_size",
    "sample_size_proportions",
]
