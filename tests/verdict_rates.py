"""How often a reading's finding holds over seeds of synthetic results: the count the null-and-effect tests
bound (at most 5% of the seeds with no effect, at least 95% with a clear one)."""

from __future__ import annotations

from typing import Callable

SEEDS = 200


def holds_in(read: Callable, result_of: Callable[[int], dict], ctx) -> int:
    """Of ``SEEDS`` seeds, how many give a result whose reading's first finding holds."""
    return sum(read([result_of(seed)], ctx).findings[0].verdict == "holds" for seed in range(SEEDS))
