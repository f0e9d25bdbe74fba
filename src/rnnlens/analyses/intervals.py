"""Confidence intervals for every number a verdict compares: means over positions, paired differences, shares
and slopes.

Characters are not independent draws: a model that errs on one letter of a
rare word errs on its neighbours too. Means over the positions of a text are
therefore bootstrapped in blocks of ``BLOCK`` consecutive positions (a
moving-block bootstrap would do as well; non-overlapping blocks are simpler
and exact to reproduce). Means over cases that lie far apart (the closers of
Figure 5, the occurrences of one character, the units of a layer) are
bootstrapped case by case (``block=1``). Shares of counted events get the
exact (Clopper-Pearson) binomial interval. Every interval is a percentile
interval at ``LEVEL``, deterministic for its ``seed``, and says how many cases
it rests on and how it was made, so a reading can state its test in words.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import beta

LEVEL = 0.95
RESAMPLES = 1000
BLOCK = 100  # positions per bootstrap block over a text
MIN_COUNT = 30  # fewer cases never decide a finding, nor make a table's top rows
MIN_BLOCKS = 20  # a short text gets shorter blocks rather than an interval resampled from a handful of blocks


@dataclass(frozen=True)
class Interval:
    """An estimate with its ``LEVEL`` confidence interval ``[low, high]``, the ``count`` of cases it rests on
    and the ``method`` that made it (in words)."""

    estimate: float
    low: float
    high: float
    count: int
    method: str
    level: float = LEVEL

    def to_dict(self) -> dict:
        """The fields, with an undefined bound (no cases, one case) as None: strict JSON has no NaN nor Infinity."""
        return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> "Interval":
        fields = {k: data[k] for k in ("estimate", "low", "high", "count", "method", "level") if k in data}
        return cls(**{k: float("nan") if v is None else v for k, v in fields.items()})

    def above(self, value: float = 0.0) -> bool:
        """The whole interval lies above ``value``."""
        return self.low > value

    def below(self, value: float = 0.0) -> bool:
        return self.high < value

    def words(self, digits: int = 3, signed: bool = True, unit: str = "", cases: str = "cases") -> str:
        """``+0.012 per character, 95% CI [+0.004, +0.020], 1,056 closers``."""
        form = f"{{:+.{digits}f}}" if signed else f"{{:.{digits}f}}"
        show = lambda x: form.format(round(x, digits) + 0.0)  # noqa: E731 (never -0.000)
        return (f"{show(self.estimate)}{unit}, {round(100 * self.level):d}% CI [{show(self.low)}, {show(self.high)}], "
                f"{self.count:,} {cases}")


def block_means(values: np.ndarray, block: int, resamples: int, seed: int) -> np.ndarray:
    """``resamples`` bootstrap means of ``values``, drawing blocks of ``block`` consecutive values with
    replacement (as many blocks as there are)."""
    values = np.asarray(values, dtype=np.float64)
    starts = np.arange(0, len(values), block)
    sums, counts = np.add.reduceat(values, starts), np.diff(np.append(starts, len(values)))
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    step = max(1, 4_000_000 // len(starts))  # resamples drawn at once: bounded memory for long texts
    for first in range(0, resamples, step):
        picks = rng.integers(0, len(starts), (min(step, resamples - first), len(starts)))
        means[first:first + len(picks)] = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    return means


def mean_interval(values: np.ndarray, block: int = BLOCK, resamples: int = RESAMPLES, seed: int = 0,
                  level: float = LEVEL, what: str = "positions") -> Interval:
    """The mean of ``values`` with its bootstrap interval; ``block`` 1 resamples single cases."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0, "no cases", level)
    if len(values) == 1:
        return Interval(float(values[0]), float("nan"), float("nan"), 1, "one case: no interval", level)
    block = min(block, max(1, len(values) // MIN_BLOCKS))
    means = block_means(values, block, resamples, seed)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    how = f"bootstrap over {what}" + (f" in blocks of {block}" if block > 1 else "") + f", {resamples} resamples"
    return Interval(float(values.mean()), float(low), float(high), len(values), how, level)


def difference_interval(a: np.ndarray, b: np.ndarray, block: int = BLOCK, resamples: int = RESAMPLES,
                        seed: int = 0, level: float = LEVEL, what: str = "positions") -> Interval:
    """The mean of ``a - b`` over paired cases (the same positions scored by two models) with its paired
    bootstrap interval: the pairing removes what both models find hard, so the interval is far narrower
    than either loss's."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired values of different shapes {a.shape} and {b.shape}")
    interval = mean_interval(a - b, block, resamples, seed, level, what)
    return Interval(interval.estimate, interval.low, interval.high, interval.count,
                    "paired " + interval.method, level)


def unpaired_difference(a: np.ndarray, b: np.ndarray, resamples: int = RESAMPLES, seed: int = 0,
                        what: str = "units") -> Interval:
    """``mean(a) - mean(b)`` for two separate sets of cases, with a bootstrap interval resampling each set."""
    tail = 100 * (1 - LEVEL) / 2
    low, high = np.percentile(block_means(a, 1, resamples, seed) - block_means(b, 1, resamples, seed + 1),
                              [tail, 100 - tail])
    return Interval(float(np.mean(a) - np.mean(b)), float(low), float(high), len(a) + len(b),
                    f"bootstrap over {what}, each set resampled on its own, {resamples} resamples")


def binomial_interval(successes: int, trials: int, level: float = LEVEL) -> Interval:
    """The share ``successes / trials`` with its exact (Clopper-Pearson) binomial interval."""
    if trials <= 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0, "no trials", level)
    alpha = 1 - level
    low = 0.0 if successes == 0 else float(beta.ppf(alpha / 2, successes, trials - successes + 1))
    high = 1.0 if successes == trials else float(beta.ppf(1 - alpha / 2, successes + 1, trials - successes))
    return Interval(successes / trials, low, high, int(trials), "exact binomial", level)


def slope_interval(x: np.ndarray, y: np.ndarray, resamples: int = RESAMPLES, seed: int = 0,
                   level: float = LEVEL, what: str = "cases") -> Interval:
    """The least-squares slope of ``y`` on ``x`` over cases, with a case bootstrap interval. Fitted on the
    cases themselves, a bin of many cases weighs as much as its count, not as one point."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) < 3 or np.ptp(x) == 0:
        return Interval(float("nan"), float("nan"), float("nan"), len(x), "too few distinct cases for a slope", level)
    rng = np.random.default_rng(seed)
    slopes = np.empty(resamples)
    step = max(1, 2_000_000 // len(x))  # resamples drawn at once: bounded memory for many cases
    for first in range(0, resamples, step):
        picks = rng.integers(0, len(x), (min(step, resamples - first), len(x)))
        xs, ys = x[picks], y[picks]
        xc = xs - xs.mean(axis=1, keepdims=True)
        spread = (xc * xc).sum(axis=1)
        covariance = (xc * (ys - ys.mean(axis=1, keepdims=True))).sum(axis=1)
        slopes[first:first + len(picks)] = np.where(spread > 0, covariance / np.where(spread > 0, spread, 1), np.nan)
    tail = 100 * (1 - level) / 2
    low, high = np.nanpercentile(slopes, [tail, 100 - tail])
    estimate = float(np.polyfit(x, y, 1)[0])
    return Interval(estimate, float(low), float(high), len(x), f"bootstrap over {what}, {resamples} resamples", level)
