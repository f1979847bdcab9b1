"""Batch inference: feature vectors scored with compiled engine kernels in `parallel_map`.

Run with ``python examples/batch_inference.py``. Vectors come from a generator (as rows
from a file or a queue would), are batched, scored by four threads with `engine`
kernels (which release the GIL on float64 buffers), and the top scores are kept. At
most ``workers + buffer`` batches are in memory however many rows there are.
"""

from __future__ import annotations

import array
import heapq
import random
from collections.abc import Iterator

from zixir import Stream, engine

DIM = 64
ROWS = 20_000


def rows(seed: int = 3) -> Iterator[tuple[int, array.array[float]]]:
    """Feature vectors with their row ids."""
    rng = random.Random(seed)
    for row in range(ROWS):
        yield row, array.array("d", (rng.gauss(0.0, 1.0) for _ in range(DIM)))


WEIGHTS = array.array("d", (random.Random(1).uniform(-1.0, 1.0) for _ in range(DIM)))


def score(batch: list[tuple[int, array.array[float]]]) -> list[tuple[float, int]]:
    """A linear model's score and the cosine similarity to the weights, per row."""
    out = []
    for row, features in batch:
        logit = engine.dot_product(WEIGHTS, features)
        out.append((logit * abs(engine.cosine_similarity(WEIGHTS, features)), row))
    return out


def main() -> None:
    scored = (
        Stream.defer(rows)
        .batch(256, name="batches")
        .parallel_map(score, workers=4, ordered=False, name="score")
        .flat_map(lambda results: results, name="rows")
    )
    top = heapq.nlargest(3, scored)
    stats = scored.stats()
    assert stats is not None and stats.stage("score").items_in == -(-ROWS // 256)
    print(f"engine: {engine.IMPLEMENTATION}; scored {stats.stage('rows').items_out:,} rows")
    for value, row in top:
        print(f"  row {row}: {value:.3f}")


if __name__ == "__main__":
    main()
