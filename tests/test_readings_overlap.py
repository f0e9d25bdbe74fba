"""The reading of Figure 4 (left): on a hand-made result, and on synthetic errors with and without an effect."""

from __future__ import annotations

import numpy as np

from rnnlens.analyses.error_overlap import error_overlap
from rnnlens.analyses.intervals import Interval, binomial_interval
from rnnlens.report.build import paper_numbers
from rnnlens.report.readings import Context, read_overlap
from rnnlens.store.predictions import Predictions

SEEDS = 200
POSITIONS, RUN, MODELS = 8000, 10, 3


def context() -> Context:
    return Context("war-and-peace", paper_numbers(), {})


def test_overlap_reading_decides_most_errors_shared_from_the_interval_of_the_share():
    regions = [{"models": ["a"], "count": 100}, {"models": ["b"], "count": 50}, {"models": ["a", "b"], "count": 250}]
    result = {"models": ["a", "b"], "threshold": 0.5, "chars": 1000, "any_error": 400, "regions": regions,
              "shared": Interval(0.625, 0.55, 0.70, 400, "bootstrap over error positions in blocks of 100").to_dict()}
    reading = read_overlap([result], context())
    (finding,) = reading.findings
    assert finding.verdict == "holds"
    assert finding.ours == ("62.5% of the 400 positions where any model errs are errors of two or more models (95% "
                            "interval 55.0% to 70.0%), 62.5% of all 2")
    assert finding.numbers["shared"]["low"] == 0.55 and "not a binomial" in finding.test
    assert reading.tables[0].rows[0] == ["all", "250", "62.5%"]
    result["shared"] = Interval(0.45, 0.40, 0.49, 400, "bootstrap").to_dict()
    (finding,) = read_overlap([result], context()).findings
    assert finding.verdict == "differs" and finding.why.startswith("the interval lies wholly below one half; smaller")
    result["shared"] = Interval(0.5, 0.45, 0.55, 20, "bootstrap").to_dict()
    assert read_overlap([result], context()).findings[0].why == "only 20 error positions, fewer than 30"


def synthetic(seed: int, shared: float) -> dict[str, Predictions]:
    """Three models whose errors come in runs of ``RUN`` positions; a run of errors is shared by two or three
    models with probability ``shared``, else made by one."""
    rng = np.random.default_rng(seed)
    runs = POSITIONS // RUN
    erring = (rng.random(runs) < 0.6).repeat(RUN)
    together = (rng.random(runs) < shared).repeat(RUN)
    how_many = np.where(together, rng.integers(2, MODELS + 1, POSITIONS), 1)
    ranks = rng.random((MODELS, POSITIONS)).argsort(axis=0).argsort(axis=0)  # a random order of models per position
    wrong = erring & (ranks < how_many)
    text = {"source": "synthetic", "ids_sha256": "same", "chars": POSITIONS + 1}
    return {f"m{k}": Predictions({}, text, np.log(np.where(w, 0.1, 0.9))) for k, w in enumerate(wrong)}


def holds(shared: float) -> tuple[int, int]:
    """Seeds in which the reading holds, and in which a binomial interval of the same share would lie above one
    half."""
    reading = binomial = 0
    for seed in range(SEEDS):
        result = error_overlap(synthetic(seed, shared)).to_dict()
        reading += read_overlap([result], context()).findings[0].verdict == "holds"
        both = sum(r["count"] for r in result["regions"] if len(r["models"]) >= 2)
        binomial += binomial_interval(both, result["any_error"]).above(0.5)
    return reading, binomial


def test_most_errors_shared_holds_rarely_at_one_half_and_nearly_always_at_four_fifths():
    at_half, binomial_at_half = holds(0.5)
    assert at_half <= SEEDS * 0.05
    assert binomial_at_half > SEEDS * 0.05  # errors in runs: a binomial interval would be too narrow
    assert holds(0.8)[0] >= SEEDS * 0.95
