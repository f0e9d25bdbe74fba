"""The intervals every verdict decides from: their coverage on known distributions, the exact binomial against
scipy's, and what they save."""

from __future__ import annotations

import json

import numpy as np
from scipy.stats import binomtest

from rnnlens.analyses.intervals import (Interval, binomial_interval, difference_interval, mean_interval,
                                        slope_interval)


def covers(interval: Interval, value: float) -> bool:
    return interval.low <= value <= interval.high


def ar1(rng: np.random.Generator, n: int, rho: float) -> np.ndarray:
    """A stationary AR(1) series of mean 0: neighbours correlated as characters of one word are."""
    noise = rng.normal(0, 1, n)
    out = np.empty(n)
    out[0] = noise[0]
    for k in range(1, n):
        out[k] = rho * out[k - 1] + np.sqrt(1 - rho * rho) * noise[k]
    return out


def test_a_95_percent_interval_of_a_mean_covers_it_about_95_times_in_100():
    hits = sum(covers(mean_interval(np.random.default_rng(seed).normal(0.3, 1, 400), block=1, resamples=400),
                      0.3) for seed in range(200))
    assert 180 <= hits <= 198, hits


def test_blocks_keep_the_coverage_where_neighbours_are_correlated_and_single_cases_lose_it():
    series = [ar1(np.random.default_rng(seed), 3000, 0.9) for seed in range(100)]
    blocked = sum(covers(mean_interval(s, block=100, resamples=300), 0.0) for s in series)
    single = sum(covers(mean_interval(s, block=1, resamples=300), 0.0) for s in series)
    assert blocked >= 85 and single <= 60, (blocked, single)


def test_pairing_removes_what_both_models_find_hard():
    rng = np.random.default_rng(0)
    hard = rng.exponential(1.0, 5000)  # a position's difficulty, shared by both models
    a, b = hard + rng.normal(0, 0.1, 5000), hard + 0.02 + rng.normal(0, 0.1, 5000)
    paired = difference_interval(a, b, block=1)
    apart = mean_interval(a, block=1).high - mean_interval(a, block=1).low
    assert paired.below(0) and covers(paired, -0.02) and paired.high - paired.low < apart / 5
    assert paired.method.startswith("paired bootstrap over positions")


def test_the_binomial_interval_is_clopper_pearson():
    for k, n in ((0, 10), (3, 10), (30, 100), (100, 100), (545, 1000)):
        ours, exact = binomial_interval(k, n), binomtest(k, n).proportion_ci(0.95, method="exact")
        assert abs(ours.low - exact.low) < 1e-9 and abs(ours.high - exact.high) < 1e-9
    assert binomial_interval(30, 100).words(signed=False) == "0.300, 95% CI [0.212, 0.400], 100 cases"


def test_a_slope_is_recovered_with_an_interval_and_a_flat_one_is_not_called_rising():
    rng = np.random.default_rng(1)
    x = rng.integers(1, 200, 1000).astype(float)
    rising = slope_interval(x, 0.001 * x + rng.normal(0, 0.2, 1000))
    flat = slope_interval(x, rng.normal(0, 0.2, 1000))
    assert covers(rising, 0.001) and rising.above(0)
    assert covers(flat, 0.0) and not flat.above(0)


def test_a_short_text_gets_shorter_blocks_not_a_zero_width_interval():
    values = np.random.default_rng(2).normal(0, 1, 150)  # fewer than two blocks of 100
    interval = mean_interval(values)
    assert interval.high - interval.low > 0.1 and covers(interval, 0.0)


def test_intervals_save_as_strict_json_and_read_back():
    one = mean_interval([2.0])
    saved = json.dumps(one.to_dict(), allow_nan=False)
    back = Interval.from_dict(json.loads(saved))
    assert back.estimate == 2.0 and not back.above(0) and not back.below(10) and back.count == 1
    some = mean_interval(np.arange(100.0), block=1)
    assert Interval.from_dict(json.loads(json.dumps(some.to_dict()))) == some
