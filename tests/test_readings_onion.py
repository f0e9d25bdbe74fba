"""The reading of Figure 6: on hand-made results, and on synthetic onions with and without an effect."""

from __future__ import annotations

import numpy as np

from rnnlens.analyses.onion import Onion, OnionReport, scaling
from rnnlens.report.build import paper_numbers
from rnnlens.report.readings import Context, read_onion

SEEDS = 200
POSITIONS = 4000
SLICES = [("n-gram", "orders 2-10"), ("memory", "n=100"), ("rare words", "t=0"), ("word model", "after space")]


def context(dataset: str = "war-and-peace") -> Context:
    return Context(dataset, paper_numbers(), {})


def onion(model_name: str, chars: int, removed: dict[str, int], unexplained: int, digest: str = "") -> dict:
    errors = sum(removed.values()) + unexplained
    return {"model": model_name, "chars": chars, "errors": errors, "error_rate": errors / chars,
            "unexplained": unexplained, "identity": {"sha256": digest or model_name},
            "slices": [{"oracle": k, "name": k, "removed": v, "share": v / errors} for k, v in removed.items()]}


SMALL = onion("small", 1000, {"n-gram": 200, "memory": 30, "rare words": 40, "word model": 200}, 90)  # 560
BIG = onion("big", 1000, {"n-gram": 80, "memory": 25, "rare words": 38, "word model": 155}, 122)  # 420
SCALING = [{"oracle": "n-gram", "removed_by_big": 150}, {"oracle": "word model", "removed_by_big": 40}]


def test_onion_reading_compares_error_rates_shares_and_scaling_with_the_papers_intervals():
    findings = {f.claim: f for f in read_onion([{"models": [SMALL, BIG], "scaling": SCALING}], context()).findings}
    small = findings["error rate of the small model (small)"]
    assert small.verdict == "holds"  # 52.9% to 59.1% lies within 5 points of the paper's 56%
    assert small.ours == "56.0% (52.9% to 59.1%, 1,000 characters)" and small.paper == "paper: 56.0%"
    assert "treats positions as independent" in small.test
    share = findings["share of big's errors explained by the n-gram oracle"]
    assert share.verdict == "cannot say" and share.ours == "19.0% (15.4% to 23.1%, 420 errors)"  # 23.1% > 23%
    assert share.why == "the interval reaches both within and beyond 0.05 of the paper's 0.18"
    word = findings["share of big's errors explained by the word model oracle"]
    assert word.ours.startswith("36.9% (32.3% to 41.7%") and word.paper == "paper: 37.0%"
    scale = findings["scaling up removes mostly n-gram errors"]
    assert scale.verdict == "holds" and scale.paper == "paper: 36,000 of 44,000 (81.8%)"
    assert scale.ours == ("the big model removes 190 of the small one's errors, 150 of them n-gram errors (of the "
                          "small one's 200): 78.9% (95% interval 72.5% to 84.5%)")

    big = onion("big", 100_000, {"n-gram": 8_000, "memory": 2_500, "rare words": 3_800, "word model": 15_500},
                12_200)  # 42,000 errors: 42.0% (41.7% to 42.3%)
    rate = next(f for f in read_onion([big], context()).findings if f.claim.startswith("error rate"))
    assert rate.claim == "error rate of the best model (big)" and rate.verdict == "holds"
    assert rate.numbers["ours"]["count"] == 100_000 and rate.numbers["paper"] == 0.42


def test_the_same_run_as_small_and_big_model_reads_nothing_that_compares_them():
    twin = {**SMALL, "model": "best-lstm"}  # another name, the same weights
    none = [{"oracle": "n-gram", "removed_by_big": 0}, {"oracle": "word model", "removed_by_big": 0}]
    findings = read_onion([{"models": [SMALL, twin], "scaling": none}], context()).findings
    compared = [f for f in findings if f.claim.startswith(("error rate", "scaling"))]
    assert len(compared) == 3
    assert all(f.verdict == "cannot say" and f.why == "the small and the big model are the same run" for f in compared)
    assert compared[0].ours == compared[1].ours == "56.0%"


