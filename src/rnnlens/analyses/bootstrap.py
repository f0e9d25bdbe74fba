"""Bootstrap error bars, shared by every loss the tool reports."""

from __future__ import annotations

import numpy as np

BOOTSTRAP_SAMPLES = 100


def bootstrap_std(values: np.ndarray, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> float:
    """Standard deviation of the mean of ``values`` over bootstrap resamples.

    Each resample draws ``len(values)`` positions with replacement, as the
    paper does for its test losses. Deterministic for a given ``seed``.
    """
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        return 0.0
    rng = np.random.default_rng(seed)
    means = np.array([values[rng.integers(0, len(values), len(values))].mean() for _ in range(samples)])
    return float(means.std(ddof=1))
