"""The reading of Table 2: on hand-made results, and on synthetic per-position losses with and without an effect."""

from __future__ import annotations

import numpy as np

from rnnlens.analyses.baseline_table import BaselineRow, BaselineTable, loss_differences
from rnnlens.analyses.intervals import Interval, difference_interval
from rnnlens.report.build import paper_numbers
from rnnlens.report.readings import Context, read_table2

SEEDS = 200
POSITIONS, RUN = 6000, 20
PAPER_20_GRAM = 1.195  # War and Peace


def context(results: dict | None = None) -> Context:
    return Context("war-and-peace", paper_numbers(), results or {})


def interval(estimate: float, half: float, count: int = 5000) -> dict:
    return Interval(estimate, estimate - half, estimate + half, count, "bootstrap over positions").to_dict()


def row(family: str, n: int, nats: float) -> dict:
    return {"family": family, "context": n, "nats": nats, "std": 0.01, "interval": interval(nats, 0.02)}


def difference(n: int, estimate: float, half: float) -> dict:
    return {"context": n, "families": ["n-gram", "n-NN"], "loss_difference": interval(estimate, half)}


def test_table2_reading_sets_our_20_gram_and_best_network_against_the_paper_with_intervals():
    table = {"split": "test", "rows": [row("n-gram", 1, 2.40), row("n-NN", 1, 2.43), row("n-gram", 2, 1.90),
                                       row("n-NN", 2, 2.10), row("n-gram", 20, 1.30)],
             "differences": [difference(1, -0.03, 0.01), difference(2, -0.20, 0.01)]}
    compare = {"models": [{"name": "lstm2", "nats": 1.25, "interval": interval(1.25, 0.02)}]}
    advantage = {"models": ["lstm2", "ngram-20"], "loss_difference": interval(-0.05, 0.01)}
    twenty, small, best = read_table2([table], context({"compare": [compare], "advantage": [advantage]})).findings
    assert twenty.verdict == "differs" and twenty.ours.startswith("1.300 (1.280 to 1.320, 5,000 positions)")
    assert twenty.paper == "paper: 1.195" and "wholly beyond 0.05 of the paper's 1.195" in twenty.why
    assert small.verdict == "partly"
    assert small.ours.startswith("n=1: n-gram - n-NN -0.030 [-0.040, -0.020], n=2: n-gram - n-NN -0.200 [-0.210, "
                                 "-0.190] nats/char over 5,000 positions")
    assert small.why == "n=2: the interval lies wholly beyond 0.05"
    assert best.claim == "the best recurrent network (lstm2) beats the 20-gram (ngram-20)"
    assert best.verdict == "holds" and best.ours.startswith("lstm2 - ngram-20: -0.050 nats/char, 95% CI [-0.060, "
                                                            "-0.040], 5,000 positions")
    assert "(lstm2 1.250 [1.230, 1.270], 20-gram 1.300 [1.280, 1.320])" in best.ours
    assert best.paper == "paper: 1.077 against 1.195" and best.numbers["loss_difference"]["high"] == -0.04

    advantage["loss_difference"] = interval(0.002, 0.004)  # covers 0
    best = read_table2([table], context({"advantage": [advantage]})).findings[2]
    assert best.verdict == "cannot say" and best.why == "the interval covers both directions"
    best = read_table2([table], context()).findings[2]
    assert best.verdict == "cannot say" and best.why == "the advantage analysis (Figure 4 right) was not run"
    assert best.ours == "20-gram 1.300 [1.280, 1.320]"


# --- with and without an effect, on synthetic per-position losses ----------------------------------------------------

def losses(rng, means: list[float], common: np.ndarray) -> np.ndarray:
    """``(M, POSITIONS)`` losses around ``common``: each model's mean, noise held over runs of ``RUN`` positions and
    noise of its own at each position."""
    runs = rng.normal(0, 0.05, (len(means), POSITIONS // RUN)).repeat(RUN, axis=1)
    own = rng.normal(0, 0.3, (len(means), POSITIONS))
    return common - common.mean() + np.array(means)[:, None] + runs + own


def findings(seed: int, twenty: float, nnn_gap: float, network_gap: float) -> dict:
    """The table's findings on a 1-gram, a 1-NN ``nnn_gap`` worse, a 20-gram of mean ``twenty`` and a network
    ``network_gap`` from the 20-gram, scored by the table's and the advantage analysis's interval functions."""
    rng = np.random.default_rng(seed)
    common = rng.gamma(2.0, 0.5, POSITIONS)
    gram, nnn, gram20, network = losses(rng, [2.4, 2.4 + nnn_gap, twenty, twenty + network_gap], common)
    scored = {("n-gram", 1): gram, ("n-NN", 1): nnn, ("n-gram", 20): gram20}
    table = BaselineTable("toy", "test", [BaselineRow.scored(f, n, "", "", -loss) for (f, n), loss in scored.items()],
                          loss_differences(scored))
    advantage = {"models": ["lstm", "ngram-20"], "loss_difference": difference_interval(network, gram20).to_dict()}
    return {f.claim.split(" (")[0]: f.verdict for f in read_table2([table.to_dict()],
                                                                     context({"advantage": [advantage]})).findings}


def holds(**scenario) -> dict[str, int]:
    """How many of ``SEEDS`` seeds each finding holds in."""
    counts: dict[str, int] = {}
    for seed in range(SEEDS):
        for claim, verdict in findings(seed, **scenario).items():
            counts[claim] = counts.get(claim, 0) + (verdict == "holds")
    return counts


CLAIMS = ("the 20-gram's test loss", "n-gram and n-NN models of the same small n", "the best recurrent network")


def test_table2_findings_hold_rarely_without_their_effect_and_nearly_always_with_it():
    # no effect: the 20-gram at the tolerance's edge, the 1-NN at the tolerance's edge, the network no better
    null = holds(twenty=PAPER_20_GRAM + 0.05, nnn_gap=0.05, network_gap=0.0)
    effect = holds(twenty=PAPER_20_GRAM, nnn_gap=0.0, network_gap=-0.1)
    for claim in CLAIMS:
        assert null[claim] <= SEEDS * 0.05, (claim, null)
        assert effect[claim] >= SEEDS * 0.95, (claim, effect)
