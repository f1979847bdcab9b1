"""An ETL pipeline as a durable workflow: load events, compute per-user features with the
engine's kernels (one fan-out item per user), validate them, store them in a zixir.Cache.

Run it twice with the same run id and the second run returns the recorded result; kill it
midway and the next run resumes from the last committed step.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from zixir import Cache, RetryPolicy, Workflow, engine

root = Path(tempfile.mkdtemp(prefix="zixir-etl-"))
wf = Workflow("features", store=root / "workflow", inputs=("day", "users"), max_workers=4)


@wf.step()
def events(day: str, users: int) -> dict[str, list[float]]:
    """Loads the day's events: each user's purchase amounts."""
    rng = random.Random(day)
    return {f"user-{u}": [round(rng.uniform(1, 100), 2) for _ in range(rng.randint(3, 12))] for u in range(users)}


@wf.step()
def per_user(events: dict[str, list[float]]) -> list[tuple[str, list[float]]]:
    return sorted(events.items())


@wf.step(map_over="per_user", retry=RetryPolicy(max_attempts=3, initial_delay=0.05))
def features(per_user: tuple[str, list[float]]) -> dict[str, object]:
    """One user's features, computed by the engine's kernels."""
    user, amounts = per_user
    return {
        "user": user,
        "count": len(amounts),
        "total": engine.list_sum(amounts),
        "mean": engine.list_mean(amounts),
        "std": engine.list_std(amounts),
        "max": engine.list_max(amounts),
    }


@wf.step()
def validated(features: list[dict[str, object]]) -> list[dict[str, object]]:
    """Checks every row before anything is stored."""
    for row in features:
        assert 0 < row["mean"] <= row["max"] <= 100, row  # type: ignore[operator]
        assert row["count"] >= 3, row  # type: ignore[operator]
    return features


@wf.step()
def stored(validated: list[dict[str, object]], day: str) -> int:
    with Cache(root / "cache") as cache:
        cache.put_many({f"features:{day}:{row['user']}": row for row in validated})
    return len(validated)


def main() -> None:
    result = wf.run(run_id="2026-11-22", inputs={"day": "2026-11-22", "users": 20})
    print(f"run {result.run_id}: {result.status}, {result.outputs['stored']} users stored")
    again = wf.run(run_id="2026-11-22")  # recorded: nothing runs again
    print(f"second call: {again.status}, same outputs: {again.outputs == result.outputs}")
    with Cache(root / "cache") as cache:
        row = cache.get("features:2026-11-22:user-0")
        print(f"user-0: {row['count']} events, mean {row['mean']:.2f}, max {row['max']:.2f}")
    wf.close()


if __name__ == "__main__":
    main()