def test_another_corpus_has_no_paper_number_to_hold_against():
    findings = read_onion([{"models": [SMALL, BIG], "scaling": SCALING}], context("python-code")).findings
    against_paper = [f for f in findings if f.claim.startswith(("error rate", "share"))]
    assert len(against_paper) == 6
    assert all(f.verdict == "cannot say" and f.why == "the paper gives no number for this corpus"
               for f in against_paper)


# --- with and without an effect, on synthetic onions (positions drawn independently, as the binomial assumes) -----

def synthetic_onion(rng, name: str, rate: float, ngram_share: float) -> Onion:
    """An onion over ``POSITIONS`` positions erring at ``rate``, an error an n-gram one with ``ngram_share``,
    else one of the other slices or unexplained alike."""
    errors = rng.random(POSITIONS) < rate
    category = np.where(rng.random(POSITIONS) < ngram_share, 0, rng.integers(1, len(SLICES) + 1, POSITIONS))
    return Onion(name, "", SLICES, np.where(errors, category, -1), np.zeros(POSITIONS), {"sha256": name})


def bigger(rng, small: Onion, ngram_removed: float, other_removed: float) -> Onion:
    """The small onion with each n-gram error made right with probability ``ngram_removed``, each other one with
    ``other_removed``."""
    odds = np.where(small.category == 0, ngram_removed, other_removed)
    category = np.where(rng.random(POSITIONS) < odds, -1, small.category)
    return Onion("big", "", SLICES, category, np.zeros(POSITIONS), {"sha256": "big"})


def verdicts(small: Onion, big: Onion) -> dict[str, str]:
    report = OnionReport([small, big], None, "synthetic", scaling(small, big)).to_dict()
    return {f.claim: f.verdict for f in read_onion([report], context()).findings}


def holds(draw) -> dict[str, int]:
    """In how many of ``SEEDS`` seeds each finding holds, the onions drawn by ``draw(rng)``."""
    counts: dict[str, int] = {}
    for seed in range(SEEDS):
        for claim, verdict in verdicts(*draw(np.random.default_rng(seed))).items():
            counts[claim] = counts.get(claim, 0) + (verdict == "holds")
    return counts


def rates(small_rate: float, big_rate: float, ngram_share: float):
    return lambda rng: (synthetic_onion(rng, "small", small_rate, 0.36), synthetic_onion(rng, "big", big_rate,
                                                                                         ngram_share))


def scaled(removed_share: float):
    """A big model that removes 30% of the small one's n-gram errors, and of the others as many as makes the n-gram
    share of what it removes ``removed_share`` (the small one's errors are 36% n-gram)."""
    def draw(rng):
        small = synthetic_onion(rng, "small", 0.56, 0.36)
        return small, bigger(rng, small, 0.3, 0.3 * 0.36 * (1 - removed_share) / (0.64 * removed_share))
    return draw


def test_error_rates_and_shares_hold_rarely_at_the_tolerances_edge_and_nearly_always_at_the_papers_numbers():
    edge, papers = holds(rates(0.56 + 0.05, 0.42 + 0.05, 0.18 + 0.05)), holds(rates(0.56, 0.42, 0.18))
    for claim in ("error rate of the small model (small)", "error rate of the best model (big)",
                  "share of big's errors explained by the n-gram oracle"):
        assert edge[claim] <= SEEDS * 0.05, (claim, edge)
        assert papers[claim] >= SEEDS * 0.95, (claim, papers)


def test_scaling_holds_rarely_when_half_the_removed_are_n_gram_errors_and_nearly_always_at_four_fifths():
    claim = "scaling up removes mostly n-gram errors"
    assert holds(scaled(0.5))[claim] <= SEEDS * 0.05
    assert holds(scaled(0.8))[claim] >= SEEDS * 0.95
