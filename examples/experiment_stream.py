"""An A/B experiment fed by a stream (the sink form): checkout events flow through a
zixir.Stream into an Experiment whose assignment and sums live in a zixir.Cache; the
promotion rule is checked as the events arrive and promotes the winner when it holds.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Iterator

from zixir import Cache, Stream
from zixir.analytics import Experiment, PromotionRule

RATES = {"control": 0.10, "one-click": 0.14}  # the true conversion rates of the simulation


def visits(exp: Experiment, n: int) -> Iterator[tuple[str, float]]:
    """Simulated visits: (user, converted) with each user's rate from its sticky variant."""
    rng = random.Random(7)
    for i in range(n):
        user = f"user-{i}"
        yield user, float(rng.random() < RATES[exp.assign(user)])


def main() -> None:
    with Cache(tempfile.mkdtemp(prefix="zixir-exp-")) as cache:
        rule = PromotionRule(metric="converted", min_samples=2000, min_duration=0, min_lift=0.05)
        exp = Experiment(
            "checkout", {"control": 0.5, "one-click": 0.5}, store=cache, rule=rule, auto_promote=True,
            events=1000, event_retention=7 * 86400,
        )  # fmt: skip
        checks = []

        def sink(batch: list[tuple[str, float]]) -> None:
            for user, converted in batch:
                exp.record(user, "converted", converted)
            checks.append(exp.check())  # a call, never a wait

        Stream(visits(exp, 8000)).batch(1000).for_each(sink)

        result = exp.analyze("converted")
        new = result.comparison("one-click")
        print(f"{result.kind}: {new.n_control} control, {new.n} one-click, sample ratio mismatch: {result.srm}")
        print(f"lift {new.lift:+.0%} (95% CI {new.lift_ci[0]:+.0%} to {new.lift_ci[1]:+.0%}), p={new.p_value:.2g}")
        promoted = next((i for i, d in enumerate(checks) if d.promoted), None)
        print(f"promoted after batch {None if promoted is None else promoted + 1}: {exp.status}, winner {exp.winner}")
        print(f"raw events kept: {len(exp.events())}; new visitors now get {exp.assign('someone-new')!r}")


if __name__ == "__main__":
    main()
