"""Sticky, deterministic assignment: a keyed hash of the unit id picks one of 10,000
buckets, and an allocation (bucket -> variant) that moves as few buckets as it must when
the weights change."""

from __future__ import annotations

import hashlib
import math

from zixir.errors import ArgumentTypeError, InvalidArgumentError

__all__ = ["BUCKETS", "allocate", "bucket_of", "check_weights"]

#: Buckets of the assignment hash: weights resolve to 0.01 %.
BUCKETS = 10_000


def bucket_of(experiment: str, unit: str) -> int:
    """The bucket of `unit` in `experiment`: BLAKE2b keyed by the experiment's name, so the
    same unit lands in independent buckets of different experiments, in every process."""
    digest = hashlib.blake2b(unit.encode("utf-8", "surrogatepass"), digest_size=8, key=experiment.encode()[:64])
    return int.from_bytes(digest.digest(), "big") % BUCKETS


def check_weights(variants: object) -> dict[str, float]:
    """Checks a variants mapping {name: weight}: at least two, weights finite, >= 0, some > 0.

    Raises:
        ArgumentTypeError: not a mapping of str to numbers.
        InvalidArgumentError: fewer than two variants, or bad weights.
    """
    if not isinstance(variants, dict):
        raise ArgumentTypeError(
            f'variants must be a dict of name to weight, e.g. {{"control": 0.5, "new": 0.5}}, got {variants!r}',
            "variants",
        )
    out: dict[str, float] = {}
    for name, weight in variants.items():
        if not isinstance(name, str) or not name:
            raise ArgumentTypeError(f"variant names must be non-empty str, got {name!r}", "variants")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise ArgumentTypeError(f"the weight of variant {name!r} must be a number, got {weight!r}", "variants")
        if not math.isfinite(weight) or weight < 0:
            raise InvalidArgumentError(
                f"the weight of variant {name!r} must be finite and >= 0, got {weight!r}", "variants"
            )
        out[name] = float(weight)
    if len(out) < 2 or not any(out.values()):
        raise InvalidArgumentError(
            f"an experiment needs at least two variants and a weight > 0, got {variants!r}", "variants"
        )
    return out


def _targets(weights: list[float]) -> list[int]:
    """Buckets per variant: the weights' shares of BUCKETS by largest remainder."""
    total = sum(weights)
    exact = [w / total * BUCKETS for w in weights]
    counts = [math.floor(e) for e in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (counts[i] - exact[i], i))
    for i in by_remainder[: BUCKETS - sum(counts)]:
        counts[i] += 1
    return counts


def allocate(weights: list[float], previous: bytes | None = None) -> bytes:
    """The owner (variant index) of every bucket, as BUCKETS bytes.

    Fresh: contiguous ranges in variant order. From `previous`: each variant over its new
    share gives up its highest buckets, and those alone go to the variants under theirs,
    so exactly the buckets that must move do.
    """
    targets = _targets(weights)
    if previous is None:
        return b"".join(bytes([i]) * count for i, count in enumerate(targets))
    owners = bytearray(previous)
    held: list[list[int]] = [[] for _ in weights]
    for bucket, owner in enumerate(owners):
        held[owner].append(bucket)
    freed: list[int] = []
    for i, buckets in enumerate(held):
        excess = len(buckets) - targets[i]
        if excess > 0:
            freed.extend(buckets[-excess:])
    freed.sort()
    for i, buckets in enumerate(held):
        short = targets[i] - len(buckets)
        for _ in range(max(short, 0)):
            owners[freed.pop()] = i
    return bytes(owners)
