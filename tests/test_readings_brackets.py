"""The reading of Figure 5 (left), the lead on closing characters by distance: on hand-made results, and on
synthetic texts and predictions with no effect and with a clear one, through the analysis itself."""

from __future__ import annotations

import numpy as np

from rnnlens.analyses.bracket_distance import bracket_distance
from rnnlens.analyses.intervals import Interval
from rnnlens.report.build import paper_numbers
from rnnlens.report.readings import Context, read_brackets
from rnnlens.store.predictions import Predictions
from verdict_rates import SEEDS, holds_in


def context() -> Context:
    return Context("war-and-peace", paper_numbers(), {})


def interval(estimate: float, low: float, high: float, count: int) -> dict:
    return Interval(estimate, low, high, count, "bootstrap over closers, 1000 resamples").to_dict()


def hand_made(slope: dict, beyond: dict) -> dict:
    buckets = [{"lo": lo, "hi": lo + 19, "count": n, "mean_prob": {"lstm": a, "ngram-20": b},
                "lead": {"ngram-20": interval(a - b, a - b - .05, a - b + .05, n)}}
               for lo, n, a, b in ((1, 700, .9, .85), (21, 300, .8, .6), (41, 12, .7, .4))]
    buckets.append({"lo": 61, "hi": 80, "count": 0, "mean_prob": {"lstm": None, "ngram-20": None},
                    "lead": {"ngram-20": None}})
    return {"pair": '"', "matched": 1012, "models": ["lstm", "ngram-20"], "buckets": buckets,
            "trend": {"ngram-20": {"slope": slope, "beyond": beyond, "reach": 20, "reach_from": "from its name"}}}


def read(slope: dict, beyond: dict):
    return read_brackets([hand_made(slope, beyond)], context())


def test_the_table_shows_counts_and_leads_with_intervals_and_both_tests_decide():
    reading = read(interval(.0012, .0004, .0020, 1000), interval(.05, .02, .08, 312))
    (table,) = reading.tables
    assert table.header == ["distance", "closers", "lstm", "ngram-20", "lstm - ngram-20"]
    assert table.rows[0] == ["1-20", "700", "0.900", "0.850", "+0.050 [+0.000, +0.100]"]
    assert table.rows[2][:2] == ["41-60", "12"] and len(table.rows) == 3  # the empty bucket is left out
    assert "buckets of fewer than 30 closers do not enter the slope" in table.caption
    (finding,) = reading.findings
    assert finding.verdict == "holds"
    assert finding.ours == ("slope +0.0012 per character, 95% CI [+0.0004, +0.0020], 1,000 closers; lead beyond "
                            "20 characters +0.050, 95% CI [+0.020, +0.080], 312 closers")
    assert finding.numbers["slope"]["low"] == .0004 and finding.numbers["reach"] == 20
    assert "more than 20 characters from their opener (ngram-20's context, from its name)" in finding.test


def test_a_negative_slope_or_lead_differs_and_an_unsure_one_cannot_say():
    behind = read(interval(.0012, .0004, .0020, 1000), interval(-.05, -.08, -.02, 312)).findings[0]
    assert behind.verdict == "differs" and behind.why.startswith("the lead beyond 20 characters lies wholly below 0")
    unsure = read(interval(.0012, -.0004, .0020, 1000), interval(.05, .02, .08, 312)).findings[0]
    assert unsure.verdict == "cannot say" and unsure.why == "the slope: the interval covers both directions"
    nan = float("nan")
    few = read(interval(nan, nan, nan, 12), interval(.05, -.2, .3, 20)).findings[0]  # the 85 quotes
    assert few.verdict == "cannot say" and few.numbers["slope"] is None
    assert few.why == ("the slope: fewer than two distance buckets hold 30 closers (12 closers in them); the lead "
                       "beyond 20 characters: only 20 closers, fewer than 30")
    assert few.ours.startswith("slope none; lead beyond 20 characters +0.050")
    none = read(interval(nan, nan, nan, 0), interval(nan, nan, nan, 0)).findings[0]
    assert none.ours == "slope none; lead beyond 20 characters none (no closer that far)"
    assert none.verdict == "cannot say" and none.numbers["beyond"] is None


def synthetic(seed: int, slope: float) -> dict:
    """400 brace pairs at distances 1-120 with filler between; both models' probabilities of a closer uniform,
    the first's raised by ``slope`` per character of distance (so ahead beyond the 20-gram's context)."""
    rng = np.random.default_rng(seed)
    distances = rng.integers(1, 121, 400)
    text = "".join("{" + "a" * (d - 1) + "}" for d in distances) + "a"
    closers = np.cumsum(distances + 1) - 1
    first, other = rng.uniform(0.05, 0.6, (2, len(text) - 1))
    first[closers - 1] += slope * distances
    identity = {"source": f"synthetic {seed}", "ids_sha256": str(seed), "chars": len(text)}
    predictions = {name: Predictions({}, identity, np.log(p)) for name, p in (("lstm", first), ("ngram-20", other))}
    return bracket_distance(predictions, text, bin=20, max_distance=100, resamples=300).to_dict()


def test_with_no_effect_the_trend_rarely_holds():
    assert holds_in(read_brackets, lambda seed: synthetic(seed, 0.0), context()) <= 0.05 * SEEDS


def test_with_a_clear_effect_the_trend_holds():
    assert holds_in(read_brackets, lambda seed: synthetic(seed, 0.003), context()) >= 0.95 * SEEDS
